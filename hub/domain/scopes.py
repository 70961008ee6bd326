"""What a system client's token may do with the inbox of the unit it is bound to.

A person's actor has no scopes (None): their roles decide. A system client's actor
carries the scopes its IT contact gave the token, and each service checks the one its
operation needs (`Actor.require_scope`); everything else a system client is refused
by role, as it holds none but `system_client`.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    # List, open and follow the unit's messages (and their attachments, receipts,
    # journal state, the live stream).
    READ = "read"
    ACKNOWLEDGE = "acknowledge"
    # Ask for a message to be recorded in the organization's journal.
    RECORD = "record"
    SEND = "send"
