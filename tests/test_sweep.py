"""digex sweep: parsing --vary, grid and Latin hypercube points, run keys, resuming, outputs and errors."""

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.cli.sweep as sweep_cli
from sim import Config
from sim.cli.main import main
from sim.cli.sweep import resolver
from sim.errors import ConfigError, UserError
from sim.experiments.sweep import (
    RunStore,
    correlated_keys,
    grid_points,
    latin_hypercube_points,
    parse_vary,
    plan_sweep,
    run_key,
    run_seconds,
    run_sweep,
)
from sim.experiments.varied import Varied
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
TINY = ["run.analogue_reference=false"]


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "base.yaml"
    path.write_text("name: base\nrun:\n  start: 2014-06-02\n  weeks: 30\n  seed: 4\npopulation:\n  size: 300\n")
    return str(path)


# ------------------------------------------------------------------ --vary and points


def test_parse_vary_lists_and_ranges():
    v = parse_vary("policy.optout.rule=in_person, remote,automatic")
    assert (v.key, v.values, v.is_range) == ("policy.optout.rule", ("in_person", "remote", "automatic"), False)
    r = parse_vary("policy.centre.helpers_per_10k=0.5:4:8")
    assert (r.low, r.high, r.n, r.is_range) == (0.5, 4.0, 8, True)
    assert parse_vary("population.size=300:600").n is None


@pytest.mark.parametrize("text", ["policy.x", "=1,2", "a=", "a=1,,2", "a=x:y:3", "a=1:2:0", "a=1:2:2.5",
                                  "a=3:1:2", "a=1:2:3:4"])
def test_parse_vary_rejects_malformed_options(text):
    with pytest.raises(UserError, match="--vary"):
        parse_vary(text)


def test_grid_is_the_full_factorial_and_rounds_integer_keys():
    base = Config()
    points = grid_points([parse_vary("population.size=300:600:3"), parse_vary("policy.optout.rule=a,b"),
                          parse_vary("policy.centre.hours_per_week=10:20:2")], base)
    assert len(points) == 3 * 2 * 2
    assert {p["population.size"] for p in points} == {"300", "450", "600"}
    assert {p["policy.centre.hours_per_week"] for p in points} == {"10.0", "20.0"}
    with pytest.raises(UserError, match="lo:hi:n"):
        grid_points([parse_vary("population.size=300:600")], base)
    with pytest.raises(UserError, match="unknown key 'policy.nope'"):
        grid_points([parse_vary("policy.nope=1,2")], base)


def test_varied_setting_reads_rounds_grids_and_picks():
    base = Config()
    size = Varied("population.size", low=300, high=600, n=4)
    assert size.read(base) == base.population.size
    assert size.grid() == [300.0, 400.0, 500.0, 600.0]
    assert size.number(449.6, base) == 450 and isinstance(size.number(449.6, base), int)
    hours = Varied("policy.centre.hours_per_week", low=10, high=20)
    assert hours.number(12, base) == 12.0 and isinstance(hours.number(12, base), float)
    assert Varied("x", low=1, high=100, log=True, n=3).grid() == pytest.approx([1, 10, 100])
    rule = Varied("policy.optout.rule", values=("a", "b", "c"))
    assert not rule.is_range and [rule.pick(u) for u in (0.0, 0.34, 0.67, 0.999)] == ["a", "b", "c", "c"]


def test_latin_hypercube_is_seeded_and_stratified():
    base = Config()
    varies = [parse_vary("policy.centre.hours_per_week=0:10"), parse_vary("policy.optout.rule=a,b")]
    a = latin_hypercube_points(varies, base, 10, seed=3)
    assert a == latin_hypercube_points(varies, base, 10, seed=3)
    assert a != latin_hypercube_points(varies, base, 10, seed=4)
    hours = sorted(float(p["policy.centre.hours_per_week"]) for p in a)
    assert [int(h) for h in hours] == list(range(10))  # one point in each tenth of the range
    assert sorted(p["policy.optout.rule"] for p in a) == ["a"] * 5 + ["b"] * 5


def test_run_key_depends_on_config_and_seed_but_not_on_name():
    a = Config()
    b = Config(name="other", description="same settings")
    c = Config()
    c.policy.centre.helpers_per_10k = 3.0
    assert run_key(a, 1) == run_key(b, 1)
    assert run_key(a, 1) != run_key(a, 2)
    assert run_key(a, 1) != run_key(c, 1)


