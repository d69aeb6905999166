"""Atomic writes: one file, or one whole output directory, appears complete or not at all.

Every file and directory digex writes goes through here, so all of them get
the permissions the user's umask gives (``tempfile`` alone would make them
private), an interrupted command never leaves a file or directory that
looks complete, and a fault while writing (disk full, read-only file system,
no permission) becomes one ``UserError`` line that names the path and what
to do. Imports nothing from the layers of ``sim``, so each may use it.

Output directories (``output_dir``, ``check_replaceable``) hold a MARKER file
that records which kind of command wrote them (one of KINDS); digex replaces
only an empty directory or one that a command of the same kind wrote.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sim import __version__
from sim.errors import UserError

MARKER = ".digex-output"
"""File that marks a directory written by digex; its line ``kind: KIND`` names the command (one of KINDS)."""

KINDS = ("run", "compare", "sweep", "sensitivity", "discover", "dilemmas", "calibrate", "export")
"""Commands that write an output directory; a directory is replaced only by a command of the kind that wrote it."""

RESULTS = Path("results")
"""Folder of the default output directories (``default_output``)."""

SHOWN_PATH = 80
"""Longest path quoted in a message (longer ones keep their end and start with '...')."""

ROOM = 200
"""Bytes kept free below the system's path limit for the temporary names and the files inside a directory."""

ADVICE = {
    errno.ENOSPC: "the disk is full: free some space or choose another --out",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another --out",
    errno.EROFS: "the file system is read-only: choose another --out",
    errno.EACCES: "no permission to write there: choose another --out",
    errno.EPERM: "no permission to write there: choose another --out",
    errno.ENAMETOOLONG: "a name is too long: choose a shorter --out",
    errno.EBUSY: "it is in use (a mount point or a current directory): choose another --out",
}
"""What to do about the faults met while writing, by errno."""


def shown(path: object) -> str:
    """``path`` for a one-line message: cut to SHOWN_PATH characters, control characters escaped."""
    text = str(path)
    if len(text) > SHOWN_PATH:
        text = "..." + text[-(SHOWN_PATH - 3):]
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def reason(exc: OSError) -> str:
    """An OSError in words for a message: the system's words and what to do (ADVICE)."""
    what = exc.strerror or type(exc).__name__
    return f"{what}; {ADVICE.get(exc.errno, 'check the path and try again')}"


