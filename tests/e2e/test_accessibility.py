"""Every page each role reaches, on a laptop and on a phone: axe-core finds nothing
serious or critical (WCAG 2.1 A and AA), and nothing is wider than the screen.

The pages are found by following the links each role is offered, from its start
page, so a new page is swept as soon as a menu or a page links to it. Screenshots of
each role's start page (laptop and phone) and of the compose form are written to
`HUB_SCREENSHOTS` when it is set: the README's pictures (`docs/screenshots`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.browser import browser, sign_in
from tests.e2e.conftest import RunningHub, started_hub

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a",
                                                       "wcag21aa", "best-practice"]},
               "resultTypes": ["violations"]}
# One demo account of each role, and the page signing in leads it to.
ROLES = {"staff": ("omsorgvast.sara", "/inkorg"),
         "case_worker": ("bistand.handlaggare", "/inkorg"),
         "it_contact": ("omsorgvast.it", "/admin/konton"),
         "compliance": ("stad.loggranskare", "/granskning"),
         "operator": ("drift.operator", "/organisationer")}
# Links the sweep does not follow: they change state or leave the UI.
NOT_PAGES = re.compile(r"^/(api/|lang/|logout|static/)")
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAX_PAGES = 40
# Pages a role reaches only by sending a form (a personnummer goes in a body, never a
# link): (page, fields to fill by label, button). What they answer is swept too, on
# both screens, and its links are followed.
FORMS: dict[str, list[tuple[str, dict[str, str], str]]] = {
    "staff": [("/personer", {"Personnummer": "19380412-9827"}, "Sök"),
              ("/skriv", {}, "Skicka")],
    "case_worker": [("/personer", {"#personnummer": "19470315-9808"}, "Sök"),
                    ("/personer", {"#new-personnummer": "19380412-9827",
                                   "#new-name": "Astrid Demosson"}, "Registrera")],
    "it_contact": [("/admin/konton", {"#display_name": "Test Testsson",
                                      "#username": "omsorgvast.test"}, "Skapa kontot"),
                   ("/admin/api-nycklar", {"#name": "Journalsystem"}, "Skapa nyckeln")],
    "compliance": [("/granskning/logg", {}, "Sök"),
                   ("/granskning/atkomst", {"Personnummer": "19380412-9827"},
                    "Visa rapporten"),
                   ("/granskning/verifiera", {}, "Verifiera nu")],
    "operator": [("/organisationer", {"#name": "Ny utförare AB", "#org_number": "123"},
                  "Skapa organisationen")],
}


def _submit(page: Any, url: str, fields: dict[str, str], button: str) -> None:
    page.goto(url)
    for label, value in fields.items():
        field = page.locator(label) if label.startswith("#") else page.get_by_label(label)
        field.first.fill(value)
    page.get_by_role("button", name=button, exact=True).first.click()
    page.wait_for_load_state()


@pytest.fixture(scope="module")
def sweep_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    # The pages are the same on both databases; the rest of the suite covers those.
    with started_hub("sqlite", tmp_path_factory.mktemp("hub-a11y")) as hub:
        yield hub


def _shape(path: str) -> str:
    """A page's kind: the same page for another message or person is not swept again."""
    return ID.sub("{id}", path)


def _links(page: Any, base: str) -> list[str]:
    # Not "#main" and the like: the page itself (a form's answer has no address).
    hrefs = page.eval_on_selector_all(
        "a[href]:not([href^='#'])", "els => els.map(e => e.href)")
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != base or NOT_PAGES.match(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def _problems(page: Any, where: str, axe: Axe) -> list[str]:
    problems = []
    results = axe.run(page, options=AXE_OPTIONS).response
    for violation in results["violations"]:
        if violation["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in violation["nodes"]][:3]
            problems.append(f"{where}: {violation['id']} ({violation['impact']}) {targets}")
    wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if wider > 0:
        problems.append(f"{where}: {wider} px wider than the screen")
    return problems


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_of_a_role_passes_axe_on_a_laptop_and_a_phone(
        sweep_hub: RunningHub, role: str, tmp_path: Path) -> None:
    username, start = ROLES[role]
    shots = Path(os.environ.get("HUB_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    pictures = {start: role, "/skriv": f"{role}-compose"}
    axe = Axe()
    problems: list[str] = []
    with browser() as chromium:
        context = chromium.new_context(ignore_https_errors=True, viewport=LAPTOP)
        phone = chromium.new_context(ignore_https_errors=True, viewport=PHONE,
                                     is_mobile=True, has_touch=True)
        try:
            page = sign_in(context, sweep_hub, username, start=start)
            phone_page = sign_in(phone, sweep_hub, username, start=start)
            queue, seen, swept = [start], {_shape(start)}, []

            def follow(links: list[str]) -> None:
                for link in links:
                    if _shape(link) not in seen:
                        seen.add(_shape(link))
                        queue.append(link)

            def crawl() -> None:
                nonlocal problems
                while queue and len(swept) < MAX_PAGES:
                    path = queue.pop(0)
                    response = page.goto(f"{sweep_hub.url}{path}")
                    assert response is not None and response.status < 400, f"{path}: " \
                        f"{response.status if response else 'no answer'}"
                    swept.append(path)
                    problems += _problems(page, f"{path} (laptop)", axe)
                    phone_page.goto(f"{sweep_hub.url}{path}")
                    problems += _problems(phone_page, f"{path} (phone)", axe)
                    if path in pictures and (role == "staff" or path == start):
                        page.screenshot(path=str(shots / f"{pictures[path]}.png"))
                        phone_page.screenshot(path=str(shots / f"{pictures[path]}-phone.png"))
                    follow(_links(page, sweep_hub.url))

            crawl()
            for n, (path, fields, button) in enumerate(FORMS[role]):
                # The phone sends its own copy (a second account, token or search).
                phone_fields = {k: v.replace("test", "tfon").replace("Ny ", "Nyare ")
                                for k, v in fields.items()}
                _submit(page, f"{sweep_hub.url}{path}", fields, button)
                swept.append(f"{path} sent")
                problems += _problems(page, f"{path} sent (laptop)", axe)
                follow(_links(page, sweep_hub.url))
                _submit(phone_page, f"{sweep_hub.url}{path}", phone_fields, button)
                problems += _problems(phone_page, f"{path} sent (phone)", axe)
                assert n < 10
            crawl()
        finally:
            context.close()
            phone.close()
    # Each role sees more than its start page: the menu leads somewhere.
    assert len(swept) > 1, swept
    assert not problems, "\n".join(problems)
