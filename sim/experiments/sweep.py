"""Parameter sweeps: a full factorial grid or a Latin hypercube over ranges, resumable run by run.

Every point of a sweep is the base scenario with some key paths set (the same
``key=value`` overrides as ``--set``). All points share the base seed, so
replication r of every point uses seed ``run.seed + r`` (common random
numbers, as in ``sim/experiments/compare.py``). Each finished replication is stored as
its own small JSON file named by a hash of its resolved configuration and
seed, written atomically; rerunning the same sweep skips every run already on
disk, so a killed sweep loses at most the runs that were in flight. A stored
run that cannot be read, does not match its name or was made by another
digex version is recomputed (``RunStore.check`` says which and why).

A sweep has at most MAX_POINTS points and MAX_RUNS runs, checked before any
point is resolved (``check_size``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.atomic import shown, write_text
from sim.errors import UserError
from sim.experiments.compare import KEYS
from sim.experiments.replication import Replication, replication_seed, run_many
from sim.experiments.stats import summarise
from sim.experiments.varied import Varied
from sim.model.keypath import KeyPathError
from sim.model.metrics import METRICS
from sim.model.params import Config, derived_name
from sim.model.series import metric_order

RESULT_FIELDS = ("name", "description")
"""Configuration fields that do not change results and are left out of a run's key."""

MAX_POINTS = 10_000
"""Most points of a sweep (grid points or --samples): each point's configuration is resolved, validated and
held in memory (about 25 kB) before anything runs, about a second per thousand points."""

MAX_RUNS = 10_000
"""Most runs of a sweep (points times --reps): the tables are made in memory from every run, about 200 kB per
run at the peak (2 GB at the limit); runs/ takes about 18 kB and results_by_group.csv about 25 kB per run."""

MAX_RUN_FILE = 1_000_000
"""Largest stored run file read, in bytes (a run takes about 18 kB); a larger one is not a run and is recomputed."""

SECONDS_PER_CITIZEN = 4e-6
"""Seconds to build one citizen of the synthetic population (benchmarks/RESULTS.md: 0.4 s for 100,000)."""

SECONDS_PER_WEEK = 3e-3
"""Seconds of one simulated week that do not depend on the population size (measured: 2.8-3.0 ms a week at 300
and 2,000 citizens on the 2-core machine of benchmarks/RESULTS.md)."""

SECONDS_PER_CITIZEN_WEEK = 1e-7
"""Further seconds per citizen-week (1,000,000 citizens x 520 weeks: 32-51 s in benchmarks/RESULTS.md; 20,000 x
730 weeks: 3.5 s measured)."""

ANALOGUE_COST = 0.7
"""Cost of the all-analogue reference run (run.analogue_reference) relative to the run itself (measured 0.5-0.9:
it computes no group breakdown)."""


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
    """Refuse a ``--vary`` key path that the base scenario does not have, suggesting the closest one."""
    from sim.scenario.describe import entries
    from sim.scenario.loader import suggest

    try:
        v.read(base)
    except KeyPathError:
        keys = [e.path for e in entries() if not e.is_block and "[]" not in e.path]
        raise UserError(f"--vary: unknown key '{shown(v.key)}'" + suggest(v.key, keys)) from None


def _number_text(v: Varied, x: float, base: Config) -> str:
    """Override text of a number of a range: rounded for integer keys, else the shortest exact float."""
    return repr(v.number(x, base))


def check_size(varies: Sequence[Varied], samples: int | None, reps: int) -> int:
    """The number of points of the sweep; a UserError if it exceeds MAX_POINTS or its runs exceed MAX_RUNS.

    Counted from the options alone (before any value is listed), so a huge
    grid is refused at once: a grid has the product of each key's number
    of values (listed values, or n of a range) points, a Latin hypercube
    ``samples``.
    """
    if samples is None:
        sizes = [len(v.values) if not v.is_range else v.n or 1 for v in varies]
        points = math.prod(sizes)
        what = f"a grid of {' x '.join(_count(n) for n in sizes)} values"
        advice = "vary fewer values, or sample the ranges with --samples"
    else:
        points, what, advice = samples, "--samples", "use fewer --samples"
    if points > MAX_POINTS:
        raise UserError(f"the sweep has {_count(points)} points ({what}); at most {MAX_POINTS:,} are allowed: {advice}")
    if points * reps > MAX_RUNS:
        raise UserError(f"the sweep has {points:,} points x {reps:,} reps = {points * reps:,} runs; at most "
                        f"{MAX_RUNS:,} are allowed: use fewer points or --reps")
    return points