def fault(path: str | Path, exc: OSError) -> str:
    """One line for an OSError met while writing ``path``: the path, the system's words and what to do."""
    return f"cannot write {shown(path)}: {reason(exc)}"


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_file(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Create ``path`` by ``write(temporary path)`` in the same folder, then one rename.

    The file gets mode 0666 less the umask, like a file opened for writing.
    On any exception the temporary file is removed and ``path`` is unchanged;
    an OSError (disk full, read-only, no permission) becomes a UserError
    naming ``path`` and what to do.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UserError(fault(path, exc)) from exc
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(fault(path, exc)) from exc
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


def default_output(*names: str) -> Path:
    """``results/NAME[/NAME...]``: the default output directory, refused unless each name is one plain name.

    Keeps a default output inside ``results/``: a name that is empty, ``.``,
    ``..`` or holds a ``/`` (a scenario called ``../../escaped``) is a UserError.
    The sweep uses ``default_output(f"sweep-{name}")``, calibrate
    ``default_output("calibration", stem)``.
    """
    for name in names:
        if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
            raise UserError(f"'{shown(name)}' cannot name a folder inside {RESULTS}/; "
                            "give the scenario a plain name or choose --out")
    return RESULTS.joinpath(*names)


def marked_kind(directory: Path) -> str | None:
    """The kind of command that wrote ``directory`` (its MARKER), or None if digex did not write it.

    A MARKER of an earlier digex records no kind; the kind is then told from
    the files the command leaves (fit.csv, runs/ or points.csv, comparison.csv,
    summary.csv), and is "" if none is there.
    """
    try:
        text = (directory / MARKER).read_text(encoding="utf-8", errors="replace")[:1000]
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("kind: "):
            return line.removeprefix("kind: ").strip()
    files = {p.name for p in directory.iterdir()}
    return next((kind for kind, names in (("calibrate", {"fit.csv"}), ("sweep", {"runs", "points.csv"}),
                                          ("compare", {"comparison.csv"}), ("run", {"summary.csv"}))
                 if names & files), "")


def mark(directory: Path, kind: str) -> None:
    """Write the MARKER of a directory written by a command of ``kind`` (one of KINDS)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    (directory / MARKER).write_text(f"written by digex {__version__}\nkind: {kind}\n", encoding="utf-8")


def _check_names(given: str, absolute: Path, existing: Path) -> None:
    """Refuse a path with a name longer than the file system allows, or too long as a whole."""
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    longest = max((len(os.fsencode(part)) for part in absolute.parts), default=0)
    if longest > name_max:
        raise UserError(f"output path {shown(given)}: a name in it is {longest} bytes long, more than the "
                        f"file system's limit of {name_max}; choose a shorter --out")
    if len(os.fsencode(str(absolute))) > path_max - ROOM:
        raise UserError(f"output path {shown(given)} is too long for this system (at most {path_max - ROOM} "
                        "bytes here); choose a shorter --out")


def _check_place(given: str, target: Path) -> None:
    """Refuse the file system root, a mount point, and the current directory or a folder holding it."""
    if target == Path(target.anchor) or os.path.ismount(target):
        raise UserError(f"output path {shown(given)} is a mount point, which cannot be replaced as a whole; "
                        "choose a new directory inside it")
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the current directory was removed
        return
    if target == cwd or target in cwd.parents:
        raise UserError(f"output path {shown(given)} is the current directory or holds it; "
                        "choose a new directory, e.g. --out results/NAME")


def _probe(given: str, folder: Path) -> None:
    """Create and remove an empty directory in ``folder``: the one sure test that digex can write there."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".digex-probe.", dir=folder))
    except OSError as exc:
        raise UserError(fault(given, exc)) from exc


def check_replaceable(path: str | Path, kind: str) -> Path:
    """Check, before any long work, that a command of ``kind`` may write the output directory ``path``.

    ``kind`` is one of KINDS (``check_replaceable(out, kind="sweep")``).
    Refused with a UserError: an empty path; a name longer than the file
    system allows; the root, a mount point, or the current directory or one
    holding it; a symbolic link or anything that is not a directory; a
    directory that is not empty and was not written by digex, or was written
    by a command of another kind; a path whose folder cannot be created or
    written. Returns the absolute path (symbolic links in its folders
    resolved) that ``output_dir`` writes.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    given = os.fspath(path)
    if not given.strip() or "\0" in given:
        raise UserError("the output path is empty or not a path; give --out a directory name")
    absolute = Path(os.path.abspath(given))
    ancestor = absolute.parent
    while not os.path.exists(ancestor):  # unlike Path.exists, never raises (a name too long, say)
        ancestor = ancestor.parent
    _check_names(given, absolute, ancestor)
    if Path(given).is_symlink():
        raise UserError(f"output path {shown(given)} is a symbolic link; give the directory it points to")
    target = Path(given).resolve()
    _check_place(given, target)
    if target.exists():
        _check_existing(given, target, kind)
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserError(f"cannot create output directory {shown(given)}: {shown(ancestor)} is not a writable "
                        "directory; choose another --out")
    _probe(given, ancestor)
    return target


def _check_existing(given: str, target: Path, kind: str) -> None:
    """Refuse an existing ``target`` unless it is an empty directory or one a command of ``kind`` wrote."""
    if not target.is_dir():
        raise UserError(f"output path {shown(given)} exists and is not a directory; choose another --out")
    if not any(target.iterdir()):
        return
    found = marked_kind(target)
    if found is None:
        raise UserError(f"output directory {shown(given)} exists and was not written by digex; "
                        "refusing to replace it (choose another --out or remove it)")
    if found != kind:
        what = f"the output of digex {found}" if found else "an output of an unknown digex command"
        raise UserError(f"output directory {shown(given)} holds {what}; refusing to replace it with the "
                        f"output of digex {kind} (choose another --out or remove it)")


@contextlib.contextmanager
def output_dir(path: str | Path, kind: str) -> Iterator[Path]:
    """Yield a temporary sibling directory of ``path``; on success it replaces ``path`` in one rename.

    ``kind`` (one of KINDS) is the command writing it, recorded in the MARKER
    (``with output_dir(out, kind="sweep") as tmp: ...``). ``path`` is checked
    by ``check_replaceable`` before and again after the body. An existing
    ``path`` is replaced only after the new directory is complete. On any
    exception, including KeyboardInterrupt, the temporary directory is removed
    and ``path`` is left as it was; an OSError (disk full, read-only, no
    permission) becomes a UserError naming ``path`` and what to do.
    """
    target = check_replaceable(path, kind)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name[:100]}.", suffix=".partial", dir=target.parent))
    except OSError as exc:
        raise UserError(fault(path, exc)) from exc
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the results get the usual permissions
        mark(tmp, kind)
        yield tmp
        check_replaceable(path, kind)
        _swap(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(fault(path, exc)) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is moved aside first and removed once replaced.

    If the new directory cannot be put in place, the old one is moved back.
    """
    if not target.exists():
        os.replace(tmp, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name[:100]}.", suffix=".old", dir=target.parent))
    old = aside / target.name
    try:
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old, target)
            raise
    finally:
        if old.exists() and target.exists():
            shutil.rmtree(aside, ignore_errors=True)
        elif not old.exists():
            aside.rmdir()


def check_file_target(path: Path, suffix: str, written_by_us: Callable[[Path], bool], command: str) -> None:
    """Refuse a single output file digex may not write: a name not ending in ``suffix``, a missing folder, or an
    existing file (or link, folder, device) that ``command`` did not write (``written_by_us`` tells)."""
    if path.suffix.lower() != suffix:
        raise UserError(f"--out {shown(path)}: the file name must end in {suffix}")
    if not path.parent.is_dir():
        raise UserError(f"--out {shown(path)}: folder {shown(path.parent)} does not exist")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise UserError(f"{shown(path)} exists and is not a regular file; choose another --out")
    if path.exists() and not written_by_us(path):
        raise UserError(f"{shown(path)} exists and was not written by digex {command}; refusing to overwrite it "
                        "(choose another --out or remove it)")
