"""Hostile output paths and faults (issue 18): refused before any simulation, one line, nothing lost.

Output directories (sim/atomic.py), reports (digex report --out), faults while writing (disk full,
read-only, a rename that fails), bounds on --reps and --jobs, and figures at the extreme dates a
scenario may use.
"""

import errno
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from sim import atomic
from sim.atomic import MARKER, check_replaceable, default_output, mark, marked_kind, output_dir
from sim.cli.main import main
from sim.cli.run import MAX_REPS, MAX_SERIES_WEEKS
from sim.errors import UserError
from sim.outputs.report import REPORT_MARKER

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "denmark_baseline.yaml")
WARM = str(ROOT / "scenarios" / "warm_hands.yaml")
TINY = ["--set", "population.size=300", "--set", "run.weeks=60", "--set", "run.analogue_reference=false", "--quiet"]
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def one_line(capsys, *parts: str) -> str:
    """The captured error: one 'digex: error:' line, no traceback, holding every part."""
    err = capsys.readouterr().err
    assert err.startswith("digex: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in err, (part, err)
    return err


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if run or compare starts simulating."""

    def forbidden(*args, **kwargs):
        raise AssertionError("a simulation started before the output path was checked")

    monkeypatch.setattr("sim.cli.run.replicate", forbidden)
    monkeypatch.setattr("sim.experiments.compare.run_comparison", forbidden)


def run_dir(path: Path) -> Path:
    """A directory as digex run leaves it (marked, one table)."""
    with output_dir(path, kind="run") as tmp:
        (tmp / "summary.csv").write_text("x\n")
    return path


# ------------------------------------------------------------------ output directories, checked before any work


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize(("out", "words"), [
    ("", "empty"), (".", "current directory"), ("/", "mount point"), ("/dev/null", "not a directory"),
    ("a" * 256, "file system's limit of 255"), ("x\0y", "not a path"),
])
def test_bad_out_is_refused_before_any_simulation(tmp_path, monkeypatch, capsys, no_simulation, command, out, words):
    monkeypatch.chdir(tmp_path)
    scenarios = [BASELINE] if command == "run" else [BASELINE, WARM]
    assert main([command, *scenarios, *TINY, "--out", out]) == 2
    one_line(capsys, words)
    assert list(tmp_path.iterdir()) == []


def test_current_directory_and_its_parents_are_refused(tmp_path, monkeypatch):
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    for path in (".", inner, tmp_path / "a", "../b"):
        with pytest.raises(UserError, match="current directory"):
            check_replaceable(path, kind="run")


def test_mount_points_are_refused(tmp_path, monkeypatch):
    target = tmp_path / "mnt"
    target.mkdir()
    monkeypatch.setattr(os.path, "ismount", lambda p: Path(p) == target)
    with pytest.raises(UserError, match="mount point"):
        check_replaceable(target, kind="run")


def test_long_names_fit_and_too_long_names_are_refused(tmp_path):
    longest = tmp_path / ("n" * 255)
    with output_dir(longest, kind="run") as tmp:  # the temporary names stay within the limit
        (tmp / "a.txt").write_text("done")
    assert (longest / "a.txt").read_text() == "done"
    with pytest.raises(UserError, match="256 bytes long"):
        check_replaceable(tmp_path / ("n" * 256) / "inner", kind="run")
    with pytest.raises(UserError, match="too long for this system"):
        check_replaceable(tmp_path.joinpath(*["d" * 200] * 25), kind="run")


def test_links_files_devices_and_foreign_directories_are_refused(tmp_path):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "link").symlink_to(run_dir(tmp_path / "real"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    cases = {"file": "not a directory", "link": "symbolic link", "mine": "not written by digex",
             "file/inner": "not a writable directory", "/dev/null": "not a directory"}
    for name, words in cases.items():
        with pytest.raises(UserError, match=words):
            check_replaceable(tmp_path / name, kind="run")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_an_unwritable_folder_is_refused_before_any_work(tmp_path, monkeypatch, capsys, no_simulation):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    assert main(["run", BASELINE, *TINY, "--out", str(tmp_path / "results" / "x")]) == 2
    one_line(capsys, "results/x", "read-only", "choose another --out")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(ROOT_USER, reason="root ignores directory permissions")
def test_a_read_only_results_folder_is_refused_before_any_work(tmp_path, capsys, no_simulation):
    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["run", BASELINE, *TINY, "--out", str(folder / "x")]) == 2
    finally:
        folder.chmod(0o755)
    one_line(capsys, "not a writable directory")


def test_default_output_stays_inside_results():
    assert default_output("denmark_baseline") == Path("results/denmark_baseline")
    assert default_output("calibration", "denmark") == Path("results/calibration/denmark")
    for name in ("", ".", "..", "../../escaped", "a/b", "a\\b"):
        with pytest.raises(UserError, match="cannot name a folder inside results/"):
            default_output(name)


# ------------------------------------------------------------------ kinds: only the same command replaces a directory


def test_marker_records_the_kind_and_only_that_kind_replaces(tmp_path):
    out = run_dir(tmp_path / "o")
    assert marked_kind(out) == "run"
    assert "kind: run" in (out / MARKER).read_text()
    assert check_replaceable(out, kind="run") == out.resolve()
    for kind in ("compare", "sweep", "calibrate"):
        with pytest.raises(UserError, match=f"holds the output of digex run; refusing to replace it with the "
                                            f"output of digex {kind}"):
            check_replaceable(out, kind=kind)
    with pytest.raises(ValueError, match="kind must be one of"):
        check_replaceable(out, kind="report")
    assert marked_kind(tmp_path) is None


def test_markers_of_an_earlier_digex_are_told_by_their_files(tmp_path):
    legacy = {"calibrate": "fit.csv", "sweep": "points.csv", "compare": "comparison.csv", "run": "summary.csv"}
    for kind, name in legacy.items():
        d = tmp_path / kind
        d.mkdir()
        (d / MARKER).write_text("written by digex 0.1.0\n")
        (d / name).write_text("x\n")
        assert marked_kind(d) == kind
        check_replaceable(d, kind=kind)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / MARKER).write_text("")
    (odd / "x.txt").write_text("x")
    with pytest.raises(UserError, match="an unknown digex command"):
        check_replaceable(odd, kind="run")
    check_replaceable(ROOT / "docs" / "calibration", kind="calibrate")  # the shipped calibration report


def test_empty_directories_are_replaced_by_any_kind(tmp_path):
    for kind in ("compare", "calibrate"):
        (tmp_path / kind).mkdir()
        with output_dir(tmp_path / kind, kind=kind):
            pass
        assert marked_kind(tmp_path / kind) == kind
    mark(tmp_path / "compare", "sweep")
    assert marked_kind(tmp_path / "compare") == "sweep"


def test_a_sweep_into_a_run_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["sweep", BASELINE, "--vary", "policy.optout.rule=in_person,automatic", "--reps", "1", *TINY,
                 "--out", str(out)]) == 2
    one_line(capsys, "output of digex run", "digex sweep")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main(["compare", BASELINE, WARM, *TINY, "--reps", "1", "--out", str(out)]) == 2
    one_line(capsys, "output of digex run", "digex compare")


def test_calibrate_checks_its_output_before_fitting(tmp_path, monkeypatch, capsys):
    def forbidden(*args, **kwargs):
        raise AssertionError("fitting started before the output path was checked")

    monkeypatch.setattr("sim.experiments.calibration.fit", forbidden)
    config = str(ROOT / "calibration" / "denmark.yaml")
    assert main(["calibrate", config, "--out", ""]) == 2
    one_line(capsys, "empty")
    run_dir(tmp_path / "run")
    assert main(["calibrate", config, "--out", str(tmp_path / "run")]) == 2
    one_line(capsys, "output of digex run", "digex calibrate")


# ------------------------------------------------------------------ faults while writing: one line, nothing left


def test_disk_full_while_writing_is_one_line_and_keeps_the_previous_results(tmp_path, monkeypatch, capsys):
    out = tmp_path / "o"
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 0
    before = (out / "manifest.json").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["run", BASELINE, *TINY, "--seed", "5", "--out", str(out)]) == 2
    one_line(capsys, f"cannot write {out}", "No space left on device", "free some space")
    assert (out / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # the partial directory was removed


def test_a_failed_swap_puts_the_previous_results_back(tmp_path, monkeypatch, capsys):
    out = run_dir(tmp_path / "o")
    calls = []
    real = os.replace

    def busy_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the new directory cannot take the old one's place
            raise OSError(errno.EBUSY, "Device or resource busy")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", busy_second)
    with pytest.raises(UserError, match="Device or resource busy; it is in use"), output_dir(out, kind="run") as tmp:
        (tmp / "summary.csv").write_text("new\n")
    assert (out / "summary.csv").read_text() == "x\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no .old or .partial left behind


def test_write_file_faults_name_the_file_and_leave_nothing(tmp_path):
    target = tmp_path / "a.csv"

    def full(path):
        path.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError, match="cannot write .*a.csv: No space left on device; the disk is full"):
        atomic.write_file(target, full)
    assert list(tmp_path.iterdir()) == []


def test_other_system_errors_are_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "plots" / "broken.png").mkdir(parents=True)  # a figure that cannot be read
    (out / "summary.csv").write_text("scenario,metric,mean,ci_low,ci_high,n_reps\nx,exclusion_rate,0.1,0.1,0.1,1\n")
    assert main(["report", str(out)]) == 2
    one_line(capsys, "broken.png", "Is a directory")


# ------------------------------------------------------------------ counts that size memory


@pytest.mark.parametrize("command", ["run", "compare"])
def test_reps_and_jobs_are_bounded(tmp_path, capsys, command):
    scenarios = [BASELINE] if command == "run" else [BASELINE, WARM]
    for option, value, words in (("--reps", "1000000000", f"from 1 to {MAX_REPS:,}"),
                                 ("--jobs", "100000", "from 1 to 256"), ("--reps", "9" * 5000, "999...")):
        with pytest.raises(SystemExit) as info:
            main([command, *scenarios, *TINY, option, value, "--out", str(tmp_path / "o")])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert words in err and len(err) < 1000
    assert not (tmp_path / "o").exists()


def test_replication_weeks_are_bounded_before_any_simulation(tmp_path, capsys, no_simulation):
    assert main(["run", BASELINE, *TINY, "--reps", "5000", "--out", str(tmp_path / "o")]) == 2
    one_line(capsys, "300,000 replication-weeks", f"limit of {MAX_SERIES_WEEKS:,}", "at most --reps 4,166")
    assert main(["compare", BASELINE, WARM, *TINY, "--reps", "2500", "--out", str(tmp_path / "o")]) == 2
    one_line(capsys, "2 scenario(s)", f"limit of {MAX_SERIES_WEEKS:,}")
    assert list(tmp_path.iterdir()) == []


def test_a_bad_scheduler_address_is_refused_before_any_simulation(tmp_path, capsys, no_simulation):
    assert main(["run", BASELINE, *TINY, "--executor", "dask", "--scheduler", "notaurl",
                 "--out", str(tmp_path / "o")]) == 2
    one_line(capsys, "--scheduler 'notaurl'")


# ------------------------------------------------------------------ reports never overwrite what digex did not write


def fake_run_dir(path: Path, manifest: dict | None = None, summary: str | None = None) -> Path:
    """A small directory shaped like a run's output (no simulation needed)."""
    path.mkdir(parents=True)
    rows = "\n".join(f"base,{m},0.1,0.05,0.2,3" for m in ("exclusion_rate", "cost_per_citizen_year_dkk"))
    (path / "summary.csv").write_text(summary or f"scenario,metric,mean,ci_low,ci_high,n_reps\n{rows}\n")
    if manifest is not None:
        (path / "manifest.json").write_text(json.dumps(manifest))
    return path


MANIFEST = {"digex_version": "0.1.0", "command": "digex run base.yaml", "replications": {"base": 3},
            "scenarios": [{"name": "base", "config": {"run": {"start": "2014-06-02", "weeks": 60},
                                                      "population": {"size": 300, "real_size": 4590000}}}]}


def test_report_of_a_small_directory_is_written(tmp_path):
    d = fake_run_dir(tmp_path / "d", MANIFEST)
    assert main(["report", str(d), "--quiet"]) == 0
    page = (d / "report.html").read_text()
    assert page.startswith(f"<!DOCTYPE html>\n{REPORT_MARKER}\n") and "02 June 2014" in page


@pytest.mark.parametrize(("target", "words"), [
    ("/dev/null", "must end in .html"), ("notes.txt", "must end in .html"), ("folder.html", "not a regular file"),
    ("mine.html", "not written by digex report"), ("missing/r.html", "does not exist"), ("", "must end in .html"),
])
def test_report_never_overwrites_a_file_it_did_not_write(tmp_path, capsys, target, words):
    d = fake_run_dir(tmp_path / "d", MANIFEST)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine.html").write_text("<html>my own page</html>")
    (tmp_path / "folder.html").mkdir()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    path = target if target in ("", "/dev/null") else str(tmp_path / target)
    assert main(["report", str(d), "--out", path]) == 2
    one_line(capsys, words)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
    assert Path("/dev/null").is_char_device()


def test_report_replaces_only_its_own_reports(tmp_path, capsys):
    d = fake_run_dir(tmp_path / "d", MANIFEST)
    target = tmp_path / "r.html"
    assert main(["report", str(d), "--out", str(target), "--quiet"]) == 0
    target.write_text(target.read_text().replace("base", "older"))
    assert main(["report", str(d), "--out", str(target), "--quiet"]) == 0
    assert "older" not in target.read_text()
    (d / "report.html").write_text("a page of my own")  # the default place holds a file digex did not write
    assert main(["report", str(d)]) == 2
    one_line(capsys, "report.html exists and was not written by digex report")
    assert (d / "report.html").read_text() == "a page of my own"


def with_run(**changes) -> dict:
    """MANIFEST with ``scenarios[0].config.run`` changed."""
    m = json.loads(json.dumps(MANIFEST))
    m["scenarios"][0]["config"]["run"].update(changes)
    return m


BAD_DIRECTORIES = {
    "foreign summary": (None, "a,b\n1,2\n", "no column 'scenario'"),
    "text in numbers": (None, "scenario,metric,mean,ci_low,ci_high,n_reps\nx,exclusion_rate,abc,1,1,1\n",
                        "column 'mean' holds values that are not finite numbers"),
    "infinite number": (None, "scenario,metric,mean,ci_low,ci_high,n_reps\nx,exclusion_rate,inf,1,1,1\n",
                        "not finite numbers"),
    "repeated rows": (None, "scenario,metric,mean,ci_low,ci_high,n_reps\nx,m,1,1,1,1\nx,m,1,1,1,1\n",
                      "more than one row"),
    "no rows": (None, "scenario,metric,mean,ci_low,ci_high,n_reps\n", "no rows"),
    "reps as text": ({**MANIFEST, "reps": "three"}, None, "'reps': Input should be a valid integer"),
    "scenarios not a list": ({**MANIFEST, "scenarios": "x"}, None, "'scenarios'"),
    "unknown kind": ({**MANIFEST, "kind": 5}, None, "'kind'"),
    "bad date": (with_run(start="2014-13-45"), None, "'scenarios.0.config.run.start'"),
    "weeks as text": (with_run(weeks="10"), None, "'scenarios.0.config.run.weeks'"),
    "bool for a number": ({**MANIFEST, "replications": {"base": True}}, None, "'replications.base'"),
    "platform a list": ({**MANIFEST, "platform": [1]}, None, "'platform'"),
    "not an object": ([1, 2], None, "expected a JSON object"),
    "deep nesting": ({"x": json.loads("[" * 50 + "]" * 50)}, None, None),
}


@pytest.mark.parametrize("case", list(BAD_DIRECTORIES))
def test_report_of_a_damaged_directory_is_one_line(tmp_path, capsys, case):
    manifest, summary, words = BAD_DIRECTORIES[case]
    d = fake_run_dir(tmp_path / "d", manifest, summary)
    code = main(["report", str(d), "--quiet"])
    if words is None:  # valid: extra keys are kept as they are
        assert code == 0
        return
    assert code == 2
    one_line(capsys, words)
    assert not (d / "report.html").exists()


def test_report_copes_with_far_dates_in_a_manifest(tmp_path):
    d = fake_run_dir(tmp_path / "d", with_run(start="9999-01-01", weeks=1000))
    assert main(["report", str(d), "--quiet"]) == 0
    assert "(period unknown)" in (d / "report.html").read_text()


# ------------------------------------------------------------------ figures at the extreme dates a scenario may use


@pytest.mark.parametrize("start", ["1900-01-01", "2200-12-31"])
def test_runs_at_the_first_and_last_start_dates_write_their_figures(tmp_path, start):
    dated = [*TINY, "--set", f"run.start={start}"]
    assert main(["run", BASELINE, *dated, "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "exclusion_over_time.png").stat().st_size > 0
    assert main(["compare", BASELINE, WARM, *dated, "--reps", "2", "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "plots" / "exclusion_over_time.png").stat().st_size > 0
    assert main(["report", str(tmp_path / "cmp"), "--quiet"]) == 0


def test_figures_cope_with_the_latest_run_end(tmp_path):
    """A run may start on 2200-12-31 and last 5,200 weeks (to 2300): beyond pandas' nanosecond dates (2262)."""
    from sim.outputs.figures import write_run_figures

    out = tmp_path / "o"
    assert main(["run", BASELINE, *TINY, "--out", str(out)]) == 0
    ts = pd.read_parquet(out / "timeseries.parquet")
    ts["date"] = pd.to_datetime(ts["date"]).astype("datetime64[s]") + pd.DateOffset(years=287)
    assert ts["date"].max().year > 2262
    by_group = pd.read_csv(out / "summary_by_group.csv")
    assert write_run_figures(tmp_path, ts, by_group) == ["exclusion_over_time.png", "exclusion_by_age.png"]