def test_plan_validates_every_point_and_names_the_vary_option(base):
    resolve = resolver(base, TINY, ["policy.centre.helpers_per_10k"])
    with pytest.raises(ConfigError, match=r"--vary policy\.centre\.helpers_per_10k.*greater than or equal"):
        plan_sweep(resolve, [parse_vary("policy.centre.helpers_per_10k=-1,2")], reps=1)
    with pytest.raises(UserError, match="twice"):
        plan_sweep(resolve, [parse_vary("run.weeks=10,20"), parse_vary("run.weeks=5,6")], reps=1)
    with pytest.raises(UserError, match="same seeds"):
        plan_sweep(resolve, [parse_vary("run.seed=1,2")], reps=1)
    plan = plan_sweep(resolve, [parse_vary("policy.centre.helpers_per_10k=1,2")], reps=2, seed=11)
    assert [c.run.seed for c in plan.configs] == [11, 11]
    assert [c.policy.centre.helpers_per_10k for c in plan.configs] == [1.0, 2.0]
    assert len(plan.runs) == 4


# ------------------------------------------------------------------ resuming


class KilledError(Exception):
    pass


def test_killed_sweep_resumes_without_redoing_finished_runs(base, tmp_path):
    resolve = resolver(base, TINY, ["policy.optout.rule"])
    plan = plan_sweep(resolve, [parse_vary("policy.optout.rule=in_person,remote,automatic")], reps=2)
    out = tmp_path / "sweep"
    finished = []

    def kill_after_two(rep):
        finished.append((rep.scenario, rep.rep))
        if len(finished) == 2:
            raise KilledError

    with pytest.raises(KilledError):
        run_sweep(plan, RunStore(out), on_done=kill_after_two)
    stored = sorted(p.name for p in (out / "runs").iterdir())
    assert len(stored) == 2 and all(name.endswith(".json") for name in stored)  # no temporary files left

    computed = []
    result = run_sweep(plan, RunStore(out), on_done=lambda rep: computed.append((rep.scenario, rep.rep)))
    assert (result.computed, result.reused) == (4, 2)
    assert len(computed) == 4 and not set(computed) & set(finished)
    assert len(list((out / "runs").iterdir())) == 6

    again = run_sweep(plan, RunStore(out), on_done=lambda rep: pytest.fail("nothing should run"))
    assert (again.computed, again.reused) == (0, 6)

    fresh = run_sweep(plan, RunStore(tmp_path / "fresh"))
    cols = [c for c in fresh.results.columns if c != "run_key"]
    pd.testing.assert_frame_equal(result.results[cols], fresh.results[cols])
    pd.testing.assert_frame_equal(result.summary, fresh.summary)


def test_tables_have_parameters_as_columns_and_a_summary_per_point(base, tmp_path):
    plan = plan_sweep(resolver(base, TINY, []), [parse_vary("policy.optout.rule=in_person,automatic")], reps=2)
    result = run_sweep(plan, RunStore(tmp_path / "s"))
    r = result.results
    assert list(r.columns[:6]) == ["point", "policy.optout.rule", "rep", "seed", "run_key", "exclusion_rate"]
    assert len(r) == 4 and sorted(r["seed"].unique()) == [4, 5]
    assert (r.groupby("point")["seed"].apply(sorted).tolist()) == [[4, 5], [4, 5]]
    s = result.summary
    ex = s[(s["metric"] == "exclusion_rate") & (s["group_type"] == "all")].set_index("point")
    for point, grp in r.groupby("point"):
        assert ex.loc[point, "mean"] == pytest.approx(grp["exclusion_rate"].mean())
        assert ex.loc[point, "n_reps"] == 2
    assert set(result.by_group["group_type"]) >= {"age_band", "skill_quintile"}
    stored = RunStore(tmp_path / "s").load(r["run_key"].iloc[0])
    overall = stored[stored["group_type"] == "all"].set_index("metric")["value"]
    assert overall["exclusion_rate"] == pytest.approx(r["exclusion_rate"].iloc[0])


def test_stored_runs_follow_the_umask(base, tmp_path):
    plan = plan_sweep(resolver(base, TINY, []), [parse_vary("policy.optout.rule=in_person")], reps=1)
    old = os.umask(0o027)
    try:
        run_sweep(plan, RunStore(tmp_path / "s"))
    finally:
        os.umask(old)
    stored = list((tmp_path / "s" / "runs").iterdir())
    assert len(stored) == 1 and stored[0].stat().st_mode & 0o777 == 0o640  # not private like a bare mkstemp file


