"""Keys and cryptography for the hub: the only package that touches `cryptography`.

Key hierarchy
=============

::

    master key (32 bytes, in a 0600 file outside the database)
     |-- HKDF "kek-wrap"      wraps every KEK stored in the database
     |-- HKDF "blind-index"   HMAC key for equality lookups on encrypted values
     |-- HKDF "audit-signing" Ed25519 seed for signed audit-log checkpoints
     |-- HKDF "pseudonym"     HMAC key for the pseudonyms of protected identities
     |
     +-- KEK per owner and version ("org:<uuid>" or "hub", v1, v2, ...)
          |   random, stored wrapped by the master key; AAD names owner+version
          |
          +-- data key (DEK) per record, random
               |   wrapped once per reader organization under that
               |   organization's KEK; AAD names the KEK and the record
               |
               +-- the record (message body, field value), sealed under the DEK;
                   AAD binds the ciphertext to its row

Consequences:

* A database dump alone decrypts nothing: every stored key is wrapped, and the
  root of the chain lives in the master key file.
* Sharing a message with another organization wraps its DEK once more; revoking
  or losing access is a matter of deleting that organization's wrapped DEK.
* Rotating an organization's KEK creates version n+1 and re-wraps the DEKs
  (`rewrap_data_key`, `rewrap_field`); records are never re-encrypted, and
  version n keeps working until the migration is done.
* Because every AAD names owner, version and row (`context`), a ciphertext or
  wrapped key copied to another row or organization fails to open
  (`DecryptionError`) rather than decrypting the wrong thing.

All symmetric encryption is AES-256-GCM with random 96-bit nonces
(`seal`/`open_sealed`). Errors form one tree rooted at `KeysError`, see
`keys._errors`.

The transparency log behind the audit trail is a Merkle tree hashed exactly as
RFC 9162 section 2.1: `leaf_hash` and `root`, a `Frontier` that appends without
reading history, and inclusion and consistency proofs (`inclusion_proof`,
`consistency_proof`, `verify_inclusion`, `verify_consistency`). Its tree heads
are C2SP checkpoints in Ed25519-signed notes (`sign_checkpoint`,
`open_checkpoint`, `verifier_key`), so standard transparency-log tools and
witnesses can check them.

Journal hooks are signed as Standard Webhooks: `new_webhook_secret` makes a
``whsec_`` secret, `webhook_signature` the ``webhook-signature`` header (HMAC-SHA256,
one signature per secret in force while one is being rotated).

Backups are sealed streams (`SealedWriter`, `open_stream`): AES-256-GCM in chunks
under a key derived from the master key, so a backup without the master key is noise.

This package does no I/O beyond reading and writing its own key and certificate
files, and imports nothing from `hub` or `clients`.
"""

from __future__ import annotations

from keys._aead import new_data_key, open_sealed, seal
from keys._blind import blind_index, pseudonym
from keys._checkpoint import (
    Checkpoint,
    open_checkpoint,
    parse_checkpoint_unverified,
    parse_verifier_key,
    sign_checkpoint,
    verifier_key,
)
from keys._digest import fingerprint
from keys._envelope import (
    field_kek_version,
    open_field,
    rewrap_data_key,
    rewrap_field,
    seal_field,
    unwrap_data_key,
    wrap_data_key,
)
from keys._errors import CheckpointError, DecryptionError, KeyFileError, KeysError
from keys._kek import Kek
from keys._master import MasterKey
from keys._merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    hash_chain,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root,
    subtree_root,
    verify_consistency,
    verify_inclusion,
)
from keys._signing import SigningKey, verify
from keys._stream import SealedWriter, open_stream
from keys._tls import DevTls, ensure_dev_tls
from keys._tokens import new_token, token_hash
from keys._webhooks import new_webhook_secret, webhook_signature

__all__ = [
    "EMPTY_ROOT",
    "Checkpoint",
    "CheckpointError",
    "DecryptionError",
    "DevTls",
    "Frontier",
    "Kek",
    "KeyFileError",
    "KeysError",
    "MasterKey",
    "SealedWriter",
    "SigningKey",
    "blind_index",
    "consistency_proof",
    "ensure_dev_tls",
    "field_kek_version",
    "fingerprint",
    "hash_chain",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "new_data_key",
    "new_token",
    "new_webhook_secret",
    "node_hash",
    "open_checkpoint",
    "open_field",
    "open_sealed",
    "open_stream",
    "parse_checkpoint_unverified",
    "parse_verifier_key",
    "pseudonym",
    "rewrap_data_key",
    "rewrap_field",
    "root",
    "seal",
    "seal_field",
    "sign_checkpoint",
    "subtree_root",
    "token_hash",
    "unwrap_data_key",
    "verifier_key",
    "verify",
    "verify_consistency",
    "verify_inclusion",
    "webhook_signature",
    "wrap_data_key",
]
