"""Headless Chromium from Debian's package, driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            raise AssertionError("chromium is missing: `make test` installs it (apt-get)")
        pytest.skip("chromium is not installed here; `make test` installs it as root")
    return path


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def sign_in(context: Any, hub: Any, username: str, start: str = "/inkorg") -> Any:
    """A new page of `context`, signed in as the demo account, on its start page."""
    page = context.new_page()
    page.goto(f"{hub.url}/login")
    page.get_by_label("Användarnamn").fill(username)
    page.get_by_label("Lösenord").fill(hub.password)
    page.get_by_label("Engångskod från din autentiseringsapp").fill(hub.code(username))
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(f"{hub.url}{start}")
    return page
