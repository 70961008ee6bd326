"""C2SP tlog-checkpoints in C2SP signed notes, and signed-note verifier keys."""

from __future__ import annotations

import base64
import hashlib

import pytest

from keys import (
    Checkpoint,
    CheckpointError,
    KeysError,
    SigningKey,
    open_checkpoint,
    parse_checkpoint_unverified,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
)

NAME = "hub.goteborg.example/audit"
KEY = SigningKey.from_seed(bytes(range(32)))
PUBLIC = KEY.public_bytes()
ROOT = hashlib.sha256(b"some tree").digest()
CHECKPOINT = Checkpoint(NAME, 20852163, ROOT)
WITNESS_NAME = "witness.example/w1"
WITNESS = SigningKey.from_seed(bytes(range(100, 132)))

# The example key of golang.org/x/mod/sumdb/note's documentation.
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"

# A real checkpoint of Go's checksum database, and its published verifier key.
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = (
    "go.sum database tree\n"
    "49189689\n"
    "ftjbAOzaupaIvaPo/G+Dk63nxOZ2s1OPOKIaPtXs7S4=\n"
    "\n"
    "— sum.golang.org Az3grlKZssqRoMNPpZfKt0TphbbcF+pzXqElURJKRNFKfaUAgqeI5k2AORH0QAhg/"
    "ebRwyIqD/OqP4oLtLnNumvOBAM=\n"
)


def signature_line(key: SigningKey, name: str, text: str) -> str:
    """A signed-note signature line, built from the specification."""
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + key.public_bytes()).digest()[:4]
    signature = base64.b64encode(key_id + key.sign(text.encode())).decode()
    return f"\u2014 {name} {signature}\n"


def signed(text: str, key: SigningKey = KEY, name: str = NAME) -> str:
    """A note with a valid signature over any text, well-formed checkpoint or not."""
    return f"{text}\n{signature_line(key, name, text)}"


def root_line(root: bytes = ROOT) -> str:
    return base64.b64encode(root).decode()


