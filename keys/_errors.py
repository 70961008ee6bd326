"""The one exception tree of the `keys` package.

Callers catch these, never the exceptions of the `cryptography` library, so the
rest of the hub does not depend on how a primitive reports failure::

    KeysError                 base class of everything raised on purpose here
    +-- CheckpointError       a signed checkpoint or verifier key is malformed, not
    |                         signed by the expected key, or its signature fails
    +-- DecryptionError       a blob could not be opened or a key unwrapped: wrong
    |                         key, wrong owner/version/context (AAD), tampered,
    |                         truncated or of an unknown format
    +-- KeyFileError          a key file is missing, readable by group/others,
                              already exists when it must not, or holds something
                              that is not a key

Messages name files and formats, never key material or plaintext: they end up in
logs. `DecryptionError` deliberately does not say *which* check failed beyond the
format level, so it cannot serve as an oracle. `CheckpointError` does say which
check failed: checkpoints, signatures and public keys are public anyway.

Programming errors (a key of the wrong length handed to `seal`, a KEK version
below 1, rewrapping between two owners) raise `ValueError`, not `KeysError`: they
are bugs to fix, not conditions to handle.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "DecryptionError", "KeyFileError", "KeysError"]


class KeysError(Exception):
    """Base class of every error the `keys` package raises on purpose."""


class CheckpointError(KeysError):
    """A signed checkpoint or verifier key is malformed, unsigned or forged."""


class DecryptionError(KeysError):
    """A sealed blob or wrapped key could not be opened."""


class KeyFileError(KeysError):
    """A key file is missing, too widely readable, already present, or invalid."""
