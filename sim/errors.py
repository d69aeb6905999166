"""Errors of the package.

``UserError`` and its subclasses are errors a user can act on: printed as one
line by the CLI with exit status 2. ``InvariantError`` is a broken accounting
invariant of the model: a bug, not a user error.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by user input (a file, a key, a value, a command-line option)."""


class ConfigError(UserError):
    """A scenario file or override is invalid.

    The message names the file, the key path and, where known, the line.
    """

    def __init__(self, message: str, file: str | None = None, key: str | None = None, line: int | None = None):
        self.file, self.key, self.line, self.detail = file, key, line, message
        where = file or "<command line>"
        if line is not None:
            where += f", line {line}"
        if key:
            where += f", key '{key}'"
        super().__init__(f"{where}: {message}")


class InvariantError(RuntimeError):
    """An accounting invariant of the model is broken (``DigexModel.check_invariants``).

    Raised explicitly rather than by ``assert``, so the checks also run under ``python -O``.
    """
