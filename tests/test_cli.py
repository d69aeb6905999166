"""The digex command line: run (output contract, determinism, atomic output), validate, describe, errors."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim import __version__
from sim.atomic import MARKER, output_dir
from sim.cli.main import COMMANDS, HELP_WIDTH, build_parser, main
from sim.model.metrics import GROUP_METRICS, GROUPS, METRICS

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
CONTRACT_ARGS = ["--reps", "2", "--set", "population.size=2000", "--set", "run.weeks=104", "--quiet"]
TINY = ["--set", "population.size=300", "--set", "run.weeks=30", "--set", "run.analogue_reference=false", "--quiet"]
FILES = ("summary.csv", "summary_by_group.csv", "timeseries.parquet", "manifest.json",
         "exclusion_over_time.png", "exclusion_by_age.png")


@pytest.fixture(scope="module")
def contract_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("contract") / "baseline"
    assert main(["run", BASELINE, *CONTRACT_ARGS, "--out", str(out)]) == 0
    return out


def test_run_writes_every_file_of_the_contract(contract_dir):
    for name in FILES:
        assert (contract_dir / name).stat().st_size > 0, name
    assert sorted(p.name for p in contract_dir.iterdir()) == sorted([*FILES, MARKER])
    assert not [p for p in contract_dir.parent.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_summary_has_every_metric_with_intervals(contract_dir):
    s = pd.read_csv(contract_dir / "summary.csv")
    assert list(s.columns) == ["scenario", "metric", "unit", "mean", "ci_low", "ci_high", "n_reps", "interval_covers"]
    assert list(s["metric"]) == list(METRICS)
    assert set(s["scenario"]) == {"denmark_baseline"}
    ok = s.dropna(subset=["mean"])
    assert (ok["n_reps"] == 2).all()
    assert (ok["ci_low"] <= ok["mean"] + 1e-12).all() and (ok["mean"] <= ok["ci_high"] + 1e-12).all()
    assert s.set_index("metric").loc["exclusion_rate", "mean"] >= 0
    assert pd.notna(s.set_index("metric").loc["savings_vs_analogue_dkk", "mean"])


def test_summary_by_group_covers_every_group_metric_and_group(contract_dir):
    g = pd.read_csv(contract_dir / "summary_by_group.csv", keep_default_na=False, na_values=[""])
    assert list(g.columns) == ["scenario", "group_type", "group", "metric", "unit", "mean", "ci_low", "ci_high",
                               "interval_covers"]
    assert set(g["metric"]) == set(GROUP_METRICS)
    for gtype, names in GROUPS.items():
        assert set(g.loc[g["group_type"] == gtype, "group"]) == set(names)
    assert "all" not in set(g["group_type"])


def test_timeseries_is_long_with_overall_rows(contract_dir):
    ts = pd.read_parquet(contract_dir / "timeseries.parquet")
    assert list(ts.columns) == ["scenario", "rep", "week", "date", "metric", "group_type", "group", "value"]
    assert set(ts["metric"]) == set(METRICS)
    assert sorted(ts["rep"].unique()) == [0, 1]
    assert ts["week"].max() == 103
    overall = ts[ts["group_type"] == "all"]
    assert (overall["group"] == "all").all()
    assert set(overall["metric"]) == set(METRICS)
    assert overall.groupby(["rep", "metric"]).size().eq(104).all()


def test_manifest_records_version_configs_seeds_times_and_command(contract_dir):
    m = json.loads((contract_dir / "manifest.json").read_text())
    assert m["digex_version"] == __version__
    (scen,) = m["scenarios"]
    assert scen["name"] == "denmark_baseline" and scen["seeds"] == [1, 2]
    assert scen["config"]["population"]["size"] == 2000 and scen["config"]["run"]["weeks"] == 104
    assert m["started"] <= m["finished"] and m["platform"]["python"]
    assert "--set population.size=2000" in m["command"] and m["command"].startswith("digex run ")
    assert set(m["files"]) == set(FILES)


def test_jobs_do_not_change_results(contract_dir, tmp_path):
    out = tmp_path / "parallel"
    assert main(["run", BASELINE, *CONTRACT_ARGS, "--jobs", "2", "--out", str(out)]) == 0
    a = pd.read_parquet(contract_dir / "timeseries.parquet")
    b = pd.read_parquet(out / "timeseries.parquet")
    pd.testing.assert_frame_equal(a, b)
    for name in ("summary.csv", "summary_by_group.csv"):
        assert (contract_dir / name).read_bytes() == (out / name).read_bytes()


def test_seed_option_sets_the_base_seed(tmp_path):
    out = tmp_path / "o"
    assert main(["run", BASELINE, *TINY, "--reps", "2", "--seed", "40", "--out", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["scenarios"][0]["seeds"] == [40, 41]


def test_several_scenarios_default_out_and_headline(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    alt = str(ROOT / "scenarios" / "warm_hands.yaml")
    args = ["run", BASELINE, alt, *[a for a in TINY if a != "--quiet"]]
    assert main(args) == 0
    out = tmp_path / "results" / "run"
    s = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(s["scenario"])) == ["denmark_baseline", "warm_hands"]
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    printed = captured.out
    assert "warm_hands:" in printed and "exclusion_rate" in printed and str(Path("results") / "run") in printed
    assert main(["run", alt, *TINY]) == 0
    assert (tmp_path / "results" / "warm_hands" / "summary.csv").exists()


def test_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    loud = [a for a in TINY if a != "--quiet"]
    assert main(["run", BASELINE, *loud, "--reps", "2", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "60/60" in err and "week" in err


def test_quiet_run_prints_nothing(tmp_path, capsys):
    assert main(["run", BASELINE, *TINY, "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ------------------------------------------------------------------ bad input: exit 2, one line, nothing written


BAD = {
    "unknown_key": ("policy:\n  centre:\n    helpers_per_10K: 3\n", "policy.centre.helpers_per_10K", 3),
    "wrong_type": ("policy:\n  proxy:\n    available: perhaps\n", "policy.proxy.available", 3),
    "probability_out_of_range": ("behaviour:\n  relative_uptake: 1.5\n", "behaviour.relative_uptake", 2),
    "negative_count": ("policy:\n  centre:\n    centres: -2\n", "policy.centre.centres", 3),
    "date_outside_run": ("timeline:\n  - date: 2030-01-06\n    set: {proxy.available: true}\n",
                         "timeline[0].date", 2),
    "broken_yaml": ("policy:\n  centre: {self_help_share: 0.2\n", None, 3),
    "python_tag": ("policy: !!python/object/apply:os.system ['echo hi']\n", "policy", 1),
    "missing_extends": ("extends: nowhere.yaml\n", "extends", 1),
}


def assert_one_error_line(err: str, *parts: str) -> None:
    assert err.startswith("digex: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_scenario_exit_2_one_message_nothing_written(tmp_path, capsys, case, command):
    text, key, line = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    args = ["run", str(path), *TINY, "--out", str(out)] if command == "run" else ["validate", str(path)]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_error_line(captured.err, str(path), f"line {line}", *([f"key '{key}'"] if key else []))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_missing_file_and_extends_cycle(tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert_one_error_line(capsys.readouterr().err, "none.yaml", "not found")
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    assert main(["validate", str(tmp_path / "a.yaml")]) == 2
    assert_one_error_line(capsys.readouterr().err, "key 'extends'", "line 1", "cycle")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml"]


def test_bad_override_names_the_set_option(tmp_path, capsys):
    assert main(["run", BASELINE, "--set", "population.size=-3", "--out", str(tmp_path / "o")]) == 2
    assert_one_error_line(capsys.readouterr().err, "--set population.size", "greater than or equal to 50")
    assert not (tmp_path / "o").exists()


def test_scenarios_with_the_same_name_are_refused(tmp_path, capsys):
    assert main(["run", BASELINE, BASELINE, *TINY, "--out", str(tmp_path / "o")]) == 2
    assert_one_error_line(capsys.readouterr().err, "denmark_baseline")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["--reps", "0"], ["--jobs", "-1"], ["--seed", "-4"], ["--reps", "two"]])
def test_bad_options_exit_2(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as info:
        main(["run", BASELINE, *args, "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ atomic output


def test_failed_or_interrupted_run_keeps_the_previous_results(tmp_path, capsys, monkeypatch):
    out = tmp_path / "o"
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 0
    before = (out / "manifest.json").read_bytes()
    bad = tmp_path / "bad.yaml"
    bad.write_text("behaviour: {giveup_base: 3}\n")
    assert main(["run", str(bad), *TINY, "--out", str(out)]) == 2

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.outputs.figures.write_run_figures", interrupted)  # interrupted while writing
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 130
    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "o"]
    capsys.readouterr()


def test_existing_results_are_replaced_when_the_new_ones_are_complete(tmp_path):
    out = tmp_path / "o"
    assert main(["run", BASELINE, *TINY, "--seed", "3", "--out", str(out)]) == 0
    assert main(["run", BASELINE, *TINY, "--seed", "4", "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["scenarios"][0]["seeds"] == [4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_a_directory_not_written_by_digex_is_never_replaced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 2
    assert_one_error_line(capsys.readouterr().err, "not written by digex")
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_output_dir_removes_the_partial_directory_on_error(tmp_path):
    target = tmp_path / "x"
    with pytest.raises(RuntimeError), output_dir(target, kind="run") as tmp:
        (tmp / "summary.csv").write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with output_dir(target, kind="run") as tmp:
        (tmp / "a.txt").write_text("done")
        assert not target.exists()
    assert (target / "a.txt").read_text() == "done" and (target / MARKER).exists()


# ------------------------------------------------------------------ validate, describe, version


def test_validate_reports_each_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("population: {size: 10}\n")
    assert main(["validate", BASELINE]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["validate", BASELINE, str(bad)]) == 2
    captured = capsys.readouterr()
    assert "denmark_baseline" in captured.out
    assert_one_error_line(captured.err, str(bad), "population.size")


def test_describe_everything_lists_every_parameter(capsys):
    from sim.scenario.describe import entries

    assert main(["describe"]) == 0
    text = capsys.readouterr().out
    params = [e for e in entries() if not e.is_block]
    assert len(params) > 100
    for e in params:
        assert f"  {e.path}\n" in text
    assert "policy.centre.helpers_per_10k\n      number in [0, 1000]; default 2.0; unit: FTE" in text


@pytest.mark.parametrize(
    ("key", "expected", "absent"),
    [
        ("policy.centre", "policy.centre.self_help_share", "policy.phone"),
        ("policy.optout.rule", "one of: in_person, remote, automatic; default in_person", "awareness"),
        ("tasks.procedures.tax", "default [11, 14]", "tasks.procedures.benefit"),
        ("timeline", "timeline[].date\n      date (YYYY-MM-DD); required", "policy."),
        ("behaviour.relative_uptake", "number in [0, 1]; default 0.6; unit: share", "retry"),
    ],
)
def test_describe_key(capsys, key, expected, absent):
    assert main(["describe", key]) == 0
    text = capsys.readouterr().out
    assert expected in text and absent not in text


def test_describe_unknown_key_suggests(capsys):
    assert main(["describe", "policy.centre.helpers"]) == 2
    assert_one_error_line(capsys.readouterr().err, "did you mean 'policy.centre.helpers_per_10k'")


def test_python_m_sim_version():
    done = subprocess.run([sys.executable, "-m", "sim", "--version"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0
    assert done.stdout.strip() == f"digex {__version__}"


# ------------------------------------------------------------------ help, metrics, describe headings

WORKFLOW = ("validate", "describe", "metrics", "run", "compare", "sweep", "sensitivity", "discover", "dilemmas",
            "report", "export", "rerun", "calibrate", "app")
"""The order of a study, which the command list of --help follows."""


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def example_commands(text: str) -> list[list[str]]:
    """The digex command lines of the examples section of a --help text, without comments, pipes or redirects."""
    examples = text.split("\nexamples:\n", 1)[1].replace("\\\n", " ")
    lines = [re.split(r"\s#|\s\||\s>", line)[0].strip() for line in examples.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("digex ")]


def test_commands_are_listed_in_workflow_order(capsys):
    assert set(COMMANDS) <= set(WORKFLOW)
    assert COMMANDS == tuple(c for c in WORKFLOW if c in COMMANDS)
    listed = re.findall(r"^    (\w+)", help_text(capsys).split("COMMAND\n", 1)[1], flags=re.MULTILINE)
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_help_ends_with_examples_that_parse(capsys, command):
    text = help_text(capsys, *([command] if command else []))
    assert "\nexamples:\n  " in text
    commands = example_commands(text)
    assert commands and (command is None or commands[0][0] == command)
    parser = build_parser()
    for argv in commands:
        if argv != ["COMMAND", "--help"]:
            parser.parse_args(argv)  # SystemExit (exit status 2) if an example no longer parses


def test_help_descriptions_are_wrapped(capsys):
    for command in COMMANDS:
        text = help_text(capsys, command)
        description = text.split("\n\n", 1)[1].split("\npositional arguments:" if "positional" in text else
                                                     "\noptions:", 1)[0]
        assert max(len(line) for line in description.splitlines()) <= HELP_WIDTH, command


def test_sweep_help_warns_of_the_full_size(capsys):
    text = " ".join(help_text(capsys, "sweep").split())
    assert "full size unless --set says otherwise" in text and "--set population.size=2000" in text
    assert "--yes" in text and "asks before it starts" in text


def test_metrics_lists_every_metric_with_unit_and_meaning(capsys):
    assert main(["metrics"]) == 0
    text = capsys.readouterr().out
    positions = [text.index(f"\n  {name}\n") for name in METRICS]
    assert positions == sorted(positions)  # in the order of the tables
    for name, m in METRICS.items():
        block = text.split(f"\n  {name}\n", 1)[1].split("\n  ", 1)[0]
        assert f"unit: {m.unit}; {'by group' if m.by_group else 'overall'}" in block
        assert " ".join(m.description.split()[:4]) in " ".join(text.split(f"\n  {name}\n", 1)[1].split()[:12])
    assert "'share' is a fraction from 0 to 1, shown in %" in text


def test_metrics_shows_chosen_metrics_and_suggests_for_a_typo(capsys):
    assert main(["metrics", "exclusion_rate", "cost_total_dkk"]) == 0
    text = capsys.readouterr().out
    assert "\n  exclusion_rate\n" in text and "\n  cost_total_dkk\n" in text and "non_take_up_rate" not in text
    assert main(["metrics", "exclusion_rat"]) == 2
    assert_one_error_line(capsys.readouterr().err, "no metric 'exclusion_rat'; did you mean 'exclusion_rate'?")


@pytest.mark.parametrize("key", ["metrics", "metric", "exclusion_rate"])
def test_describe_metrics_points_to_the_metrics_command(capsys, key):
    assert main(["describe", key]) == 2
    assert_one_error_line(capsys.readouterr().err, f"no parameter or block '{key}'", "`digex metrics`")


def test_describe_puts_every_parameter_under_the_heading_of_its_block(capsys):
    """policy.automation_share once showed under policy.platform, and timeline under costs."""
    assert main(["describe"]) == 0
    heading = None
    seen = set()
    for line in capsys.readouterr().out.splitlines():
        if line and not line.startswith(" "):
            heading = line.split(": ", 1)[0]
            heading = "" if heading == "top level" else heading
            assert heading not in seen, f"block {heading} is listed twice"
            seen.add(heading)
        elif line.startswith("  ") and not line.startswith("   "):
            path = line.strip()
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            assert parent == heading, f"{path} is listed under {heading!r}"
    assert {"", "policy", "policy.platform", "costs", "timeline[]"} <= seen


def test_describe_markdown_has_a_table_header_under_every_heading(capsys):
    assert main(["describe", "--markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("**top level**: ")
    for section in ("\n" + text).split("\n**")[1:]:
        name = section.split("**", 1)[0]
        lines = section.splitlines()
        rows = [line.split(" | ")[0].removeprefix("| ") for line in lines[4:]]
        if rows:  # a block with parameters of its own: a table of them, with its header
            assert lines[2:4] == ["| parameter | type | default | unit | meaning |", "|---|---|---|---|---|"], name
        assert all((path.rsplit(".", 1)[0] if "." in path else "top level") == name for path in rows if path), name
