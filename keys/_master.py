"""The master key: the one secret kept outside the database.

Everything else is derived from it (HKDF-SHA256, one label per purpose) or
wrapped by it (KEKs), so a database dump alone reveals no key. The key is stored
as urlsafe base64 in a file that only its owner may read.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys._aead import KEY_SIZE, open_sealed, seal
from keys._errors import DecryptionError, KeyFileError
from keys._files import make_private_dirs, write_new_file
from keys._kek import Kek, check_owner, check_version, kek_name
from keys._signing import SigningKey

__all__ = ["MasterKey"]

_INFO_PREFIX = b"gbg-hub/"
_KEK_WRAP_LABEL = "kek-wrap"
_BLIND_INDEX_LABEL = "blind-index"
_AUDIT_SIGNING_LABEL = "audit-signing"
_PSEUDONYM_LABEL = "pseudonym"
_BACKUP_LABEL = "backup"
# urlsafe alphabet only: the standard alphabet's "+/" would mean the text was
# produced by something else and is more likely a mistake than a key.
_ENCODED_RE = re.compile(r"[A-Za-z0-9_-]*={0,2}")
# A key file is one line; anything much bigger is certainly not a key.
_MAX_FILE_SIZE = 1024


class MasterKey:
    """The 32-byte root secret of the hub.

    Create one with `generate`, `write_new`, `from_file` or `from_encoded`. Its
    `repr` never shows the key.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        """Wrap 32 raw key bytes; prefer the named constructors.

        Raises:
            ValueError: `key` is not 32 bytes long.
        """
        if len(key) != KEY_SIZE:
            raise ValueError(f"master key must be {KEY_SIZE} bytes, got {len(key)}")
        self._key = bytes(key)

    # --- creation and storage -------------------------------------------------

    @classmethod
    def generate(cls) -> MasterKey:
        """Return a new random master key (not stored anywhere)."""
        return cls(secrets.token_bytes(KEY_SIZE))

    @classmethod
    def from_encoded(cls, text: str) -> MasterKey:
        """Parse the text form made by `encoded`.

        Args:
            text: urlsafe base64 of 32 bytes; padding is optional and surrounding
                whitespace (such as the file's trailing newline) is ignored.

        Raises:
            KeyFileError: not urlsafe base64, or not 32 bytes once decoded.
        """
        stripped = text.strip()
        if not _ENCODED_RE.fullmatch(stripped):
            raise KeyFileError("master key is not urlsafe base64")
        unpadded = stripped.rstrip("=")
        padded = unpadded + "=" * (-len(unpadded) % 4)
        try:
            raw = base64.urlsafe_b64decode(padded)
        except (binascii.Error, ValueError):
            raise KeyFileError("master key is not valid base64") from None
        if len(raw) != KEY_SIZE:
            raise KeyFileError(f"master key must decode to {KEY_SIZE} bytes, got {len(raw)}")
        return cls(raw)

    def encoded(self) -> str:
        """Return the key as padded urlsafe base64 (44 characters)."""
        return base64.urlsafe_b64encode(self._key).decode("ascii")

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        """Load the key from `path`, refusing files others could read.

        Args:
            path: the key file written by `write_new`.

        Raises:
            KeyFileError: the file is missing or unreadable, has any group or other
                permission bit set, or does not hold a valid key. The message
                names the path (and says to ``chmod 600`` it when that is the
                problem) but never the file's content.
        """
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise KeyFileError(f"master key file {path} does not exist") from None
        except OSError as exc:
            raise KeyFileError(f"cannot open master key file {path}: {exc.strerror}") from None
        # Check the mode of the file actually opened (fstat, not stat) so it cannot
        # be swapped between the check and the read.
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise KeyFileError(f"master key file {path} is not a regular file")
            if info.st_mode & 0o077:
                raise KeyFileError(
                    f"master key file {path} is accessible by group or others "
                    f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`"
                )
            data = handle.read(_MAX_FILE_SIZE + 1)
        if len(data) > _MAX_FILE_SIZE:
            raise KeyFileError(f"master key file {path} is too large to be a key")
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise KeyFileError(f"master key file {path} is not ASCII text") from None
        try:
            return cls.from_encoded(text)
        except KeyFileError as exc:
            raise KeyFileError(f"master key file {path}: {exc}") from None

    @classmethod
    def write_new(cls, path: Path) -> MasterKey:
        """Generate a key and store it in a new file readable only by its owner.

        Missing parent directories are created with mode 0700. The file is
        created with ``O_CREAT | O_EXCL`` and mode 0600 in one step, so it is never
        readable by others and an existing key is never overwritten.

        Args:
            path: where to create the key file.

        Returns:
            The new key.

        Raises:
            KeyFileError: the file already exists or cannot be created.
        """
        key = cls.generate()
        try:
            make_private_dirs(path.parent)
            write_new_file(path, (key.encoded() + "\n").encode("ascii"), 0o600)
        except FileExistsError:
            raise KeyFileError(
                f"master key file {path} already exists; refusing to overwrite it"
            ) from None
        except OSError as exc:
            raise KeyFileError(f"cannot create master key file {path}: {exc.strerror}") from None
        return key

    # --- derived keys ---------------------------------------------------------

    def derive(self, label: str, length: int = 32) -> bytes:
        """Derive an independent subkey for one purpose.

        HKDF-SHA256 over the master key, no salt (the input is already uniformly
        random), ``info = b"gbg-hub/" + label``. Different labels give
        independent keys, so a subkey leaking for one purpose says nothing about
        another.

        Args:
            label: the purpose, e.g. ``"kek-wrap"``; never reuse one for two purposes.
            length: number of bytes wanted (at most 8160).

        Returns:
            `length` bytes.
        """
        hkdf = HKDF(
            algorithm=SHA256(), length=length, salt=None, info=_INFO_PREFIX + label.encode()
        )
        return hkdf.derive(self._key)

    def blind_index_key(self) -> bytes:
        """Return the HMAC key for `blind_index` (``derive("blind-index")``)."""
        return self.derive(_BLIND_INDEX_LABEL)

    def pseudonym_key(self) -> bytes:
        """Return the HMAC key for `pseudonym` (``derive("pseudonym")``)."""
        return self.derive(_PSEUDONYM_LABEL)

    def backup_key(self) -> bytes:
        """Return the key backups are sealed under (``derive("backup")``)."""
        return self.derive(_BACKUP_LABEL)

    def signing_key(self) -> SigningKey:
        """Return the audit-log Ed25519 key, seeded by ``derive("audit-signing")``."""
        return SigningKey.from_seed(self.derive(_AUDIT_SIGNING_LABEL))

    # --- key-encryption keys ---------------------------------------------------

    @staticmethod
    def _kek_aad(owner: str, version: int) -> bytes:
        # Binding owner and version means a wrapped KEK copied to another owner's
        # row, or relabelled as another version, no longer unwraps.
        return b"kek\x00" + kek_name(owner, version)

    def new_kek(self, owner: str, version: int) -> tuple[Kek, bytes]:
        """Create a random KEK and wrap it for storage in the database.

        Args:
            owner: e.g. ``"org:<uuid>"`` or ``"hub"`` (no NUL characters).
            version: 1 for the first key, one higher on each rotation.

        Returns:
            The KEK and its wrapped form, sealed under ``derive("kek-wrap")`` with
            AAD ``b"kek\\x00" + owner + b"\\x00" + str(version)``.

        Raises:
            ValueError: empty owner or owner with NUL, or version out of range.
        """
        check_owner(owner)
        check_version(version)
        kek = Kek(owner=owner, version=version, key=secrets.token_bytes(KEY_SIZE))
        wrapped = seal(self.derive(_KEK_WRAP_LABEL), kek.key, self._kek_aad(owner, version))
        return kek, wrapped

    def unwrap_kek(self, owner: str, version: int, wrapped: bytes) -> Kek:
        """Open a KEK made by `new_kek`.

        Args:
            owner: the owner it was created for.
            version: the version it was created for.
            wrapped: the stored wrapped form.

        Returns:
            The KEK.

        Raises:
            DecryptionError: wrong master key, owner or version, or damaged data.
            ValueError: empty owner or owner with NUL, or version out of range.
        """
        check_owner(owner)
        check_version(version)
        key = open_sealed(self.derive(_KEK_WRAP_LABEL), wrapped, self._kek_aad(owner, version))
        if len(key) != KEY_SIZE:
            raise DecryptionError("wrapped KEK has the wrong length")
        return Kek(owner=owner, version=version, key=key)

    def __repr__(self) -> str:
        return "MasterKey(<secret>)"

    def __reduce__(self) -> str | tuple[object, ...]:
        # Pickling would copy the key into caches, queues or crash dumps.
        raise TypeError("MasterKey cannot be pickled")
