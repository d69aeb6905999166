"""Scenario files: reading YAML with line numbers, ``extends`` chains, ``--set`` overrides, validation.

A scenario file mirrors ``sim.model.params.Config`` (the single source of truth).
A file states only what differs from what it builds on:

1. the Config defaults (the Danish baseline of ``sim/model/params.py``),
2. the file named by ``extends`` (a path relative to the extending file;
   chains allowed, cycles rejected), recursively,
3. the file itself,
4. ``--set key.path=value`` overrides from the command line.

Each layer is deep-merged over the one before (``keypath.merge``, as a
timeline change is): mappings merge key by key, anything else (numbers,
strings, lists such as ``timeline``) is replaced; ``--set a.b={c: 1}``
merges into the block ``a.b`` too.
``name`` and ``description`` describe a file itself and are not inherited;
a file without ``name`` is named after its file name (without .yaml).
Timeline ``set`` keys are relative to ``policy`` (a leading ``policy.`` is
accepted).
Every key remembers where it was set (file or ``--set`` and line), so a
validation error names the file, the key path and the line that set it.
Files are read with a ``yaml.SafeLoader`` subclass: tags that would
construct Python objects are refused before anything is built. Reading is
bounded (see the limits below: file size, nesting depth, nodes with aliases
expanded, length of and merge work in an ``extends`` chain), so a hostile
file costs at most about a second and a few megabytes before its one-line
error; values, keys and problems quoted in messages are shortened.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import ConfigError, UserError
from sim.model import keypath
from sim.model.keypath import KeyPath, KeyPathError, format_key
from sim.model.params import Config, PolicyConfig

Origin = tuple[str, int | None]
"""Where a key was set: a file (or '--set key.path') and a line (None when unknown)."""

NOT_INHERITED = ("name", "description")
"""Keys that describe a file itself and are not inherited through ``extends``; name defaults to the file stem."""

POLICY_PREFIX = "policy."
"""Timeline ``set`` keys are relative to ``policy``; a leading 'policy.' is accepted and dropped."""


# ------------------------------------------------------------------ limits
# A scenario file may come from anyone; these bound the time and memory of reading one (with its
# extends chain), far above real use: a shipped scenario is at most 2.2 KB and about 50 YAML nodes, and a
# scenario with every key written out (``scenario_to_yaml``) about 6 KB and 510 nodes.

MAX_FILE_BYTES = 256 * 1024
"""Largest scenario file read (256 KiB); a larger file, or anything but a regular file, is refused unread."""

MAX_DEPTH = 32
"""Deepest nesting of mappings and lists (the schema is 5 levels deep); keeps recursive walks far from Python's
recursion limit."""

MAX_NODES = 20_000
"""Most YAML nodes (keys, values and list items, every alias expanded) of a scenario and the files it extends."""

MAX_EXTENDS = 16
"""Most files in an ``extends`` chain, the scenario itself included."""

MAX_MERGE_WORK = 100_000
"""Most key origins carried through the merges of an ``extends`` chain (each merge carries those of the files below)."""

SHOWN_VALUE, SHOWN_KEY, SHOWN_MESSAGE = 60, 100, 300
"""Longest value, key path and problem quoted in a message (longer ones are cut and end in '...')."""


def _short(text: object, limit: int = SHOWN_VALUE) -> str:
    """``text`` for a one-line message: control characters escaped, cut to ``limit`` characters."""
    out = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text)[: limit + 1])
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _key(path: KeyPath) -> str | None:
    """A key path as a message shows it (None for the whole file)."""
    return _short(format_key(path), SHOWN_KEY) or None


# ------------------------------------------------------------------ reading one file


class LimitError(yaml.MarkedYAMLError):
    """YAML beyond a reading limit (nesting, number of nodes), raised where the parser reached it."""


class LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses object-constructing tags, reports bad dates as YAML errors and stops at the limits.

    It composes at most ``allowed`` nodes, at most MAX_DEPTH levels deep
    (aliases are measured by ``_measure``). Line numbers are recorded from the
    composed node tree by ``key_lines``.
    """

    def __init__(self, stream: str, allowed: int = MAX_NODES) -> None:
        super().__init__(stream)
        self.depth, self.left = 0, allowed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """One node and what it contains, refused before it is composed when it is too deep or one too many."""
        self.depth, self.left = self.depth + 1, self.left - 1
        try:
            if self.depth > MAX_DEPTH:
                raise LimitError(problem=f"nested more than {MAX_DEPTH} levels deep, the limit for scenario data",
                                 problem_mark=self.peek_event().start_mark)
            if self.left < 0:
                raise LimitError(problem=f"more than {MAX_NODES:,} keys, values and list items (in the whole "
                                 "extends chain), the limit for a scenario", problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        """A date or timestamp; an impossible one (2014-13-01) becomes a YAML error with its line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid date '{node.value}' ({exc})", node.start_mark
            ) from None


LineLoader.add_constructor("tag:yaml.org,2002:timestamp", LineLoader.construct_yaml_timestamp)

STR_TAG, MERGE_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"

KEY_KINDS = {"int": "a number", "float": "a number", "bool": "true/false", "null": "null", "timestamp": "a date"}
"""How YAML reads a key that is not text, by the end of its tag."""


def _short_tag(tag: str) -> str:
    """A YAML tag as written (``!!int``), shortened."""
    return _short(tag.replace("tag:yaml.org,2002:", "!!"))


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The keys and values of a mapping node, the items of a sequence node, nothing for a scalar."""
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def _measure(root: yaml.Node, file: str, allowed: int) -> int:
    """The number of nodes of a composed document with every alias expanded, without expanding any.

    Each node is measured once (memoised), so nested aliases ("billion
    laughs") cost no more than their text. Raises ConfigError when the
    expansion exceeds ``allowed`` nodes or MAX_DEPTH levels, or an alias
    stands inside its own anchor (recursive data).
    """
    sizes: dict[int, tuple[int, int] | None] = {}  # node id -> (nodes, levels); None while being measured

    def measure(node: yaml.Node) -> tuple[int, int]:
        line = node.start_mark.line + 1
        if id(node) in sizes:
            size = sizes[id(node)]
            if size is None:
                raise ConfigError("an alias stands inside its own anchor: recursive data is not allowed",
                                  file=file, line=line)
            return size
        sizes[id(node)] = None
        parts = [measure(child) for child in _children(node)]
        size = (1 + sum(n for n, _ in parts), 1 + max((d for _, d in parts), default=0))
        if size[0] > allowed:
            raise ConfigError(f"aliases expand this to more than {MAX_NODES:,} keys, values and list items "
                              "(in the whole extends chain), the limit for a scenario; write fewer aliases",
                              file=file, line=line)
        if size[1] > MAX_DEPTH:
            raise ConfigError(f"aliases nest this more than {MAX_DEPTH} levels deep, the limit for scenario data",
                              file=file, line=line)
        sizes[id(node)] = size
        return size

    return measure(root)[0]


def key_lines(node: yaml.Node, file: str) -> dict[KeyPath, int]:
    """Line (1-based) of every mapping key and list item below ``node``, by key path.

    Also rejects what a scenario file must not contain: tags without a safe
    constructor (e.g. ``!!python/object``), keys that are not text (``1:``,
    ``yes:``, a mapping) and duplicate keys.
    """
    lines: dict[KeyPath, int] = {}
    safe_tags = LineLoader.yaml_constructors
    seen: set[int] = set()

    def walk(n: yaml.Node, path: KeyPath) -> None:
        line = n.start_mark.line + 1
        if n.tag not in safe_tags:
            raise ConfigError(
                f"YAML tag '{_short_tag(n.tag)}' is not allowed: scenario files hold plain data only",
                file=file, key=_key(path), line=line,
            )
        if id(n) in seen:  # an alias of a node already walked: keys below it keep the anchor's lines
            return
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            first: dict[str, int] = {}
            for knode, vnode in n.value:
                kline = knode.start_mark.line + 1
                if not isinstance(knode, yaml.ScalarNode):
                    raise ConfigError("a key must be a plain name", file=file, key=_key(path), line=kline)
                if knode.tag == MERGE_TAG:  # YAML merge key: its keys belong to this mapping
                    walk(vnode, path)
                    continue
                if knode.tag != STR_TAG:
                    kind = KEY_KINDS.get(knode.tag.rpartition(":")[2], _short_tag(knode.tag))
                    raise ConfigError(f"key '{_short(knode.value)}' is read as {kind}, not as a name; "
                                      "put it in quotes if it is meant as a name", file=file, key=_key(path),
                                      line=kline)
                kpath = (*path, knode.value)
                if knode.value in first:
                    raise ConfigError(f"key appears twice in the same mapping (first on line {first[knode.value]})",
                                      file=file, key=_key(kpath), line=kline)
                first[knode.value] = kline
                lines[kpath] = kline
                walk(vnode, kpath)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    walk(node, ())
    return lines


def _read_text(path: Path, shown: str, origin: Origin | None = None) -> str:
    """The text of a scenario file: a regular file of at most MAX_FILE_BYTES, read without reading more.

    Devices, pipes and sockets (``/dev/zero``) are refused before anything
    is read. A problem is a ConfigError, reported at ``origin`` when
    ``extends`` named the file.
    """
    where = {"file": origin[0], "line": origin[1], "key": "extends"} if origin else {"file": shown}
    name = _short(shown, SHOWN_KEY)
    try:
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise ConfigError(f"{name} is a directory, not a scenario file", **where)
            if not stat.S_ISREG(mode):
                raise ConfigError(f"{name} is not a regular file (a device, pipe or socket); "
                                  "name a scenario file", **where)
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"file not found: {name}" if origin else "file not found", **where) from None
    except IsADirectoryError:
        raise ConfigError(f"{name} is a directory, not a scenario file", **where) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror}", **where) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"larger than {MAX_FILE_BYTES // 1024} KiB, the limit for a scenario file "
                          "(a scenario states only what differs from what it extends)", file=shown)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", file=shown) from None


