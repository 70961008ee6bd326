"""`hub backup FILE` and `hub restore FILE`, with progress bars."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from hub.bootstrap import load_master_key
from hub.config import ConfigError, Settings
from hub.services.backup import BackupRefused, restore_backup, write_backup
from keys import MasterKey

console = Console()
err_console = Console(stderr=True)


def _master(settings: Settings) -> MasterKey:
    try:
        return load_master_key(settings)
    except ConfigError as err:
        err_console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=err_console,
                    transient=True)


def backup(settings: Settings, path: Path) -> None:
    """Write a sealed backup of the database to `path` (new file, mode 0600)."""
    master = _master(settings)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        err_console.print(f"[red]{path} exists; choose a new file name[/red]")
        raise typer.Exit(2) from None
    try:
        with os.fdopen(fd, "wb") as out, _bar() as bar:
            task = bar.add_task("Backing up", total=None)
            info = asyncio.run(write_backup(settings, master, out,
                                            lambda n: bar.advance(task, n)))
            out.flush()
            os.fsync(out.fileno())
    except BackupRefused as err:
        path.unlink(missing_ok=True)
        err_console.print(f"[red]{err.detail}[/red]")
        raise typer.Exit(1) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    console.print(f"Backup of the {info.dialect} database (schema {info.revision}) "
                  f"written to {path} ({path.stat().st_size:,} bytes), sealed under a key "
                  "of the master key: keep the master key apart from it.")


def restore(settings: Settings, path: Path, yes: bool = False) -> None:
    """Replace the database with the backup in `path`."""
    master = _master(settings)
    if not yes and not typer.confirm(
            "This replaces everything in the hub's database with the backup. Go on?"):
        raise typer.Exit(1)
    try:
        with path.open("rb") as source, _bar() as bar:
            task = bar.add_task("Restoring", total=path.stat().st_size)
            info = asyncio.run(restore_backup(settings, master, source,
                                              lambda n: bar.advance(task, n)))
    except FileNotFoundError:
        err_console.print(f"[red]no backup at {path}[/red]")
        raise typer.Exit(2) from None
    except BackupRefused as err:
        err_console.print(f"[red]{err.detail}[/red]")
        raise typer.Exit(1) from None
    console.print(f"Restored the backup made {info.created_at}. Run `hub audit verify` "
                  "to check the log.")
