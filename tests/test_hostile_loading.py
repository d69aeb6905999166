"""Hostile scenario input (issue 18): deep merge in every layer, bounded reading, short one-line messages.

Each layer of settings (an ``extends`` chain, ``--set``, a timeline change) merges a mapping key by key, so
keys it does not name keep their values. Reading a scenario is bounded in bytes, nesting, nodes (aliases
expanded), chain length and merge work; each limit gives one line naming the file, the line and the limit.
"""

import datetime as dt
import os
from pathlib import Path

import pytest

from sim.cli.main import main
from sim.errors import ConfigError
from sim.model.model import DigexModel
from sim.model.params import PolicyConfig
from sim.scenario import loader
from sim.scenario.loader import load_scenario, load_yaml_with_lines
from tests.test_config_io import error_of, write

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "denmark_baseline.yaml"
TINY = ["population.size=300", "run.weeks=60"]


def one_line(err: ConfigError, longest: int = 500) -> str:
    text = str(err)
    assert "\n" not in text and len(text) <= longest, text[:1000]
    return text


# ------------------------------------------------------------------ deep merge, one test per layer


def test_extends_chain_merges_a_block_key_by_key(tmp_path):
    write(tmp_path, "parent.yaml", """
        policy:
          centre: {centres: 4, hours_per_week: 20.0, helpers_per_10k: 1.0}
    """)
    child = write(tmp_path, "child.yaml", """
        extends: parent.yaml
        policy:
          centre: {helpers_per_10k: 3.0}
    """)
    centre = load_scenario(child).policy.centre
    assert (centre.centres, centre.hours_per_week, centre.helpers_per_10k) == (4, 20.0, 3.0)
    assert centre.minutes_casework == PolicyConfig().centre.minutes_casework


def test_set_merges_a_mapping_into_the_block_key_by_key():
    base = load_scenario(BASELINE).policy.optout
    merged = load_scenario(BASELINE, ["policy.optout={rule: remote}"]).policy.optout
    assert merged.rule == "remote" and base.rule != "remote"
    assert merged.model_dump(exclude={"rule"}) == base.model_dump(exclude={"rule"})
    assert base.awareness != PolicyConfig().optout.awareness  # the calibrated value, not the default, is kept


def test_set_mapping_errors_name_the_set_option_and_the_key_below():
    err = error_of(BASELINE, ["policy.optout={rule: nowhere}"])
    assert err.file == "--set policy.optout" and err.key == "policy.optout.rule"
    err = error_of(BASELINE, ["policy.optout={awarenes: 0.5}"])
    assert err.file == "--set policy.optout" and "did you mean 'awareness'" in str(err)
    err = error_of(BASELINE, ["policy.automation_share.0=1"])  # an all-digit key of a mapping is named as set
    assert err.file == "--set policy.automation_share.0"


def test_an_untouched_key_keeps_the_line_of_the_file_that_set_it(tmp_path):
    path = write(tmp_path, "s.yaml", """
        policy:
          centre: {hours_per_week: 99.0}
    """)
    err = error_of(path, ["policy.centre={helpers_per_10k: 3}"])
    assert (err.file, err.line, err.key) == (str(path), 2, "policy.centre.hours_per_week")


def test_timeline_set_of_a_mapping_keeps_the_other_keys_of_the_block(tmp_path):
    path = write(tmp_path, "s.yaml", """
        run: {start: 2014-01-06, weeks: 60}
        population: {size: 300}
        policy:
          centre: {centres: 4, hours_per_week: 20.0, helpers_per_10k: 1.0}
        timeline:
          - date: 2014-01-20
            set: {centre: {helpers_per_10k: 3.0}}
    """)
    model = DigexModel(load_scenario(path))
    while model.date < dt.date(2014, 1, 27):
        model.step()
    centre = model.policy.centre
    assert (centre.centres, centre.hours_per_week, centre.helpers_per_10k) == (4, 20.0, 3.0)


# ------------------------------------------------------------------ bounded reading


