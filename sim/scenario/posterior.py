"""Posterior draws of the calibrated parameters: reading the file, finding it, applying one draw to a scenario.

``digex calibrate`` writes, beside ``calibrated.yaml`` (the posterior median of
each fitted parameter), ``calibrated_posterior.csv``: lines starting with ``#``
are comments, then a header ``draw,<key path>,<key path>,...`` and one row per
equally weighted posterior draw, ``draw`` = 0, 1, 2, ... in order
(docs/calibration.md). ``digex run`` and ``digex compare --posterior K`` run
replication r with draw r and seed ``run.seed + r``, the same (draw, seed) pair
in every scenario, so an interval covers parameter uncertainty as well as
simulation noise and paired differences stay paired (docs/ODD.md section 4,
Stochasticity).

A draw replaces the calibrated values only: a parameter the scenario (or a
``--set`` override) sets to a value of its own keeps that value in every
replication (``apply_draw``). Every problem with the file is a ConfigError
naming the file, the line and the column or key path.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.errors import ConfigError, UserError
from sim.model import keypath
from sim.model.keypath import KeyPathError
from sim.model.params import Config

CALIBRATED = "calibrated.yaml"
"""Name of the file ``digex calibrate`` writes the calibrated (posterior median) values into."""

POSTERIOR = "calibrated_posterior.csv"
"""Name of the posterior draws beside CALIBRATED."""

DRAW = "draw"
"""Column that numbers the draws 0, 1, 2, ... in file order."""

MAX_POSTERIOR_BYTES = 16 * 1024 * 1024
"""Largest posterior file read (16 MiB, some 100,000 draws of 19 parameters); a larger one is refused unread."""


@dataclass(frozen=True)
class Posterior:
    """Posterior draws as read from ``path``: one row per draw (index ``draw``), one float column per key path.

    ``sha256`` is the digest of the file's bytes as read; ``lines[r]`` is the file line of draw r.
    """

    path: Path
    sha256: str
    draws: pd.DataFrame
    lines: tuple[int, ...]

    @property
    def keys(self) -> list[str]:
        """The key paths the draws set, in file order."""
        return list(self.draws.columns)


def _read_bytes(path: Path) -> bytes:
    """The bytes of a posterior file (a regular file of at most MAX_POSTERIOR_BYTES)."""
    try:
        if not path.is_file():
            raise ConfigError("no such file (a posterior file is the calibrated_posterior.csv that digex calibrate "
                              "writes)", file=str(path))
        if path.stat().st_size > MAX_POSTERIOR_BYTES:
            raise ConfigError(f"larger than {MAX_POSTERIOR_BYTES // 2**20} MiB, the limit for a posterior file",
                              file=str(path))
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot be read ({exc.strerror or exc})", file=str(path)) from None


def _header_keys(header: list[str], shown: str, line: int) -> list[str]:
    """The key path of every column after ``draw``: each a numeric setting of Config, none twice."""
    if DRAW not in header:
        raise ConfigError(f"the header has no '{DRAW}' column (expected draw,<key path>,...)", file=shown, line=line)
    keys = [h.strip() for h in header if h.strip() != DRAW]
    if not keys:
        raise ConfigError("the header names no parameter (expected draw,<key path>,...)", file=shown, line=line)
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError("this column appears twice in the header", file=shown, key=key, line=line)
        if keypath.schema_type(Config, key) not in (float, int):
            raise ConfigError("not the key path of a numeric setting (e.g. population.skill_intercept; "
                              "digex describe lists them)", file=shown, key=key, line=line)
    return keys


def _number(text: str, shown: str, column: str, line: int) -> float:
    """One cell as a finite number."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"'{text.strip()[:40]}' is not a finite number", file=shown, key=column, line=line)
    return value


