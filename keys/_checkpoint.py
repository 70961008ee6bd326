"""Signed transparency-log checkpoints in the C2SP formats.

A checkpoint (c2sp.org/tlog-checkpoint) states a log's tree size and RFC 9162
root hash; it travels as a signed note (c2sp.org/signed-note)::

    hub.goteborg.example/audit          <- origin
    20852163                            <- tree size, decimal
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=   <- root hash, base64
                                        <- blank line
    — hub.goteborg.example/audit Az3g...   <- em dash, key name, base64(key id || signature)

The Ed25519 signature covers the body: every line up to and including the
newline before the blank line. A note may carry several signature lines (a
witness may cosign); verification uses the one whose key name and key id match
the expected key and ignores the others, as the signed-note specification
requires. Verifiers are configured with a verifier key in the signed-note
``<name>+<hex key id>+<base64(0x01 || public key)>`` format, so the same string
works with Go's ``golang.org/x/mod/sumdb/note`` and other tlog tooling.

Parsing is strict where the specifications are: UTF-8 without control
characters other than newline, a tree size in decimal without sign or leading
zeros and at most 2**64 - 1, a root of exactly 32 bytes, and base64 (RFC 4648
standard alphabet, padded) only in the canonical form every encoder writes.
Extension lines after the root are kept, not interpreted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from keys._errors import CheckpointError
from keys._signing import SigningKey, verify

__all__ = [
    "Checkpoint",
    "open_checkpoint",
    "parse_checkpoint_unverified",
    "parse_verifier_key",
    "sign_checkpoint",
    "verifier_key",
]

_SIGNATURE_PREFIX = "\u2014 "  # EM DASH, SPACE
_ED25519_SIGNATURE_TYPE = b"\x01"
_KEY_ID_SIZE = 4
_PUBLIC_KEY_SIZE = 32
_ROOT_SIZE = 32
_MAX_TREE_SIZE = 2**64 - 1
# The specification asks verifiers to accept at least 16; Go's reference
# implementation stops at 100.
_MAX_SIGNATURES = 100
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f]")
_CONTROL_EXCEPT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size and RFC 9162 root hash.

    Attributes:
        origin: the log's identity, e.g. ``"hub.goteborg.example/audit"``.
        size: the number of leaves, 0 to 2**64 - 1.
        root: the 32-byte root hash at that size.
        extensions: opaque extra body lines, kept as parsed (usually none).

    Raises:
        ValueError: a field breaks the tlog-checkpoint format.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Reject fields that cannot be written as a checkpoint body."""
        problem = _origin_problem(self.origin)
        if problem is None and (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= _MAX_TREE_SIZE
        ):
            problem = f"tree size must be an integer from 0 to 2**64 - 1, got {self.size!r}"
        if problem is None and (not isinstance(self.root, bytes) or len(self.root) != _ROOT_SIZE):
            problem = f"root hash must be {_ROOT_SIZE} bytes"
        for line in self.extensions:
            if problem is None and (not line or _CONTROL.search(line)):
                problem = "extension lines must be non-empty and free of control characters"
        if problem is not None:
            raise ValueError(problem)

    def body(self) -> bytes:
        """Return the note text that is signed: one line per field, newline-terminated."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode("ascii"),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines).encode("utf-8")


def sign_checkpoint(checkpoint: Checkpoint, key: SigningKey, key_name: str) -> str:
    """Return `checkpoint` as a signed note with one signature line by `key`.

    Args:
        checkpoint: the tree head to sign.
        key: the log's Ed25519 signing key.
        key_name: the key's name in the note; the specification recommends the
            checkpoint's origin.

    Raises:
        ValueError: `key_name` is empty or contains a space, a plus sign or a
            control character.
    """
    _check_key_name(key_name)
    body = checkpoint.body()
    signature = key.key_id(key_name) + key.sign(body)
    encoded = base64.b64encode(signature).decode("ascii")
    return f"{body.decode('utf-8')}\n{_SIGNATURE_PREFIX}{key_name} {encoded}\n"


def open_checkpoint(note: str, public_key: bytes, key_name: str) -> Checkpoint:
    """Verify a signed checkpoint note and return the checkpoint it states.

    Only signature lines whose key name and key id both match the expected key
    count; other lines (witness cosignatures, a rotated key) are ignored. The
    body is parsed only after its signature has been verified.

    Args:
        note: the signed note text.
        public_key: the log's raw 32-byte Ed25519 public key.
        key_name: the log's key name, as in its verifier key.

    Raises:
        CheckpointError: the note is malformed, carries no signature by this
            key, a signature by this key does not verify, or the body is not a
            valid checkpoint.
        ValueError: `public_key` is not 32 bytes or `key_name` is not a valid
            key name.
    """
    if len(public_key) != _PUBLIC_KEY_SIZE:
        raise ValueError(f"Ed25519 public key must be {_PUBLIC_KEY_SIZE} bytes")
    _check_key_name(key_name)
    key_id = _key_id(key_name, public_key)
    text, signatures = _split_note(note)
    matching = [sig for name, sig_id, sig in signatures if name == key_name and sig_id == key_id]
    if not matching:
        raise CheckpointError(f"note has no signature by key {key_name} ({key_id.hex()})")
    message = text.encode("utf-8")
    # A key may sign twice; the specification says to reject the whole note if
    # any signature by a known key fails.
    for signature in matching:
        if not verify(public_key, message, signature):
            raise CheckpointError(f"signature by key {key_name} ({key_id.hex()}) does not verify")
    return _parse_body(text)


def parse_checkpoint_unverified(note: str) -> Checkpoint:
    """Parse a signed checkpoint note without checking any signature.

    For display only: nothing in the result is authenticated. Use
    `open_checkpoint` for anything that is trusted.

    Raises:
        CheckpointError: the note or its body is malformed.
    """
    text, _ = _split_note(note)
    return _parse_body(text)


def verifier_key(name: str, public_bytes: bytes) -> str:
    """Return the signed-note verifier key ``<name>+<hex key id>+<base64(0x01 || key)>``.

    Args:
        name: the key name used in signature lines.
        public_bytes: the raw 32-byte Ed25519 public key.

    Raises:
        ValueError: `name` is not a valid key name or the key is not 32 bytes.
    """
    _check_key_name(name)
    if len(public_bytes) != _PUBLIC_KEY_SIZE:
        raise ValueError(f"Ed25519 public key must be {_PUBLIC_KEY_SIZE} bytes")
    key_id = _key_id(name, public_bytes).hex()
    encoded = base64.b64encode(_ED25519_SIGNATURE_TYPE + public_bytes).decode("ascii")
    return f"{name}+{key_id}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """Parse a signed-note Ed25519 verifier key.

    Args:
        vkey: text as produced by `verifier_key` or Go's ``note.NewVerifier``.

    Returns:
        The key name and the raw 32-byte public key.

    Raises:
        CheckpointError: the text is not a verifier key, not an Ed25519 key, or
            its key id does not match its name and public key.
    """
    name, _, rest = vkey.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if not _is_key_name(name) or not _HEX_KEY_ID.fullmatch(hex_id):
        raise CheckpointError("verifier key is not of the form <name>+<8 hex digits>+<base64>")
    key = _b64decode(encoded)
    if key is None:
        raise CheckpointError("verifier key is not valid base64 after its key id")
    if len(key) != 1 + _PUBLIC_KEY_SIZE or key[:1] != _ED25519_SIGNATURE_TYPE:
        raise CheckpointError("verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
    public = key[1:]
    if _key_id(name, public) != bytes.fromhex(hex_id):
        raise CheckpointError("verifier key id does not match its name and public key")
    return name, public


def _key_id(name: str, public: bytes) -> bytes:
    """Return the C2SP signed-note key id, as `SigningKey.key_id` computes it."""
    material = name.encode("utf-8") + b"\n" + _ED25519_SIGNATURE_TYPE + public
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


def _is_key_name(name: str) -> bool:
    """Whether `name` is a signed-note key name: non-empty, no spaces, no plus sign."""
    return (
        bool(name)
        and "+" not in name
        and not any(char.isspace() for char in name)
        and not _CONTROL.search(name)
    )


def _check_key_name(name: str) -> None:
    if not _is_key_name(name):
        raise ValueError(
            "key name must be non-empty and contain no spaces, plus signs or control characters"
        )


def _origin_problem(origin: str) -> str | None:
    if not isinstance(origin, str) or not origin:
        return "checkpoint origin is empty"
    if _CONTROL.search(origin):
        return "checkpoint origin contains a newline or another control character"
    return None


def _b64decode(text: str) -> bytes | None:
    """Decode canonical standard base64 with padding, or return None.

    Canonical means what every encoder writes: no excess padding and no set
    bits after the data, so each value has exactly one accepted spelling.
    """
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its text and (key name, key id, signature) triples.

    Raises:
        CheckpointError: the note is not a well-formed signed note.
    """
    try:
        note.encode("utf-8")
    except UnicodeEncodeError as err:
        raise CheckpointError("note is not valid UTF-8") from err
    if _CONTROL_EXCEPT_NEWLINE.search(note):
        raise CheckpointError("note contains a control character other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("note has no blank line between its text and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise CheckpointError("note does not end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise CheckpointError(f"note has more than {_MAX_SIGNATURES} signature lines")
    signatures: list[tuple[str, bytes, bytes]] = []
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise CheckpointError("signature line does not start with an em dash and a space")
        name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        if not _is_key_name(name):
            raise CheckpointError("signature line has no valid key name")
        raw = _b64decode(encoded)
        if raw is None or len(raw) <= _KEY_ID_SIZE:
            raise CheckpointError(f"signature by {name} is not base64 of a key id and signature")
        signatures.append((name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:]))
    return text, signatures


def _parse_body(text: str) -> Checkpoint:
    """Parse checkpoint note text (ending in a newline) into a `Checkpoint`.

    Raises:
        CheckpointError: the text is not a tlog-checkpoint body.
    """
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            "checkpoint needs at least three lines: origin, tree size and root hash"
        )
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin is empty")
    if not _TREE_SIZE.fullmatch(size_text):
        raise CheckpointError(
            f"checkpoint tree size {size_text[:24]!r} is not a decimal number "
            "without sign or leading zeros"
        )
    # Checking the length first keeps int() away from huge digit strings.
    if len(size_text) > len(str(_MAX_TREE_SIZE)) or int(size_text) > _MAX_TREE_SIZE:
        raise CheckpointError("checkpoint tree size is larger than 2**64 - 1")
    size = int(size_text)
    root = _b64decode(root_text)
    if root is None:
        raise CheckpointError("checkpoint root hash is not valid base64")
    if len(root) != _ROOT_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, not {_ROOT_SIZE}")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint has an empty extension line")
    return Checkpoint(origin, size, root, tuple(extensions))
