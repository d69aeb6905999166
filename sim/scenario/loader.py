"""Scenario files: reading YAML with line numbers, ``extends`` chains, ``--set`` overrides, validation.

A scenario file mirrors ``sim.model.params.Config`` (the single source of truth).
A file states only what differs from what it builds on:

1. the Config defaults (the Danish baseline of ``sim/model/params.py``),
2. the file named by ``extends`` (a path relative to the extending file;
   chains allowed, cycles rejected), recursively,
3. the file itself,
4. ``--set key.path=value`` overrides from the command line.

Each layer is deep-merged over the one before: mappings merge key by key,
anything else (numbers, strings, lists such as ``timeline``) is replaced.
``name`` and ``description`` describe a file itself and are not inherited;
a file without ``name`` is named after its file name (without .yaml).
Timeline ``set`` keys are relative to ``policy`` (a leading ``policy.`` is
accepted).
Every key remembers where it was set (file or ``--set`` and line), so a
validation error names the file, the key path and the line that set it.
Files are read with a ``yaml.SafeLoader`` subclass: tags that would
construct Python objects are refused before anything is built.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from sim.errors import ConfigError
from sim.model import keypath
from sim.model.keypath import KeyPath, KeyPathError, format_key
from sim.model.params import Config, PolicyConfig

Origin = tuple[str, int | None]
"""Where a key was set: a file (or '--set key.path') and a line (None when unknown)."""

NOT_INHERITED = ("name", "description")
"""Keys that describe a file itself and are not inherited through ``extends``; name defaults to the file stem."""

POLICY_PREFIX = "policy."
"""Timeline ``set`` keys are relative to ``policy``; a leading 'policy.' is accepted and dropped."""


# ------------------------------------------------------------------ reading one file


class LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses object-constructing tags and reports bad dates as YAML errors.

    Line numbers are recorded from the composed node tree by ``key_lines``.
    """

    def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
        """A date or timestamp; an impossible one (2014-13-01) becomes a YAML error with its line."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid date '{node.value}' ({exc})", node.start_mark
            ) from None


LineLoader.add_constructor("tag:yaml.org,2002:timestamp", LineLoader.construct_yaml_timestamp)


def _short_tag(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def key_lines(node: yaml.Node, file: str) -> dict[KeyPath, int]:
    """Line (1-based) of every mapping key and list item below ``node``, by key path.

    Also rejects what a scenario file must not contain: tags without a safe
    constructor (e.g. ``!!python/object``), non-scalar keys and duplicate keys.
    """
    lines: dict[KeyPath, int] = {}
    safe_tags = LineLoader.yaml_constructors
    seen: set[int] = set()

    def walk(n: yaml.Node, path: KeyPath) -> None:
        line = n.start_mark.line + 1
        if n.tag not in safe_tags:
            raise ConfigError(
                f"YAML tag '{_short_tag(n.tag)}' is not allowed: scenario files hold plain data only",
                file=file, key=format_key(path) or None, line=line,
            )
        if id(n) in seen:  # an alias of a node already walked: keys below it keep the anchor's lines
            return
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            first: dict[str, int] = {}
            for knode, vnode in n.value:
                kline = knode.start_mark.line + 1
                if not isinstance(knode, yaml.ScalarNode):
                    raise ConfigError("a key must be a plain name", file=file, key=format_key(path) or None,
                                      line=kline)
                if knode.value == "<<":  # YAML merge key: its keys belong to this mapping
                    walk(vnode, path)
                    continue
                kpath = (*path, knode.value)
                if knode.value in first:
                    raise ConfigError(f"key appears twice in the same mapping (first on line {first[knode.value]})",
                                      file=file, key=format_key(kpath), line=kline)
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
    """The text of a scenario file, or a ConfigError (reported at ``origin`` when ``extends`` named it)."""
    where = {"file": origin[0], "line": origin[1], "key": "extends"} if origin else {"file": shown}
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {shown}" if origin else "file not found", **where) from None
    except IsADirectoryError:
        raise ConfigError(f"{shown} is a directory, not a scenario file", **where) from None
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", file=shown) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {shown}: {exc.strerror}", **where) from None


def _parse(text: str, shown: str) -> tuple[Any, dict[KeyPath, int]]:
    loader = LineLoader(text)
    lines: dict[KeyPath, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = key_lines(node, shown)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at_line = [p for p, line in lines.items() if mark and line == mark.line + 1]
        key = format_key(max(at_line, key=len)) if at_line else None
        problem = exc.problem or "invalid YAML"
        tag = re.search(r"tag '([^']+)'", problem)
        if isinstance(exc, yaml.constructor.ConstructorError) and tag:
            problem = f"YAML tag '{_short_tag(tag.group(1))}' is not allowed: scenario files hold plain data only"
        elif exc.context:
            problem = f"invalid YAML: {problem} ({exc.context})"
        else:
            problem = f"invalid YAML: {problem}"
        raise ConfigError(problem, file=shown, key=key, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=shown) from None
    finally:
        loader.dispose()


def load_yaml_with_lines(path: str | Path) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """Read one YAML mapping safely; return it and the line of every key and list item by key path.

    An empty file is an empty mapping. Raises ConfigError for a missing or
    unreadable file, broken YAML, an unsafe tag, a duplicate key, or a
    document that is not a mapping. ``extends`` is not followed here.
    """
    shown = str(path)
    return _as_mapping(*_parse(_read_text(Path(path), shown), shown), shown)


def _as_mapping(data: Any, lines: dict[KeyPath, int], shown: str) -> tuple[dict[str, Any], dict[KeyPath, int]]:
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


def deep_merge(base: dict, over: dict, path: KeyPath = (), replaced: list[KeyPath] | None = None) -> dict:
    """``over`` merged into a copy of ``base``: mappings merge key by key, everything else is replaced.

    The paths ``over`` replaced (rather than merged into) are appended to ``replaced``.
    """
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value, (*path, key), replaced)
        else:
            out[key] = copy.deepcopy(value)
            if replaced is not None:
                replaced.append((*path, key))
    return out


def _layer(data: dict, origins: dict[KeyPath, Origin], over: dict,
           over_origins: dict[KeyPath, Origin]) -> tuple[dict, dict[KeyPath, Origin]]:
    """Merge one layer over another, keeping for each key the origin of the layer that set it."""
    replaced: list[KeyPath] = []
    merged = deep_merge(data, over, (), replaced)
    gone = set(replaced)
    kept = {p: o for p, o in origins.items() if not any(p[:k] in gone for k in range(1, len(p) + 1))}
    return merged, kept | over_origins


def _resolve_file(path: Path, shown: str, chain: tuple[Path, ...],
                  named_at: Origin | None = None) -> tuple[dict, dict[KeyPath, Origin]]:
    """A file with its ``extends`` chain resolved: merged data and the origin of every key."""
    data, lines = _as_mapping(*_parse(_read_text(path, shown, named_at), shown), shown)
    origins: dict[KeyPath, Origin] = {p: (shown, line) for p, line in lines.items()}
    if "extends" not in data:
        return data, origins
    target = data.pop("extends")
    at = origins.pop(("extends",))
    if not isinstance(target, str) or not target.strip():
        raise ConfigError("extends must name another scenario file (a path relative to this file)",
                          file=shown, key="extends", line=at[1])
    parent_path = (path.parent / target).resolve()
    parent_shown = str(Path(shown).parent / target)
    if parent_path in chain:
        names = [str(p.name) for p in chain[chain.index(parent_path):]] + [parent_path.name]
        raise ConfigError(f"extends cycle: {' -> '.join(names)}", file=shown, key="extends", line=at[1])
    parent, parent_origins = _resolve_file(parent_path, parent_shown, (*chain, parent_path), at)
    for own in NOT_INHERITED:
        parent.pop(own, None)
        parent_origins.pop((own,), None)
    return _layer(parent, parent_origins, data, origins)


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key.path=value`` and parse the value as YAML (so 0.5, true, null, 2014-11-01, [1, 2] work)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"'{text}' is not of the form key.path=value", file=f"--set {text}")
    shown = f"--set {key}"
    try:
        value = yaml.load(raw, Loader=LineLoader) if raw.strip() else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"value '{raw}' is not valid YAML ({problem})", file=shown, key=key) from None
    if any(not part for part in key.split(".")):
        raise ConfigError("empty part in the key path", file=shown, key=key)
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
    return f" (got {shown})"


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
        msg = f"unknown key '{path[-1]}'" + suggest(str(path[-1]), fields + (["extends"] if not path[:-1] else []))
    elif err["type"] == "missing":
        msg = "this required key is missing"
    elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        msg = "should be a mapping of keys to values"
    if err["type"] not in ("extra_forbidden", "missing"):
        msg += _got(data, path, msg)
    if len(errors) > 1:
        msg += f" [{len(errors) - 1} more problem(s) may follow]"
    source, line = _origin(path, origins, file)
    return ConfigError(msg, file=source, key=format_key(path) or None, line=line)


# ------------------------------------------------------------------ public API


def resolve_scenario(path: str | Path, overrides: Sequence[str] = ()) -> tuple[dict, dict[KeyPath, Origin]]:
    """The merged, not yet validated scenario data and the origin of every key set by a file or override.

    Layers: Config defaults, the ``extends`` chain, the file, the overrides.
    """
    p = Path(path)
    data, origins = _resolve_file(p.resolve(), str(path), (p.resolve(),))
    data.setdefault("name", p.stem)
    data = deep_merge(Config().model_dump(), data)
    for text in overrides:
        key, value = parse_override(text)
        try:
            data = keypath.set_in(data, key, value, create=True)
        except KeyPathError as exc:
            raise ConfigError(exc.detail, file=f"--set {key}", key=key) from None
        set_path = keypath.split(key)
        origins = {k: o for k, o in origins.items() if k[: len(set_path)] != set_path}
        origins[set_path] = (f"--set {key}", None)
    _normalise_timeline(data, origins)
    return data, origins


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
