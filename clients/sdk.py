"""A small synchronous SDK for the hub's JSON API.

    client = HubClient("https://localhost:8443", ca_file="var/tls/ca.pem")
    client.login("natt.ali", password, totp_code)
    me = client.me()

Errors: `ProblemError` carries the hub's problem+json answer (status, code, title);
`HubClientError` is the base, also raised for transport failures.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx


class HubClientError(Exception):
    """Anything that went wrong talking to the hub."""


class ProblemError(HubClientError):
    """The hub answered with an application/problem+json error."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.code = str(problem.get("code", "unknown"))
        self.title = str(problem.get("title", ""))
        self.problem = problem
        super().__init__(f"{status} {self.code}: {self.title}")


class HubClient:
    def __init__(self, base_url: str, ca_file: str | Path | None = None,
                 token: str | None = None, timeout: float = 10.0) -> None:
        verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self.token = token
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, verify=verify,
                                  timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, json: Any = None,
                 content: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self._http.request(method, path, json=json, content=content,
                                          headers=headers)
        except httpx.HTTPError as err:
            raise HubClientError(f"cannot reach the hub: {type(err).__name__}") from err
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"title": response.reason_phrase}
            raise ProblemError(response.status_code, problem)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/healthz")
        return result

    def import_engagements(self, csv_data: bytes, dry_run: bool = False) -> dict[str, Any]:
        """Import engagements from CSV, all rows or none. A refused file raises
        `ProblemError` whose `problem["rows"]` lists each refused line and why."""
        path = "/api/v1/engagements/import" + ("?dry_run=true" if dry_run else "")
        result: dict[str, Any] = self._request("POST", path, content=csv_data,
                                               content_type="text/csv")
        return result

    def login(self, username: str, password: str, totp: str) -> dict[str, Any]:
        """Sign in; keeps the session token for later calls and returns the answer."""
        result: dict[str, Any] = self._request("POST", "/api/v1/auth/login", json={
            "username": username, "password": password, "totp": totp})
        self.token = str(result["token"])
        return result

    def logout(self) -> None:
        self._request("POST", "/api/v1/auth/logout")
        self.token = None

    def me(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/api/v1/me")
        return result

    def organizations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/api/v1/organizations")
        return result
