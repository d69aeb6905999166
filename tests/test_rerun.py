"""The manifest records how to repeat a run (commit, input hashes, library versions); digex rerun repeats it."""

import hashlib
import json
import re
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from sim.cli.main import main
from sim.outputs import files

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "denmark_baseline.yaml"
HYBRID = ROOT / "scenarios" / "nordic_hybrid.yaml"
TINY = ["--reps", "2", "--set", "population.size=300", "--set", "run.weeks=60", "--set",
        "run.analogue_reference=false", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rerun") / "run"
    assert main(["run", str(BASELINE), *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rerun") / "compare"
    assert main(["compare", str(BASELINE), str(HYBRID), *TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy(run_dir, tmp_path) -> Path:
    """A copy of the run directory that a test may change."""
    return Path(shutil.copytree(run_dir, tmp_path / "run"))


def read(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def write(path: Path, manifest: dict) -> None:
    (path / "manifest.json").write_text(json.dumps(manifest))


# ------------------------------------------------------------------ what the manifest records


def test_manifest_records_the_source_commit_and_whether_the_tree_is_dirty(run_dir):
    git = read(run_dir)["git"]
    assert re.fullmatch(r"[0-9a-f]{40}", git["commit"]) and isinstance(git["dirty"], bool)


def test_source_tree_is_none_outside_a_git_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "__file__", str(tmp_path / "sim" / "outputs" / "files.py"))
    assert files.source_tree() is None


def test_manifest_hashes_each_input_file_of_the_extends_chain(run_dir):
    (scenario,) = read(run_dir)["scenarios"]
    chain = [ROOT / "scenarios" / name for name in ("denmark_baseline.yaml", "calibrated.yaml")]
    assert scenario["inputs"] == [{"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                                  for p in chain]
    assert scenario["config_sha256"] == files.config_digest(scenario["config"])


def test_input_files_names_a_file_that_can_no_longer_be_read(tmp_path):
    (entry,) = files.input_files(str(tmp_path / "gone.yaml"))
    assert entry["sha256"] is None and "file not found" in entry["problem"]


def test_manifest_records_every_library_version(run_dir):
    manifest = read(run_dir)
    libraries = manifest["libraries"]
    for name in ("numpy", "pandas", "pyarrow", "mesa", "matplotlib", "scipy", "pydantic", "pyyaml", "solara",
                 "dask", "tqdm", "networkx", "openpyxl"):
        assert re.match(r"\d", libraries[name]), name
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in required}
    assert names <= set(libraries)
    assert manifest["platform"]["python"] and set(manifest["platform"]) == {"python", "system", "machine"}


# ------------------------------------------------------------------ rerun


def test_rerun_of_a_run_is_identical(run_dir, capsys):
    assert main(["rerun", str(run_dir / "manifest.json")]) == 0
    out = capsys.readouterr().out
    assert "Identical" in out and "summary.csv, summary_by_group.csv" in out


def test_rerun_of_a_compare_is_identical_and_can_keep_its_results(compare_dir, tmp_path, capsys):
    again = tmp_path / "again"
    assert main(["rerun", str(compare_dir), "--out", str(again), "--jobs", "2"]) == 0
    assert "comparison.csv" in capsys.readouterr().out
    assert (again / "comparison.csv").read_bytes() == (compare_dir / "comparison.csv").read_bytes()
    manifest = read(again)
    assert manifest["kind"] == "compare" and manifest["command"].startswith("digex rerun ")
    assert main(["rerun", str(again), "--quiet"]) == 0  # a rerun's manifest reruns too


def test_a_changed_result_is_listed_with_exit_status_1(copy, capsys):
    summary = pd.read_csv(copy / "summary.csv")
    row = summary.index[summary["metric"] == "exclusion_rate"][0]
    summary.loc[row, "mean"] += 0.001
    summary.to_csv(copy / "summary.csv", index=False)
    assert main(["rerun", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "differs from the recorded results in 1 value(s)" in out
    assert "summary.csv: denmark_baseline, exclusion_rate, share: mean recorded" in out


def test_differences_report_columns_rows_and_values():
    from sim.cli.rerun import differences

    a = pd.DataFrame({"scenario": ["x", "y"], "mean": [1.0, float("nan")]})
    assert differences("t.csv", a, a.copy()) == []
    assert differences("t.csv", a, a.rename(columns={"mean": "m"}))[0].startswith("t.csv: columns differ")
    assert differences("t.csv", a, a.head(1)) == ["t.csv: 2 rows recorded, 1 in the rerun"]
    assert differences("t.csv", a, a.assign(mean=[1.0, 2.0])) == ["t.csv: y: mean recorded nan, rerun 2.0"]


def tamper(manifest: dict, edit: str) -> dict:
    """A manifest edited in one way (``edit``), as a hand or a tool might."""
    scenario = manifest["scenarios"][0]
    if edit == "config":
        scenario["config"]["population"]["size"] = 301
    elif edit == "invalid value":
        scenario["config"]["population"]["size"] = -5
        scenario["config_sha256"] = files.config_digest(scenario["config"])
    elif edit == "seeds":
        scenario["seeds"] = [1, 7]
    elif edit == "seed type":
        scenario["seeds"] = ["1", "2"]
    elif edit == "no scenarios":
        manifest["scenarios"] = []
    elif edit == "sweep":
        manifest["kind"] = "sweep"
    return manifest


@pytest.mark.parametrize(("edit", "message"), [
    ("config", "does not match its recorded SHA-256"),
    ("invalid value", "invalid configuration at 'population.size'"),
    ("seeds", "name or seeds do not match"),
    ("seed type", "'scenarios.0.seeds.0'"),
    ("no scenarios", "'scenarios'"),
    ("sweep", "rerun repeats a run or compare"),
])
def test_a_tampered_manifest_is_refused_in_one_line(copy, capsys, edit, message):
    write(copy, tamper(read(copy), edit))
    assert main(["rerun", str(copy / "manifest.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("digex: error: ")


@pytest.mark.parametrize(("content", "message"), [("{not json", "not valid JSON"), ("[1, 2]", "'(top)'"),
                                                   (None, "no such file")])
def test_a_broken_manifest_is_refused_in_one_line(tmp_path, capsys, content, message):
    if content is not None:
        (tmp_path / "manifest.json").write_text(content)
    assert main(["rerun", str(tmp_path / "manifest.json")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_rerun_needs_the_recorded_tables(copy, capsys):
    (copy / "summary_by_group.csv").unlink()
    assert main(["rerun", str(copy)]) == 2
    assert "summary_by_group.csv: cannot be read" in capsys.readouterr().err


def test_a_manifest_of_another_digex_version_warns_but_reruns(copy, capsys):
    manifest = read(copy)
    manifest["digex_version"] = "0.0.1"
    write(copy, manifest)
    assert main(["rerun", str(copy), "--quiet"]) == 0
    assert "written by digex 0.0.1" in capsys.readouterr().err


def test_rerun_out_refuses_a_directory_of_another_kind(copy, compare_dir, capsys):
    assert main(["rerun", str(copy), "--out", str(compare_dir)]) == 2
    assert "refusing to replace it" in capsys.readouterr().err


def test_rerun_out_never_replaces_the_recorded_results(copy, capsys):
    before = (copy / "summary.csv").read_bytes()
    assert main(["rerun", str(copy), "--out", str(copy)]) == 2
    assert "holds the recorded results" in capsys.readouterr().err
    assert (copy / "summary.csv").read_bytes() == before
