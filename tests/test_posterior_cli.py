"""``digex run`` and ``digex compare --posterior K``: replication r with posterior draw r and seed r, and every
interval saying which uncertainty it covers (issue 15: propagate the uncertainty)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sim.cli.main import main
from sim.experiments.stats import NOISE_AND_PARAMETERS, NOISE_ONLY, interval_statement
from sim.model import keypath
from sim.outputs import figures
from sim.scenario.loader import load_scenario
from sim.scenario.posterior import load_posterior, plan_posterior

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("population.skill_intercept", "behaviour.learn_by_doing", "policy.optout.awareness")
TINY = ["--set", "population.size=500", "--set", "run.weeks=60", "--set", "run.analogue_reference=false", "--quiet"]
K = 3


def calibrated(key: str) -> float:
    return keypath.get(load_scenario(ROOT / "scenarios" / "calibrated.yaml"), key)


def write_posterior(path: Path, rows: list[list], header: str = "draw," + ",".join(KEYS)) -> Path:
    lines = ["# made by a test", header, *(",".join(str(v) for v in row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The calibrated baseline and a variant in a folder with a posterior of four draws beside calibrated.yaml.

    Draw 0 is the calibrated values themselves; draw 1 a far lower skill intercept.
    """
    d = tmp_path_factory.mktemp("posterior")
    for name in ("calibrated.yaml", "denmark_baseline.yaml"):
        shutil.copy(ROOT / "scenarios" / name, d / name)
    (d / "own.yaml").write_text("extends: denmark_baseline.yaml\nname: own\npopulation:\n  skill_intercept: 2.5\n")
    (d / "plain.yaml").write_text("name: plain\n")  # extends no calibrated.yaml
    c = [calibrated(k) for k in KEYS]
    write_posterior(d / "calibrated_posterior.csv", [[0, *c], [1, 0.0, c[1], c[2]], [2, c[0] + 0.5, c[1] * 0.5, 0.5],
                                                     [3, c[0] - 0.3, c[1] * 1.5, 0.2]])
    return d


