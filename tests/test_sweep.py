"""digex sweep: parsing --vary, grid and Latin hypercube points, run keys, resuming, outputs and errors."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from sim import Config
from sim.cli.main import main
from sim.cli.sweep import resolver
from sim.errors import ConfigError, UserError
from sim.experiments.sweep import (
    RunStore,
    grid_points,
    latin_hypercube_points,
    parse_vary,
    plan_sweep,
    run_key,
    run_sweep,
)
from sim.experiments.varied import Varied

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
