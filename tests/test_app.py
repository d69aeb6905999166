"""The dashboard's model factory, lever mapping and metric accessors (sim/app.py), and `digex app` errors."""

import datetime as dt
import socket

import numpy as np
import pytest

from sim.app import (
    LEVERS,
    DashboardModel,
    apply_levers,
    figures_table,
    lever_values,
    metric_at,
    metric_series,
    model_params,
)
from sim.cli.main import main
from sim.model import keypath
from sim.model.keypath import KeyPathError
from sim.model.params import PROCEDURE_TYPES, Config, TimelineChange
from tests.conftest import small_config


def tiny(weeks: int = 40):
    return small_config(size=400, weeks=weeks)


def test_levers_left_at_the_scenario_change_nothing():
    base = tiny()
    config, moved = apply_levers(base, lever_values(base))
    assert moved == {}
    assert config.model_dump() == base.model_dump()


def test_dashboard_model_at_scenario_settings_reproduces_the_baseline():
    cls = DashboardModel.for_scenario(tiny(), size=400, seed=3)
    params = {k: v["value"] for k, v in model_params(cls.base).items()}
    model = cls(**params).run()
    np.testing.assert_array_equal(model.metrics.overall, cls.baseline().overall)
    rows = figures_table(model)
    assert all(r["now"] == r["baseline"] or np.isnan(r["now"]) and np.isnan(r["baseline"]) for r in rows)


def test_moved_lever_changes_the_run_and_is_reported():
    cls = DashboardModel.for_scenario(tiny(), size=400)
    model = cls(automation_share=1.0).run()
    assert model.moved == {"automation_share": (0.0, 1.0)}
    assert model.config.policy.automation_share == dict.fromkeys(PROCEDURE_TYPES, 1.0)
    now = metric_series(model.metrics, "privacy_exposure")
    assert np.nanmax(now) > 0 and np.nanmax(metric_series(cls.baseline(), "privacy_exposure")) == 0


def test_class_carries_size_and_seed_and_its_own_baseline():
    a = DashboardModel.for_scenario(tiny(), size=300, seed=7)
    b = DashboardModel.for_scenario(tiny(), size=350, seed=7)
    assert (a.base.population.size, a.base.run.seed) == (300, 7)
    assert a().n_alive == 300 and b().n_alive == 350
    assert a.baseline() is a.baseline() and a.baseline() is not b.baseline()


def test_mandate_lever_switches_the_mandate_off_and_on():
    base = tiny()
    off, _ = apply_levers(base, {"mandate": False})
    assert off.policy.mandate_start is None
    on, moved = apply_levers(off, {"mandate": True})
    assert on.policy.mandate_start == dt.date(2014, 11, 1) and moved == {"mandate": (False, True)}


def test_moved_lever_drops_only_its_own_timeline_changes():
    base = tiny()
    base.timeline = [TimelineChange(date=dt.date(2013, 6, 3),
                                    set={"centre.helpers_per_10k": 4.0, "phone.agents_per_10k": 2.0}),
                     TimelineChange(date=dt.date(2013, 7, 1), set={"automation_share.tax": 0.5})]
    config, _ = apply_levers(base, {"helpers_per_10k": 6.0, "automation_share": 0.2})
    assert config.policy.centre.helpers_per_10k == 6.0
    assert [c.set for c in config.timeline] == [{"phone.agents_per_10k": 2.0}]
    same, _ = apply_levers(base, {"helpers_per_10k": base.policy.centre.helpers_per_10k})
    assert len(same.timeline) == 2


def test_bad_lever_values_are_rejected():
    with pytest.raises(ValueError, match="unknown dashboard lever"):
        apply_levers(tiny(), {"helpers": 3})
    with pytest.raises(KeyPathError, match="less than or equal to 1") as info:
        apply_levers(tiny(), {"self_help_share": 1.5})
    assert info.value.path == ("policy", "centre", "self_help_share")


def test_levers_read_and_write_their_key_paths():
    base = tiny()
    assert all(keypath.schema_type(Config, lever.setting.key) is not None for lever in LEVERS.values())
    values = lever_values(base)
    assert values["helpers_per_10k"] == keypath.get(base, "policy.centre.helpers_per_10k")
    assert values["automation_share"] == 0.0 and values["mandate"] is True
    config, _ = apply_levers(base, {"outage_rate": 12.0, "optout_rule": "automatic"})
    assert keypath.get(config, LEVERS["outage_rate"].setting.key) == 12.0
    assert config.policy.optout.rule == "automatic"
    assert LEVERS["automation_share"].controls("automation_share.tax")
    assert not LEVERS["helpers_per_10k"].controls("centre.helpers_per_10k_extra")


def test_model_params_cover_every_lever_and_satisfy_mesa():
    from mesa.visualization.solara_viz import _check_model_params

    cls = DashboardModel.for_scenario(tiny(), size=300)
    params = model_params(cls.base)
    assert set(params) == set(LEVERS)
    assert {p["type"] for p in params.values()} == {"Checkbox", "SliderFloat", "Select"}
    assert params["optout_rule"]["values"] == ["in_person", "remote", "automatic"]
    _check_model_params(cls(), params)  # raises ValueError on a parameter the model does not take


def test_metric_accessors_read_the_metric_arrays():
    model = DashboardModel.for_scenario(tiny(weeks=10), size=300)()
    for _ in range(3):
        model.step()
    ts = model.timeseries()
    row = ts[(ts.metric == "exclusion_rate") & (ts.group == "80+") & (ts.week == 2)]["value"].item()
    assert metric_at(model.metrics, "exclusion_rate", ("age_band", "80+"), 2) == pytest.approx(row, nan_ok=True)
    cost = ts[(ts.metric == "cost_total_dkk") & (ts.week == 1)]["value"].item()
    assert metric_at(model.metrics, "cost_total_dkk", ("all", "all"), 1) == pytest.approx(cost)
    assert np.isnan(metric_series(model.metrics, "trust_mean")[5])  # not simulated yet
    assert np.isnan(metric_at(model.metrics, "trust_mean", ("all", "all"), -1))
    with pytest.raises(ValueError, match="unknown metric"):
        metric_series(model.metrics, "happiness")
    with pytest.raises(ValueError, match="overall only"):
        metric_series(model.metrics, "cost_total_dkk", ("age_band", "80+"))
    with pytest.raises(ValueError, match="unknown group"):
        metric_series(model.metrics, "trust_mean", ("age_band", "90+"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "missing.yaml"),
        (["--port", "70000"], "--port"),
        (["--size", "10"], "--size"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_app_command_bad_input_exits_2(args, message, capsys):
    assert main(["app", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_app_command_port_in_use_exits_2(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["app", "--host", "127.0.0.1", "--port", str(port)]) == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err
