"""The parameter reference (``digex describe``): every scenario parameter with its type, default, unit and meaning.

Generated from the pydantic schema in ``sim/model/params.py`` (field annotations,
constraints, descriptions and the ``unit`` in ``json_schema_extra``), so it
cannot drift from what validation accepts. Defaults are those of
``Config()``; for procedure and letter types the per-type defaults are shown.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sim.errors import UserError
from sim.model.params import Config
from sim.scenario.loader import suggest

TOP_LEVEL = "top level"
"""Heading of the keys of a scenario file outside any block (name, description, timeline)."""


@dataclass
class Entry:
    """One line of the description: a block (a mapping of keys) or a parameter."""

    path: str
    is_block: bool
    meaning: str
    type: str = ""
    default: str = ""
    unit: str = ""


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """The annotation without None, and whether None (null) is allowed."""
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return (args[0] if len(args) == 1 else tp), len(args) < len(get_args(tp))
    return tp, False


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def type_name(tp: Any) -> str:
    """A reader's name for an annotation: 'number', 'date', 'one of: a, b', 'list of 3 numbers', ..."""
    tp, nullable = _unwrap(tp)
    origin, args = get_origin(tp), get_args(tp)
    simple = {bool: "true/false", int: "integer", float: "number", str: "text", dt.date: "date (YYYY-MM-DD)",
              Any: "value"}
    if tp in simple:
        name = simple[tp]
    elif origin is Literal:
        name = "one of: " + ", ".join(str(a) for a in args)
    elif origin is tuple:
        kinds = {type_name(a) for a in args}
        name = f"list of {len(args)} {kinds.pop()}s" if len(kinds) == 1 else "list"
    elif origin is dict:
        name = f"mapping of name -> {type_name(args[1])}"
    elif origin is list and _is_model(args[0]):
        name = "list of mappings (keys below)"
    elif origin is list:
        name = f"list of {type_name(args[0])}"
    elif _is_model(tp):
        name = "mapping (see its keys)"
    else:
        name = str(tp)
    return f"{name} or null" if nullable else name


def constraint_text(field: FieldInfo) -> str:
    """The numeric bounds of a field: ' in [0, 1]', ' >= 1', ..."""
    bounds = {}
    for m in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            if getattr(m, attr, None) is not None:
                bounds[attr] = getattr(m, attr)
    lo = ("ge", bounds["ge"]) if "ge" in bounds else ("gt", bounds["gt"]) if "gt" in bounds else None
    hi = ("le", bounds["le"]) if "le" in bounds else ("lt", bounds["lt"]) if "lt" in bounds else None
    if lo and hi:
        return f" in {'[' if lo[0] == 'ge' else '('}{_num(lo[1])}, {_num(hi[1])}{']' if hi[0] == 'le' else ')'}"
    sym = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return "".join(f" {sym[b[0]]} {_num(b[1])}" for b in (lo, hi) if b)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def default_text(value: Any) -> str:
    """A default as it would be written in YAML."""
    if value is PydanticUndefined:
        return "required"
    if value == "":
        return '""'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def _unit(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    return str(extra.get("unit", "")) if isinstance(extra, dict) else ""



def summary(doc: str | None) -> str:
    """The first paragraph of a block's docstring, on one line (the rest explains the code, not the keys)."""
    first = (doc or "").strip().split("\n\n", 1)[0]
    return " ".join(first.split())

def entries(model: type[BaseModel] = Config, instance: BaseModel | None = None, prefix: str = "") -> list[Entry]:
    """Every block and parameter below ``model`` (defaults taken from ``instance``).

    Each model lists its own parameters first and then its blocks, each block
    followed by what it holds, all in schema order: so every parameter comes
    right after the heading of the block it belongs to (the top-level
    parameters after a heading with the path "").
    """
    top = instance is None and prefix == ""
    instance = model() if top else instance
    params: list[Entry] = [Entry("", True, summary(model.__doc__))] if top else []
    blocks: list[Entry] = []
    for name, field in model.model_fields.items():
        path = prefix + name
        tp, _ = _unwrap(field.annotation)
        value = getattr(instance, name) if instance is not None else field.default
        if _is_model(tp):
            blocks.append(Entry(path, True, summary(tp.__doc__)))
            blocks += entries(tp, value, path + ".")
        elif get_origin(tp) is dict and _is_model(get_args(tp)[1]) and isinstance(value, dict):
            blocks.append(Entry(path, True, field.description or ""))
            for key, item in value.items():
                blocks.append(Entry(f"{path}.{key}", True, summary(type(item).__doc__)))
                blocks += entries(type(item), item, f"{path}.{key}.")
        else:
            params.append(Entry(path, False, field.description or "", type_name(field.annotation)
                                + constraint_text(field), default_text(value), _unit(field)))
            if get_origin(tp) is list and _is_model(get_args(tp)[0]):
                item_model = get_args(tp)[0]
                blocks.append(Entry(f"{path}[]", True, summary(item_model.__doc__)))
                blocks += entries(item_model, None, f"{path}[].")
    return params + blocks


def select(key: str | None) -> list[Entry]:
    """The entries for KEY (a block and everything below it, or one parameter); all without KEY."""
    all_entries = entries()
    if not key:
        return all_entries
    key = re.sub(r"\[\d*\]", "[]", key.removesuffix("."))
    key = re.sub(r"^timeline\.", "timeline[].", key)
    chosen = [e for e in all_entries if e.path == key or e.path.startswith(key + ".") or e.path.startswith(key + "[")]
    if not chosen:
        hint = metric_hint(key) or suggest(key, [e.path for e in all_entries])
        raise UserError(f"no parameter or block '{key}'{hint}")
    return chosen


def metric_hint(key: str) -> str:
    """A pointer to ``digex metrics`` when ``key`` is 'metrics' or the name of a metric (an output, not a parameter)."""
    from sim.model.metrics import METRICS

    if key in ("metric", "metrics") or key in METRICS:
        return "; metrics are what a run reports, not parameters: `digex metrics` lists each with its unit and meaning"
    return ""


def render(chosen: list[Entry]) -> str:
    """The description as text: block headings, then one paragraph per parameter."""
    lines: list[str] = []
    for e in chosen:
        if e.is_block:
            lines += ["", f"{e.path or TOP_LEVEL}: {e.meaning}".rstrip(": "), ""]
            continue
        default = "required" if e.default == "required" else f"default {e.default}"
        detail = f"{e.type}; {default}" + (f"; unit: {e.unit}" if e.unit else "")
        lines.append(f"  {e.path}")
        lines += textwrap.wrap(detail, 100, initial_indent="      ", subsequent_indent="        ")
        lines += textwrap.wrap(e.meaning, 100, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines).strip("\n") + "\n"


def render_markdown(chosen: list[Entry]) -> str:
    """The description as one Markdown table per block (docs/ODD.md, Appendix A)."""
    lines: list[str] = []
    for e in chosen:
        if e.is_block:
            lines += ["", f"**{e.path or TOP_LEVEL}**: {e.meaning}".rstrip(": "), "",
                      "| parameter | type | default | unit | meaning |", "|---|---|---|---|---|"]
            continue
        cells = (e.path, e.type, e.default, e.unit, e.meaning)
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines).strip("\n") + "\n"
