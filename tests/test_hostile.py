"""Hostile input, generated: every bad scenario, ``--set`` and ``--out`` ends in one message and exit status 2.

The command line runs in this process (``sim.cli.main.main``), so an uncaught
exception fails the test with its traceback. Every case checks that:

- the exit status is 2 (or 0 where a generated value happens to be valid);
- standard error holds no traceback and ends in one ``error:`` line of bounded length;
- no file outside the intended output directory changed.

Targeted reproductions of each class live in the ``tests/test_hostile_*.py`` files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.model.params import Config

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "denmark_baseline.yaml"
TINY = ["--quiet", "--set", "population.size=300", "--set", "run.weeks=5"]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)
"""Derandomised: the same examples on every run, so the suite is deterministic."""


def leaves(data: object, prefix: str = "") -> list[tuple[str, object]]:
    """Every (key path, value) of a configuration's plain data."""
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in leaves(v, f"{prefix}.{k}" if prefix else str(k))]
    return [(prefix, data)]


KEYS = [(k, v) for k, v in leaves(Config().model_dump(mode="json")) if k != "timeline"]
NUMERIC_KEYS = sorted(k for k, v in KEYS if isinstance(v, int | float) and not isinstance(v, bool))
ALL_KEYS = sorted(k for k, _ in KEYS)


def run_cli(argv: list[str], cwd: Path) -> tuple[int, str]:
    """Exit status and standard error of ``digex ARGV`` run in ``cwd``."""
    err, out = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's own usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    return code, err.getvalue()


