"""Process CPU time from /proc: the hub's (its process and every descendant, so
`--workers N` counts whole) and, for PostgreSQL on this machine, the server's."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, user+system CPU seconds) of one process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1: raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    # fields[1] is ppid; utime and stime are fields 14 and 15 of stat (1-based).
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


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
    server are not counted."""
    total = 0.0
    for pid, (name, _, cpu) in _processes().items():
        if not name.startswith(("postgres", "postmaster")):
            continue
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
