"""Dotted key paths (sim/model/keypath.py): reading, setting, validated copies, schema types and the error."""

import datetime as dt
import pickle

import pytest

from sim.model import keypath
from sim.model.keypath import KeyPathError
from sim.model.params import Config, PolicyConfig, TimelineChange


def test_split_and_format_are_inverse_for_names_and_indices():
    assert keypath.split("timeline.0.date") == ("timeline", 0, "date")
    assert keypath.split(("timeline", 0, "set", "centre.hours_per_week")) == ("timeline", 0, "set",
                                                                              "centre.hours_per_week")
    assert keypath.split("a.²") == ("a", "²")  # only ASCII digits make an index
    assert keypath.format_key(("timeline", 0, "date")) == "timeline[0].date"
    assert keypath.format_key("policy.centre.helpers_per_10k") == "policy.centre.helpers_per_10k"
    assert keypath.format_key(()) == ""


def test_get_reads_models_mappings_and_lists():
    config = Config(timeline=[TimelineChange(date=dt.date(2013, 1, 7), set={"proxy.available": True})])
    assert keypath.get(config, "policy.centre.helpers_per_10k") == config.policy.centre.helpers_per_10k
    assert keypath.get(config, "policy.automation_share.tax") == config.policy.automation_share["tax"]
    assert keypath.get(config, "timeline.0.date") == dt.date(2013, 1, 7)
    assert keypath.get(config, ("timeline", 0, "set", "proxy.available")) is True
    assert keypath.get(config.model_dump(), "tasks.procedures.tax.season_weeks.1") == 14
    assert keypath.get(config, ()) is config


@pytest.mark.parametrize(("path", "words"), [
    ("policy.nope", "unknown key 'nope'"),
    ("policy.automation_share.lottery", "unknown key 'lottery'"),
    ("policy.centre.helpers_per_10k.x", "policy.centre.helpers_per_10k is a single value, it has no key 'x'"),
    ("timeline.0", "'0' is not an index of the list timeline"),
    ("policy.model_dump", "unknown key 'model_dump'"),  # methods are not settings
])
def test_get_names_the_path_of_a_missing_key(path, words):
    with pytest.raises(KeyPathError) as info:
        keypath.get(Config(), path)
    err = info.value
    assert err.path == keypath.split(path) and err.unknown and err.detail == words
    assert str(err) == f"{keypath.format_key(path)}: {words}"


def test_set_in_copies_and_sets_plain_data():
    data = {"run": {"weeks": 10}, "timeline": [{"date": "x"}]}
    out = keypath.set_in(data, "timeline.0.date", "y")
    assert out["timeline"][0]["date"] == "y" and data["timeline"][0]["date"] == "x"
    assert keypath.set_in(data, "run.weeks", 5) == {"run": {"weeks": 5}, "timeline": [{"date": "x"}]}
    assert keypath.set_in(data, "a.b.c", 1, create=True)["a"] == {"b": {"c": 1}}
    with pytest.raises(KeyPathError, match="unknown key 'b'") as info:
        keypath.set_in(data, "run.b", 1)
    assert info.value.path == ("run", "b") and info.value.unknown


@pytest.mark.parametrize(("path", "detail"), [
    ("run.weeks.x", "run.weeks is a single value, it has no key 'x'"),
    ("timeline.3.date", "'3' is not an index of the list timeline"),
    ("timeline.x", "'x' is not an index of the list timeline"),
    ("season.0", "season is a single value, it has no key '0'"),  # a tuple is not changed in place
])
def test_set_in_refuses_what_is_not_there_even_when_creating(path, detail):
    data = {"run": {"weeks": 10}, "timeline": [{"date": "x"}], "season": (11, 14)}
    with pytest.raises(KeyPathError) as info:
        keypath.set_in(data, path, 1, create=True)
    assert info.value.detail == detail and info.value.path == keypath.split(path)


def test_with_values_returns_a_validated_copy():
    base = Config()
    config = keypath.with_values(base, {"policy.centre.helpers_per_10k": 4, "policy.automation_share.tax": 0.5})
    assert config.policy.centre.helpers_per_10k == 4.0 and isinstance(config.policy.centre.helpers_per_10k, float)
    assert config.policy.automation_share["tax"] == 0.5
    assert base.policy.automation_share["tax"] != 0.5  # the original is unchanged
    policy = keypath.with_values(PolicyConfig(), {"optout.rule": "automatic"})
    assert isinstance(policy, PolicyConfig) and policy.optout.rule == "automatic"


