"""The web UI's message catalogues: both languages say everything, and every text a
template or handler asks for is in them (a missing key would be a 500 on that page)."""

from __future__ import annotations

import re
from pathlib import Path

from hub.domain.audit import Action
from hub.web import admin_views, i18n, layout
from hub.web.i18n import TEXTS, action_label, field_problem

WEB = Path(__file__).parents[2] / "hub" / "web"
# `t.key` and `t['key']` in templates; `texts["key"]` in handlers.
TEMPLATE_KEY = re.compile(r"\bt\.([a-z_][a-z0-9_]*)\b|\bt\[['\"]([a-z0-9_]+)['\"]\]")
HANDLER_KEY = re.compile(r"\btexts\[['\"]([a-z0-9_]+)['\"]\]")


def test_both_languages_hold_the_same_keys_and_no_empty_text() -> None:
    assert set(TEXTS["sv"]) == set(TEXTS["en"])
    assert all(text.strip() for lang in TEXTS for text in TEXTS[lang].values())


def test_every_key_the_pages_use_is_in_the_catalogue() -> None:
    used = set()
    for template in (WEB / "templates").glob("*.html"):
        used |= {a or b for a, b in TEMPLATE_KEY.findall(template.read_text())}
    for module in WEB.glob("*.py"):
        used |= set(HANDLER_KEY.findall(module.read_text()))
    used |= {key for menu in (layout.CARE_MENU, layout.COMPLIANCE_MENU,
                              layout.IT_CONTACT_MENU, layout.OPERATOR_MENU,
                              layout.ACCOUNT_MENU) for _, _, key in menu}
    used |= set(layout.FLASHES.values())
    used.discard("get")  # t.get(...), a lookup with a fallback
    assert sorted(used - set(TEXTS["sv"])) == []


def test_every_audit_action_has_a_label_in_both_languages() -> None:
    for lang in TEXTS:
        unnamed = [a.value for a in Action if action_label(lang, a.value) == a.value]
        assert unnamed == [], lang


def test_refusals_are_said_in_swedish_however_the_service_words_them() -> None:
    assert field_problem("sv", "group_ids", "1-20 groups") == \
        "Mottagare: välj 1–20 kontaktgrupper"
    assert field_problem("sv", "valid_to", "must not be before valid_from") == \
        "Gäller till: får inte vara före startdagen"
    # Words no pattern knows are not shown in English.
    assert field_problem("sv", "subject", "some new English problem") == \
        "Ämne: värdet kan inte användas"
    assert field_problem("en", "subject", "1-200 characters") == "Subject: 1–200 characters"
    assert field_problem("en", "subject", "some new problem") == "Subject: some new problem"


def test_every_refusal_and_clash_text_is_in_both_catalogues() -> None:
    keys = {key for _, key in i18n._PROBLEMS} | set(admin_views._CONFLICTS.values())
    for lang in TEXTS:
        assert sorted(keys - set(TEXTS[lang])) == [], lang
