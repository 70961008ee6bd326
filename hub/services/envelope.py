"""A message's envelope: one data key, sealed parts, the key wrapped per organization.

Associated data binds every sealed part to its message and its role in it
("message:<id>:subject", ":content", ":attachment:<n>", ":ack:<user>"; `part_aad`
and the part names below are its one definition), and every wrapped key to its
message (`keystore.key_context`, which rotation uses too) and organization (the
KEK's own), so nothing can be moved between rows.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

import keys
from hub.services.keystore import KeyStore, org_owner
from hub.services.keystore import key_context as key_context  # one definition, re-exported

# The sealed parts of a message, as named in their associated data.
SUBJECT = "subject"
CONTENT = "content"


def attachment_part(position: int) -> str:
    return f"attachment:{position}"


def ack_part(user_id: uuid.UUID) -> str:
    """The acknowledgement comment of one recipient."""
    return f"ack:{user_id}"


def part_aad(message_id: uuid.UUID, part: str) -> bytes:
    return f"message:{message_id}:{part}".encode()


def wrap_message_key(kek: keys.Kek, message_id: uuid.UUID, dek: bytes) -> bytes:
    return keys.wrap_data_key(kek, dek, key_context(message_id))


def unwrap_message_key(kek: keys.Kek, message_id: uuid.UUID, wrapped: bytes) -> bytes:
    return keys.unwrap_data_key(kek, wrapped, key_context(message_id))


def wrapped_keys_sync(conn: Connection, keystore: KeyStore, message_id: uuid.UUID,
                      dek: bytes, organization_ids: set[uuid.UUID]) -> list[dict[str, Any]]:
    """Rows of `message_key`: the data key wrapped under each reader organization's
    active KEK."""
    rows = []
    for org_id in sorted(organization_ids):
        kek = keystore.active_kek_sync(conn, org_owner(org_id))
        rows.append({"message_id": message_id, "organization_id": org_id,
                     "kek_version": kek.version,
                     "wrapped": wrap_message_key(kek, message_id, dek)})
    return rows


def seal_part(dek: bytes, message_id: uuid.UUID, part: str, plaintext: bytes) -> bytes:
    return keys.seal(dek, plaintext, part_aad(message_id, part))


def open_part(dek: bytes, message_id: uuid.UUID, part: str, blob: bytes) -> bytes:
    return keys.open_sealed(dek, blob, part_aad(message_id, part))
