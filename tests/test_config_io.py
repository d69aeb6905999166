"""Scenario files: layering (defaults, extends, file, --set), line numbers, and every error class."""

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.model.params import Config
from sim.scenario.loader import load_scenario, load_yaml_with_lines, scenario_to_yaml

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "denmark_baseline.yaml"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(path, overrides=()) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_scenario(path, overrides)
    return info.value


# ------------------------------------------------------------------ layering


def test_empty_mapping_and_empty_file_give_the_defaults(tmp_path):
    for text in ("# only a comment\n{}\n", "", "# nothing\n"):
        config = load_scenario(write(tmp_path, "empty.yaml", text))
        assert config.model_dump(exclude={"name"}) == Config().model_dump(exclude={"name"})
        assert config.name == "empty"  # a file without name is named after the file


def test_partial_blocks_merge_with_defaults(tmp_path):
    path = write(tmp_path, "s.yaml", """
        policy:
          centre: {self_help_share: 0.2}
          automation_share: {tax: 0.5}
        tasks:
          procedures:
            tax: {complexity_mean: 0.6}
    """)
    c = load_scenario(path)
    d = Config()
    assert c.policy.centre.self_help_share == 0.2
    assert c.policy.centre.helpers_per_10k == d.policy.centre.helpers_per_10k
    assert c.policy.automation_share == {**d.policy.automation_share, "tax": 0.5}
    tax = c.tasks.procedures["tax"]
    assert tax.complexity_mean == 0.6 and tax.season_weeks == d.tasks.procedures["tax"].season_weeks


def test_extends_chain_merges_mappings_and_replaces_lists(tmp_path):
    write(tmp_path, "base.yaml", """
        name: base
        description: the base
        run: {start: 2013-01-07, weeks: 200}
        policy:
          centre: {helpers_per_10k: 3.0, self_help_share: 0.7}
        timeline:
          - {date: 2013-06-03, set: {centre.hours_per_week: 20}}
          - {date: 2013-09-02, set: {phone.agents_per_10k: 2}}
    """)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "middle.yaml", """
        extends: ../base.yaml
        policy:
          centre: {self_help_share: 0.1}
    """)
    top = write(tmp_path / "sub", "top.yaml", """
        extends: middle.yaml
        name: top
        timeline:
          - {date: 2014-01-06, set: {policy.proxy.available: true}, note: proxy opens}
    """)
    c = load_scenario(top)
    assert c.name == "top" and c.description == ""  # name and description are not inherited
    assert c.run.start == dt.date(2013, 1, 7) and c.run.weeks == 200
    assert c.policy.centre.helpers_per_10k == 3.0 and c.policy.centre.self_help_share == 0.1
    assert len(c.timeline) == 1 and c.timeline[0].set == {"proxy.available": True}


def test_overrides_parse_values_as_yaml_and_win(tmp_path):
    path = write(tmp_path, "s.yaml", "population: {size: 5000}\n")
    c = load_scenario(path, ["population.size=300", "policy.mandate_start=null", "run.start=2013-01-07",
                             "policy.proxy.available=true", "name=renamed", "policy.automation_share.tax=0.25"])
    assert c.population.size == 300 and c.policy.mandate_start is None
    assert c.run.start == dt.date(2013, 1, 7) and c.policy.proxy.available is True
    assert c.name == "renamed" and c.policy.automation_share["tax"] == 0.25


def test_scenario_to_yaml_round_trips(tmp_path):
    c = load_scenario(BASELINE, ["population.size=300"])
    c.timeline = []
    text = scenario_to_yaml(c)
    assert "extends" not in text and "helpers_per_10k" in text
    assert load_scenario(write(tmp_path, "resolved.yaml", text)) == c


def test_load_yaml_with_lines_records_key_and_item_lines(tmp_path):
    path = write(tmp_path, "s.yaml", """
        # comment
        policy:
          centre:
            helpers_per_10k: 3
        timeline:
          - date: 2013-01-07
            set: {centre.hours_per_week: 20}
    """)
    data, lines = load_yaml_with_lines(path)
    assert data["policy"]["centre"]["helpers_per_10k"] == 3
    assert lines[("policy",)] == 2 and lines[("policy", "centre", "helpers_per_10k")] == 4
    assert lines[("timeline", 0)] == 6 and lines[("timeline", 0, "set", "centre.hours_per_week")] == 7


