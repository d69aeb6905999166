"""The five dilemmas on one page (sim/outputs/dilemmas.py, digex dilemmas): declarations, readings computed from
a comparison table, the figure, the page, and the command's outputs and error paths.

Readings are checked on synthetic tables, where the right sentence is known; the direction of each dilemma at the
calibrated baseline is tested in tests/test_{warm_cold,empowerment,privacy,backoffice}.py and
tests/test_scenario_outcomes.py. The command runs on tiny stand-ins of the shipped scenarios (a few weeks of 150
citizens), so that its test takes seconds.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim.atomic import MARKER, mark
from sim.cli.main import main
from sim.model.metrics import GROUPS, METRICS, OVERALL
from sim.outputs import dilemmas as dl
from sim.outputs.dilemmas import (
    DILEMMAS,
    READING,
    Dilemma,
    Outcome,
    Pair,
    Provenance,
    amount,
    dilemma_figure,
    page,
    pair_table,
    read,
    read_all,
)
from sim.outputs.style import WIDTH
from sim.scenario import loader

EXCLUSION_80 = Outcome("exclusion_rate", "exclusion among the 80+", -1, "age_band", "80+")
COST = Outcome("cost_total_dkk", "the public cost", -1)
SKILL = Outcome("skill_mean", "mean digital skill", +1)
TOY_PAIR = Pair("toy", "ref")
TOY = Dilemma("toy", "Toy vs reference", "Does the toy help?", (TOY_PAIR,),
              gains=(EXCLUSION_80,), losses=(COST, SKILL))


def table(rows: dict[Outcome, tuple[float, float, float]], pair: Pair = TOY_PAIR, n: int = 4):
    """A comparison table (the columns read from comparison.csv) with one paired difference per outcome."""
    return pd.DataFrame([{"metric": o.metric, "unit": o.unit, "group_type": o.group_type, "group": o.group,
                          "scenario": pair.scenario, "reference": pair.reference, "diff": d, "diff_ci_low": lo,
                          "diff_ci_high": hi, "n_pairs": n} for o, (d, lo, hi) in rows.items()])


MEASURED = {EXCLUSION_80: (-0.047, -0.068, -0.026), COST: (97e6, 93e6, 101e6), SKILL: (0.002, -0.001, 0.005)}


# ------------------------------------------------------------------ declarations


def test_five_dilemmas_of_shipped_scenarios_and_known_metrics_each_with_a_gain_and_a_loss():
    assert [d.name for d in DILEMMAS] == ["Mandatory digitalisation vs exclusion", "Empowerment vs alienation",
                                          "Warm vs cold hands", "Data vs privacy", "Ambitions vs competences"]
    shipped = {p.stem for p in loader.shipped_scenarios().glob("*.yaml")}
    for d in DILEMMAS:
        assert d.gains and d.losses and d.question.endswith("?")
        assert set(d.scenarios) <= shipped, d.name
        for o in d.outcomes:
            assert (o.group_type, o.group) == OVERALL or (METRICS[o.metric].by_group and
                                                          o.group in GROUPS[o.group_type]), (d.name, o)
    assert len({d.slug for d in DILEMMAS}) == 5
    assert dl.scenarios_needed()[0] == "denmark_baseline"


def test_the_pairs_the_issue_names():
    pairs = {d.slug: [p.name for p in d.pairs] for d in DILEMMAS}
    assert pairs["mandatory"][0] == "denmark_baseline vs voluntary_digital"
    assert pairs["empowerment"] == ["accessibility_programme vs denmark_baseline"]
    assert pairs["warm_cold"] == ["warm_hands vs self_help"]
    assert pairs["privacy"] == ["proactive_automation vs denmark_baseline",
                                "automation_consent vs proactive_automation"]
    assert pairs["ambitions"][0] == "it_failure vs denmark_baseline"


def test_only_scenarios_read_for_savings_need_the_analogue_twin():
    assert dl.analogue_needed() == {"denmark_baseline", "voluntary_digital", "nordic_hybrid"}
    assert dl.analogue_needed([TOY]) == set()


def test_an_outcome_needs_a_known_metric_and_a_direction():
    with pytest.raises(ValueError, match="unknown metric"):
        Outcome("no_such_metric", "x", -1)
    with pytest.raises(ValueError, match="better"):
        Outcome("exclusion_rate", "x", 0)


# ------------------------------------------------------------------ reading


def test_sentences_state_direction_size_interval_and_verdict():
    r = read(TOY, table(MEASURED))
    exclusion, cost, skill = r.of(TOY.pairs[0])
    assert exclusion.sentence() == "lowers exclusion among the 80+ by 4.70 pp [2.60, 6.80], a gain"
    assert cost.sentence() == "raises the public cost by DKK 97 m a year [93, 101], a loss"
    assert skill.sentence().startswith("changes mean digital skill by +0.002")
    assert skill.sentence().endswith("an interval that includes zero: no clear difference")
    assert [e.verdict for e in r.effects] == ["gain", "loss", "unclear"]
    assert r.trade_off()
    assert r.summary(TOY.pairs[0]) == ("So in these runs toy gains on exclusion among the 80+ and loses on the public "
                                       "cost against ref: the pair shows a trade-off.")


def test_the_verdict_follows_the_measured_sign_not_the_list_an_outcome_stands_in():
    flipped = read(TOY, table({o: (-d, -hi, -lo) for o, (d, lo, hi) in MEASURED.items()}))
    exclusion, cost, _ = flipped.effects
    assert exclusion.sentence() == "raises exclusion among the 80+ by 4.70 pp [2.60, 6.80], a loss"
    assert cost.sentence() == "lowers the public cost by DKK 97 m a year [93, 101], a gain"
    assert flipped.trade_off()


def test_no_trade_off_and_all_unclear_are_said_plainly():
    one_sided = read(TOY, table({EXCLUSION_80: MEASURED[EXCLUSION_80], COST: (1e6, -2e6, 4e6), SKILL: (0.01, 0.005,
                                                                                                       0.015)}))
    assert not one_sided.trade_off()
    assert "gains on exclusion among the 80+ and mean digital skill and loses clearly on none" in \
        one_sided.summary(TOY.pairs[0])
    assert "no trade-off at this size" in one_sided.summary(TOY.pairs[0])
    unclear = read(TOY, table({o: (0.001, -0.001, 0.003) for o in TOY.outcomes}))
    assert unclear.summary(TOY.pairs[0]).endswith("every interval includes zero.")


def test_one_replication_has_no_interval_and_nothing_is_called_clear():
    r = read(TOY, table({o: (d, math.nan, math.nan) for o, (d, _, _) in MEASURED.items()}, n=1))
    assert r.effects[0].sentence() == "lowers exclusion among the 80+ by 4.70 pp (one replication: no interval)"
    assert {e.verdict for e in r.effects} == {"unclear"}
    assert r.summary(TOY.pairs[0]).startswith("With one replication there are no intervals")


def test_an_unchanged_or_missing_value_is_said_so():
    r = read(TOY, table({EXCLUSION_80: (0.0, 0.0, 0.0), COST: (math.nan, math.nan, math.nan),
                         SKILL: MEASURED[SKILL]}))
    assert r.effects[0].sentence() == "leaves exclusion among the 80+ unchanged in every pair of runs"
    assert r.effects[1].sentence() == "has no value of the public cost in these runs"


def test_a_table_without_the_pair_or_an_outcome_is_refused():
    with pytest.raises(ValueError, match="no paired difference of toy vs ref"):
        read(TOY, table(MEASURED, pair=Pair("toy", "other")))
    with pytest.raises(ValueError, match="no cost_total_dkk"):
        read(TOY, table({EXCLUSION_80: MEASURED[EXCLUSION_80], SKILL: MEASURED[SKILL]}))


@pytest.mark.parametrize(("args", "text"), [
    ((0.047, "share", 0.026, 0.068), "4.70 pp [2.60, 6.80]"),
    ((97e6, "DKK/year", 93e6, 101e6), "DKK 97 m a year [93, 101]"),
    ((2.5e9, "DKK", 1.5e9, 3.5e9), "DKK 2,500 m [1,500, 3,500]"),
    ((0.012, "0-1", 0.008, 0.016), "0.012 (0-1 scale) [0.008, 0.016]"),
    ((0.05, "1/year"), "0.0500 per citizen-year"),
    ((1234.0, "decisions/year", 1000.0, 1500.0), "1,230 decisions a year [1,000, 1,500]"),
])
def test_amounts_carry_their_unit_and_interval(args, text):
    assert amount(*args) == text


def test_pair_table_pairs_any_two_scenarios_on_their_seeds():
    rows = []
    for scenario, values in (("a", [1.0, 2.0, 3.0]), ("b", [2.0, 4.0, 5.0]), ("c", [0.0, 0.0, 1.0])):
        for rep, v in enumerate(values):
            rows.append((scenario, rep, 10 + rep, "cost_total_dkk", "all", "all", v))
    ends = pd.DataFrame(rows, columns=["scenario", "rep", "seed", "metric", "group_type", "group", "value"])
    t = pair_table(ends, [Pair("b", "a"), Pair("c", "b")])
    assert list(zip(t["scenario"], t["reference"], strict=True)) == [("b", "a"), ("c", "b")]
    assert t["diff"].tolist() == pytest.approx([5 / 3, -10 / 3])  # means of (1, 2, 2) and (-2, -4, -4)
    assert (t["n_pairs"] == 3).all()
    with pytest.raises(ValueError, match="no end-of-run values of d"):
        pair_table(ends, [Pair("d", "a")])


# ------------------------------------------------------------------ figure and page


def test_figure_has_one_panel_per_outcome_with_an_interval_per_pair():
    fig = dilemma_figure(read(TOY, table(MEASURED)))
    assert isinstance(fig, Figure) and fig.get_figwidth() == WIDTH
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(TOY.outcomes)
    assert axes[0].get_title(loc="left") == "Exclusion among the 80+ (lower is better)"
    assert axes[0].get_xlabel() == "difference (pp)" and axes[1].get_xlabel() == "difference (million DKK/year)"
    assert "Toy vs reference" in fig._suptitle.get_text()
    dots = [line for line in axes[0].lines if line.get_marker() == "o"]
    assert len(dots) == 1 and dots[0].get_xdata()[0] == pytest.approx(-4.7)
    skill_dot = next(line for line in axes[2].lines if line.get_marker() == "o")
    assert skill_dot.get_markerfacecolor() == "white"  # the interval includes zero: hollow


def test_page_says_how_it_was_made_and_what_the_intervals_cover():
    how = Provenance(command="digex dilemmas --reps 4", date="2026-12-02", machine="Linux, x86_64, 2 cores",
                     reps=4, size=5000, start="2012-01-02", end="2025-12-29", seed=1, duration="about 9 min")
    text = page([read(TOY, table(MEASURED))], how, {"toy": "a toy", "ref": "the reference"}, {"toy": "d/toy.png"})
    assert "`digex dilemmas --reps 4` on 2026-12-02 (Linux, x86_64, 2 cores" in text
    assert "simulation" in text and "not the uncertainty of the model's parameters" in text
    assert "![Toy vs reference: paired differences with 95% intervals](d/toy.png)" in text
    assert "- `toy`: a toy" in text and text.count(READING) == 1
    assert "- Against `ref`, `toy` lowers exclusion among the 80+ by 4.70 pp [2.60, 6.80], a gain." in text


# ------------------------------------------------------------------ the command


TINY_RUN = {"start": "2014-06-02", "weeks": 8, "seed": 3}


@pytest.fixture
def tiny_scenarios(tmp_path, monkeypatch):
    """Stand-ins of the shipped scenarios the dilemmas need: 8 weeks of 150 citizens, one lever apart."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "denmark_baseline.yaml").write_text(
        "name: denmark_baseline\ndescription: tiny baseline\nrun:\n"
        + "".join(f"  {k}: {v}\n" for k, v in TINY_RUN.items()) + "population:\n  size: 150\n")
    for name in dl.scenarios_needed()[1:]:
        (folder / f"{name}.yaml").write_text(f"extends: denmark_baseline.yaml\nname: {name}\n"
                                             f"description: tiny {name}\n")
    (folder / "voluntary_digital.yaml").write_text("extends: denmark_baseline.yaml\nname: voluntary_digital\n"
                                                   "description: no mandate\npolicy:\n  mandate_start: null\n")
    monkeypatch.setattr(loader, "SCENARIO_FOLDER", str(folder))
    return folder


