"""Atomic writes: one file, or one whole output directory, appears complete or not at all.

Every file and directory digex writes goes through here, so all of them get
the permissions the user's umask gives (``tempfile`` alone would make them
private) and an interrupted command never leaves a file or directory that
looks complete. Imports nothing from the layers of ``sim``, so each may use it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sim import __version__
from sim.errors import UserError

MARKER = ".digex-output"
"""File that marks a directory written by digex; only such (or empty) directories are replaced."""


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_file(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Create ``path`` by ``write(temporary path)`` in the same folder, then one rename.

    The file gets mode 0666 less the umask, like a file opened for writing.
    On any exception the temporary file is removed and ``path`` is unchanged.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write a UTF-8 text file atomically."""
    return write_file(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write a binary file atomically."""
    return write_file(path, lambda p: p.write_bytes(data))


def check_replaceable(path: Path) -> None:
    """Refuse to write over something that is not an empty directory or an earlier digex output.

    Also checks, before any long work, that the directory can be created.
    """
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"cannot create output directory {path}: {ancestor} is not a writable directory")
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir() or path.is_symlink():
        raise UserError(f"output path {path} exists and is not a directory; choose another --out")
    if any(path.iterdir()) and not (path / MARKER).exists():
        raise UserError(f"output directory {path} exists and was not written by digex; "
                        "refusing to replace it (choose another --out or remove it)")


@contextlib.contextmanager
def output_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory of ``path``; on success it replaces ``path`` in one rename.

    An existing ``path`` is replaced only after the new directory is complete,
    and only if it is empty or an earlier digex output (it holds the MARKER
    file). On any exception, including KeyboardInterrupt, the temporary
    directory is removed and ``path`` is left as it was.
    """
    target = Path(path)
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name[:100]}.", suffix=".partial", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the results get the usual permissions
    try:
        (tmp / MARKER).write_text(f"written by digex {__version__}\n", encoding="utf-8")
        yield tmp
        check_replaceable(target)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name[:100]}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
        try:
            os.replace(tmp, target)
        except OSError:
            if old is not None:
                os.replace(old / target.name, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