def _count(n: int) -> str:
    """A count for a message: digits grouped by thousands, or, when huge, a float of three digits."""
    return f"{n:,}" if n < 10**15 else f"{float(n):.3g}"


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
    """``samples`` points of a seeded, space-filling Latin hypercube (scipy.stats.qmc.LatinHypercube).

    The design is optimised for a low centered discrepancy (``optimization="random-cd"``,
    which swaps coordinates within columns, so every key still has one point in
    each of ``samples`` strata): the points fill the cube evenly and the keys are
    nearly uncorrelated, so the effect of one key is not mistaken for another's
    (``correlated_keys`` finds what remains). A range key maps its coordinate u
    in [0, 1) to lo + u (hi - lo) (rounded for integer keys); a listed key picks
    value number floor(u * count), so each listed value gets an equal share of
    the strata.
    """
    if samples < 1:
        raise UserError(f"--samples: must be at least 1, got {samples}")
    from scipy.stats import qmc  # imported when needed (see sim.experiments.stats.interval)

    for v in varies:
        _check_key(v, base)
    u = qmc.LatinHypercube(d=len(varies), optimization="random-cd", rng=np.random.default_rng(seed)).random(samples)
    return [{v.key: _number_text(v, v.from_unit(x), base) if v.is_range else v.pick(x)
             for v, x in zip(varies, row, strict=True)} for row in u]


def correlated_keys(plan: SweepPlan, limit: float) -> list[tuple[str, str, float]]:
    """Pairs of varied keys whose values across the points correlate above ``limit`` (|Pearson r|), and r.

    Numbers count as they are, other listed values by their position in the
    list (two values are 0 and 1); a key with one value at every point is
    left out. A full grid has r = 0 for every pair; a Latin hypercube of few
    points can have more.
    """
    columns = {v.key: _coded(v, [p[v.key] for p in plan.points]) for v in plan.varies}
    varying = [k for k, x in columns.items() if np.ptp(x) > 0]
    if len(varying) < 2:
        return []
    r = np.corrcoef(np.vstack([columns[k] for k in varying]))
    return [(a, b, float(r[i, j])) for (i, a), (j, b) in itertools.combinations(enumerate(varying), 2)
            if abs(r[i, j]) > limit]


def _coded(v: Varied, texts: Sequence[str]) -> np.ndarray:
    """A varied key's override texts at every point as numbers: the numbers they are, else list positions."""
    try:
        return np.array([float(t) for t in texts])
    except ValueError:
        return np.array([v.values.index(t) for t in texts], dtype=float)


@dataclass(frozen=True)
class Workload:
    """The runs a sweep still has to compute, their size and a rough time on one core."""

    runs: int
    weeks: tuple[int, int]
    citizens: tuple[int, int]
    citizen_weeks: int
    seconds: float

    def wall_seconds(self, jobs: int) -> float:
        """Rough wall time with ``jobs`` runs at a time."""
        return self.seconds / max(1, min(jobs, self.runs))


def run_seconds(config: Config) -> float:
    """Rough seconds of one replication of ``config`` on one core (SECONDS_PER_* and ANALOGUE_COST)."""
    size, weeks = config.population.size, config.run.weeks
    simulate = weeks * (SECONDS_PER_WEEK + size * SECONDS_PER_CITIZEN_WEEK)
    return size * SECONDS_PER_CITIZEN + simulate * (1 + ANALOGUE_COST * config.run.analogue_reference)


