"""Parameter sweeps: a full factorial grid or a Latin hypercube over ranges, resumable run by run.

Every point of a sweep is the base scenario with some key paths set (the same
``key=value`` overrides as ``--set``). All points share the base seed, so
replication r of every point uses seed ``run.seed + r`` (common random
numbers, as in ``sim/experiments/compare.py``). Each finished replication is stored as
its own small JSON file named by a hash of its resolved configuration and
seed, written atomically; rerunning the same sweep skips every run already on
disk, so a killed sweep loses at most the runs that were in flight.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.atomic import write_text
from sim.errors import UserError
from sim.experiments.compare import KEYS
from sim.experiments.replication import Replication, replication_seed, run_many
from sim.experiments.stats import summarise
from sim.experiments.varied import Varied
from sim.model.keypath import KeyPathError
from sim.model.metrics import METRICS
from sim.model.params import Config
from sim.model.series import metric_order

RESULT_FIELDS = ("name", "description")
"""Configuration fields that do not change results and are left out of a run's key."""


def parse_vary(text: str) -> Varied:
    """Parse ``key=v1,v2,...`` (listed values) or ``key=lo:hi:n`` / ``key=lo:hi`` (a numeric range).

    Listed values are kept as typed (override text, parsed later like ``--set``);
    the number of values ``n`` of a range is used by a grid, not by a Latin hypercube.
    """
    key, sep, rhs = text.partition("=")
    key, rhs = key.strip(), rhs.strip()
    if not sep or not key or not rhs:
        raise UserError(f"--vary '{text}': expected KEY=v1,v2,... or KEY=lo:hi:n")
    if ":" in rhs and "," not in rhs:
        parts = rhs.split(":")
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise UserError(f"--vary '{text}': a range needs numbers, as in {key}=0.5:4:8") from None
        if len(parts) not in (2, 3) or not all(math.isfinite(v) for v in nums):
            raise UserError(f"--vary '{text}': a range is lo:hi:n (or lo:hi with --samples)")
        n = None
        if len(parts) == 3:
            if not nums[2].is_integer() or nums[2] < 1:
                raise UserError(f"--vary '{text}': the number of values n must be a positive integer")
            n = int(nums[2])
        if nums[1] < nums[0]:
            raise UserError(f"--vary '{text}': lo must not exceed hi")
        return Varied(key, low=nums[0], high=nums[1], n=n)
    values = tuple(v.strip() for v in rhs.split(","))
    if any(v == "" for v in values):
        raise UserError(f"--vary '{text}': empty value in the list")
    return Varied(key, values=values)


def _check_key(v: Varied, base: Config) -> None:
    """Refuse a ``--vary`` key path that the base scenario does not have."""
    try:
        v.read(base)
    except KeyPathError:
        raise UserError(f"--vary: unknown key '{v.key}'") from None


def _number_text(v: Varied, x: float, base: Config) -> str:
    """Override text of a number of a range: rounded for integer keys, else the shortest exact float."""
    return repr(v.number(x, base))


def grid_points(varies: Sequence[Varied], base: Config) -> list[dict[str, str]]:
    """Full factorial grid: every combination of every key's values (override text per key)."""
    axes = []
    for v in varies:
        _check_key(v, base)
        if not v.is_range:
            axes.append(list(v.values))
        elif v.n is None:
            raise UserError(f"--vary {v.key}: a grid range needs a number of values, as lo:hi:n")
        else:
            axes.append(list(dict.fromkeys(_number_text(v, x, base) for x in v.grid())))
    keys = [v.key for v in varies]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]


def latin_hypercube_points(varies: Sequence[Varied], base: Config, samples: int, seed: int) -> list[dict[str, str]]:
    """``samples`` points of a seeded Latin hypercube (scipy.stats.qmc.LatinHypercube).

    A range key maps its coordinate u in [0, 1) to lo + u (hi - lo) (rounded
    for integer keys); a listed key picks value number floor(u * count), so
    each listed value gets an equal share of the strata.
    """
    if samples < 1:
        raise UserError(f"--samples: must be at least 1, got {samples}")
    from scipy.stats import qmc  # imported when needed (see sim.experiments.stats.t_interval)

    for v in varies:
        _check_key(v, base)
    u = qmc.LatinHypercube(d=len(varies), rng=np.random.default_rng(seed)).random(samples)
    return [{v.key: _number_text(v, v.from_unit(x), base) if v.is_range else v.pick(x)
             for v, x in zip(varies, row, strict=True)} for row in u]


def run_key(config: Config, seed: int) -> str:
    """Hash of a resolved configuration (sorted JSON, without name and description) and a seed."""
    data = config.model_dump(mode="json", exclude=set(RESULT_FIELDS))
    text = json.dumps({"config": data, "seed": seed}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class RunStore:
    """Finished runs of a sweep: one JSON file per run in ``<dir>/runs``, named by its run key."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory) / "runs"

    def path(self, key: str) -> Path:
        """File of the run with this key."""
        return self.dir / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether the run with this key is on disk."""
        return self.path(key).is_file()

    def save(self, key: str, rep: Replication) -> None:
        """Store a run's end-of-run values (``sim.atomic``: whole or not at all, permissions by the umask)."""
        s = rep.summary()
        values = [None if pd.isna(v) else float(v) for v in s["value"]]
        record = {"key": key, "seed": rep.seed, "version": __version__,
                  **{k: s[k].astype(str).tolist() for k in KEYS}, "value": values}
        write_text(self.path(key), json.dumps(record, separators=(",", ":")))

    def load(self, key: str) -> pd.DataFrame:
        """End-of-run values of a stored run: metric, group_type, group, value."""
        try:
            record = json.loads(self.path(key).read_text())
            frame = pd.DataFrame({k: record[k] for k in (*KEYS, "value")})
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"{self.path(key)}: unreadable stored run ({exc}); delete it to recompute") from None
        frame["value"] = frame["value"].astype(float)
        return frame