def _parse(text: str, shown: str, allowed: int = MAX_NODES) -> tuple[Any, dict[KeyPath, int], int]:
    """The data of one YAML document, the line of every key and list item, and its nodes (aliases expanded).

    Refuses, as a ConfigError naming ``shown`` and the line, broken YAML,
    unsafe tags, keys that are not names, and data beyond the limits
    (``allowed`` nodes, MAX_DEPTH levels) before any of it is built.
    """
    try:
        loader = LineLoader(text, allowed)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow anywhere (checked before parsing)
        raise ConfigError(f"invalid YAML: character U+{exc.character:04X} is not allowed in YAML; remove it",
                          file=shown, line=text.count("\n", 0, exc.position) + 1) from None
    lines: dict[KeyPath, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, 0
        nodes = _measure(node, shown, allowed)
        lines = key_lines(node, shown)
        try:
            return loader.construct_document(node), lines, nodes
        except ValueError:  # Python refuses to convert integers of more than 4,300 digits
            raise ConfigError("a number has too many digits (more than 4,300); no setting needs one", file=shown,
                              line=_long_number_line(node)) from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, lines, shown) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {_short(exc, SHOWN_MESSAGE)}", file=shown) from None
    finally:
        loader.dispose()


def _long_number_line(node: yaml.Node) -> int | None:
    """The line of the first scalar of more than 4,300 characters below ``node`` (a number too long to read)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.ScalarNode) and len(n.value) > 4300:
            return n.start_mark.line + 1
        if isinstance(n, yaml.SequenceNode):
            stack.extend(reversed(n.value))
        elif isinstance(n, yaml.MappingNode):
            stack.extend(v for pair in reversed(n.value) for v in reversed(pair))
    return None


def _yaml_error(exc: yaml.MarkedYAMLError, lines: dict[KeyPath, int], shown: str) -> ConfigError:
    """A YAML error as a ConfigError at its line (and the deepest key on that line, when known)."""
    mark = exc.problem_mark or exc.context_mark
    at_line = [p for p, line in lines.items() if mark and line == mark.line + 1]
    key = _key(max(at_line, key=len)) if at_line else None
    problem = _short(exc.problem or "invalid YAML", SHOWN_MESSAGE)
    tag = re.search(r"tag '([^']+)'", problem)
    if isinstance(exc, yaml.constructor.ConstructorError) and tag:
        problem = f"YAML tag '{_short_tag(tag.group(1))}' is not allowed: scenario files hold plain data only"
    elif not isinstance(exc, LimitError):  # a limit's problem says what it is
        problem = f"invalid YAML: {problem}" + (f" ({exc.context})" if exc.context else "")
    return ConfigError(problem, file=shown, key=key, line=mark.line + 1 if mark else None)


def load_yaml_with_lines(path: str | Path) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """Read one YAML mapping safely; return it and the line of every key and list item by key path.

    An empty file is an empty mapping. Raises ConfigError for a missing or
    unreadable file, broken YAML, an unsafe tag, a duplicate key, data beyond
    the reading limits, or a document that is not a mapping. ``extends`` is
    not followed here.
    """
    shown = str(path)
    data, lines, _ = _parse(_read_text(Path(path), shown), shown)
    return _as_mapping(data, lines, shown)


def _as_mapping(data: Any, lines: dict[KeyPath, int], shown: str) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """The data of a file that must hold a mapping (an empty file is an empty one)."""
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError(f"a scenario file must be a mapping of keys to values, not a {_kind(data)}",
                          file=shown, line=1)
    return data, lines


def _kind(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value),
                                                                                             type(value).__name__)


# ------------------------------------------------------------------ layering


@dataclass
class _Budget:
    """What reading one scenario with its extends chain may still spend (see MAX_NODES, MAX_MERGE_WORK), and the
    files read so far."""

    nodes: int = MAX_NODES
    merge_work: int = MAX_MERGE_WORK
    files: list[Path] = dataclass_field(default_factory=list)


def _without(origins: dict[KeyPath, Origin], replaced: list[KeyPath]) -> dict[KeyPath, Origin]:
    """The origins of keys that are not at or below a replaced key path."""
    gone = set(replaced)
    lengths = sorted({len(p) for p in gone})
    return {p: o for p, o in origins.items() if not any(p[:k] in gone for k in lengths if k <= len(p))}


def _layer(data: dict, origins: dict[KeyPath, Origin], over: dict,
           over_origins: dict[KeyPath, Origin]) -> tuple[dict, dict[KeyPath, Origin]]:
    """Merge one layer over another (``keypath.merge``), keeping for each key the origin of the layer that set it."""
    replaced: list[KeyPath] = []
    merged = keypath.merge(data, over, (), replaced)
    return merged, _without(origins, replaced) | over_origins


def _resolve_file(path: Path, shown: str, chain: tuple[Path, ...], budget: _Budget,
                  named_at: Origin | None = None) -> tuple[dict, dict[KeyPath, Origin]]:
    """A file with its ``extends`` chain resolved: merged data and the origin of every key."""
    budget.files.append(path)
    data, lines, nodes = _parse(_read_text(path, shown, named_at), shown, budget.nodes)
    data, lines = _as_mapping(data, lines, shown)
    budget.nodes -= nodes
    origins: dict[KeyPath, Origin] = {p: (shown, line) for p, line in lines.items()}
    if "extends" not in data:
        return data, origins
    target = data.pop("extends")
    at = origins.pop(("extends",))
    if not isinstance(target, str) or not target.strip() or "\0" in target:  # a NUL byte cannot be in a path
        raise ConfigError("extends must name another scenario file (a path relative to this file)",
                          file=shown, key="extends", line=at[1])
    parent_path = (path.parent / target).resolve()
    parent_shown = str(Path(shown).parent / target)
    if parent_path in chain:
        names = [str(p.name) for p in chain[chain.index(parent_path):]] + [parent_path.name]
        raise ConfigError(f"extends cycle: {_short(' -> '.join(names), SHOWN_MESSAGE)}", file=shown, key="extends",
                          line=at[1])
    if len(chain) >= MAX_EXTENDS:
        raise ConfigError(f"the extends chain is longer than {MAX_EXTENDS} files, the limit for a scenario",
                          file=shown, key="extends", line=at[1])
    parent, parent_origins = _resolve_file(parent_path, parent_shown, (*chain, parent_path), budget, at)
    for own in NOT_INHERITED:
        parent.pop(own, None)
        parent_origins.pop((own,), None)
    budget.merge_work -= len(parent_origins) + len(origins)
    if budget.merge_work < 0:
        raise ConfigError(f"merging the extends chain carries more than {MAX_MERGE_WORK:,} keys, the limit for a "
                          "scenario; shorten the chain or the files in it", file=shown, key="extends", line=at[1])
    return _layer(parent, parent_origins, data, origins)


def _check_key_path(key: str, shown: str) -> None:
    """Refuse a ``--set`` key path with an empty part or with spaces or control characters in a part."""
    for part in key.split("."):
        if not part:
            raise ConfigError("empty part in the key path (two dots in a row, or a dot at an end)",
                              file=shown, key=_short(key, SHOWN_KEY))
        if not part.isprintable() or any(ch.isspace() for ch in part):
            raise ConfigError("a key path is names joined by dots, without spaces or control characters "
                              "(e.g. policy.centre.helpers_per_10k)", file=shown, key=_short(key, SHOWN_KEY))


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key.path=value`` and parse the value as YAML (so 0.5, true, null, 2014-11-01, [1, 2] work)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"'{_short(text)}' is not of the form key.path=value", file=f"--set {_short(text)}")
    shown = f"--set {_short(key, SHOWN_KEY)}"
    _check_key_path(key, shown)
    try:
        value = _parse(raw, shown)[0] if raw.strip() else ""
    except ConfigError as exc:
        problem = exc.detail.removeprefix("invalid YAML: ")
        raise ConfigError(f"value '{_short(raw)}' is not valid YAML ({problem})", file=shown,
                          key=_short(key, SHOWN_KEY)) from None
    return key, value


def _normalise_timeline(data: dict, origins: dict[KeyPath, Origin]) -> None:
    """Drop a leading 'policy.' from timeline ``set`` keys (keys are relative to ``policy``)."""
    timeline = data.get("timeline")
    if not isinstance(timeline, list):
        return
    for i, change in enumerate(timeline):
        sets = change.get("set") if isinstance(change, dict) else None
        if not isinstance(sets, dict):
            continue
        renamed = {}
        for key, value in sets.items():
            new = key[len(POLICY_PREFIX):] if isinstance(key, str) and key.startswith(POLICY_PREFIX) else key
            renamed[new] = value
            if new != key and ("timeline", i, "set", key) in origins:
                origins[("timeline", i, "set", new)] = origins.pop(("timeline", i, "set", key))
        change["set"] = renamed


# ------------------------------------------------------------------ validation errors


def policy_key_paths(model: type[BaseModel] = PolicyConfig, prefix: str = "") -> list[str]:
    """Every key path a timeline change may set (relative to ``policy``), e.g. 'centre.helpers_per_10k'."""
    out = []
    for name, field in model.model_fields.items():
        tp = keypath.schema_type(model, (name,))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            out += policy_key_paths(tp, f"{prefix}{name}.")
            continue
        out.append(prefix + name)
        if get_origin(tp) is dict and isinstance(field.default, dict):
            out += [f"{prefix}{name}.{k}" for k in field.default]
    return out


def suggest(word: str, candidates: Sequence[str]) -> str:
    """'; did you mean 'x'?' for the closest candidate, else the list of valid keys (when short)."""
    candidates = [c for c in candidates if c != word]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if len(candidates) <= 12:
        return "; valid keys here: " + ", ".join(candidates)
    return ""


def _data_path(loc: tuple, data: Any) -> KeyPath:
    """A pydantic error location as a key path into the data (union-member labels dropped)."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif i < len(loc) - 1:
            continue
        path.append(part)
    return tuple(path)