# ------------------------------------------------------------------ errors: one message, file, key, line


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        ("policy:\n  centre:\n    helpers_per_10K: 3\n", "policy.centre.helpers_per_10K", 3,
         ["unknown key", "did you mean 'helpers_per_10k'"]),
        ("extend: base.yaml\n", "extend", 1, ["did you mean 'extends'"]),
        ("population:\n  size: many\n", "population.size", 2, ["integer", "many"]),
        ("policy:\n  proxy:\n    available: perhaps\n", "policy.proxy.available", 3, ["boolean"]),
        ("behaviour:\n  relative_uptake: 1.5\n", "behaviour.relative_uptake", 2, ["less than or equal to 1"]),
        ("policy:\n  automation_share: {tax: -0.1}\n", "policy.automation_share.tax", 2, ["outside [0, 1]"]),
        ("population:\n  size: -5\n", "population.size", 2, ["greater than or equal to 50"]),
        ("policy:\n  centre:\n    max_wait_weeks: -1\n", "policy.centre.max_wait_weeks", 3, ["greater than"]),
        ("run: {start: 2013-01-07, weeks: 10}\ntimeline:\n  - date: 2015-01-05\n    set: {proxy.available: true}\n",
         "timeline[0].date", 3, ["outside the run"]),
        ("timeline:\n  - date: 2013-01-07\n    set:\n      centre.helpers_per_1k: 3\n",
         "timeline[0].set.centre.helpers_per_1k", 4, ["unknown policy key", "did you mean 'centre.helpers_per_10k'"]),
        ("timeline:\n  - date: 2013-01-07\n    set:\n      centre.self_help_share: 2\n",
         "timeline[0].set.centre.self_help_share", 4, ["less than or equal to 1"]),
        ("timeline:\n  - set: {proxy.available: true}\n", "timeline[0].date", 2, ["missing"]),
        ("timeline:\n  - date: 2013-01-07\n    set:\n      automation_share.tax: 2\n",
         "timeline[0].set.automation_share.tax", 4, ["2 is outside [0, 1]"]),
        ("policy:\n  automation_share: {taxx: 0.1}\n", "policy.automation_share.taxx", 2,
         ["unknown procedure type 'taxx'"]),
        ("tasks:\n  procedures:\n    tax: {season_weeks: [20, 10]}\n", "tasks.procedures.tax.season_weeks", 3,
         ["must satisfy 1 <= first <= last <= 53"]),
        ("policy:\n  optout:\n    rule: online\n", "policy.optout.rule", 3, ["'in_person', 'remote' or 'automatic'"]),
        ("policy:\n  mandate_start: 2014-13-01\n", "policy.mandate_start", 2, ["invalid date"]),
        ("run: 5\n", "run", 1, ["mapping"]),
        ("policy:\n  centre: {self_help_share: 0.2}\n  centre: {self_help_share: 0.3}\n", "policy.centre", 3,
         ["twice"]),
    ],
)
def test_invalid_values_name_file_key_and_line(tmp_path, text, key, line, words):
    path = write(tmp_path, "bad.yaml", text)
    err = error_of(path)
    assert (err.file, err.key, err.line) == (str(path), key, line)
    message = str(err)
    assert message.startswith(f"{path}, line {line}, key '{key}': ")
    for word in words:
        assert word in message
    assert "\n" not in message and "Value error" not in message


def test_broken_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "broken.yaml", "name: x\npolicy:\n  centre: [1, 2\n")
    err = error_of(path)
    assert err.file == str(path) and err.line == 4 and "invalid YAML" in str(err)
    path = write(tmp_path, "tabs.yaml", "name: x\npolicy:\n\tcentre: 1\n")
    assert error_of(path).line == 3