@dataclass
class SweepPlan:
    """The points of a sweep, their resolved configurations and the replications to run."""

    varies: list[Varied]
    points: list[dict[str, str]]
    configs: list[Config]
    reps: int
    design: str

    @property
    def keys(self) -> list[str]:
        """Varied key paths, in command-line order."""
        return [v.key for v in self.varies]

    def params(self) -> pd.DataFrame:
        """One row per point: point number and each varied key's resolved value."""
        rows = [{"point": i, **{v.key: _cell(v.read(c)) for v in self.varies}}
                for i, c in enumerate(self.configs)]
        return pd.DataFrame(rows)

    def runs(self) -> list[tuple[int, int, Config, str]]:
        """(point, rep, config, run key) of every replication of every point."""
        return [(i, r, c, run_key(c, replication_seed(c, r)))
                for i, c in enumerate(self.configs) for r in range(self.reps)]


def _cell(value: Any) -> Any:
    """A table cell for a parameter value (dates and lists as text)."""
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def plan_sweep(
    resolve: Callable[[Sequence[str]], Config],
    varies: Sequence[Varied],
    reps: int,
    samples: int | None = None,
    seed: int | None = None,
) -> SweepPlan:
    """Resolve every point's configuration (validating all before anything runs).

    ``resolve(overrides)`` loads the base scenario with extra ``key=value``
    overrides (``sim.scenario.loader.load_scenario``). Without ``samples`` the
    points are the full factorial grid; with it, a Latin hypercube seeded by
    the base seed. Every point gets the same base seed (``seed`` or the base
    scenario's run.seed).
    """
    if not varies:
        raise UserError("sweep needs at least one --vary KEY=VALUES")
    if reps < 1:
        raise UserError(f"--reps: must be at least 1, got {reps}")
    keys = [v.key for v in varies]
    if len(set(keys)) < len(keys):
        raise UserError(f"--vary: a key is given twice ({', '.join(keys)})")
    if "run.seed" in keys:
        raise UserError("--vary run.seed: every point uses the same seeds; set them with --seed and --reps")
    base = resolve(())
    base_seed = base.run.seed if seed is None else seed
    if base_seed < 0:
        raise UserError(f"--seed: must be non-negative, got {base_seed}")
    if samples is None:
        points, design = grid_points(varies, base), "full factorial grid"
    else:
        points, design = latin_hypercube_points(varies, base, samples, base_seed), f"Latin hypercube, {samples} points"
    configs = []
    for i, p in enumerate(points):
        c = resolve([f"{k}={v}" for k, v in p.items()])
        c.name = f"{base.name} point {i}"  # names runs for the store; not part of the run key
        c.run.seed = base_seed
        configs.append(c)
    return SweepPlan(list(varies), points, configs, reps, design)


@dataclass
class SweepResult:
    """A sweep's tables and how many runs were computed now or reused from disk."""

    results: pd.DataFrame
    by_group: pd.DataFrame
    summary: pd.DataFrame
    computed: int
    reused: int


def run_sweep(
    plan: SweepPlan,
    directory: Path,
    jobs: int = 1,
    on_done: Callable[[Replication], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
) -> SweepResult:
    """Run the replications not yet stored under ``directory``, store each as it finishes, and tabulate.

    ``on_done`` is called after each new run is stored (for progress); ``jobs``,
    ``executor`` and ``scheduler`` say where runs go (``sim.experiments.replication.run_many``).
    """
    store = RunStore(directory)
    runs = plan.runs()
    todo: dict[str, tuple[Config, int]] = {}
    for _, rep, c, key in runs:
        if key not in todo and not store.has(key):
            todo[key] = (c, rep)
    key_of = {(c.name, rep): key for key, (c, rep) in todo.items()}

    def done(rep: Replication) -> None:
        store.save(key_of[(rep.scenario, rep.rep)], rep)
        rep.timeseries = rep.timeseries.iloc[0:0]  # stored; free the weekly values
        if on_done:
            on_done(rep)

    run_many(list(todo.values()), jobs=jobs, on_done=done, executor=executor, scheduler=scheduler)
    unique = len({key for *_, key in runs})
    return tabulate(plan, store, computed=len(todo), reused=unique - len(todo))


def tabulate(plan: SweepPlan, store: RunStore, computed: int = 0, reused: int = 0) -> SweepResult:
    """Results per run (wide, overall metrics), by group per run (long) and a summary per point with CI."""
    params = plan.params()
    frames = []
    for point, rep, c, key in plan.runs():
        f = store.load(key)
        f.insert(0, "run_key", key)
        f.insert(0, "seed", replication_seed(c, rep))
        f.insert(0, "rep", rep)
        f.insert(0, "point", point)
        frames.append(f)
    long = pd.concat(frames, ignore_index=True)
    overall = long["group_type"] == "all"
    wide = long[overall].pivot(index=["point", "rep", "seed", "run_key"], columns="metric", values="value")
    wide = wide[[m for m in METRICS if m in wide.columns]].reset_index()
    wide.columns.name = None
    results = params.merge(wide, on="point")
    by_group = params.merge(long[~overall], on="point")
    summary = params.merge(metric_order(summarise(long, ["point", *KEYS])), on="point")
    return SweepResult(results, by_group, summary, computed, reused)