def load_posterior(path: str | Path) -> Posterior:
    """Read and check a posterior file (module docstring); every problem is a one-line ConfigError.

    Refused: a missing, unreadable, oversized or non-UTF-8 file; no header or
    no ``draw`` column; a column that is not the key path of a numeric
    setting, or appears twice; a row with too few or too many cells; a cell
    that is not a finite number; draws not numbered 0, 1, 2, ... in order; no
    draws at all. The file's lines are read as data, never executed.
    """
    path = Path(path)
    shown = str(path)
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", file=shown) from None
    header: list[str] | None = None
    keys: list[str] = []
    rows: list[list[float]] = []
    lines: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = next(csv.reader([raw]))
        if header is None:
            header, keys = [c.strip() for c in cells], _header_keys(cells, shown, number)
            continue
        if len(cells) != len(header):
            raise ConfigError(f"{len(cells)} cells, but the header has {len(header)} columns", file=shown,
                              line=number)
        values = dict(zip(header, cells, strict=True))
        draw = _number(values[DRAW], shown, DRAW, number)
        if draw != len(rows):
            raise ConfigError(f"draw {values[DRAW].strip()[:40]} where {len(rows)} was expected (draws are numbered "
                              "0, 1, 2, ... in order)", file=shown, key=DRAW, line=number)
        rows.append([_number(values[k], shown, k, number) for k in keys])
        lines.append(number)
    if not rows:
        raise ConfigError("no draws: a posterior file needs a header line and at least one row of values",
                          file=shown)
    draws = pd.DataFrame(rows, columns=keys, index=pd.RangeIndex(len(rows), name=DRAW))
    return Posterior(path, hashlib.sha256(data).hexdigest(), draws, tuple(lines))


def calibrated_file(scenario: str | Path) -> Path | None:
    """The CALIBRATED file in the scenario's ``extends`` chain (the scenario itself included), or None."""
    from sim.scenario.loader import scenario_files

    return next((f for f in scenario_files(scenario) if f.name == CALIBRATED), None)


def find_posterior(scenarios: Sequence[str], given: str | None) -> Path:
    """The posterior file of a run: ``given`` (--posterior-file), else POSTERIOR beside the CALIBRATED file that
    every scenario extends; a UserError when there is none, or the scenarios extend different ones."""
    if given is not None:
        return Path(given)
    found = {}
    for s in scenarios:
        calibrated = calibrated_file(s)
        if calibrated is None:
            raise UserError(f"--posterior: {s} does not extend a {CALIBRATED}, so there is no {POSTERIOR} beside "
                            "it to draw from; name the posterior file with --posterior-file PATH")
        found[s] = calibrated.parent / POSTERIOR
    if len(set(found.values())) > 1:
        listed = ", ".join(f"{s}: {p}" for s, p in found.items())
        raise UserError(f"--posterior: the scenarios extend different {CALIBRATED} files ({listed}); name one "
                        "posterior file with --posterior-file PATH")
    path = next(iter(found.values()))
    if not path.is_file():
        raise UserError(f"--posterior: {path}: no such file (digex calibrate writes it beside {CALIBRATED}); "
                        "name a posterior file with --posterior-file PATH")
    return path


def calibrated_values(scenario: str | Path, keys: Sequence[str], overrides: Sequence[str] = ()) -> dict[str, float]:
    """The values the draws replace in a scenario: each key's value in the CALIBRATED file of its ``extends``
    chain (the Config default when the chain has none). Keys at or below a ``--set`` override are left out: the
    override is the scenario's own setting and stays."""
    from sim.scenario.loader import load_scenario, parse_override

    calibrated = calibrated_file(scenario)
    reference = load_scenario(calibrated) if calibrated is not None else Config()
    pinned = [keypath.split(parse_override(o)[0]) for o in overrides]
    return {k: keypath.get(reference, k) for k in keys
            if not any(keypath.split(k)[: len(p)] == p for p in pinned)}


def drawn_keys(config: Config, keys: Sequence[str], calibrated: Mapping[str, float]) -> list[str]:
    """The keys a draw replaces in ``config``: those whose value is still the calibrated one (``calibrated``).

    A key the scenario sets to a value of its own, or that ``calibrated``
    leaves out, is kept by the scenario.
    """
    return [k for k in keys if k in calibrated and keypath.get(config, k) == calibrated[k]]


def apply_draw(config: Config, draw: Mapping[str, float], calibrated: Mapping[str, float]) -> Config:
    """``config`` with the calibrated values replaced by one posterior draw (``draw``: key path -> value), validated.

    Keys kept by the scenario (``drawn_keys``) keep the scenario's value.
    Raises KeyPathError naming the key when a drawn value is not valid there.
    """
    return keypath.with_values(config, {k: float(draw[k]) for k in drawn_keys(config, list(draw), calibrated)})