def _origin(path: KeyPath, origins: dict[KeyPath, Origin], default: str) -> Origin:
    """Where the key at ``path`` (or its nearest ancestor, else a key below it) was set."""
    for k in range(len(path), 0, -1):
        if path[:k] in origins:
            return origins[path[:k]]
    below = [o for p, o in origins.items() if p[: len(path)] == path]
    return below[0] if below else (default, None)


def _got(data: dict, path: KeyPath, msg: str) -> str:
    """' (got 1.5)': the rejected value, when it is a single value the message does not already show."""
    try:
        value = keypath.get(data, path)
    except KeyPathError:
        return ""
    if not isinstance(value, str | int | float | dt.date) or str(value) in msg or msg.startswith("unknown"):
        return ""
    shown = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else value
    return f" (got {_short(shown)})"


def validation_error(exc: ValidationError, data: dict, origins: dict[KeyPath, Origin], file: str) -> ConfigError:
    """One ConfigError for the first problem pydantic found: file (or --set), key path, line, plain message."""
    errors = exc.errors()
    err = errors[0]
    path = _data_path(err["loc"], data)
    msg = err["msg"]
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, KeyPathError):  # a check of a whole block that names the key path it is about
        path, msg = (*path, *cause.path), cause.detail
        if cause.unknown and path[:1] == ("timeline",):
            msg += suggest(str(path[-1]), policy_key_paths())
    elif err["type"] == "value_error":
        msg = msg.removeprefix("Value error, ")
    elif err["type"] == "extra_forbidden":
        parent = keypath.schema_type(Config, path[:-1])
        fields = list(parent.model_fields) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        candidates = fields + (["extends"] if not path[:-1] else [])
        msg = f"unknown key '{_short(path[-1])}'" + suggest(str(path[-1]), candidates)
    elif err["type"] == "missing":
        msg = "this required key is missing"
    elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        msg = "should be a mapping of keys to values"
    msg = _short(msg, SHOWN_MESSAGE)
    if err["type"] not in ("extra_forbidden", "missing"):
        msg += _got(data, path, msg)
    if len(errors) > 1:
        msg += f" [{len(errors) - 1} more problem(s) may follow]"
    source, line = _origin(path, origins, file)
    return ConfigError(msg, file=source, key=_key(path), line=line)


