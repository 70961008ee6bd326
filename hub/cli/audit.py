"""`hub audit`: verify the log, sign a checkpoint, keep checkpoints in a witness file."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

import keys
from hub.app import Hub
from hub.services.audit import VerifyReport, split_notes

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    witness: Annotated[Path | None, typer.Option(
        help="A file of checkpoints kept outside the hub (see `hub audit checkpoint`)",
        exists=True, dir_okay=False, readable=True)] = None,
    witness_key: Annotated[str | None, typer.Option(
        help="Verifier key the witness checkpoints are signed with (default: the hub's)")]
    = None,
) -> None:
    """Recompute every entry, the hash chain and the Merkle tree; check every signed
    checkpoint and the witness file. Exits 1 naming the first entry where it breaks
    (or, where only a signed root can tell, the range of entries it lies in)."""
    from hub.cli import _run, _settings, console, err_console

    notes = split_notes(witness.read_text(encoding="utf-8")) if witness else []
    witness_public = None
    if witness_key is not None:
        try:
            witness_public = keys.parse_verifier_key(witness_key)
        except keys.CheckpointError as err:
            err_console.print(f"[red]{err}[/red]")
            raise typer.Exit(2) from None
    settings = _settings()
    with Progress(*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task("Verifying", total=None)

        async def work(hub: Hub) -> VerifyReport:
            return await hub.audit.verify(
                notes, witness_public,
                progress=lambda done, total: progress.update(task, completed=done, total=total))

        # A one-shot batch over many small objects: the cyclic collector would only
        # slow it down (nothing it builds is cyclic garbage).
        gc.disable()
        report = _run(settings, work)
        gc.enable()
    last = report.last_verified
    summary = (f"{report.entries} entries, {report.checkpoints} signed checkpoints, "
               f"{report.witnessed} witness checkpoints")
    if report.broken is not None:
        err_console.print(f"BROKEN {report.broken.where}: {report.broken.reason}",
                          style="red", markup=False, highlight=False)
        console.print(f"Checked before the break: {summary}")
        raise typer.Exit(1)
    console.print(f"[green]OK[/green] {summary}")
    if last is not None:
        console.print(f"Last verified checkpoint: size {last.size}, "
                      f"signed {last.at:%Y-%m-%d %H:%M:%S} UTC")


@audit_app.command("checkpoint")
def checkpoint(
    witness: Annotated[Path | None, typer.Option(
        help="Append the signed checkpoint to this witness file", dir_okay=False)] = None,
) -> None:
    """Sign the current tree head now and print it (or append it to a witness file)."""
    from hub.cli import _run, _settings, console

    settings = _settings()

    async def work(hub: Hub) -> str | None:
        await hub.audit.checkpoint(force=True)
        latest = await hub.audit.latest_checkpoint()
        return None if latest is None else latest.note

    note = _run(settings, work)
    if note is None:
        console.print("The audit log is empty: nothing to sign.")
        return
    if witness is not None:
        with witness.open("a", encoding="utf-8") as out:
            out.write(note + "\n")
        console.print(f"Appended the checkpoint to {witness}")
    else:
        sys.stdout.write(note)


@audit_app.command("key")
def verifier_key() -> None:
    """Print the verifier key a witness needs to check the hub's checkpoints."""
    from hub.cli import _run, _settings

    settings = _settings()

    async def work(hub: Hub) -> str:
        return hub.audit.verifier_key

    sys.stdout.write(_run(settings, work) + "\n")