def test_object_constructing_tags_are_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, "evil.yaml", f"""
        name: evil
        policy:
          centre: !!python/object/apply:os.system ["touch {marker}"]
    """)
    err = error_of(path)
    assert err.line == 3 and err.key == "policy.centre"
    assert "!!python/object/apply:os.system" in str(err) and "not allowed" in str(err)
    assert not marker.exists()
    err = error_of(write(tmp_path, "evil2.yaml", "name: !!python/name:os.system\n"))
    assert err.line == 1 and "not allowed" in str(err)


def test_missing_file_and_not_a_mapping(tmp_path):
    err = error_of(tmp_path / "nope.yaml")
    assert err.file == str(tmp_path / "nope.yaml") and "not found" in str(err)
    err = error_of(write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    assert err.line == 1 and "mapping" in str(err)
    err = error_of(tmp_path)
    assert "directory" in str(err)


def test_missing_extends_target_names_the_extending_line(tmp_path):
    path = write(tmp_path, "child.yaml", "# header\n\nextends: missing.yaml\n")
    err = error_of(path)
    assert (err.file, err.key, err.line) == (str(path), "extends", 3)
    assert "missing.yaml" in str(err) and "not found" in str(err)


def test_extends_cycle_is_reported(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "name: b\nextends: c.yaml\n")
    write(tmp_path, "c.yaml", "extends: a.yaml\n")
    err = error_of(tmp_path / "a.yaml")
    assert err.key == "extends" and "cycle" in str(err)
    assert "a.yaml -> b.yaml -> c.yaml -> a.yaml" in str(err)
    err = error_of(write(tmp_path, "self.yaml", "extends: self.yaml\n"))
    assert "cycle" in str(err) and err.line == 1


def test_extends_must_be_a_path(tmp_path):
    err = error_of(write(tmp_path, "x.yaml", "name: x\nextends: [a.yaml]\n"))
    assert (err.key, err.line) == ("extends", 2)


def test_error_in_a_parent_file_names_that_file_and_line(tmp_path):
    parent = write(tmp_path, "parent.yaml", "name: p\nbehaviour:\n  giveup_base: 3\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\npopulation: {size: 300}\n")
    err = error_of(child)
    assert (err.file, err.key, err.line) == (str(parent), "behaviour.giveup_base", 3)


def test_child_that_fixes_a_parent_value_is_valid(tmp_path):
    write(tmp_path, "parent.yaml", "behaviour:\n  giveup_base: 3\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nbehaviour:\n  giveup_base: 0.1\n")
    assert load_scenario(child).behaviour.giveup_base == 0.1


def test_timeline_date_outside_a_run_shortened_by_the_child_names_the_parent_line(tmp_path):
    parent = write(tmp_path, "parent.yaml", "timeline:\n  - date: 2018-01-01\n    set: {proxy.available: true}\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nrun: {weeks: 52}\n")
    err = error_of(child)
    assert (err.file, err.key, err.line) == (str(parent), "timeline[0].date", 2)


@pytest.mark.parametrize(
    ("override", "key", "words"),
    [
        ("population.size=abc", "population.size", ["integer", "abc"]),
        ("population.sise=3", "population.sise", ["did you mean 'size'"]),
        ("polcy.centre.helpers_per_10k=3", "polcy", ["did you mean 'policy'"]),
        ("behaviour.relative_uptake=1.5", "behaviour.relative_uptake", ["less than or equal to 1"]),
        ("run.weeks.x=3", "run.weeks.x", ["single value"]),
        ("run.start=[", "run.start", ["not valid YAML"]),
        ("run.start=!!python/object/apply:os.getcwd []", "run.start", ["not valid YAML"]),
    ],
)
def test_override_errors_name_the_set_option(override, key, words):
    err = error_of(BASELINE, [override])
    name = override.partition("=")[0]
    assert err.file == f"--set {name}" and err.key == key and err.line is None
    assert str(err).startswith(f"--set {name}")
    for word in words:
        assert word in str(err)


def test_override_without_equals_sign():
    err = error_of(BASELINE, ["run.weeks"])
    assert "key.path=value" in str(err) and "--set run.weeks" in str(err)
