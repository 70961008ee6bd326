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
# pages say it in their language through the catalogue: each pattern below names the
# catalogue text for the problems it matches (groups it captures fill \1, \2), the
# first that matches; a problem none matches is said generally in Swedish, and as
# the service said it in English.
_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key) for pattern, key in (
        (r"^(\d+)-(\d+) groups$", "problem_groups"),
        (r"^(?:must be )?(\d+)-(\d+) characters$", "problem_characters"),
        (r"^(\d+)-(\d+) characters: say why$", "problem_say_why"),
        (r"^(?:password must be )?at most (\d+) characters$", "problem_at_most_characters"),
        (r"^at most (.+) per message$", "problem_per_message"),
        (r"^at most (\d+) rows$", "problem_at_most_rows"),
        (r"^(?:password must be )?at least (\d+) characters$", "problem_at_least_characters"),
        (r"^password is too repetitive$", "problem_repetitive"),
        (r"^3-64 letters, digits or \. _ - @$", "problem_username"),
        (r"^no registered person with this (?:personnummer|identity)$", "problem_no_person"),
        (r"^no such unit that you may manage$", "problem_no_unit_to_manage"),
        (r"^the same engagement as line (\d+)$", "problem_same_line"),
        (r"^this engagement is already registered$", "problem_engagement_exists"),
        (r"^a unit id, or", "problem_unit_form"),
        (r"^required \(YYYY-MM-DD\)$", "problem_date_required"),
        (r"^a date, YYYY-MM-DD$", "problem_date"),
        (r"^the header row lacks (.+)$", "problem_header_lacks"),
        (r"^no such (?:user|unit) ", "problem_not_here"),
        (r"^give exactly one of", "problem_one_member"),
        (r"does not read care messages", "problem_not_reader"),
        (r"^a system client reads", "problem_system_client_unit"),
        (r"^the operator role does not combine", "problem_operator_alone"),
        (r"^a system client's account holds no other role", "problem_system_client_alone"),
        (r"not a valid organisationsnummer", "problem_org_number"),
        (r"^at most (.+)$", "problem_at_most"),
        (r"^at least (.+)$", "problem_at_least"),
        (r"^must be in the future$", "problem_future"),
        (r"^only with requires_ack$", "problem_only_with_ack"),
        (r"^required$", "problem_required"),
        (r"^not valid$", "problem_not_valid"),
        (r"^not a personnummer$", "problem_not_pnr"),
        (r"^not a valid personnummer \(check digit or date\)$", "problem_pnr_invalid"),
        (r"^personnummer has a birth date in the future$", "problem_pnr_future"),
        (r"^an emergency override is for messages about a person$", "problem_override_person"),
        (r"^a group reaches nobody$", "problem_reaches_nobody"),
        (r"^unknown or archived groups$", "problem_unknown_groups"),
        (r"^must not be before (\w+)$", "problem_before_start"),
        (r"^one of ", "problem_choose"),
        (r"^unknown organizations$", "problem_unknown_orgs"),
        (r"^empty", "problem_empty_file"),
        (r"^must be UTF-8 text$", "problem_utf8"),
        (r"^not readable as CSV$", "problem_csv"),
        (r"^no rows after the header$", "problem_no_rows"),
        (r"^(\d+) refused$", "problem_rows_refused"),
        (r"(?i)null character|cannot be stored", "problem_unstorable"),
    ))


def field_problem(lang: str, name: str, problem: str) -> str:
    """One refused field as the UI says it: the field's name and what is wrong with
    it, in the UI's language."""
    texts = TEXTS[lang]
    label = texts.get("field_" + name.split(".")[0], texts["field_other"])
    for pattern, key in _PROBLEMS:
        found = pattern.search(problem)
        if found:
            return f"{label}: {found.expand(texts[key])}"
    return f"{label}: {problem if lang == 'en' else texts['field_unusable']}"


def org_kind_label(lang: str, kind: str) -> str:
    """An organization's kind as the UI names it."""
    return TEXTS[lang].get("org_kind_" + kind, kind)


def action_label(lang: str, action: str) -> str:
    """An audit log action as the review pages name it (the action itself if new)."""
    return _CATALOGUES[lang].get(ACTION_PREFIX + action, action)
