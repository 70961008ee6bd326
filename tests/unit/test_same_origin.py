"""The web UI's one same-origin check (hub/http/context.py)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from hub.errors import Forbidden
from hub.http.context import require_same_origin


def _post(**headers: str) -> web.Request:
    return make_mocked_request("POST", "/skriv", headers={"Host": "hub.example", **headers})


@pytest.mark.parametrize("headers", [
    {"Origin": "http://hub.example"},
    {"Origin": "http://hub.example", "Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},
    {},  # a program, not a page another site showed
])
def test_a_post_from_our_own_pages_passes(headers: dict[str, str]) -> None:
    require_same_origin(_post(**headers))


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "https://hub.example"},  # another scheme is another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_a_post_another_site_made_is_forbidden(headers: dict[str, str]) -> None:
    with pytest.raises(Forbidden):
        require_same_origin(_post(**headers))