def test_command_writes_the_page_figures_and_tables_that_read_back(tiny_scenarios, tmp_path):
    out = tmp_path / "out"
    assert main(["dilemmas", "--reps", "2", "--out", str(out), "--quiet"]) == 0
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == {MARKER, "dilemmas.md", "comparison.csv", "end_values.csv", "manifest.json",
                     *(f"dilemmas/{d.slug}.png" for d in DILEMMAS)}
    text = (out / "dilemmas.md").read_text()
    assert text.count(READING) == 5 and "digex dilemmas --reps 2" in text and "2 replication(s) of 150" in text
    readings = read_all(pd.read_csv(out / "comparison.csv"))  # the page can be read again from its table
    assert all(r.markdown() in text for r in readings)
    info = json.loads((out / "manifest.json").read_text())
    assert info["kind"] == "dilemmas" and info["reps"] == 2 and "it_failure vs it_success" in info["pairs"]
    twins = {s["name"]: s["config"]["run"]["analogue_reference"] for s in info["scenarios"]}
    assert {n for n, twin in twins.items() if twin} == dl.analogue_needed()
    ends = pd.read_csv(out / "end_values.csv")
    savings = ends[(ends.metric == "savings_vs_analogue_dkk") & (ends.scenario == "voluntary_digital")]["value"]
    assert np.isfinite(savings).all()
    assert not list(tmp_path.glob(".out.*"))  # no temporary directory left beside it


