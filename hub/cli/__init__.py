"""The `hub` admin CLI: init, serve, migrate, org/user administration, demo data.

It runs on the hub's own machine with the master key and acts through the same
services as the API, as the operator.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from hub.app import Hub, build_hub
from hub.cli.audit import audit_app
from hub.config import ConfigError, Settings, load_settings
from hub.domain.roles import OrgKind, Role
from hub.errors import HubError
from hub.logs import configure_logging

app = typer.Typer(help="Administer the home-care message hub.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
keys_app = typer.Typer(help="Key-encryption keys.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts.", no_args_is_help=True)
community_app = typer.Typer(
    help="Secrecy communities: organizations that share information without consent.",
    no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(community_app, name="communities")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _run(settings: Settings, work: Callable[[Hub], Awaitable[T]]) -> T:
    """Build the hub's services, run `work`, close them; errors become exit codes."""
    async def main() -> T:
        hub = build_hub(settings)
        try:
            return await work(hub)
        finally:
            await hub.close()

    try:
        return asyncio.run(main())
    except ConfigError as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    except HubError as err:
        detail = f": {err.detail}" if err.detail else ""
        extra = f" {err.extra}" if err.extra else ""
        err_console.print(f"[red]{err.title_en}{detail}{extra}[/red]")
        raise typer.Exit(1) from None


@app.command()
def init() -> None:
    """Create the data directory, master key, dev TLS files and the schema (idempotent)."""
    from hub.cli.setup import initialize

    settings = _settings()
    for line in asyncio.run(initialize(settings)):
        console.print(line)


@app.command()
def migrate() -> None:
    """Apply database migrations up to the newest."""
    from hub.cli.setup import migrate_database

    settings = _settings()
    revision = asyncio.run(migrate_database(settings))
    console.print(f"Database schema at revision {revision}")


@app.command()
def serve() -> None:
    """Run the hub (HTTPS unless HUB_TLS=false on a loopback address)."""
    from hub.cli.setup import check_ready
    from hub.server import serve as run_server

    settings = _settings()
    try:
        asyncio.run(check_ready(settings))
    except ConfigError as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None
    run_server(settings)


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option(help="Display name")],
    kind: Annotated[OrgKind, typer.Option(help="Kind of organization")],
    org_number: Annotated[str, typer.Option(help="Organisationsnummer")],
    authority: Annotated[str, typer.Option(help="Huvudman's organisationsnummer")],
) -> None:
    """Create an organization."""
    from hub.services.actor import CLI_OPERATOR
    from hub.services.admin import NewOrganization

    settings = _settings()
    org = _run(settings, lambda hub: hub.admin.create_organization(
        CLI_OPERATOR, NewOrganization(name=name, kind=kind, org_number=org_number,
                                      authority=authority)))
    console.print(f"Created organization {org.id}")


@org_app.command("list")
def org_list() -> None:
    """List organizations."""
    settings = _settings()
    orgs = _run(settings, lambda hub: hub.admin.list_organizations())
    table = Table("id", "name", "kind", "org number")
    for o in orgs:
        table.add_row(str(o.id), o.name, o.kind, o.org_number)
    console.print(table)


@community_app.command("list")
def communities_list() -> None:
    """List the secrecy communities and the organizations in each."""
    from hub.services.actor import CLI_OPERATOR

    settings = _settings()

    async def work(hub: Hub) -> tuple[list[Any], dict[uuid.UUID, str]]:
        return (await hub.admin.secrecy_communities(CLI_OPERATOR),
                {o.id: o.name for o in await hub.admin.list_organizations()})

    communities, names = _run(settings, work)
    for community in communities:
        table = Table("organization id", "name", title=f"{community.id}: {community.en}")
        for org in community.organization_ids:
            table.add_row(str(org), names.get(org, "?"))
        console.print(table)


