"""``make bench``: the real model against the plain-Mesa reference, and how the real model scales.

Every measurement runs in a fresh child process, so that import costs and
memory of one run do not leak into the next: a Python child reports its own
wall times (population build, weekly steps, output) as JSON on stdout, and the
parent takes the child's peak resident memory from ``os.wait4``. Each
configuration is repeated (``--repeat``) and the median is printed, with the
1-minute load average at the start of each run (the machine may be shared).

Sections (all on by default; ``--quick`` makes every one small):

1. comparison: the plain-Mesa reference (``benchmarks/plain_mesa.py``) and
   the real model at the same size and weeks, then the real model at
   ``--compare-size`` citizens. By default the reference runs at the target's
   100,000 citizens (about 5 minutes, once: ``--plain-repeat``). A smaller
   ``--plain-size`` (e.g. 5000) is a quick estimate: the reference's
   citizen-weeks per second are then assumed constant per citizen-week and
   extrapolated, and the ratio says so. Its measured rate falls slowly with
   size (more objects, fewer cache hits), so the extrapolation flatters the
   reference, not digex.
2. scaling: the real model alone (no analogue twin) for every ``--sizes`` x
   ``--weeks``.
3. target: ``digex run <scenario> --reps 1 --jobs 1 --set population.size=1000000
   --set run.weeks=520`` (with the scenario's analogue twin and all outputs),
   wall time and peak memory against 60 s and 2 GB.
4. national (``--national``): the same command at 5,000,000 citizens, peak
   memory against 8 GB.

Use ``--json FILE`` to keep the raw numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_SCENARIO = ROOT / "scenarios" / "denmark_baseline.yaml"
GB = 1024**3


# ---------------------------------------------------------------- child side


def load_config(scenario: str | None, size: int, weeks: int, twin: bool):
    """The scenario (or the Config defaults) at the given size and length."""
    overrides = [f"population.size={size}", f"run.weeks={weeks}", f"run.analogue_reference={str(twin).lower()}"]
    if scenario:
        from sim.scenario.loader import load_scenario

        return load_scenario(scenario, overrides)
    from sim.model.params import Config

    c = Config()
    c.population.size, c.run.weeks, c.run.analogue_reference = size, weeks, twin
    return c


def child(spec: dict) -> dict:
    """Run one measurement in this process; return its wall times."""
    config = load_config(spec["scenario"], spec["size"], spec["weeks"], spec.get("twin", False))
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    if spec["kind"] == "plain":
        from benchmarks.plain_mesa import PlainModel

        model = PlainModel(config, seed=spec["seed"])
        t1 = time.perf_counter()
        model.run()
        t2 = time.perf_counter()
        model.timeseries()
    elif spec.get("twin"):
        from sim.experiments.replication import run_replication

        t1 = t0
        ts = run_replication(config, 0).timeseries
        t2 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            ts.to_parquet(Path(tmp) / "timeseries.parquet")
    else:
        from sim.model.model import DigexModel

        model = DigexModel(config, seed=spec["seed"])
        t1 = time.perf_counter()
        model.run()
        t2 = time.perf_counter()
        ts = model.timeseries()
        with tempfile.TemporaryDirectory() as tmp:
            ts.to_parquet(Path(tmp) / "timeseries.parquet")
    t3 = time.perf_counter()
    out.update(build_s=t1 - t0, run_s=t2 - t1, output_s=t3 - t2, total_s=t3 - t0)
    return out


# ---------------------------------------------------------------- parent side


def run_child(cmd: list[str], timeout: float | None = None) -> tuple[float, float, str, int]:
    """Run a command; return (wall seconds, peak RSS bytes, stdout, exit status)."""
    with tempfile.TemporaryFile() as outf, tempfile.TemporaryFile() as errf:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=outf, stderr=errf)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        outf.seek(0)
        errf.seek(0)
        text = outf.read().decode(errors="replace")
        if code != 0:
            text += "\n" + errf.read().decode(errors="replace")
    return wall, usage.ru_maxrss * 1024.0, text, code


def measure(spec: dict, repeat: int) -> dict:
    """Median of ``repeat`` child runs of one configuration."""
    runs = []
    for _ in range(repeat):
        load = os.getloadavg()[0]
        wall, rss, text, code = run_child([sys.executable, str(Path(__file__).resolve()), "--child",
                                           json.dumps(spec)])
        if code != 0:
            raise SystemExit(f"benchmark child failed ({spec}):\n{text}")
        r = json.loads(text.strip().splitlines()[-1])
        r.update(wall_s=wall, peak_bytes=rss, load=load)
        runs.append(r)
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    cw = spec["size"] * spec["weeks"]
    rates = [cw / r["run_s"] for r in runs]
    med.update(spec, citizen_weeks=cw, rate=statistics.median(rates), rate_min=min(rates), rate_max=max(rates),
               loads=[round(r["load"], 2) for r in runs], repeat=repeat)
    return med


def measure_cli(scenario: str, size: int, weeks: int) -> dict:
    """Wall time and peak memory of the whole ``digex run`` command (analogue twin and outputs included)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sim", "run", scenario, "--reps", "1", "--jobs", "1",
               "--set", f"population.size={size}", "--set", f"run.weeks={weeks}", "--out", str(Path(tmp) / "out"),
               "--quiet"]
        load = os.getloadavg()[0]
        wall, rss, text, code = run_child(cmd)
    shown = [str(Path(a).relative_to(ROOT)) if a == scenario and Path(a).is_relative_to(ROOT) else a
             for a in cmd[3:-3]]
    return {"command": " ".join(["digex", *shown, "--quiet"]), "size": size, "weeks": weeks, "wall_s": wall,
            "peak_bytes": rss, "load": load, "ok": code == 0, "error": text.strip()[-500:] if code else ""}


