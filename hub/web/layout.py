"""What every page's frame shows: the menu of the signed-in user's roles, and the
confirmation of what they just did.

A confirmation travels as a short key in the redirect (`?klart=kvitterat`), never
as text: URLs end up in logs and browser history.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.domain.roles import Role, reads_care_messages
from hub.http.appkeys import ACTOR
from hub.http.context import preferred_language
from hub.services.actor import Actor
from hub.web.i18n import TEXTS

# (address, the page's name in `page`, its text key), in menu order.
CARE_MENU = (("/inkorg", "inbox", "inbox"), ("/skickat", "sent", "sent"),
             ("/skriv", "compose", "compose"), ("/personer", "persons", "persons"),
             ("/uppdrag", "assignments", "assignments"))
COMPLIANCE_MENU = (("/granskning", "review", "review"),
                   ("/granskning/atkomst", "access_report", "access_report"),
                   ("/granskning/logg", "audit_search", "audit_search"),
                   ("/granskning/verifiera", "verify", "verify"))
IT_CONTACT_MENU = (("/admin/konton", "accounts", "admin_accounts"),
                   ("/admin/enheter", "units", "admin_units"),
                   ("/admin/grupper", "groups", "admin_groups"),
                   ("/admin/api-nycklar", "tokens", "admin_tokens"),
                   ("/journalkopplingar", "hooks", "hooks"))
OPERATOR_MENU = (("/organisationer", "organizations", "organizations"),)
ACCOUNT_MENU = (("/konto", "account", "account"),)

# What `?klart=` may say, and its text.
FLASHES = {"skickat": "flash_sent", "kvitterat": "flash_acked", "arkiverat": "flash_archived",
           "olast": "flash_unread", "samtycke": "flash_consent",
           "aterkallat": "flash_withdrawn", "granskad": "flash_reviewed",
           "journal": "flash_journal", "sparat": "flash_saved",
           "registrerad": "flash_registered"}


def menu(actor: Actor) -> list[tuple[str, str, str]]:
    """The signed-in user's menu: what their roles can use, nothing else."""
    items: list[tuple[str, str, str]] = []
    if reads_care_messages(actor.roles):
        items += CARE_MENU
    if actor.has(Role.COMPLIANCE):
        items += COMPLIANCE_MENU
    if actor.has(Role.IT_CONTACT):
        items += IT_CONTACT_MENU
    if actor.has(Role.OPERATOR):
        items += OPERATOR_MENU
    return items + list(ACCOUNT_MENU)


def start_page(actor: Actor) -> str:
    """Where signing in leads: the inbox for those who read care messages, else the
    first page of the user's own work."""
    return menu(actor)[0][0]


def frame(request: web.Request) -> dict[str, Any]:
    """What the frame of a page shows: the menu of a signed-in request (its handler
    has authenticated it by now) and the confirmation the redirect asked for."""
    actor = request.get(ACTOR)
    flash = FLASHES.get(request.query.get("klart", ""))
    if actor is None or actor.user_id is None:
        actor = None
    return {"nav": menu(actor) if actor else [],
            # Live updates are of messages: for those who read them.
            "live": actor is not None and reads_care_messages(actor.roles),
            "flash": TEXTS[preferred_language(request)][flash] if flash else None}
