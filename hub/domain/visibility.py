"""Who may see a message, and whose identity a viewer is shown. One rule each.

A message is seen by its recipients (a delivery row names them), by its sender, and
by the sender's unit colleagues who read care messages (so a shift sees what the
previous shift sent). Accounts that only administer (IT contact, compliance officer,
operator) see no message content, not even their own unit's.

A person's registered name is shown only where the viewer's organization is engaged
with the person today, or to a case worker; to anyone else (a recipient reached by an
emergency override, say) a message about a person shows the pseudonym. A protected
identity (skyddade personuppgifter) is shown only on opening, by an engaged
organization.

A member of staff with protected identity is shown to other organizations by unit
and role only, never by name.
"""

from __future__ import annotations

import uuid

from hub.domain.roles import Role, reads_care_messages


def on_sender_side(user_id: uuid.UUID | None, unit_id: uuid.UUID | None,
                   roles: frozenset[Role], sender_user_id: uuid.UUID,
                   sender_unit_id: uuid.UUID | None) -> bool:
    """The viewer sent the message, or is a care-reading colleague of its unit."""
    if user_id is None:
        return False
    if user_id == sender_user_id:
        return True
    return (unit_id is not None and unit_id == sender_unit_id
            and reads_care_messages(roles))


def may_see_message(user_id: uuid.UUID | None, unit_id: uuid.UUID | None,
                    roles: frozenset[Role], sender_user_id: uuid.UUID,
                    sender_unit_id: uuid.UUID | None, delivered_to_viewer: bool) -> bool:
    """Delivered to the viewer, or seen from the sender's side."""
    return delivered_to_viewer or on_sender_side(user_id, unit_id, roles, sender_user_id,
                                                 sender_unit_id)


def may_find_person(roles: frozenset[Role], engaged: bool) -> bool:
    """May a viewer look a person up (identity, service overview, consents)? Case
    workers find anyone; staff of an organization engaged with the person today find
    them. Accounts that only administer, and system clients, find nobody."""
    return Role.CASE_WORKER in roles or (Role.STAFF in roles and engaged)


def person_name_shown(protected: bool, engaged: bool, case_worker: bool,
                      opening: bool) -> bool:
    """Is a person's registered name shown to a viewer? To an organization engaged
    with them today, and to case workers (who may look up anyone); a protected
    identity only when an engaged viewer opens the message or looks the person up
    (audited as such)."""
    if protected:
        return engaged and opening
    return engaged or case_worker


def journal_identity_shown(protected: bool, engaged: bool, case_management: bool) -> bool:
    """Is a person's identity (personnummer, name) in a delivery to an organization's
    journal? As its staff would see it on opening: to an organization engaged with the
    person, or a case-management one; a protected identity only to an engaged one.
    Otherwise the delivery carries the pseudonym."""
    if protected:
        return engaged
    return engaged or case_management


def staff_name_shown(protected: bool, same_organization: bool) -> bool:
    """Is a member of staff's name shown? A protected one only inside their own
    organization; elsewhere their unit and role stand in for it."""
    return same_organization or not protected