# ------------------------------------------------------------------ public API


def resolve_scenario(path: str | Path, overrides: Sequence[str] = ()) -> tuple[dict, dict[KeyPath, Origin]]:
    """The merged, not yet validated scenario data and the origin of every key set by a file or override.

    Layers: Config defaults, the ``extends`` chain, the file, the overrides;
    each is merged over the ones before by ``keypath.merge``.
    """
    p = Path(path)
    data, origins = _resolve_file(p.resolve(), str(path), (p.resolve(),), _Budget())
    data.setdefault("name", p.stem)
    data = keypath.merge(Config().model_dump(), data)
    for text in overrides:
        key, value = parse_override(text)
        replaced: list[KeyPath] = []
        shown = f"--set {_short(key, SHOWN_KEY)}"
        try:
            data = keypath.set_in(data, key, value, create=True, replaced=replaced)
        except KeyPathError as exc:
            raise ConfigError(_short(exc.detail, SHOWN_MESSAGE), file=shown, key=_short(key, SHOWN_KEY)) from None
        origins = _without(origins, replaced) | dict.fromkeys(replaced, (shown, None))
    _normalise_timeline(data, origins)
    return data, origins


def scenario_files(path: str | Path) -> list[Path]:
    """The scenario file and every file its ``extends`` chain names, in that order, as absolute paths.

    The chain is read as ``load_scenario`` reads it, with the same checks and errors.
    """
    p = Path(path).resolve()
    budget = _Budget()
    _resolve_file(p, str(path), (p,), budget)
    return budget.files