@pytest.fixture(scope="module")
def posterior_run(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "posterior"
    assert main(["run", str(folder / "denmark_baseline.yaml"), "--posterior", str(K), *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def plain_run(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "plain"
    assert main(["run", str(folder / "denmark_baseline.yaml"), "--reps", str(K), *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def posterior_compare(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "compare"
    assert main(["compare", str(folder / "denmark_baseline.yaml"), str(folder / "own.yaml"), "--posterior", str(K),
                 *TINY, "--out", str(out)]) == 0
    return out


def manifest(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def values_of(run: Path, rep: int) -> pd.Series:
    """Every weekly value of replication ``rep``."""
    ts = pd.read_parquet(run / "timeseries.parquet")
    return ts[ts["rep"] == rep]["value"].reset_index(drop=True)


def end_value(run: Path, metric: str) -> pd.Series:
    """The last week's overall value of ``metric`` in each replication."""
    ts = pd.read_parquet(run / "timeseries.parquet")
    rows = ts[(ts["metric"] == metric) & (ts["group_type"] == "all")]
    return rows[rows["week"] == rows["week"].max()].set_index("rep")["value"]


# ------------------------------------------------------------------ replication r uses draw r and seed r


def test_replication_r_runs_with_draw_r_and_seed_r(folder, posterior_run, plain_run):
    # draw 0 is the calibrated values: the same run as without --posterior, value for value
    pd.testing.assert_series_equal(values_of(posterior_run, 0), values_of(plain_run, 0))
    metric = "digitally_challenged_share"
    drawn, plain = end_value(posterior_run, metric), end_value(plain_run, metric)
    assert drawn[1] > plain[1]  # draw 1 has a far lower skill intercept: more citizens digitally challenged
    assert manifest(posterior_run)["scenarios"][0]["seeds"] == manifest(plain_run)["scenarios"][0]["seeds"]
    plan = plan_posterior([load_scenario(folder / "denmark_baseline.yaml")], [str(folder / "denmark_baseline.yaml")],
                          [], K, None)
    draws = load_posterior(folder / "calibrated_posterior.csv").draws
    for r, config in enumerate(plan.configs["denmark_baseline"]):
        assert [keypath.get(config, k) for k in KEYS] == draws.loc[r, list(KEYS)].tolist()


def test_each_draw_has_its_own_analogue_twin(folder):
    from sim.experiments.replication import twin_key

    config = load_scenario(folder / "denmark_baseline.yaml")
    plan = plan_posterior([config], [str(folder / "denmark_baseline.yaml")], [], K, None)
    keys = [twin_key(c, 7) for c in plan.configs["denmark_baseline"]]
    assert keys[0] == twin_key(config, 7)  # draw 0 is the calibrated values: the twin of the plain scenario
    assert len(set(keys)) == K


def test_manifest_records_the_file_its_digest_k_and_the_draws(folder, posterior_run):
    import hashlib

    p = manifest(posterior_run)["posterior"]
    path = folder / "calibrated_posterior.csv"
    assert p["file"] == str(path.resolve()) and p["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert p["replications"] == K and p["draws_in_file"] == 4
    assert p["values"]["population.skill_intercept"] == load_posterior(path).draws["population.skill_intercept"][
        :K].tolist()
    assert "--posterior 3 --posterior-file" in manifest(posterior_run)["command"]


def test_same_command_gives_identical_output(folder, posterior_run, tmp_path):
    again = tmp_path / "again"
    assert main(["run", str(folder / "denmark_baseline.yaml"), "--posterior", str(K), *TINY, "--out", str(again)]) == 0
    for name in ("summary.csv", "summary_by_group.csv"):
        assert (again / name).read_bytes() == (posterior_run / name).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(again / "timeseries.parquet"),
                                  pd.read_parquet(posterior_run / "timeseries.parquet"))


def test_rerun_reproduces_a_posterior_run_and_refuses_edited_draws(posterior_run, tmp_path, capsys):
    assert main(["rerun", str(posterior_run), "--quiet"]) == 0
    edited = Path(shutil.copytree(posterior_run, tmp_path / "edited"))
    m = manifest(edited)
    m["posterior"]["values"]["population.skill_intercept"][1] = 1.0
    (edited / "manifest.json").write_text(json.dumps(m))
    assert main(["rerun", str(edited), "--quiet"]) == 2
    assert "posterior values do not match their recorded SHA-256" in capsys.readouterr().err


# ------------------------------------------------------------------ compare: the same draws in every scenario


def test_compare_pairs_the_same_draw_and_seed_and_keeps_a_scenarios_own_value(folder, posterior_compare):
    ends = pd.read_csv(posterior_compare / "end_values.csv")
    seeds = ends.groupby(["scenario", "rep"])["seed"].first().unstack("scenario")
    assert (seeds["denmark_baseline"] == seeds["own"]).all() and len(seeds) == K
    p = manifest(posterior_compare)["posterior"]
    assert p["scenarios"]["own"]["kept_by_scenario"] == ["population.skill_intercept"]
    assert p["scenarios"]["denmark_baseline"]["kept_by_scenario"] == []
    configs = [load_scenario(folder / s) for s in ("denmark_baseline.yaml", "own.yaml")]
    plan = plan_posterior(configs, [str(folder / "denmark_baseline.yaml"), str(folder / "own.yaml")], [], K, None)
    for base, own in zip(plan.configs["denmark_baseline"], plan.configs["own"], strict=True):
        assert own.population.skill_intercept == 2.5  # the scenario's own setting wins over every draw
        assert own.behaviour.learn_by_doing == base.behaviour.learn_by_doing  # the other draws are paired
        assert own.policy.optout.awareness == base.policy.optout.awareness
    table = pd.read_csv(posterior_compare / "comparison.csv")
    assert (table["interval_covers"] == NOISE_AND_PARAMETERS).all()


def test_a_set_override_is_kept_even_at_the_calibrated_value(folder):
    value = calibrated("behaviour.learn_by_doing")
    config = load_scenario(folder / "denmark_baseline.yaml", [f"behaviour.learn_by_doing={value}"])
    plan = plan_posterior([config], [str(folder / "denmark_baseline.yaml")], [f"behaviour.learn_by_doing={value}"],
                          K, None)
    assert plan.kept["denmark_baseline"] == ["behaviour.learn_by_doing"]
    assert {c.behaviour.learn_by_doing for c in plan.configs["denmark_baseline"]} == {value}


# ------------------------------------------------------------------ what every interval says it covers


def test_tables_figures_and_report_say_which_uncertainty_an_interval_covers(posterior_run, plain_run, capsys):
    for run, covers, posterior in ((posterior_run, NOISE_AND_PARAMETERS, True), (plain_run, NOISE_ONLY, False)):
        for name in ("summary.csv", "summary_by_group.csv"):
            assert (pd.read_csv(run / name)["interval_covers"] == covers).all()
        statement = interval_statement(K, posterior)
        drawn = figures.run_figures(pd.read_parquet(run / "timeseries.parquet"),
                                    pd.read_csv(run / "summary_by_group.csv"))
        for fig in drawn.values():
            assert any(statement in t.get_text().replace("\n", " ") for t in fig.texts)
        assert main(["report", str(run)]) == 0
        assert statement in (run / "report.html").read_text()
    assert "simulation noise only, not parameter uncertainty" in interval_statement(K, False)


def test_compare_markdown_states_the_coverage(posterior_compare, capsys):
    assert main(["report", str(posterior_compare), "--markdown"]) == 0
    assert interval_statement(K, True) in capsys.readouterr().out


# ------------------------------------------------------------------ every error: one line, exit 2, the file named


def run_with(folder: Path, tmp_path: Path, *options: str, scenario: str = "denmark_baseline.yaml") -> int:
    return main(["run", str(folder / scenario), *options, *TINY, "--out", str(tmp_path / "out")])


@pytest.mark.parametrize(("header", "rows", "expected"), [
    ("population.skill_intercept", [[1.0]], "no 'draw' column"),
    ("draw,population.no_such_key", [[0, 1.0]], "line 2, key 'population.no_such_key'"),
    ("draw,population.skill_intercept", [[0, "high"]], "line 3, key 'population.skill_intercept': 'high' is not"),
    ("draw,population.skill_intercept", [], "no draws"),
    ("draw,population.skill_intercept", [[0, 1.0], [2, 1.0]], "line 4, key 'draw'"),
    ("draw,policy.optout.awareness", [[0, 0.3], [1, 5.0]], "line 4, key 'policy.optout.awareness'"),
])
def test_a_bad_posterior_file_is_one_line_naming_file_key_and_line(folder, tmp_path, capsys, header, rows,
                                                                     expected):
    bad = write_posterior(tmp_path / "bad.csv", rows, header)
    assert run_with(folder, tmp_path, "--posterior", "2", "--posterior-file", str(bad)) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and expected in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_option_errors_exit_2_with_a_clear_message(folder, tmp_path, capsys):
    assert run_with(folder, tmp_path, "--posterior", "5") == 2
    assert "calibrated_posterior.csv holds only 4 draws" in capsys.readouterr().err
    assert run_with(folder, tmp_path, "--posterior", "2", "--reps", "3") == 2
    assert "--reps 3 and --posterior 2 disagree" in capsys.readouterr().err
    assert run_with(folder, tmp_path, "--posterior-file", str(folder / "calibrated_posterior.csv")) == 2
    assert "--posterior-file needs --posterior" in capsys.readouterr().err
    assert run_with(folder, tmp_path, "--posterior", "2", scenario="plain.yaml") == 2
    assert "does not extend a calibrated.yaml" in capsys.readouterr().err
    assert run_with(folder, tmp_path, "--posterior", "2", "--posterior-file", str(tmp_path / "missing.csv")) == 2
    assert f"{tmp_path / 'missing.csv'}: no such file" in capsys.readouterr().err
    lonely = Path(shutil.copytree(folder, tmp_path / "lonely"))
    (lonely / "calibrated_posterior.csv").unlink()
    assert run_with(lonely, tmp_path, "--posterior", "2") == 2
    assert f"{lonely / 'calibrated_posterior.csv'}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