def _set_member(community: str, organization: uuid.UUID, member: bool) -> None:
    from hub.services.actor import CLI_OPERATOR

    settings = _settings()
    found = _run(settings, lambda hub: hub.admin.set_community_member(
        CLI_OPERATOR, community, organization, member))
    console.print(f"{found.id}: {len(found.organization_ids)} organizations")


@community_app.command("add")
def communities_add(
    community: Annotated[str, typer.Argument(help="Community id, e.g. osl_26_9c")],
    organization: Annotated[uuid.UUID, typer.Argument(help="Organization id")],
) -> None:
    """Put an organization into a secrecy community (audited)."""
    _set_member(community, organization, True)


@community_app.command("remove")
def communities_remove(
    community: Annotated[str, typer.Argument(help="Community id, e.g. osl_26_9c")],
    organization: Annotated[uuid.UUID, typer.Argument(help="Organization id")],
) -> None:
    """Take an organization out of a secrecy community (audited)."""
    _set_member(community, organization, False)


@user_app.command("create")
def user_create(
    organization: Annotated[uuid.UUID, typer.Option("--org", help="Organization id")],
    username: Annotated[str, typer.Option()],
    display_name: Annotated[str, typer.Option("--name", help="Name shown to colleagues")],
    role: Annotated[list[Role], typer.Option(help="Role; repeat for several")],
    unit: Annotated[uuid.UUID | None, typer.Option(help="Unit id")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin")] = False,
) -> None:
    """Create an account; prints the TOTP enrolment URI and QR code once."""
    from hub.cli.setup import print_totp_enrolment
    from hub.services.actor import CLI_OPERATOR
    from hub.services.admin import NewUser

    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    created = _run(settings, lambda hub: hub.admin.create_user(CLI_OPERATOR, NewUser(
        organization_id=organization, username=username, display_name=display_name,
        password=password, roles=frozenset(role), unit_id=unit)))
    console.print(f"Created user {created.user.id} ({created.user.username})")
    print_totp_enrolment(console, created.totp_uri, created.totp_secret)


@keys_app.command("rotate")
def keys_rotate(
    organization: Annotated[uuid.UUID | None, typer.Option(
        "--org", help="Rotate this organization's KEK")] = None,
    hub_key: Annotated[bool, typer.Option(
        "--hub", help="Rotate the hub's own KEK (person identities, TOTP secrets)")] = False,
) -> None:
    """Give one owner a new KEK version and move all its wrapped keys to it."""
    from rich.progress import Progress

    from hub.services.keystore import HUB_OWNER, org_owner, rotate_owner

    if (organization is None) == (not hub_key):
        err_console.print("Give exactly one of --org ID or --hub.")
        raise typer.Exit(2)
    owner = HUB_OWNER if hub_key else org_owner(organization)  # type: ignore[arg-type]
    settings = _settings()
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task("Rewrapping", total=None)

        async def work(hub: Hub) -> tuple[int, int]:
            return await rotate_owner(hub.db, hub.keystore, owner, hub.audit,
                                      progress=lambda n: progress.advance(task, n))

        version, moved = _run(settings, work)
    console.print(f"Key-encryption key version {version} is active; {moved} keys moved to it.")


@app.command("backup")
def backup_command(path: Annotated[Path, typer.Argument(help="A new file to write")]) -> None:
    """Back up the database, sealed under a key of the master key (never the key)."""
    from hub.cli.backup import backup

    backup(_settings(), path)


@app.command("restore")
def restore_command(
    path: Annotated[Path, typer.Argument(help="A file `hub backup` wrote")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before replacing")] = False,
) -> None:
    """Replace the database with a backup (stop the hub first on SQLite)."""
    from hub.cli.backup import restore

    restore(_settings(), path, yes)


@app.command()
def demo(
    if_empty: Annotated[bool, typer.Option(help="Seed only when the hub has no organizations")]
    = True,
) -> None:
    """Seed the demo organizations, units, accounts, persons and engagements."""
    from hub.cli.demo import seed_demo

    settings = _settings()
    _run(settings, lambda hub: seed_demo(hub, console, if_empty=if_empty))


def main() -> None:
    app()
