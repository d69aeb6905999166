"""digex export: the tables and weekly series of a run, compare or sweep directory as a workbook or CSV files."""

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from sim.atomic import MARKER
from sim.cli.main import main
from sim.errors import UserError
from sim.model.metrics import METRICS
from sim.outputs import export

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
TINY = ["--reps", "2", "--set", "population.size=300", "--set", "run.weeks=60", "--set",
        "run.analogue_reference=false", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "run"
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "compare"
    assert main(["compare", BASELINE, str(ROOT / "scenarios" / "nordic_hybrid.yaml"), *TINY, "--out", str(out)]) == 0
    return out


def sheet(path: Path, name: str) -> pd.DataFrame:
    """One sheet of a workbook as a table (first row the header)."""
    header, *rows = openpyxl.load_workbook(path, read_only=True)[name].iter_rows(values_only=True)
    return pd.DataFrame([row + (None,) * (len(header) - len(row)) for row in rows], columns=header)


def test_a_run_becomes_a_workbook_with_one_sheet_per_table_and_units(run_dir):
    assert main(["export", str(run_dir), "--xlsx", "--quiet"]) == 0
    path = run_dir / "export.xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    assert book.sheetnames == ["about", "metrics", "summary", "summary_by_group", "timeseries"]
    assert book.properties.creator.startswith(export.CREATOR)
    summary = sheet(path, "summary")
    stored = pd.read_csv(run_dir / "summary.csv", engine="pyarrow")  # every digit
    assert list(summary.columns) == list(stored.columns) and "unit" in summary.columns
    assert list(summary["metric"]) == list(stored["metric"])
    assert (summary["unit"] == summary["metric"].map(lambda m: METRICS[m].unit)).all()
    # openpyxl writes 16 significant digits (Excel shows 15): equal to the last digit or two of a double
    assert np.allclose(summary["mean"].astype(float), stored["mean"], rtol=1e-15, atol=0, equal_nan=True)
    series = sheet(path, "timeseries")
    assert list(series.columns) == ["scenario", "rep", "week", "date", "metric", "unit", "group_type", "group",
                                    "value"]
    assert len(series) == len(pd.read_parquet(run_dir / "timeseries.parquet"))
    assert isinstance(series["date"].iloc[0], dt.datetime) and series["date"].iloc[0] == dt.datetime(2012, 1, 2)
    metrics = sheet(path, "metrics")
    assert list(metrics["metric"]) == list(METRICS) and list(metrics["unit"]) == [m.unit for m in METRICS.values()]
    about = dict(sheet(path, "about").itertuples(index=False))
    assert about["kind"] == "digex run" and about["made by"].startswith("digex run ")
    assert about["sheet timeseries"].startswith("timeseries.parquet") and "unit share" in about


def test_metrics_and_every_choose_the_rows(run_dir, tmp_path):
    path = tmp_path / "two.xlsx"
    assert main(["export", str(run_dir), "--xlsx", "--metrics", "exclusion_rate,cost_per_citizen_year_dkk",
                 "--every", "8", "--out", str(path), "--quiet"]) == 0
    series = sheet(path, "timeseries")
    assert set(series["metric"]) == {"exclusion_rate", "cost_per_citizen_year_dkk"}
    assert sorted(series["week"].unique()) == [0, 8, 16, 24, 32, 40, 48, 56, 59]  # and the last week
    assert set(sheet(path, "summary")["metric"]) == {"exclusion_rate", "cost_per_citizen_year_dkk"}
    assert list(sheet(path, "metrics")["metric"]) == ["exclusion_rate", "cost_per_citizen_year_dkk"]


def test_a_compare_exports_as_csv_files_in_a_marked_folder(compare_dir, tmp_path):
    out = tmp_path / "csv"
    assert main(["export", str(compare_dir), "--csv", "--out", str(out), "--every", "4", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "about.csv", "metrics.csv", "comparison.csv",
                                                            "end_values.csv", "timeseries_summary.csv"])
    assert "kind: export" in (out / MARKER).read_text()
    ends = pd.read_csv(out / "end_values.csv")
    assert list(ends.columns[:5]) == ["scenario", "rep", "seed", "metric", "unit"]
    weekly = pd.read_csv(out / "timeseries_summary.csv")
    assert set(weekly["week"]) == {*range(0, 60, 4), 59} and weekly["unit"].notna().all()
    assert pd.read_csv(out / "comparison.csv").equals(pd.read_csv(compare_dir / "comparison.csv"))
    assert main(["export", str(compare_dir), "--csv", "--out", str(out), "--quiet"]) == 0  # its own folder: replaced
    assert len(pd.read_csv(out / "timeseries_summary.csv")) > len(weekly)


def test_a_wide_table_names_units_in_its_metric_columns():
    wide = pd.DataFrame({"point": [0], "rep": [0], "exclusion_rate": [0.1], "cost_per_citizen_year_dkk": [900.0]})
    assert list(export.with_units(wide, None).columns) == ["point", "rep", "exclusion_rate (share)",
                                                           "cost_per_citizen_year_dkk (DKK)"]
    assert list(export.with_units(wide, ["exclusion_rate"]).columns) == ["point", "rep", "exclusion_rate (share)"]


def test_thin_keeps_every_nth_week_and_each_scenarios_last():
    frame = pd.DataFrame({"scenario": ["a"] * 10 + ["b"] * 7, "week": [*range(10), *range(7)]})
    kept = export.thin(frame, 3)
    assert list(kept[kept["scenario"] == "a"]["week"]) == [0, 3, 6, 9]
    assert list(kept[kept["scenario"] == "b"]["week"]) == [0, 3, 6]
    assert export.thin(frame, 1) is frame


@pytest.mark.parametrize(("argv", "message"), [
    (["--metrics", "exclusion_rat"], "did you mean 'exclusion_rate'"),
    (["--out", "book.csv"], "must end in .xlsx"),
    (["--out", "missing/book.xlsx"], "does not exist"),
])
def test_bad_options_are_one_line_errors_before_anything_is_written(run_dir, tmp_path, monkeypatch, capsys, argv,
                                                                     message):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(run_dir), "--xlsx", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_every_must_be_positive(run_dir, capsys):
    with pytest.raises(SystemExit):
        main(["export", str(run_dir), "--csv", "--every", "0"])
    assert "at least 1" in capsys.readouterr().err


def test_a_directory_digex_did_not_write_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export", str(tmp_path), "--xlsx"]) == 2
    assert "not a digex run, compare or sweep directory" in capsys.readouterr().err


def test_export_refuses_to_overwrite_what_it_did_not_write(run_dir, tmp_path, capsys):
    mine = tmp_path / "mine.xlsx"
    wb = openpyxl.Workbook()
    wb.save(mine)
    before = mine.read_bytes()
    assert main(["export", str(run_dir), "--xlsx", "--out", str(mine)]) == 2
    assert "was not written by digex export" in capsys.readouterr().err and mine.read_bytes() == before
    (tmp_path / "folder.xlsx").mkdir()
    assert main(["export", str(run_dir), "--xlsx", "--out", str(tmp_path / "folder.xlsx")]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert main(["export", str(run_dir), "--csv", "--out", str(run_dir)]) == 2  # the run's own directory
    assert "refusing to replace it" in capsys.readouterr().err
    assert (run_dir / "summary.csv").exists()


def test_export_replaces_its_own_workbook(run_dir, tmp_path):
    path = tmp_path / "book.xlsx"
    assert main(["export", str(run_dir), "--xlsx", "--metrics", "exclusion_rate", "--out", str(path), "--quiet"]) == 0
    assert export.is_export(path)
    assert main(["export", str(run_dir), "--xlsx", "--metrics", "trust_mean", "--out", str(path), "--quiet"]) == 0
    assert set(sheet(path, "summary")["metric"]) == {"trust_mean"}
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]  # no temporary file left


def test_is_export_reads_only_the_document_properties(tmp_path):
    assert not export.is_export(tmp_path / "missing.xlsx")
    (tmp_path / "text.xlsx").write_text("not a zip")
    assert not export.is_export(tmp_path / "text.xlsx")
    with zipfile.ZipFile(tmp_path / "other.xlsx", "w") as z:
        z.writestr(export.CORE_PROPERTIES, "<dc:creator>someone else</dc:creator>")
    assert not export.is_export(tmp_path / "other.xlsx")


def test_a_sheet_too_long_for_excel_is_refused_with_advice():
    big = export.Sheet("timeseries", pd.DataFrame({"week": range(3)}), "")
    export.check_fits([big])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(export, "EXCEL_ROWS", 3)
        with pytest.raises(UserError, match="--every N, or export --csv"):
            export.check_fits([big])


def test_export_rejects_an_unknown_format(run_dir):
    with pytest.raises(ValueError, match="fmt must be one of"):
        export.export(run_dir, "ods")


def test_a_sweep_exports_its_tables(tmp_path):
    out = tmp_path / "sweep"
    assert main(["sweep", BASELINE, "--vary", "policy.centre.helpers_per_10k=1,3", "--reps", "1", "--set",
                 "population.size=300", "--set", "run.weeks=30", "--set", "run.analogue_reference=false", "--quiet",
                 "--yes", "--out", str(out)]) == 0
    assert main(["export", str(out), "--xlsx", "--metrics", "exclusion_rate", "--quiet"]) == 0
    book = openpyxl.load_workbook(out / "export.xlsx", read_only=True)
    assert book.sheetnames == ["about", "metrics", "summary", "points", "results", "results_by_group"]
    results = sheet(out / "export.xlsx", "results")
    assert "exclusion_rate (share)" in results.columns and "trust_mean (0-1)" not in results.columns
    assert main(["report", str(out), "--quiet"]) == 0  # the workbook does not disturb the sweep's checked files
