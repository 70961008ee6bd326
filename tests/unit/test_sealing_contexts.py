"""Rotation rewraps with the same associated data that sealing and opening use: a
key or field moved to a new KEK version still opens where the hub opens it."""

from __future__ import annotations

import uuid

import pytest

import keys
from hub.db.kek import HUB_SEALED_COLUMNS
from hub.services import envelope
from hub.services.keystore import (
    FIELD_CONTEXTS,
    hook_secret_context,
    name_context,
    override_comment_context,
    override_reason_context,
    personnummer_context,
    rewrap_message_key,
    rewrap_sealed_field,
    totp_context,
)

ORG = "org:6f1c2d8e-0000-4000-8000-00000000000a"


@pytest.fixture(scope="module")
def keks() -> tuple[keys.Kek, keys.Kek]:
    master = keys.MasterKey.generate()
    return master.new_kek(ORG, 1)[0], master.new_kek(ORG, 2)[0]


def test_a_rotated_message_key_opens_as_the_inbox_opens_it(keks):
    old, new = keks
    message_id, dek = uuid.uuid4(), keys.new_data_key()
    wrapped = envelope.wrap_message_key(old, message_id, dek)
    moved = rewrap_message_key(old, new, message_id, wrapped)
    assert envelope.unwrap_message_key(new, message_id, moved) == dek
    # The context binds the key to its message: moved to another row it does not open.
    with pytest.raises(keys.DecryptionError):
        envelope.unwrap_message_key(new, uuid.uuid4(), moved)


def test_every_column_a_rotation_rewraps_is_sealed_with_the_services_context(keks):
    # What the services seal each column with (persons, admin, messages, compliance).
    sealed_with = {"totp_secret": totp_context, "personnummer_enc": personnummer_context,
                   "name_enc": name_context, "reason_enc": override_reason_context,
                   "review_comment_enc": override_comment_context,
                   "hook_secret_enc": lambda row: hook_secret_context(row, "current"),
                   "hook_previous_secret_enc": lambda row: hook_secret_context(row, "previous")}
    rotated = {column for columns in HUB_SEALED_COLUMNS.values() for column in columns}
    assert rotated == set(FIELD_CONTEXTS) == set(sealed_with)
    old, new = keks
    for column, context in sealed_with.items():
        row_id = uuid.uuid4()
        blob = keys.seal_field(old, b"secret", context(row_id).encode())
        moved = rewrap_sealed_field(old, new, column, row_id, blob)
        assert keys.field_kek_version(moved) == 2
        assert keys.open_field(new, moved, context(row_id).encode()) == b"secret"
