"""`hubctl`: the hub from a terminal, over HTTPS like any client.

The session token is kept in `$HUBCTL_CONFIG_DIR/session.json` (default
`~/.config/hubctl`), readable by its owner only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clients.sdk import HubClient, HubClientError, ProblemError

app = typer.Typer(help="Talk to the home-care message hub.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
console = Console()
err_console = Console(stderr=True)

UrlOption = Annotated[str | None, typer.Option("--url", envvar="HUBCTL_URL",
                                               help="Hub address, e.g. https://localhost:8443")]
CaOption = Annotated[Path | None, typer.Option("--ca", envvar="HUBCTL_CA",
                                               help="CA certificate to trust")]


def _config_dir() -> Path:
    return Path(os.environ.get("HUBCTL_CONFIG_DIR") or Path.home() / ".config" / "hubctl")


def _load_session() -> dict[str, Any]:
    path = _config_dir() / "session.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _save_session(data: dict[str, Any]) -> None:
    directory = _config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / "session.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)


def _client(url: str | None, ca: Path | None, with_token: bool = True) -> HubClient:
    saved = _load_session()
    base = (url or saved.get("url") or "").rstrip("/")
    if not base:
        err_console.print("Give the hub's address with --url or HUBCTL_URL.")
        raise typer.Exit(2)
    ca_file = ca or (Path(saved["ca"]) if saved.get("ca") else None)
    token = saved.get("token") if with_token and saved.get("url") == base else None
    return HubClient(base, ca_file=ca_file, token=token)


def _fail(err: HubClientError) -> typer.Exit:
    err_console.print(f"[red]{err}[/red]")
    return typer.Exit(1)


@app.command()
def health(url: UrlOption = None, ca: CaOption = None) -> None:
    """Check that the hub answers."""
    with _client(url, ca, with_token=False) as client:
        try:
            console.print(client.health())
        except HubClientError as err:
            raise _fail(err) from None


@app.command()
def login(
    username: Annotated[str, typer.Option(prompt=True)],
    url: UrlOption = None, ca: CaOption = None,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          envvar="HUBCTL_PASSWORD")] = "",
    totp: Annotated[str, typer.Option(prompt="One-time code")] = "",
) -> None:
    """Sign in with password and one-time code; keeps the session for later commands."""
    with _client(url, ca, with_token=False) as client:
        try:
            result = client.login(username, password, totp)
        except HubClientError as err:
            raise _fail(err) from None
        _save_session({"url": client.base_url, "token": result["token"],
                       "ca": str(ca.resolve()) if ca else _load_session().get("ca")})
    console.print(f"Signed in; the session ends at {result['expires_at']} at the latest.")


@app.command()
def whoami(url: UrlOption = None, ca: CaOption = None) -> None:
    """Show the signed-in account."""
    with _client(url, ca) as client:
        try:
            me = client.me()
        except HubClientError as err:
            raise _fail(err) from None
    table = Table(show_header=False)
    table.add_row("username", me["username"])
    table.add_row("name", me["display_name"])
    table.add_row("organization", me["organization"]["name"])
    table.add_row("roles", ", ".join(me["roles"]))
    console.print(table)


@app.command()
def logout(url: UrlOption = None, ca: CaOption = None) -> None:
    """End the session at the hub and forget it here."""
    with _client(url, ca) as client:
        try:
            client.logout()
        except HubClientError as err:
            raise _fail(err) from None
    saved = _load_session()
    saved.pop("token", None)
    _save_session(saved)
    console.print("Signed out.")


@app.command("import-engagements")
def import_engagements(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                         help="CSV: personnummer, unit, service_kind, "
                                              "starts_on, ends_on")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only")] = False,
    url: UrlOption = None, ca: CaOption = None,
) -> None:
    """Import engagements (the service overview) from CSV: all rows or none."""
    with _client(url, ca) as client:
        try:
            report = client.import_engagements(file.read_bytes(), dry_run=dry_run)
        except ProblemError as err:
            rows = err.problem.get("rows")
            if not rows:
                raise _fail(err) from None
            table = Table("line", "field", "why", title="Refused rows: nothing was imported")
            for row in rows:
                for field, why in row["errors"].items():
                    table.add_row(str(row["line"]), field, why)
            err_console.print(table)
            raise typer.Exit(1) from None
        except HubClientError as err:
            raise _fail(err) from None
    if report["dry_run"]:
        console.print(f"All {len(report['rows'])} rows can be imported (nothing stored).")
    else:
        console.print(f"Imported {report['imported']} engagements.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
