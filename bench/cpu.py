"""Process CPU time from /proc: the hub's (its process and every descendant, so
`--workers N` counts whole) and, for PostgreSQL on this machine, the server's."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int, children: bool = False) -> tuple[str, int, float] | None:
    """(command name, parent pid, user+system CPU seconds) of one process; with
    `children`, those of its children that have exited instead."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1: raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[1] is ppid.
    # utime and stime, then cutime and cstime: fields 14 to 17 of stat (1-based).
    first = 13 if children else 11
    return name, int(fields[1]), (int(fields[first]) + int(fields[first + 1])) / _TICKS


def _processes() -> dict[int, tuple[str, int, float]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[int(entry.name)] = stat
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by `root` and its living descendants."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (_, ppid, _) in processes.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in processes:
            total += processes[pid][2]
        todo.extend(children.get(pid, ()))
    return total


def postgres_cpu(backends: set[int]) -> float:
    """CPU seconds used so far by the hub's PostgreSQL backends (`backends`, their
    pids) and the server's own background processes that work for every backend
    (WAL writer, checkpointer, background writer): other clients' backends on the same
    server are not counted while they run. A backend that has exited is counted in
    its parent's children time, whosever it was: a connection the hub closed during
    the run (the benchmark runs alone on the server, and so counts it)."""
    total = 0.0
    processes = _processes()
    for pid, (name, ppid, cpu) in processes.items():
        if not name.startswith(("postgres", "postmaster")):
            continue
        if not processes.get(ppid, ("",))[0].startswith(("postgres", "postmaster")):
            exited = _stat(pid, children=True)  # the postmaster: the backends it reaped
            total += exited[2] if exited is not None else 0.0
        background = _cmdline(pid).startswith("postgres: ") and not any(
            word in _cmdline(pid) for word in (" idle", " active", "127.0.0.1", "[local]"))
        if pid in backends or background:
            total += cpu
    return total


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