def non_canonical_root_line() -> str:
    """ROOT in base64 with a non-zero unused bit: decodes to ROOT all the same."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    line = root_line()
    last = alphabet[alphabet.index(line[42]) | 1]
    text = line[:42] + last + "="
    assert base64.b64decode(text) == ROOT
    return text


# --- Format ------------------------------------------------------------------


def test_signed_note_is_the_c2sp_format_byte_for_byte() -> None:
    key_id = hashlib.sha256(NAME.encode() + b"\n" + b"\x01" + PUBLIC).digest()[:4]
    body = f"{NAME}\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    signature = KEY.sign(body.encode())
    expected = (
        body + "\n" + "\u2014 " + NAME + " " + base64.b64encode(key_id + signature).decode() + "\n"
    )
    assert CHECKPOINT.body() == body.encode()
    assert sign_checkpoint(CHECKPOINT, KEY, NAME) == expected


def test_signature_line_matches_the_go_signed_note_example() -> None:
    # golang.org/x/mod/sumdb/note documents this exact signed note.
    text = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    line = signature_line(SigningKey.from_seed(GO_SEED), "PeterNeumann", text)
    assert line == (
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
        "tpRZb6KE6RyyBwJnAM=\n"
    )


def test_real_checksum_database_checkpoint_opens() -> None:
    name, public = parse_verifier_key(SUMDB_VKEY)
    checkpoint = open_checkpoint(SUMDB_NOTE, public, name)
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == 49189689
    assert base64.b64encode(checkpoint.root).decode() == (
        "ftjbAOzaupaIvaPo/G+Dk63nxOZ2s1OPOKIaPtXs7S4="
    )
    tampered = SUMDB_NOTE.replace("49189689", "49189690")
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(tampered, public, name)


# --- Signing and opening -------------------------------------------------------


def test_sign_then_open_round_trip() -> None:
    note = sign_checkpoint(CHECKPOINT, KEY, NAME)
    assert open_checkpoint(note, PUBLIC, NAME) == CHECKPOINT
    assert parse_checkpoint_unverified(note) == CHECKPOINT


@pytest.mark.parametrize("size", [0, 1, 2**64 - 1])
def test_extreme_sizes_round_trip(size: int) -> None:
    checkpoint = Checkpoint(NAME, size, ROOT)
    assert open_checkpoint(sign_checkpoint(checkpoint, KEY, NAME), PUBLIC, NAME) == checkpoint


def test_extension_lines_are_kept() -> None:
    checkpoint = Checkpoint(NAME, 7, ROOT, ("ext one", "— two"))
    note = sign_checkpoint(checkpoint, KEY, NAME)
    assert note.startswith(f"{NAME}\n7\n{root_line()}\next one\n— two\n\n")
    assert open_checkpoint(note, PUBLIC, NAME) == checkpoint


def test_every_single_character_change_in_the_body_is_refused() -> None:
    note = sign_checkpoint(CHECKPOINT, KEY, NAME)
    body_length = len(CHECKPOINT.body())
    for position in range(body_length):
        replacement = "A" if note[position] != "A" else "B"
        damaged = note[:position] + replacement + note[position + 1 :]
        with pytest.raises(CheckpointError):
            open_checkpoint(damaged, PUBLIC, NAME)


def test_signature_lines_of_other_keys_are_ignored() -> None:
    note = sign_checkpoint(CHECKPOINT, KEY, NAME)
    text = CHECKPOINT.body().decode()
    # A witness cosignature, a signature by another key under the log's name
    # (a rotated key) and an unknown key under an unknown name, before and after.
    others = (
        signature_line(WITNESS, WITNESS_NAME, text)
        + signature_line(WITNESS, NAME, text)
        + "— unknown.example/key AAAAAAAAAAAA\n"
    )
    assert open_checkpoint(note + others, PUBLIC, NAME) == CHECKPOINT
    own_line = note[len(text) + 1 :]
    assert open_checkpoint(text + "\n" + others + own_line, PUBLIC, NAME) == CHECKPOINT
    # The witness's own view of the same note.
    assert open_checkpoint(note + others, WITNESS.public_bytes(), WITNESS_NAME) == CHECKPOINT


def test_note_signed_only_by_another_key_with_the_same_name_is_refused() -> None:
    note = sign_checkpoint(CHECKPOINT, WITNESS, NAME)
    with pytest.raises(CheckpointError, match="no signature by key"):
        open_checkpoint(note, PUBLIC, NAME)


def test_note_signed_under_another_name_is_refused() -> None:
    note = sign_checkpoint(CHECKPOINT, KEY, "other.example/audit")
    with pytest.raises(CheckpointError, match="no signature by key"):
        open_checkpoint(note, PUBLIC, NAME)


def test_bad_signature_with_the_right_key_id_is_refused() -> None:
    text = CHECKPOINT.body().decode()
    key_id = KEY.key_id(NAME)
    forged = base64.b64encode(key_id + KEY.sign(b"something else")).decode()
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(f"{text}\n— {NAME} {forged}\n", PUBLIC, NAME)
    # One good and one bad signature by the same key: the whole note is refused.
    good = sign_checkpoint(CHECKPOINT, KEY, NAME)
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(f"{good}— {NAME} {forged}\n", PUBLIC, NAME)
    short = base64.b64encode(key_id + b"\x00" * 10).decode()
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(f"{text}\n— {NAME} {short}\n", PUBLIC, NAME)


def test_checkpoint_error_belongs_to_the_keys_error_tree() -> None:
    assert issubclass(CheckpointError, KeysError)


# --- Malformed notes -------------------------------------------------------------

BODY = f"{NAME}\n5\n{root_line()}\n"


@pytest.mark.parametrize(
    ("note", "message"),
    [
        (BODY + signature_line(KEY, NAME, BODY), "no blank line"),
        (signed(BODY)[:-1], "does not end with a signature line"),
        (BODY + "\n", "does not end with a signature line"),
        (BODY + "\n\n", "does not end with a signature line"),
        (BODY + "\n" + f"- {NAME} AAAAAAAA\n", "em dash"),
        (BODY + "\n" + f"—{NAME} AAAAAAAA\n", "em dash"),
        (BODY + "\n" + "— \n", "no valid key name"),
        (BODY + "\n" + "— bad+name AAAAAAAA\n", "no valid key name"),
        (BODY + "\n" + f"— {NAME} not*base64\n", "not base64"),
        (BODY + "\n" + f"— {NAME} AAAAAAA\n", "not base64"),
        (BODY + "\n" + f"— {NAME} AAAA\n", "not base64"),
        (BODY + "\n" + f"— {NAME}\n", "not base64"),
        (BODY + "\n" + f"— {NAME} AAAA AAAA\n", "not base64"),
        (BODY + "\n" + f"— {NAME} AAAAAAAA=\n", "not base64"),
        (BODY + "\n" + f"— {NAME} AAAAAAB=\n", "not base64"),
        (signed(BODY).replace("\n5\n", "\r\n5\n"), "control character"),
        (signed(BODY) + "\t", "control character"),
        ("\ud800" + signed(BODY), "UTF-8"),
        (BODY + "\n" + "— x.example AAAAAAAA\n" * 101, "more than 100"),
    ],
)
def test_malformed_notes_are_refused(note: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(note, PUBLIC, NAME)
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint_unverified(note)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"\n5\n{root_line()}\n", "origin is empty"),
        (f"{NAME}\n5\n", "at least three lines"),
        (f"{NAME}\n{root_line()}\n", "at least three lines"),
        (f"{NAME}\n01\n{root_line()}\n", "tree size '01'"),
        (f"{NAME}\n00\n{root_line()}\n", "tree size '00'"),
        (f"{NAME}\n-1\n{root_line()}\n", "tree size '-1'"),
        (f"{NAME}\n+5\n{root_line()}\n", "tree size"),
        (f"{NAME}\n 5\n{root_line()}\n", "tree size"),
        (f"{NAME}\n5 \n{root_line()}\n", "tree size"),
        (f"{NAME}\n5.0\n{root_line()}\n", "tree size"),
        (f"{NAME}\n٥\n{root_line()}\n", "tree size"),
        (f"{NAME}\n\n{root_line()}\n", "tree size"),
        (f"{NAME}\n{2**64}\n{root_line()}\n", "larger than 2\\*\\*64 - 1"),
        (f"{NAME}\n{'9' * 5000}\n{root_line()}\n", "larger than 2\\*\\*64 - 1"),
        (f"{NAME}\n5\n{root_line(ROOT[:31])}\n", "31 bytes, not 32"),
        (f"{NAME}\n5\n{root_line(ROOT + b'x')}\n", "33 bytes, not 32"),
        (f"{NAME}\n5\n\n", "root hash is 0 bytes"),
        (f"{NAME}\n5\n{root_line()[:-1]}\n", "not valid base64"),
        (f"{NAME}\n5\n{root_line().replace('+', '-').replace('/', '_')}_\n", "not valid base64"),
        (f"{NAME}\n5\n{non_canonical_root_line()}\n", "not valid base64"),
        (f"{NAME}\n5\n{root_line()}=\n", "not valid base64"),
        (f"{NAME}\n5\n{ROOT.hex()}\n", "not valid base64|bytes, not 32"),
        (f"{NAME}\n5\n{root_line()}\n\nextension\n", "empty extension line"),
    ],
)
def test_validly_signed_bodies_that_are_not_checkpoints_are_refused(
    text: str, message: str
) -> None:
    # Signed correctly, so only the body check can refuse them.
    note = signed(text)
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(note, PUBLIC, NAME)
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint_unverified(note)


def test_signature_is_checked_before_the_body_is_read() -> None:
    note = signed(f"{NAME}\n01\n{root_line()}\n", key=WITNESS)
    with pytest.raises(CheckpointError, match="no signature by key"):
        open_checkpoint(note, PUBLIC, NAME)


def test_unverified_parse_ignores_signatures() -> None:
    note = sign_checkpoint(CHECKPOINT, WITNESS, WITNESS_NAME)
    assert parse_checkpoint_unverified(note) == CHECKPOINT


# --- Programming errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("two\nlines", 1, ROOT, ()),
        ("tab\there", 1, ROOT, ()),
        (NAME, -1, ROOT, ()),
        (NAME, 2**64, ROOT, ()),
        (NAME, True, ROOT, ()),
        (NAME, 1, ROOT[:31], ()),
        (NAME, 1, ROOT.hex(), ()),
        (NAME, 1, ROOT, ("",)),
        (NAME, 1, ROOT, ("a\nb",)),
    ],
)
def test_checkpoint_that_cannot_be_written_is_a_programming_error(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        Checkpoint(origin, size, root, extensions)


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname", "nbsp\u00a0name"])
def test_invalid_key_names_are_programming_errors(name: str) -> None:
    with pytest.raises(ValueError, match="key name"):
        sign_checkpoint(CHECKPOINT, KEY, name)
    with pytest.raises(ValueError, match="key name"):
        open_checkpoint(sign_checkpoint(CHECKPOINT, KEY, NAME), PUBLIC, name)
    with pytest.raises(ValueError, match="key name"):
        verifier_key(name, PUBLIC)


@pytest.mark.parametrize("public", [b"", PUBLIC[:31], PUBLIC + b"\x00"])
def test_public_key_of_the_wrong_length_is_a_programming_error(public: bytes) -> None:
    note = sign_checkpoint(CHECKPOINT, KEY, NAME)
    with pytest.raises(ValueError, match="32 bytes"):
        open_checkpoint(note, public, NAME)
    with pytest.raises(ValueError, match="32 bytes"):
        verifier_key(NAME, public)


# --- Verifier keys ---------------------------------------------------------------


def test_verifier_key_round_trip() -> None:
    vkey = verifier_key(NAME, PUBLIC)
    name, key_id, encoded = vkey.split("+", 2)
    assert name == NAME
    assert key_id == KEY.key_id(NAME).hex()
    assert base64.b64decode(encoded) == b"\x01" + PUBLIC
    assert parse_verifier_key(vkey) == (NAME, PUBLIC)
    note = sign_checkpoint(CHECKPOINT, KEY, NAME)
    name, public = parse_verifier_key(vkey)
    assert open_checkpoint(note, public, name) == CHECKPOINT


def test_verifier_key_matches_the_go_signed_note_example() -> None:
    go_key = SigningKey.from_seed(GO_SEED)
    assert verifier_key("PeterNeumann", go_key.public_bytes()) == GO_VKEY
    assert parse_verifier_key(GO_VKEY) == ("PeterNeumann", go_key.public_bytes())
    # Go accepts upper-case hex in the key id too.
    assert parse_verifier_key(GO_VKEY.replace("c74f20a3", "C74F20A3"))[0] == "PeterNeumann"


def test_verifier_key_with_a_tampered_key_id_is_refused() -> None:
    vkey = verifier_key(NAME, PUBLIC)
    name, key_id, encoded = vkey.split("+", 2)
    for position in range(len(key_id)):
        digit = "0" if key_id[position] != "0" else "1"
        tampered = key_id[:position] + digit + key_id[position + 1 :]
        with pytest.raises(CheckpointError, match="key id does not match"):
            parse_verifier_key(f"{name}+{tampered}+{encoded}")
    with pytest.raises(CheckpointError, match="key id does not match"):
        parse_verifier_key(f"other.example/audit+{key_id}+{encoded}")
    other_key = base64.b64encode(b"\x01" + WITNESS.public_bytes()).decode()
    with pytest.raises(CheckpointError, match="key id does not match"):
        parse_verifier_key(f"{name}+{key_id}+{other_key}")


ENCODED_KEY = base64.b64encode(b"\x01" + PUBLIC).decode()


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("", "of the form"),
        (NAME, "of the form"),
        (f"{NAME}+{'0' * 8}", "not an Ed25519 key"),
        (f"+c74f20a3+{ENCODED_KEY}", "of the form"),
        (f"{NAME}+c74f20a+{ENCODED_KEY}", "of the form"),
        (f"{NAME}+c74f20a3x+{ENCODED_KEY}", "of the form"),
        (f"{NAME}+-74f20a3+{ENCODED_KEY}", "of the form"),
        (f"{NAME}+c74f20a3+{ENCODED_KEY[:-1]}", "not valid base64"),
        (f"{NAME}+c74f20a3+{ENCODED_KEY}=", "not valid base64"),
        (f"{NAME}+c74f20a3+" + base64.b64encode(b"\x02" + PUBLIC).decode(), "not an Ed25519"),
        (f"{NAME}+c74f20a3+" + base64.b64encode(b"\x01" + PUBLIC[:31]).decode(), "not an Ed25519"),
        (f"{NAME}+c74f20a3+" + base64.b64encode(PUBLIC).decode(), "not an Ed25519"),
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_verifier_key(vkey)