@pytest.mark.parametrize(("values", "path", "words", "unknown"), [
    ({"policy.centre.self_help_share": 1.5}, ("policy", "centre", "self_help_share"), "less than or equal to 1",
     False),
    ({"policy.centre.helpers_per_1k": 3}, ("policy", "centre", "helpers_per_1k"), "unknown key", True),
    # a check of a whole block names its key, which is then traced to the value set
    ({"policy.automation_share.tax": 2.0}, ("policy", "automation_share", "tax"), "2 is outside [0, 1]", False),
    ({"policy.automation_share": {"lottery": 0.1}}, ("policy", "automation_share"), "unknown procedure type", True),
    # a value that breaks a check elsewhere: the error names where the problem is
    ({"run.weeks": 10}, ("timeline", 0, "date"), "is outside the run", False),
])
def test_with_values_names_the_key_path_of_the_problem(values, path, words, unknown):
    base = Config(run={"start": dt.date(2013, 1, 7)},
                  timeline=[TimelineChange(date=dt.date(2014, 1, 6), set={"proxy.available": True})])
    with pytest.raises(KeyPathError) as info:
        keypath.with_values(base, values)
    err = info.value
    assert (err.path, err.unknown) == (path, unknown) and words in err.detail
    assert "Value error" not in str(err)


def test_timeline_changes_are_checked_with_the_key_named():
    def bad(changes):
        with pytest.raises(ValueError) as info:
            Config(timeline=[TimelineChange(date=dt.date(2013, 1, 7), set=changes)])
        return info.value.errors()[0]["ctx"]["error"]

    err = bad({"centre.helpers_per_1k": 3})
    assert err.path == ("timeline", 0, "set", "centre.helpers_per_1k") and err.unknown
    assert err.detail == "unknown policy key 'centre.helpers_per_1k'"
    err = bad({"centre.self_help_share": 2})
    assert err.path == ("timeline", 0, "set", "centre.self_help_share") and not err.unknown
    assert "less than or equal to 1" in err.detail


def test_key_path_error_survives_pickling():
    err = pickle.loads(pickle.dumps(KeyPathError("policy.x", "unknown key 'x'", unknown=True)))
    assert (err.path, err.detail, err.unknown, str(err)) == (("policy", "x"), "unknown key 'x'", True,
                                                            "policy.x: unknown key 'x'")


def test_schema_type_follows_models_mappings_and_lists():
    assert keypath.schema_type(Config, "policy.centre.helpers_per_10k") is float
    assert keypath.schema_type(Config, "policy.automation_share.anything") is float
    assert keypath.schema_type(Config, "policy.mandate_start") is dt.date  # inside Optional
    assert keypath.schema_type(Config, "timeline.0") is TimelineChange
    assert keypath.schema_type(Config, "policy") is PolicyConfig
    assert keypath.schema_type(Config, "policy.nope") is None
    assert keypath.schema_type(Config, "run.weeks.x") is None


def test_keypath_merge_merges_mappings_and_replaces_the_rest():
    replaced: list = []
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 4}
    out = keypath.merge(base, {"a": {"c": [3]}, "e": {"f": 5}}, (), replaced)
    assert out == {"a": {"b": 1, "c": [3]}, "d": 4, "e": {"f": 5}}
    assert replaced == [("a", "c"), ("e",)] and base == {"a": {"b": 1, "c": [1, 2]}, "d": 4}
    assert keypath.merge({"a": 1}, 5) == 5 and keypath.merge(1, {"a": 1}) == {"a": 1}
    policy = keypath.with_values(Config().policy, {"centre": {"helpers_per_10k": 7.0}})
    assert (policy.centre.helpers_per_10k, policy.centre.hours_per_week) == (7.0, Config().policy.centre.hours_per_week)
    data = {"policy": {"optout": {"rule": "none", "awareness": 0.2}}, "0": 1}
    replaced = []
    out = keypath.set_in(data, "policy.optout", {"rule": "remote"}, replaced=replaced)
    assert out["policy"]["optout"] == {"rule": "remote", "awareness": 0.2}
    assert replaced == [("policy", "optout", "rule")]
    replaced = []
    keypath.set_in(data, "0", 2, replaced=replaced)
    assert replaced == [("0",)]  # as the key is in the data (text), not as the part (a number)