def fmt_rate(r: float) -> str:
    return f"{r:,.0f}"


def fmt_mb(b: float) -> str:
    return f"{b / 1024**2:,.0f} MB"


def row(label: str, m: dict) -> str:
    return (f"| {label} | {m['size']:,} | {m['weeks']} | {m['build_s']:.2f} | {m['run_s']:.2f} | "
            f"{m['output_s']:.2f} | {m['wall_s']:.2f} | {fmt_rate(m['rate'])} ({fmt_rate(m['rate_min'])}-"
            f"{fmt_rate(m['rate_max'])}) | {fmt_mb(m['peak_bytes'])} | {', '.join(map(str, m['loads']))} |")


HEADER = ("| model | citizens | weeks | build s | run s | output s | wall s | citizen-weeks/s (min-max) | "
          "peak RSS | load (1 min) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")


def machine() -> dict:
    """nproc, CPU model, memory and library versions."""
    import mesa
    import numpy

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(int(x.split()[1]) * 1024 for x in Path("/proc/meminfo").read_text().splitlines()
                   if x.startswith("MemTotal"))
    except OSError:
        mem = 0
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem / GB, 1),
            "python": platform.python_version(), "numpy": numpy.__version__, "mesa": mesa.__version__,
            "platform": platform.platform()}