def workload(plan: SweepPlan, pending: Iterable[str]) -> Workload:
    """Size and rough one-core time of the runs ``pending`` (run keys) of ``plan``."""
    todo = set(pending)
    configs = list({key: c for *_, c, key in plan.runs if key in todo}.values())
    if not configs:
        return Workload(0, (0, 0), (0, 0), 0, 0.0)
    weeks = [c.run.weeks for c in configs]
    sizes = [c.population.size for c in configs]
    return Workload(len(configs), (min(weeks), max(weeks)), (min(sizes), max(sizes)),
                    sum(w * n for w, n in zip(weeks, sizes, strict=True)), sum(map(run_seconds, configs)))


def run_keys(config: Config, seeds: Iterable[int]) -> list[str]:
    """``run_key`` of a configuration for each seed, dumping the configuration once."""
    data = json.dumps(config.model_dump(mode="json", exclude=set(RESULT_FIELDS)), sort_keys=True,
                      separators=(",", ":"))
    # the text json.dumps({"config": data, "seed": seed}, sort_keys=True) would give, without dumping each time
    return [hashlib.sha256(f'{{"config":{data},"seed":{int(seed)}}}'.encode()).hexdigest()[:24] for seed in seeds]


def run_key(config: Config, seed: int) -> str:
    """Hash of a resolved configuration (sorted JSON, without name and description) and a seed."""
    return run_keys(config, [seed])[0]


def _record_frame(record: Any, key: str) -> pd.DataFrame:
    """The end-of-run values of a stored run's record; ValueError saying what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if record.get("key") != key:
        raise ValueError("its key does not match its file name")
    if record.get("version") != __version__:
        raise ValueError(f"made by digex {shown(str(record.get('version')))}, not {__version__}")
    columns = {k: record.get(k) for k in (*KEYS, "value")}
    if not all(isinstance(c, list) for c in columns.values()) or len({len(c) for c in columns.values()}) != 1:
        raise ValueError(f"needs lists {', '.join(columns)} of one length")
    if not all(isinstance(x, str) for k in KEYS for x in columns[k]):
        raise ValueError(f"{', '.join(KEYS)} must be text")
    if not all(x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in columns["value"]):
        raise ValueError("value must hold numbers or null")
    frame = pd.DataFrame(columns)
    frame["value"] = frame["value"].astype(float)
    return frame


class RunStore:
    """Finished runs of a sweep: one JSON file per run in ``<dir>/runs``, named by its run key.

    Runs read (``check``) or saved are kept in memory for the tables.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory) / "runs"
        self._frames: dict[str, pd.DataFrame] = {}
        self._unusable: set[str] = set()

    def path(self, key: str) -> Path:
        """File of the run with this key."""
        return self.dir / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether the run with this key is stored and usable (read by ``check``, or saved)."""
        return key in self._frames

    def check(self, keys: Iterable[str]) -> list[str]:
        """Read the stored runs among ``keys`` not read yet; an unusable one is left to be recomputed.

        Returns one problem per unusable file, ``<file>: <what is wrong>``, the
        first time it is found; a missing file is no problem.
        """
        problems = []
        for key in dict.fromkeys(keys):
            if key in self._frames or key in self._unusable or not self.path(key).is_file():
                continue
            try:
                self._frames[key] = self._read(key)
            except ValueError as exc:
                self._unusable.add(key)
                problems.append(f"{shown(self.path(key))}: {exc}")
        return problems

    def _read(self, key: str) -> pd.DataFrame:
        """A stored run's values; ValueError if the file cannot be read or is not a run of this key."""
        try:
            if self.path(key).stat().st_size > MAX_RUN_FILE:
                raise ValueError(f"larger than {MAX_RUN_FILE:,} bytes, so not a stored run")
            data = self.path(key).read_bytes()
        except OSError as exc:
            raise ValueError(f"unreadable ({exc.strerror or exc})") from None
        try:
            record = json.loads(data)
        except ValueError:  # also bytes that are not text
            raise ValueError("not valid JSON") from None
        return _record_frame(record, key)

    def save(self, key: str, rep: Replication) -> None:
        """Store a run's end-of-run values (``sim.atomic``: whole or not at all, permissions by the umask)."""
        s = rep.summary()
        values = [None if pd.isna(v) else float(v) for v in s["value"]]
        record = {"key": key, "seed": rep.seed, "version": __version__,
                  **{k: s[k].astype(str).tolist() for k in KEYS}, "value": values}
        text = json.dumps(record, separators=(",", ":"))
        write_text(self.path(key), text)
        self._frames[key] = _record_frame(json.loads(text), key)  # exactly what reading the file gives
        self._unusable.discard(key)

    def load(self, key: str) -> pd.DataFrame:
        """End-of-run values of a stored run: metric, group_type, group, value."""
        if key not in self._frames:
            try:
                self._frames[key] = self._read(key)
            except ValueError as exc:
                raise UserError(f"{shown(self.path(key))}: {exc}; delete it to recompute the run") from None
        return self._frames[key].copy()

    def link_into(self, directory: Path, keys: Iterable[str]) -> None:
        """Put the runs ``keys`` into ``directory/runs``: hard links (no copy) where the file system allows."""
        target = Path(directory) / "runs"
        target.mkdir(exist_ok=True)
        for key in dict.fromkeys(keys):
            try:
                os.link(self.path(key), target / self.path(key).name)
            except OSError:  # no hard links here (another file system, FAT, some network shares)
                shutil.copy2(self.path(key), target / self.path(key).name)


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

    @functools.cached_property
    def runs(self) -> list[tuple[int, int, Config, str]]:
        """(point, rep, config, run key) of every replication of every point (computed once)."""
        return [(i, r, c, key) for i, c in enumerate(self.configs)
                for r, key in enumerate(run_keys(c, (replication_seed(c, r) for r in range(self.reps))))]


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
    check_size(varies, samples, reps)
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
        c.name = derived_name(base.name, f" point {i}")  # names runs for the store; not part of the run key
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
    store: RunStore,
    jobs: int = 1,
    on_done: Callable[[Replication], None] | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    on_week: Callable[[int], None] | None = None,
    stage: Callable[[str], None] = lambda _name: None,
) -> SweepResult:
    """Run the replications not yet in ``store``, store each as it finishes, and tabulate.

    Stored runs are read first (``RunStore.check``; call it before to learn
    which stored runs are unusable and get recomputed). ``on_done`` is called
    after each new run is stored and ``on_week`` after each simulated week of
    runs in this process (for progress), and ``stage(name)`` as the tables are
    made; ``jobs``, ``executor`` and ``scheduler`` say where runs go
    (``sim.experiments.replication.run_many``).
    """
    runs = plan.runs
    store.check(key for *_, key in runs)
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

    run_many(list(todo.values()), jobs=jobs, on_done=done, executor=executor, scheduler=scheduler, on_week=on_week)
    unique = len({key for *_, key in runs})
    stage("means and intervals per point")
    return tabulate(plan, store, computed=len(todo), reused=unique - len(todo))


