"""UI texts in Swedish (default) and English, from one message catalogue per language
(`hub/web/locale/<lang>/LC_MESSAGES/messages.po`, read with Babel at start-up).

The catalogues' msgids are keys: templates write `t.inbox`, `t['category_' + c]`.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locale"
LANGUAGES = ("sv", "en")
# Keys of the audit log's actions in the catalogues.
ACTION_PREFIX = "action:"


def _load(lang: str) -> dict[str, str]:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


_CATALOGUES = {lang: _load(lang) for lang in LANGUAGES}
# The texts templates see, by language (the actions' labels apart).
TEXTS: dict[str, dict[str, str]] = {
    lang: {k: v for k, v in texts.items() if not k.startswith(ACTION_PREFIX)}
    for lang, texts in _CATALOGUES.items()}


# The services name what is wrong with a field in English (the API's words). The
# Swedish UI says it in Swedish: these, in order, the first that matches; what none
# matches is said generally rather than shown in English.
_PROBLEMS_SV: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), swedish) for pattern, swedish in (
        (r"^(\d+)-(\d+) groups$", r"välj \1–\2 kontaktgrupper"),
        (r"^(?:must be )?(\d+)-(\d+) characters$", r"\1–\2 tecken"),
        (r"^(\d+)-(\d+) characters: say why$", r"skriv varför, \1–\2 tecken"),
        (r"^at most (\d+) characters$", r"högst \1 tecken"),
        (r"^at most (.+) per message$", r"högst \1 per meddelande"),
        (r"^at most (\d+) rows$", r"högst \1 rader"),
        (r"^(?:password must be )?at least (\d+) characters$", r"minst \1 tecken"),
        (r"^password must be at most (\d+) characters$", r"högst \1 tecken"),
        (r"^password is too repetitive$", "lösenordet upprepar sig för mycket"),
        (r"^3-64 letters, digits or \. _ - @$", "3–64 tecken: bokstäver, siffror och . _ - @"),
        (r"^no registered person with this personnummer$",
         "ingen registrerad person har det personnumret"),
        (r"^no such unit that you may manage$",
         "ingen enhet som du får registrera insatser för"),
        (r"^the same engagement as line (\d+)$", r"samma insats som rad \1"),
        (r"^this engagement is already registered$", "insatsen finns redan"),
        (r"^a unit id, or", "en enhets id, eller ”Organisation / Enhet”"),
        (r"^required \(YYYY-MM-DD\)$", "måste fyllas i (ÅÅÅÅ-MM-DD)"),
        (r"^a date, YYYY-MM-DD$", "ett datum, ÅÅÅÅ-MM-DD"),
        (r"^the header row lacks (.+)$", r"rubrikraden saknar \1"),
        (r"^no such (?:user|unit) ", "finns inte i organisationen"),
        (r"^give exactly one of", "välj en person eller en enhet"),
        (r"does not read care messages", "kontot läser inga omsorgsmeddelanden: ge det "
         "rollen personal eller biståndshandläggare först"),
        (r"^a system client reads", "en systemklient läser det som når dess enhet"),
        (r"^the operator role does not combine", "driftrollen går inte att kombinera"),
        (r"^a system client's account holds no other role", "en systemklient har ingen annan roll"),
        (r"not a valid organisationsnummer", "inte ett giltigt organisationsnummer"),
        (r"^at most (.+)$", r"högst \1"),
        (r"^at least (.+)$", r"minst \1"),
        (r"^must be in the future$", "måste ligga framåt i tiden"),
        (r"^only with requires_ack$", "bara när kvittens begärs"),
        (r"^required$", "måste fyllas i"),
        (r"^not valid$", "ogiltigt värde"),
        (r"^not a personnummer$", "inte ett personnummer"),
        (r"^not a valid personnummer \(check digit or date\)$",
         "inte ett giltigt personnummer (kontrollsiffra eller datum)"),
        (r"^personnummer has a birth date in the future$", "födelsedatumet ligger i framtiden"),
        (r"^no registered person with this identity$",
         "ingen registrerad person har det personnumret"),
        (r"^an emergency override is for messages about a person$",
         "nödåtkomst gäller bara meddelanden om en person"),
        (r"^a group reaches nobody$", "en kontaktgrupp når ingen"),
        (r"^unknown or archived groups$", "okänd eller arkiverad kontaktgrupp"),
        (r"^must not be before (\w+)$", "får inte vara före startdagen"),
        (r"^one of ", "välj ett av alternativen"),
        (r"^unknown organizations$", "okänd organisation"),
        (r"^empty", "tom fil"),
        (r"^must be UTF-8 text$", "måste vara text i UTF-8"),
        (r"^not readable as CSV$", "går inte att läsa som CSV"),
        (r"^no rows after the header$", "inga rader efter rubrikraden"),
        (r"^(\d+) refused$", r"\1 rader avvisade"),
        (r"(?i)null character|cannot be stored", "innehåller tecken som inte kan sparas"),
    ))


def field_problem(lang: str, name: str, problem: str) -> str:
    """One refused field as the UI says it: the field's name and what is wrong with
    it, in the UI's language."""
    texts = TEXTS[lang]
    label = texts.get("field_" + name.split(".")[0], texts["field_other"])
    if lang == "en":
        return f"{label}: {problem}"
    for pattern, swedish in _PROBLEMS_SV:
        found = pattern.search(problem)
        if found:
            return f"{label}: {found.expand(swedish)}"
    return f"{label}: {texts['field_unusable']}"


def org_kind_label(lang: str, kind: str) -> str:
    """An organization's kind as the UI names it."""
    return TEXTS[lang].get("org_kind_" + kind, kind)


def action_label(lang: str, action: str) -> str:
    """An audit log action as the review pages name it (the action itself if new)."""
    return _CATALOGUES[lang].get(ACTION_PREFIX + action, action)