def test_a_file_over_the_size_limit_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.truncate(50_000_000)  # 50 MB (sparse): refused after reading MAX_FILE_BYTES + 1 bytes
    err = error_of(path)
    assert err.file == str(path) and "256 KiB" in one_line(err)
    (tmp_path / "edge.yaml").write_text("#" * (loader.MAX_FILE_BYTES - 1) + "\n")
    assert load_yaml_with_lines(tmp_path / "edge.yaml") == ({}, {})


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_devices_pipes_and_directories_are_refused_before_reading(tmp_path, capsys):
    assert main(["validate", "/dev/zero"]) == 2
    assert capsys.readouterr().err.strip() == ("digex: error: /dev/zero: /dev/zero is not a regular file "
                                               "(a device, pipe or socket); name a scenario file")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.yaml")  # opening it must not wait for a writer
        assert "not a regular file" in str(error_of(tmp_path / "pipe.yaml"))
    assert "is a directory" in str(error_of(tmp_path))


def test_an_extends_naming_a_device_names_the_extends_line(tmp_path):
    path = write(tmp_path, "s.yaml", "extends: /dev/zero\n")
    err = error_of(path)
    assert (err.file, err.line, err.key) == (str(path), 1, "extends") and "not a regular file" in str(err)


def test_an_extends_with_a_nul_byte_is_refused(tmp_path):
    err = error_of(write(tmp_path, "s.yaml", 'extends: "a\\0b.yaml"\n'))
    assert err.key == "extends" and "must name another scenario file" in one_line(err)