def test_a_failure_while_writing_leaves_the_earlier_output_as_it_was(tiny_scenarios, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    mark(out, "dilemmas")
    (out / "dilemmas.md").write_text("an earlier page")

    def broken(_reading):
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(dl, "dilemma_figure", broken)
    with pytest.raises(RuntimeError, match="drawing failed"):
        main(["dilemmas", "--reps", "1", "--out", str(out), "--quiet"])
    assert (out / "dilemmas.md").read_text() == "an earlier page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "scenarios"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--set", "policy.centre.helpers_per_10k=-1"], "helpers_per_10k"),
    (["--set", "no.such.key=1"], "no.such.key"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --executor dask"),
])
def test_bad_options_are_refused_before_anything_runs(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    assert main(["dilemmas", *argv, "--out", str(out), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_output_directory_digex_did_not_write_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["dilemmas", "--out", str(out), "--quiet"]) == 2
    assert "was not written by digex" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "keep me"


def test_zero_replications_are_refused(capsys):
    with pytest.raises(SystemExit):
        main(["dilemmas", "--reps", "0"])
    assert "--reps" in capsys.readouterr().err


def test_a_comparison_folder_is_not_replaced_by_the_dilemmas(tiny_scenarios, tmp_path, capsys):
    """Each command replaces only its own kind of output folder (sim.atomic.KINDS)."""
    out = tmp_path / "out"
    out.mkdir()
    mark(out, "compare")
    assert main(["dilemmas", "--reps", "1", "--out", str(out), "--quiet"]) == 2
    assert "compare" in capsys.readouterr().err