def drawn_configs(config: Config, posterior: Posterior, k: int, calibrated: Mapping[str, float]) -> list[Config]:
    """The configuration of each of the first ``k`` replications: replication r with draw r (``apply_draw``).

    A drawn value the configuration does not accept is a ConfigError naming
    the posterior file, the key and the line of the draw.
    """
    if k > len(posterior.draws):
        raise UserError(f"--posterior {k}: {posterior.path} holds only {len(posterior.draws)} draws; use at most "
                        f"--posterior {len(posterior.draws)}")
    out = []
    for r in range(k):
        try:
            out.append(apply_draw(config, posterior.draws.iloc[r].to_dict(), calibrated))
        except KeyPathError as exc:
            raise ConfigError(f"draw {r} is not valid for scenario '{config.name}': {exc.detail}",
                              file=str(posterior.path), key=keypath.format_key(exc.path),
                              line=posterior.lines[r]) from None
    return out


def values_digest(values: Mapping[str, Sequence[float]]) -> str:
    """SHA-256 of the drawn values a manifest records (JSON, keys sorted): changes if any is edited."""
    import json

    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class PosteriorRun:
    """A run or compare with ``--posterior K``: the file read, K, and per scenario the configuration of each
    replication (``configs[name][r]`` has draw r), the keys the draws replace and those the scenario keeps."""

    file: str
    sha256: str
    draws_in_file: int
    values: dict[str, list[float]]
    configs: dict[str, list[Config]]
    drawn: dict[str, list[str]]
    kept: dict[str, list[str]]

    @property
    def k(self) -> int:
        """Replications, one per draw."""
        return len(next(iter(self.values.values())))

    def manifest(self) -> dict:
        """The ``posterior`` block of manifest.json: file, SHA-256, K, the K drawn values of every key, and per
        scenario the keys drawn and the keys kept by the scenario (what ``digex rerun`` replays)."""
        return {"file": self.file, "sha256": self.sha256, "draws_in_file": self.draws_in_file,
                "replications": self.k, "rule": "replication r uses draw r and seed run.seed + r",
                "values": self.values, "values_sha256": values_digest(self.values),
                "scenarios": {name: {"drawn": self.drawn[name], "kept_by_scenario": self.kept[name]}
                              for name in self.configs}}


def plan_posterior(configs: Sequence[Config], sources: Sequence[str], overrides: Sequence[str], k: int,
                   given: str | None) -> PosteriorRun:
    """Read the posterior file (``find_posterior``) and make every replication's configuration of every
    scenario (``drawn_configs``), all before anything runs."""
    path = find_posterior(sources, given)
    posterior = load_posterior(path)
    runs, drawn, kept = {}, {}, {}
    for config, source in zip(configs, sources, strict=True):
        calibrated = calibrated_values(source, posterior.keys, overrides)
        runs[config.name] = drawn_configs(config, posterior, k, calibrated)
        drawn[config.name] = drawn_keys(config, posterior.keys, calibrated)
        kept[config.name] = [key for key in posterior.keys if key not in drawn[config.name]]
    values = {key: posterior.draws[key].iloc[:k].tolist() for key in posterior.keys}
    return PosteriorRun(str(path.resolve()), posterior.sha256, len(posterior.draws), values, runs, drawn, kept)


def replay_posterior(block: Mapping, configs: Sequence[Config], where: str) -> PosteriorRun:
    """The PosteriorRun a manifest's ``posterior`` block (``PosteriorRun.manifest``) records, for ``configs``.

    A UserError (prefixed by ``where``) when the block was edited: its values
    do not match their digest, the keys or counts disagree, or a value is not
    valid for its scenario.
    """
    values, scenarios = block.get("values"), block.get("scenarios")
    if (not isinstance(values, dict) or not isinstance(scenarios, dict) or not values
            or values_digest(values) != block.get("values_sha256")):
        raise UserError(f"{where}: its posterior values do not match their recorded SHA-256, so the manifest was "
                        "edited and no longer records what was run")
    k = len(next(iter(values.values())))
    runs, drawn, kept = {}, {}, {}
    for config in configs:
        entry = scenarios.get(config.name)
        if not isinstance(entry, dict) or any(key not in values for key in entry.get("drawn", [None])):
            raise UserError(f"{where}: scenario '{config.name}' has no valid posterior entry; the manifest was edited")
        drawn[config.name], kept[config.name] = list(entry["drawn"]), list(entry.get("kept_by_scenario", []))
        try:
            runs[config.name] = [keypath.with_values(config, {key: values[key][r] for key in drawn[config.name]})
                                 for r in range(k)]
        except (KeyPathError, IndexError, TypeError) as exc:
            raise UserError(f"{where}: posterior values not valid for scenario '{config.name}' ({exc}); the "
                            "manifest was edited") from None
    return PosteriorRun(str(block.get("file", "")), str(block.get("sha256", "")),
                        int(block.get("draws_in_file", k)), values, runs, drawn, kept)
