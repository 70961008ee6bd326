"""Writing secret files: private directories, create-only files, atomic replace.

Everything here relies on the mode given at creation time rather than a later
`chmod`, so there is never a moment where a secret sits in a readable file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["make_private_dirs", "replace_file", "write_new_file"]


def make_private_dirs(directory: Path) -> None:
    """Create `directory` and any missing parents with mode 0700.

    `Path.mkdir(parents=True)` would create the parents with the default mode, so
    the missing ancestors are created one by one instead. Existing directories
    are left as they are.
    """
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        # exist_ok: another process may create it between the check and here.
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create `path` with `mode` and write `data`; fail if it already exists.

    Raises:
        FileExistsError: `path` exists (O_EXCL also refuses a dangling symlink).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        # A half-written key file is worse than none: the next start would fail
        # to parse it instead of telling the operator to create one.
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomically replace `path` with `data`, created with `mode`.

    The data goes to a temporary file in the same directory (so `os.replace` is
    a rename on one filesystem) which readers never see half-written.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    write_new_file(tmp, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