SCENARIO_FOLDER = "scenarios"
"""Folder of the shipped scenario files, beside the ``sim`` package in the source tree."""


def shipped_scenarios() -> Path:
    """The folder of the shipped scenarios (``scenarios/`` of the source tree that ``sim`` is installed from).

    Found from the package itself, so a notebook or script finds it from any
    working directory. A UserError says what to do when this copy of
    ``sim`` was installed without its source tree.
    """
    folder = Path(__file__).resolve().parents[2] / SCENARIO_FOLDER
    if not (folder / "denmark_baseline.yaml").is_file():
        raise UserError(f"the shipped scenarios are not in {folder}: this copy of digex was installed without its "
                        "source tree; clone the digex repository and install it with pip install -e . (or load a "
                        "scenario file by its path)")
    return folder


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Config:
    """Load, merge (defaults, extends chain, file, ``key.path=value`` overrides) and validate a scenario.

    Raises ConfigError naming the file (or ``--set key.path``), the key path
    and the line for every kind of bad input; never returns an invalid Config.
    """
    data, origins = resolve_scenario(path, overrides)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, origins, str(path)) from None


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes tuples as lists."""


_Dumper.add_representer(tuple, _Dumper.represent_list)


def scenario_to_yaml(config: Config) -> str:
    """The fully resolved scenario as YAML (every key, no extends); loading it gives the same Config."""
    return yaml.dump(config.model_dump(mode="python"), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True, default_flow_style=False, width=100)