# ------------------------------------------------------------------ the command


def test_sweep_command_resumes_and_writes_tables(base, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["sweep", base, "--vary", "policy.centre.helpers_per_10k=1:3:2", "--vary", "population.size=300,350",
            "--reps", "1", "--set", TINY[0], "--out", str(out)]
    assert main(argv) == 0
    assert "4 run(s) computed, 0 reused" in capsys.readouterr().out
    assert main(argv) == 0
    assert "0 run(s) computed, 4 reused" in capsys.readouterr().out
    for name in ("points.csv", "results.csv", "results_by_group.csv", "summary.csv", "manifest.json",
                 "plots/sweep_effects.png", "plots/cost_vs_exclusion.png"):
        assert (out / name).is_file(), name
    points = pd.read_csv(out / "points.csv")
    assert sorted(points["population.size"]) == [300, 300, 350, 350]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["keys"] == ["policy.centre.helpers_per_10k", "population.size"]
    assert manifest["design"] == "full factorial grid" and manifest["runs_reused"] == 4

    lhs = ["sweep", base, "--vary", "policy.centre.helpers_per_10k=1:3", "--samples", "3", "--reps", "1",
           "--set", TINY[0], "--out", str(tmp_path / "lhs"), "--quiet"]
    assert main(lhs) == 0
    values = pd.read_csv(tmp_path / "lhs" / "points.csv")["policy.centre.helpers_per_10k"]
    assert len(values) == 3 and np.all((values >= 1) & (values <= 3))


@pytest.mark.parametrize(("vary", "message"), [
    ("policy.centre.helpers_per_10k=-1,2", "--vary policy.centre.helpers_per_10k"),
    ("policy.nope=1:2:2", "unknown key 'policy.nope'"),
    ("population.size", "expected KEY=v1,v2"),
])
def test_sweep_bad_vary_exits_2_and_writes_nothing(base, tmp_path, capsys, vary, message):
    assert main(["sweep", base, "--vary", vary, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_sweep_needs_a_vary_option(base, tmp_path, capsys):
    assert main(["sweep", base, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "at least one --vary" in capsys.readouterr().err


# ------------------------------------------------------------------ decorrelated samples, did you mean


def test_latin_hypercube_is_space_filling_and_decorrelated():
    base = Config()
    varies = [parse_vary("policy.centre.helpers_per_10k=0:4"), parse_vary("policy.centre.self_help_share=0:1")]
    for seed in range(20):  # a plain Latin hypercube of 6 points exceeds |r| = 0.3 for more than half the seeds
        points = latin_hypercube_points(varies, base, 6, seed)
        x = np.array([[float(p[v.key]) for v in varies] for p in points])
        assert abs(np.corrcoef(x.T)[0, 1]) <= 0.3, seed
        assert sorted(np.floor(x[:, 0] / 4 * 6).astype(int)) == list(range(6))  # still one point per stratum


def test_correlated_keys_are_found_in_a_sample_but_not_in_a_grid(base):
    resolve = resolver(base, TINY, [])
    varies = [parse_vary("policy.centre.helpers_per_10k=1:4"), parse_vary("policy.optout.rule=in_person,remote")]
    two = plan_sweep(resolve, varies, reps=1, samples=2)  # two points: every pair of keys has r = +1 or -1
    ((a, b, r),) = correlated_keys(two, 0.3)
    assert (a, b) == ("policy.centre.helpers_per_10k", "policy.optout.rule") and abs(r) == pytest.approx(1)
    grid = plan_sweep(resolve, [parse_vary("policy.centre.helpers_per_10k=1,2,4"),
                                parse_vary("policy.optout.rule=in_person,remote")], reps=1)
    assert correlated_keys(grid, 0.3) == []
    single = plan_sweep(resolve, [parse_vary("policy.centre.helpers_per_10k=2"),
                                  parse_vary("policy.optout.rule=in_person,remote")], reps=1)
    assert correlated_keys(single, 0.0) == []  # a key with one value correlates with nothing


def test_sweep_warns_when_varied_keys_correlate(base, tmp_path, capsys):
    out = tmp_path / "lhs"
    argv = ["sweep", base, "--vary", "policy.centre.helpers_per_10k=1:4", "--vary",
            "policy.centre.self_help_share=0:1", "--samples", "2", "--reps", "1", "--set", TINY[0], "--out", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "digex: warning: policy.centre.helpers_per_10k and policy.centre.self_help_share are correlated" in err
    assert "above 0.3" in err and "more --samples" in err
    (pair,) = json.loads((out / "manifest.json").read_text())["correlated_keys"]
    assert pair["keys"] == ["policy.centre.helpers_per_10k", "policy.centre.self_help_share"] and abs(pair["r"]) == 1


def test_a_grid_has_no_correlation_warning(base, tmp_path, capsys):
    assert main(["sweep", base, "--vary", "policy.centre.helpers_per_10k=1,3", "--vary",
                 "policy.optout.rule=in_person,remote", "--reps", "1", "--set", TINY[0], "--out", str(tmp_path / "g"),
                 "--quiet"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "g" / "manifest.json").read_text())["correlated_keys"] == []


@pytest.mark.parametrize(("key", "meant"), [
    ("policy.centre.helpers_per_10K", "policy.centre.helpers_per_10k"),
    ("policy.centr.self_help_share", "policy.centre.self_help_share"),
    ("tasks.procedures.tax.rate_per_yer", "tasks.procedures.tax.rate_per_year"),
])
def test_a_mistyped_vary_key_gets_a_did_you_mean(base, tmp_path, capsys, key, meant):
    assert main(["sweep", base, "--vary", f"{key}=1,2", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"unknown key '{key}'; did you mean '{meant}'?" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ size, time and confirmation


class Keyboard(io.StringIO):
    """Standard input from a terminal where the user types ``text``."""

    def isatty(self) -> bool:
        return True


def test_a_full_size_sweep_is_refused_when_not_on_a_terminal(tmp_path, capsys):
    """The issue's case: a forgotten --set population.size makes 12 full-size runs; they no longer start silently."""
    out = tmp_path / "full"
    assert main(["sweep", BASELINE, "--vary", "policy.centre.helpers_per_10k=1,2,3,4", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "digex sweep: 12 runs of 730 weeks x 20,000 citizens = 175,200,000 citizen-weeks; about" in err
    assert len(err.splitlines()) == 2 and "Traceback" not in err  # the estimate, then one error line
    assert err.splitlines()[1].startswith("digex: error: this sweep would take about")
    assert "add --yes to start it" in err and "--set population.size=2000" in err
    assert not out.exists()


def test_the_estimate_is_printed_and_counts_only_runs_still_to_compute(base, tmp_path, capsys):
    argv = ["sweep", base, "--vary", "policy.centre.helpers_per_10k=1,3", "--reps", "2", "--set", TINY[0],
            "--out", str(tmp_path / "s")]
    assert main(argv) == 0
    assert ("digex sweep: 4 runs of 30 weeks x 300 citizens = 36,000 citizen-weeks; under a second with 1 job"
            in capsys.readouterr().err)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "digex sweep: no runs to compute (4 stored runs reused)\n" in err and "week/s" not in err


@pytest.mark.parametrize(("options", "stdin", "status", "written"), [
    ([], None, 2, False),             # not on a terminal: refused without --yes
    (["--yes"], None, 0, True),
    ([], "n\n", 1, False),            # on a terminal: the answer decides
    ([], "\n", 1, False),
    ([], "y\n", 0, True),
    ([], "", 1, False),               # end of input
])
def test_a_long_sweep_asks_or_needs_yes(base, tmp_path, capsys, monkeypatch, options, stdin, status, written):
    monkeypatch.setattr("sim.cli.sweep.CONFIRM_SECONDS", 0)  # every sweep is long
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", Keyboard(stdin))
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    out = tmp_path / "s"
    argv = ["sweep", base, "--vary", "policy.centre.helpers_per_10k=1,3", "--reps", "1", "--set", TINY[0],
            "--out", str(out), *options]
    assert main(argv) == status
    err = capsys.readouterr().err
    assert out.exists() == written and (out / "summary.csv").exists() == written
    if stdin is not None:
        assert "Start these 2 runs (under a second)? [y/N]" in err
    if not written:
        assert "not started" in err or "add --yes" in err


def test_the_time_estimate_matches_the_documented_speed():
    baseline = load_scenario(BASELINE)
    seconds = run_seconds(baseline)
    assert 4 < seconds < 9  # README: about 6 s per replication at the default size
    assert 8 <= sweep_cli.CONFIRM_SECONDS / seconds <= 12  # about ten full-size runs start without asking
    small = baseline.model_copy(deep=True)
    small.population.size = 2000
    assert run_seconds(small) < seconds / 1.5