def int_list(text: str) -> list[int]:
    return [int(float(x)) for x in text.replace("_", "").split(",") if x]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat, no target run (a smoke test)")
    ap.add_argument("--sizes", type=int_list, help="scaling sizes, comma separated (default 10000,100000,1000000)")
    ap.add_argument("--weeks", type=int_list, help="scaling lengths in weeks (default 52,520)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration; the median is shown (default 3)")
    ap.add_argument("--repeat-large", type=int, default=1,
                    help="runs per configuration above 10^8 citizen-weeks (default 1)")
    ap.add_argument("--plain-size", type=int, default=100_000,
                    help="citizens of the plain-Mesa run (default 100000, the target size; 5000: a quick estimate)")
    ap.add_argument("--plain-repeat", type=int, default=1,
                    help="runs of the plain-Mesa reference (default 1: about 5 minutes each at 100,000 citizens)")
    ap.add_argument("--compare-weeks", type=int, default=260,
                    help="weeks of the comparison runs (default 260: 2012-2016, before and after the 2014 mandate)")
    ap.add_argument("--compare-size", type=int, default=100_000,
                    help="citizens at which the real model is compared with the reference (default 100000)")
    ap.add_argument("--scenario", default=str(DEFAULT_SCENARIO) if DEFAULT_SCENARIO.exists() else "",
                    help="scenario file for every run (default scenarios/denmark_baseline.yaml; '' = Config defaults)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-compare", action="store_true", help="skip the plain-Mesa comparison")
    ap.add_argument("--no-scaling", action="store_true", help="skip the scaling table")
    ap.add_argument("--no-target", action="store_true", help="skip the 1,000,000 x 520 digex run")
    ap.add_argument("--national", action="store_true", help="also digex run at 5,000,000 citizens x 520 weeks")
    ap.add_argument("--json", metavar="FILE", help="write every measurement as JSON")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    if args.quick:
        args.sizes = args.sizes or [10_000, 100_000]
        args.weeks = args.weeks or [52, 104]
        args.repeat, args.plain_size, args.compare_weeks = 1, 2_000, 52
        args.no_target = True
    sizes = args.sizes or [10_000, 100_000, 1_000_000]
    weeks = args.weeks or [52, 520]
    base = {"scenario": args.scenario, "seed": args.seed}
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                     "argv": sys.argv[1:], "scenario": args.scenario or "Config defaults"}
    mach = results["machine"]
    print(f"Machine: {mach['nproc']} CPUs ({mach['cpu']}), {mach['memory_gb']} GB; Python {mach['python']}, "
          f"numpy {mach['numpy']}, mesa {mach['mesa']}")
    print(f"Scenario: {results['scenario']}; uptime load now: {os.getloadavg()}")

    def reps(n: int, w: int) -> int:
        return args.repeat_large if n * w > 1e8 else args.repeat

    if not args.no_compare:
        w = args.compare_weeks
        plain = measure({**base, "kind": "plain", "size": args.plain_size, "weeks": w}, args.plain_repeat)
        same = measure({**base, "kind": "real", "size": args.plain_size, "weeks": w}, args.repeat)
        big = measure({**base, "kind": "real", "size": args.compare_size, "weeks": w},
                      reps(args.compare_size, w))
        results["compare"] = {"plain": plain, "real_same_size": same, "real": big}
        print("\n## Real model against the plain-Mesa reference\n")
        print(HEADER)
        print(row("plain Mesa (one agent object per citizen)", plain))
        print(row("digex (array-backed)", same))
        print(row("digex (array-backed)", big))
        ratio_same = same["rate"] / plain["rate"]
        ratio = big["rate"] / plain["rate"]
        results["compare"].update(ratio_same_size=ratio_same, ratio=ratio)
        print(f"\nRatio at {args.plain_size:,} citizens (both measured): {ratio_same:,.0f}x")
        how = ("both measured" if args.plain_size == args.compare_size else
               f"the reference's rate is measured at {args.plain_size:,} citizens x {w} weeks and extrapolated "
               "per citizen-week")
        print(f"Ratio at {args.compare_size:,} citizens: {ratio:,.0f}x  (target >= 100x; {how})")
        print(f"Population build: plain {plain['build_s']:.2f} s, digex {same['build_s']:.2f} s at "
              f"{args.plain_size:,} citizens; digex {big['build_s']:.2f} s at {args.compare_size:,}")

    if not args.no_scaling:
        print("\n## Scaling of the real model (no analogue twin)\n")
        print(HEADER)
        results["scaling"] = []
        for n in sizes:
            for w in weeks:
                m = measure({**base, "kind": "real", "size": n, "weeks": w}, reps(n, w))
                results["scaling"].append(m)
                print(row("digex", m), flush=True)

    targets = [] if args.no_target else [(1_000_000, 520, 60.0, 2 * GB)]
    if args.national:
        targets.append((5_000_000, 520, None, 8 * GB))
    if targets:
        print("\n## Targets: the whole digex run command (analogue twin and outputs included)\n")
        results["targets"] = []
        scen = args.scenario or str(DEFAULT_SCENARIO)
        for n, w, max_s, max_b in targets:
            m = measure_cli(scen, n, w)
            results["targets"].append(m)
            if not m["ok"]:
                print(f"- {m['command']}: FAILED\n{m['error']}")
                continue
            ok_t = "n/a" if max_s is None else ("PASS" if m["wall_s"] <= max_s else "FAIL")
            ok_m = "PASS" if m["peak_bytes"] <= max_b else "FAIL"
            print(f"- `{m['command']}`: wall {m['wall_s']:.1f} s (target {max_s or '-'} s: {ok_t}), "
                  f"peak {fmt_mb(m['peak_bytes'])} (target {max_b / GB:.0f} GB: {ok_m}), load {m['load']:.2f}",
                  flush=True)

    if args.json:
        path = Path(args.json)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(results, indent=1, default=str))
        tmp.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