def tabulate(plan: SweepPlan, store: RunStore, computed: int = 0, reused: int = 0) -> SweepResult:
    """Results per run (wide, overall metrics), by group per run (long) and a summary per point with CI."""
    params = plan.params()
    frames = []
    for point, rep, c, key in plan.runs:
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


def file_digests(directory: Path, names: Iterable[str]) -> dict[str, str]:
    """SHA-256 of each file ``names`` (paths relative to ``directory``), for manifest.json."""
    return {name: hashlib.sha256((Path(directory) / name).read_bytes()).hexdigest() for name in names}


def check_digests(directory: Path, digests: Any) -> None:
    """Refuse a directory whose files are not those its manifest.json lists (``digests``: name -> SHA-256).

    A file missing or changed since the manifest was written means the
    directory mixes outputs of more than one command (or was edited).
    """
    directory = Path(directory)
    if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
        raise UserError(f"{shown(directory / 'manifest.json')}: 'sha256' must map file names to SHA-256 digests; "
                        "rerun the command that made the directory")
    for name, digest in digests.items():
        try:
            inside = not Path(name).is_absolute() and ".." not in Path(name).parts
            same = inside and hashlib.sha256((directory / name).read_bytes()).hexdigest() == digest
        except OSError:
            same = False
        if not same:
            raise UserError(f"{shown(directory)}: '{shown(name)}' is missing or differs from the file manifest.json "
                            "lists, so the directory mixes outputs of different commands; rerun the command "
                            "that made it")