def snapshot(directory: Path) -> dict[str, str]:
    """Path -> content hash of every file below ``directory`` (devices and links by their kind)."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink() or not path.is_file():
            found[str(path)] = "link" if path.is_symlink() else "dir"
        else:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def assert_refused(code: int, err: str, allow_valid: bool = False) -> None:
    """Exit 2 with one bounded error line and no traceback (or 0 if the input may be valid)."""
    assert "Traceback" not in err, err[-2000:]
    if allow_valid and code == 0:
        return
    assert code == 2, f"exit {code}: {err[-500:]}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and "error:" in lines[-1], err[-500:]
    assert all(len(line) <= 2000 for line in lines), "an error line is unbounded"
    assert sum("error:" in line for line in lines) == 1, err[-500:]


def scenario(directory: Path, body: str) -> Path:
    """A scenario file extending the shipped baseline (by absolute path) with ``body`` appended."""
    path = directory / "fuzz.yaml"
    path.write_text(f"extends: {BASELINE}\nname: fuzz\n{body}", encoding="utf-8")
    return path


def nested(key: str, value_yaml: str) -> str:
    """YAML text setting the dotted ``key`` to a value given as YAML flow text."""
    *parents, leaf = key.split(".")
    text, indent = "", ""
    for part in parents:
        text += f"{indent}'{part}':\n"
        indent += "  "
    return text + f"{indent}'{leaf}': {value_yaml}\n"


BAD_NUMBERS = st.sampled_from([".nan", ".inf", "-.inf", "1e309", "-1e309", "true", "false", "yes", "'abc'",
                               "[1, 2]", "{a: 1}", "null", "10000000000000000000000000000000000000",
                               "'" + "9" * 5000 + "'"])


@FUZZ
@given(key=st.sampled_from(NUMERIC_KEYS), value=BAD_NUMBERS)
def test_a_number_with_a_bad_value_is_refused(key: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = scenario(Path(tmp), nested(key, value))
        before = snapshot(ROOT / "scenarios")
        code, err = run_cli(["validate", str(path)], Path(tmp))
        # a huge number can be valid for an unbounded key; NaN, inf, bool and text never are
        assert_refused(code, err, allow_valid=value.startswith("1000"))
        assert snapshot(ROOT / "scenarios") == before


ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=300),
    st.dates(), st.lists(st.integers(), max_size=5), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@FUZZ
@given(key=st.sampled_from(ALL_KEYS), value=ANY_VALUE)
def test_any_value_at_any_key_is_validated_or_refused(key: str, value: object) -> None:
    text = nested(key, yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...")
                  .removesuffix("..."))
    with tempfile.TemporaryDirectory() as tmp:
        code, err = run_cli(["validate", str(scenario(Path(tmp), text))], Path(tmp))
        assert_refused(code, err, allow_valid=True)
        if isinstance(value, float) and math.isnan(value):
            assert code == 2, f"NaN accepted at {key}"


@FUZZ
@given(key=st.text(min_size=0, max_size=40), value=st.text(max_size=60))
def test_any_set_override_is_validated_or_refused(key: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # the tiny size comes after the generated override, so no override can make the run large
        code, err = run_cli(["run", str(BASELINE), "--set", f"{key}={value}", "--out", "out", *TINY,
                             "--set", "run.analogue_reference=false"], Path(tmp))
        assert_refused(code, err, allow_valid=True)


STRUCTURES = {
    "deep nesting": "x: " + "[" * 30000 + "]" * 30000 + "\n",
    "deep mappings": "".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "v: 1\n",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)),
    "non-string key": "1: foo\n",
    "top level list": "- 1\n- 2\n",
    "binary junk": "\x00\x01\x02\xff",
    "unicode key": "pölicy:\n  centre: {helpers_per_10k: 2}\n",
    "bidi override": "name: \u202eevil\n",
    "huge string in an integer": "run:\n  weeks: '" + "7" * 1_000_000 + "'\n",
    "merge key": "policy:\n  <<: {centre: 1}\n",
    "python tag": "name: !!python/object/apply:os.system ['true']\n",
}


@pytest.mark.parametrize("body", STRUCTURES.values(), ids=STRUCTURES.keys())
def test_hostile_structures_are_refused(tmp_path: Path, body: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(body.encode("utf-8", "surrogatepass"))
    code, err = run_cli(["validate", str(path)], tmp_path)
    assert_refused(code, err)


def test_a_huge_file_and_a_device_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 6_000_000)  # 60 MB
    for path in (big, Path("/dev/zero")):
        code, err = run_cli(["validate", str(path)], tmp_path)
        assert_refused(code, err)


BAD_OUTS = ["", ".", "/", "/dev/null", "existing_file.txt", "foreign_dir", "/proc/version", "results",
            "x" * 300, "a\x00b"]


@pytest.mark.parametrize("out", BAD_OUTS, ids=lambda o: o[:20] or "empty")
def test_bad_out_is_refused_before_anything_runs_and_nothing_changes(tmp_path: Path, out: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "existing_file.txt").write_text("a user's notes")
    (work / "foreign_dir").mkdir()
    (work / "foreign_dir" / "notes.txt").write_text("a user's notes")
    (work / "results").mkdir()
    (work / "results" / "notes.txt").write_text("a user's notes")
    before = snapshot(tmp_path)
    code, err = run_cli(["run", str(BASELINE), "--out", out, *TINY], work)
    assert_refused(code, err)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("out", ["x" * 250, "../outside", "deep/new/folder"], ids=["long", "parent", "deep"])
def test_unusual_but_valid_out_writes_there_and_nowhere_else(tmp_path: Path, out: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(tmp_path)
    code, err = run_cli(["run", str(BASELINE), "--out", out, *TINY, "--set", "run.analogue_reference=false"], work)
    assert code == 0, err[-500:]
    target = (work / out).resolve()
    changed = {p for p in set(snapshot(tmp_path)) ^ set(before)}
    assert changed and all(Path(p) == target or target in Path(p).parents or Path(p) in target.parents
                           for p in changed)


@pytest.mark.parametrize("name", ["", "..", "../../escaped", "a/b", "x" * 300, "nul\x00byte", "tab\there"])
def test_unsafe_scenario_names_are_refused(tmp_path: Path, name: str) -> None:
    before = snapshot(tmp_path)
    code, err = run_cli(["run", str(BASELINE), "--set", f"name={name}", *TINY], tmp_path)
    assert_refused(code, err)
    assert snapshot(tmp_path) == before
