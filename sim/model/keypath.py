"""Dotted key paths into configurations and plain data: one reader, one writer, one error.

A key path names one setting as users write it, e.g. ``policy.centre.helpers_per_10k``:
in a ``--set`` override, a sweep's ``--vary``, a calibration parameter, a dashboard
lever or a timeline change (there relative to ``policy``). Parts are separated by
dots; an all-digit part is a list index (``timeline.0.date``). As a tuple
(``KeyPath``) a part may itself contain dots, as the keys of a timeline change's
``set`` do. Every problem raises ``KeyPathError``, which carries the path and the
problem as attributes, so that callers name the key without reading the message.
Setting a value merges it in (``merge``, the README's deep-merge rule): a mapping
merges key by key into the mapping or block at the path, anything else replaces
what is there.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

KeyPath = tuple[str | int, ...]
"""A key path as parts: mapping keys and field names (str) and list indices (int), e.g. ('timeline', 0, 'date')."""


class KeyPathError(ValueError):
    """A key path that does not exist, or a value that is not valid at it.

    ``path`` is the key path (relative to what it was looked up in), ``detail``
    the problem without the path, and ``unknown`` tells whether the key itself
    does not exist (rather than its value being invalid).
    """

    def __init__(self, path: str | KeyPath, detail: str, unknown: bool = False) -> None:
        self.path, self.detail, self.unknown = split(path), detail, unknown
        super().__init__(f"{format_key(self.path)}: {detail}" if self.path else detail)

    def __reduce__(self) -> tuple[type[KeyPathError], tuple[KeyPath, str, bool]]:
        """Pickle with the attributes (the error may cross to or from a worker process)."""
        return type(self), (self.path, self.detail, self.unknown)


def split(path: str | KeyPath) -> KeyPath:
    """The parts of a dotted key path ('timeline.0.date' -> ('timeline', 0, 'date')); a tuple is kept as it is."""
    if not isinstance(path, str):
        return tuple(path)
    return tuple(int(p) if p.isascii() and p.isdigit() else p for p in path.split("."))


def format_key(path: str | KeyPath) -> str:
    """A key path as users read it: ``policy.centre.helpers_per_10k``, ``timeline[0].date``."""
    out = ""
    for part in split(path):
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _slot(node: Any, parts: KeyPath, i: int, sequences: tuple[type, ...]) -> str | int:
    """The field name, mapping key or list index under which ``node`` holds part ``i`` of ``parts``.

    Mapping keys are text ('5' for the part 5); ``sequences`` are the types
    indexed by position. Raises KeyPathError when ``node`` holds no such part.
    """
    part, where = parts[i], format_key(parts[:i])
    if isinstance(node, BaseModel):
        if part in type(node).model_fields:
            return part
    elif isinstance(node, Mapping):
        if str(part) in node:
            return str(part)
    elif isinstance(node, sequences):
        if isinstance(part, int) and part < len(node):
            return part
        raise KeyPathError(parts, f"'{part}' is not an index of the list {where}", unknown=True)
    else:
        raise KeyPathError(parts, f"{where} is a single value, it has no key '{part}'", unknown=True)
    raise KeyPathError(parts, f"unknown key '{part}'", unknown=True)


def get(obj: Any, path: str | KeyPath) -> Any:
    """The value at ``path`` below ``obj``: fields of pydantic models, entries of mappings, items of lists."""
    parts = split(path)
    node = obj
    for i in range(len(parts)):
        slot = _slot(node, parts, i, (list, tuple))
        node = getattr(node, slot) if isinstance(node, BaseModel) else node[slot]
    return node


def merge(base: Any, over: Any, path: KeyPath = (), replaced: list[KeyPath] | None = None) -> Any:
    """``over`` merged into ``base`` (plain data; neither is changed): the deep merge of every layer of settings.

    A mapping merges into a mapping key by key, recursively; anything else
    (a number, a string, a list, a mapping over a single value) replaces what
    was there. ``path`` is where ``base`` sits; the key paths that ``over``
    replaced rather than merged into are appended to ``replaced``.
    """
    if not (isinstance(over, Mapping) and isinstance(base, Mapping)):
        if replaced is not None:
            replaced.append(path)
        return copy.deepcopy(over)
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out.get(key), value, (*path, key), replaced)
    return out


def _assign(data: dict, parts: KeyPath, value: Any, create: bool, replaced: list[KeyPath] | None = None) -> None:
    """Merge ``value`` into plain data at ``parts``, in place (``create``: add missing mapping keys on the way).

    ``replaced`` receives the key paths the value replaced, as they are in
    the data (a mapping key is text even when its part is a number).
    """
    node: Any = data
    at: KeyPath = ()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if create and isinstance(node, dict) and str(part) not in node:
            node[str(part)] = None if last else {}
        slot = _slot(node, parts, i, (list,))  # a tuple cannot be changed in place: it is a single value here
        at = (*at, slot)
        if last:
            node[slot] = merge(node[slot], value, at, replaced)
        else:
            node = node[slot]


def set_in(data: dict, path: str | KeyPath, value: Any, create: bool = False,
           replaced: list[KeyPath] | None = None) -> dict:
    """A deep copy of plain data (mappings and lists) with ``value`` merged in at ``path`` (see ``merge``).

    With ``create``, missing mapping keys are added on the way (what a ``--set``
    override does: an unknown key is left for validation to name); without it,
    every key must exist. A list takes only an existing index. The key paths
    the value replaced are appended to ``replaced``.
    """
    out = copy.deepcopy(data)
    _assign(out, split(path), value, create, replaced)
    return out


def with_values[M: BaseModel](model: M, values: Mapping[str | KeyPath, Any]) -> M:
    """A validated copy of a pydantic model with each value of ``values`` merged in at its key path.

    The model is dumped to plain data, the values are merged in turn (every
    key must exist; a mapping merges key by key into the block or mapping
    there, see ``merge``) and the result is validated as a whole. A
    KeyPathError names the key path of ``values`` the first problem lies at
    or below (else the place validation reports).
    """
    data = model.model_dump()
    for path, value in values.items():
        _assign(data, split(path), value, create=False)
    try:
        return type(model).model_validate(data)
    except ValidationError as exc:
        raise _first_problem(exc, [split(p) for p in values]) from None


def _first_problem(exc: ValidationError, given: list[KeyPath]) -> KeyPathError:
    """The first problem of a validation as a KeyPathError at the given key path it lies at or below."""
    err = exc.errors()[0]
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, KeyPathError):  # a check of the whole model that names its key path
        at, detail, unknown = (*err["loc"], *cause.path), cause.detail, cause.unknown
    else:
        at, detail, unknown = tuple(err["loc"]), err["msg"], False
    return KeyPathError(next((p for p in given if at[: len(p)] == p), at), detail, unknown)


def _unwrap(tp: Any) -> Any:
    """The type inside ``X | None``."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def schema_type(model: type[BaseModel], path: str | KeyPath) -> Any:
    """The declared type at a key path of a model class (a model class, ``dict[str, float]``, ``float``, ...).

    None when the path is not in the schema. Below a mapping or a list every
    key or index has the type of its values.
    """
    tp: Any = model
    for part in split(path):
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) in (list, tuple):
            tp = get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)