def test_deep_nesting_is_refused_at_its_line(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("population:\n  size: " + "[" * 20_000 + "]" * 20_000 + "\n")
    err = error_of(path)
    assert err.line == 2 and f"nested more than {loader.MAX_DEPTH} levels deep" in one_line(err)
    fits = "a: " + "[" * (loader.MAX_DEPTH - 1) + "]" * (loader.MAX_DEPTH - 1) + "\n"
    (tmp_path / "fits.yaml").write_text(fits)  # the mapping and its key count as levels too
    assert "a" in load_yaml_with_lines(tmp_path / "fits.yaml")[0]
    (tmp_path / "over.yaml").write_text("a: [" + fits[3:])
    assert "nested more than" in str(error_of(tmp_path / "over.yaml"))


LAUGHS = ["lol0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9}"] + [
    f"lol{i}: &l{i} {{" + ", ".join(f"{k}: *l{i - 1}" for k in "abcdefghi") + "}" for i in range(1, 9)]


def test_billion_laughs_through_extends_is_refused_quickly(tmp_path):
    write(tmp_path, "parent.yaml", "\n".join(LAUGHS) + "\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\n" + "\n".join(LAUGHS) + "\n")
    err = error_of(child)
    assert err.file == str(child) and err.line is not None
    assert f"aliases expand this to more than {loader.MAX_NODES:,}" in one_line(err)


def test_merge_keys_that_multiply_are_measured_like_aliases(tmp_path):
    text = "a: &a {x: 1, y: 2}\n" + "".join(
        f"m{i}: &m{i} {{<<: [" + ", ".join([f"*{'a' if i == 0 else f'm{i - 1}'}"] * 8) + "]}\n" for i in range(8))
    path = write(tmp_path, "merge.yaml", text)
    assert "aliases expand this" in str(error_of(path))


def test_aliases_within_the_limits_still_work(tmp_path):
    path = write(tmp_path, "s.yaml", """
        population: {size: 300}
        policy:
          centre: &c {helpers_per_10k: 3.0, hours_per_week: 20.0}
        timeline:
          - date: 2014-01-06
            set: {centre: *c}
    """)
    config = load_scenario(path)
    assert config.timeline[0].set["centre"] == {"helpers_per_10k": 3.0, "hours_per_week": 20.0}


def test_recursive_and_deeply_nesting_aliases_are_refused(tmp_path):
    err = error_of(write(tmp_path, "loop.yaml", "a: &a [1, *a]\n"))
    assert err.line == 1 and "recursive data" in one_line(err)
    levels = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [[[[[[[[*a{i - 1}]]]]]]]]\n" for i in range(1, 6))
    err = error_of(write(tmp_path, "nest.yaml", levels))
    assert f"aliases nest this more than {loader.MAX_DEPTH} levels deep" in one_line(err)


def test_too_many_nodes_in_a_file_or_an_extends_chain(tmp_path):
    err = error_of(write(tmp_path, "many.yaml", "a: [" + ", ".join(["1"] * (loader.MAX_NODES + 10)) + "]\n"))
    assert err.line == 1 and f"more than {loader.MAX_NODES:,} keys, values and list items" in one_line(err)
    half = ", ".join(["1"] * (loader.MAX_NODES // 2 + 10))
    write(tmp_path, "parent.yaml", f"a: [{half}]\n")
    child = write(tmp_path, "child.yaml", f"extends: parent.yaml\nb: [{half}]\n")
    err = error_of(child)
    assert err.file.endswith("parent.yaml") and "in the whole extends chain" in one_line(err)


def test_extends_chain_length_is_limited(tmp_path):
    write(tmp_path, "f0.yaml", "population: {size: 300}\n")
    for i in range(1, loader.MAX_EXTENDS + 1):
        write(tmp_path, f"f{i}.yaml", f"extends: f{i - 1}.yaml\n")
    assert load_scenario(tmp_path / f"f{loader.MAX_EXTENDS - 1}.yaml").population.size == 300
    err = error_of(tmp_path / f"f{loader.MAX_EXTENDS}.yaml")
    assert err.key == "extends" and f"longer than {loader.MAX_EXTENDS} files" in one_line(err)


def test_merge_work_across_an_extends_chain_is_limited(tmp_path):
    keys = 9_000  # 18,000 nodes, within MAX_NODES; 13 merges carry them past MAX_MERGE_WORK
    write(tmp_path, "f0.yaml", "a: {" + ", ".join(f"k{j}: {j}" for j in range(keys)) + "}\n")
    for i in range(1, 14):
        write(tmp_path, f"f{i}.yaml", f"extends: f{i - 1}.yaml\na: {{k0: {i}}}\n")
    err = error_of(tmp_path / "f13.yaml")
    assert err.key == "extends" and f"more than {loader.MAX_MERGE_WORK:,} keys" in one_line(err)


# ------------------------------------------------------------------ messages


@pytest.mark.parametrize(("key", "kind"), [("1", "a number"), ("yes", "true/false"), ("2014-01-06", "a date"),
                                           ("null", "null"), ("1.5", "a number")])
def test_a_key_that_is_not_a_name_is_refused_at_its_line(tmp_path, key, kind):
    err = error_of(write(tmp_path, "s.yaml", f"population:\n  size: 300\n{key}: foo\n"))
    assert err.line == 3 and f"key '{key}' is read as {kind}, not as a name" in one_line(err)
    err = error_of(write(tmp_path, "q.yaml", f"population:\n  size: 300\n'{key}': foo\n"))
    assert err.line == 3 and f"unknown key '{key}'" in str(err)  # quoted, it is a name (here an unknown one)


def test_huge_values_and_keys_are_shortened_in_messages(tmp_path):
    err = error_of(BASELINE, ["population.size=" + "x" * 1_000_000])
    assert "(got 'xxxx" in one_line(err, 300)
    path = write(tmp_path, "s.yaml", "population:\n  size: '" + "9" * 200_000 + "x'\n")
    assert error_of(path).line == 2 and len(str(error_of(path))) < 300
    path = write(tmp_path, "k.yaml", "population:\n  ? " + "k" * 200_000 + "\n  : 1\n")
    err = error_of(path)
    assert err.line == 2 and "unknown key 'kkk" in one_line(err)
    err = error_of(BASELINE, ["a\nb.c=" + "[" * 100])
    assert "\\n" in one_line(err)


@pytest.mark.parametrize(("override", "words"), [
    ("policy..centre=1", "empty part in the key path"),
    (".policy=1", "empty part in the key path"),
    ("policy.=1", "empty part in the key path"),
    ("policy centre=1", "without spaces or control characters"),
    ("policy.\tcentre=1", "without spaces or control characters"),
    ("policy.cen\x00tre=1", "without spaces or control characters"),
    ("=1", "is not of the form key.path=value"),
    (" =1", "is not of the form key.path=value"),
    ("", "is not of the form key.path=value"),
])
def test_empty_or_malformed_set_key_paths_are_refused(override, words):
    err = error_of(BASELINE, [override])
    assert err.file.startswith("--set") and words in one_line(err)


def test_set_values_are_read_within_the_same_limits():
    err = error_of(BASELINE, ["population.size=" + "[" * 5_000])
    assert "nested more than" in one_line(err)
    laughs = "{" + ", ".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else "1"] * 9) + "]" for i in range(9))
    err = error_of(BASELINE, ["population.size=" + laughs + "}"])
    assert err.file == "--set population.size" and "aliases expand this" in one_line(err)


def test_limits_are_messages_at_the_command_line(tmp_path, capsys):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err
