"""The dashboard (sim/app.py) without a browser: levers, the model, the command runner, live plots, the figures,
the results folder browser and the page as Solara renders it; and `digex app` errors."""

import datetime as dt
import socket
import threading
import time

import ipyvuetify as v
import numpy as np
import pytest
import solara
from matplotlib.backends.backend_agg import FigureCanvasAgg

import sim.app as app
from sim.app import (
    LEVERS,
    PLOTS,
    DashboardModel,
    LivePlot,
    Runner,
    apply_levers,
    axis_top,
    figures_html,
    figures_table,
    find_results,
    lever_inputs,
    lever_values,
    levers_html,
    metric_at,
    metric_series,
    parse_levers,
    status_text,
)
from sim.cli.main import main
from sim.errors import UserError
from sim.model import keypath
from sim.model.keypath import KeyPathError
from sim.model.params import PROCEDURE_TYPES, Config, TimelineChange
from sim.outputs import style
from sim.outputs.format import fmt_value
from tests.conftest import small_config


def tiny(weeks: int = 40):
    return small_config(size=400, weeks=weeks)


@pytest.fixture(scope="module")
def cls():
    """A dashboard model class of a tiny scenario (30 weeks, 300 citizens) with its baseline run."""
    c = DashboardModel.for_scenario(small_config(size=300, weeks=30), size=300, seed=1)
    c.baseline()
    return c


# ------------------------------------------------------------------ levers and the model


def test_levers_left_at_the_scenario_change_nothing():
    base = tiny()
    config, moved = apply_levers(base, lever_values(base))
    assert moved == {}
    assert config.model_dump() == base.model_dump()


def test_dashboard_model_at_scenario_settings_reproduces_the_baseline():
    cls = DashboardModel.for_scenario(tiny(), size=400, seed=3)
    params = {spec["name"]: spec["value"] for spec in lever_inputs(cls.base)}
    model = cls(**params).run()
    np.testing.assert_array_equal(model.metrics.overall, cls.baseline().overall)
    rows = figures_table(model, model.week)
    assert all(r["now"] == r["baseline"] or np.isnan(r["now"]) and np.isnan(r["baseline"]) for r in rows)


def test_moved_lever_changes_the_run_and_is_reported():
    cls = DashboardModel.for_scenario(tiny(), size=400)
    model = cls(automation_share=1.0).run()
    assert model.moved == {"automation_share": (0.0, 1.0)}
    assert model.levers()["automation_share"] == 1.0 and model.levers()["optout_rule"] == "in_person"
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


def test_lever_inputs_cover_every_lever_with_its_range_or_choices(cls):
    inputs = lever_inputs(cls.base)
    assert [i["name"] for i in inputs] == list(LEVERS)
    assert {i["widget"] for i in inputs} == {"Checkbox", "SliderFloat", "Select"}
    by_name = {i["name"]: i for i in inputs}
    assert by_name["optout_rule"]["values"] == ["in_person", "remote", "automatic"]
    assert (by_name["helpers_per_10k"]["min"], by_name["helpers_per_10k"]["max"], by_name["helpers_per_10k"]["step"]
            ) == (0.0, 10.0, 0.5)
    assert cls(**{i["name"]: i["value"] for i in inputs}).moved == {}


def test_lever_values_from_the_page_are_parsed_to_their_types():
    assert parse_levers({"outage_rate": 4, "mandate": False, "optout_rule": "remote"}) == {
        "outage_rate": 4.0, "mandate": False, "optout_rule": "remote"}
    assert isinstance(parse_levers({"outage_rate": 4})["outage_rate"], float)
    for values, message in [([1, 2], "must be a mapping"), ({"helpers": 1.0}, "unknown dashboard lever"),
                            ({"helpers_per_10k": "3"}, "expected a number"),
                            ({"helpers_per_10k": True}, "expected a number"),
                            ({"mandate": 1}, "expected on or off"), ({"optout_rule": "online"}, "expected one of")]:
        with pytest.raises(ValueError, match=message):
            parse_levers(values)


# ------------------------------------------------------------------ the command runner


def test_runner_carries_out_commands_in_order_and_reset_uses_the_values_sent(cls):
    runner = Runner(cls)
    first = runner.view.model
    assert runner.handle("step").week == app.WEEKS_PER_STEP
    view = runner.handle("reset", {**lever_values(cls.base), "helpers_per_10k": 3.5, "optout_rule": "remote"})
    assert view.week == 0 and view.model is not first and view.error == ""
    assert view.model.levers()["helpers_per_10k"] == 3.5 and set(view.model.moved) == {"helpers_per_10k",
                                                                                        "optout_rule"}
    assert view.model.config.policy.centre.helpers_per_10k == 3.5


def test_runner_reset_with_bad_values_keeps_the_run_and_says_why(cls):
    runner = Runner(cls)
    runner.handle("step")
    view = runner.handle("reset", {"self_help_share": 1.5})
    assert view.week == app.WEEKS_PER_STEP and view.error.startswith("Levers not applied: ")
    assert "self_help_share" in view.error
    view = runner.handle("reset", {"helpers": 1.0})
    assert "unknown dashboard lever" in view.error
    assert runner.handle("reset", {}).error == ""
    with pytest.raises(ValueError, match="unknown dashboard command"):
        runner.submit("rewind")
    with pytest.raises(ValueError, match="unknown dashboard command"):
        runner.handle("rewind")


def test_runner_shows_a_fault_of_the_model_and_stays_usable(cls, monkeypatch, capsys):
    runner = Runner(cls)
    runner.handle("play")
    monkeypatch.setattr(runner.view.model, "step", lambda: 1 / 0)
    view = runner.handle("step")
    assert view.week == 0  # Step is off while playing
    runner.handle("play")
    view = runner.handle("step")
    assert view.error == "step failed: ZeroDivisionError: division by zero" and not view.playing
    assert "ZeroDivisionError" in capsys.readouterr().err
    monkeypatch.undo()
    assert runner.handle("step").error == "" and runner.view.week == 13


def test_runner_plays_until_the_run_ends_and_ignores_step_while_playing(cls):
    runner = Runner(cls)
    assert runner.handle("play").playing
    assert runner.handle("step").week == 0  # Step is off while playing
    weeks = []
    while runner.view.playing:
        runner.view = runner.advance()
        weeks.append(runner.view.week)
    assert weeks == [13, 26, 30] and not runner.view.model.running
    assert not runner.handle("play").playing  # an ended run does not play


def test_runner_serves_queued_commands_one_at_a_time_in_the_order_given(cls):
    runner = Runner(cls)
    published, cancel = [], threading.Event()
    worker = threading.Thread(target=runner.serve, args=(cancel, published.append))
    worker.start()
    try:
        runner.submit("step")
        runner.submit("reset", {"outage_rate": 8.0})
        runner.submit("step")
        deadline = time.monotonic() + 60
        while len(published) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        cancel.set()
        worker.join(10)
    assert not worker.is_alive()
    assert [view.week for view in published] == [13, 0, 13]
    assert published[1].model is published[2].model and published[2].model.levers()["outage_rate"] == 8.0


# ------------------------------------------------------------------ metrics, figures and status


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


def test_figures_use_the_one_number_format_and_status_shows_the_simulated_date(cls):
    model = cls(automation_share=1.0)
    assert "Not started: the run begins 07 Jan 2013" in status_text(model, 0)
    assert "–" in figures_html(model, 0)
    for _ in range(13):
        model.step()
    assert status_text(model, 13).startswith("01 Apr 2013 · week 13 of 30 · ")
    rows = {r["figure"]: r for r in figures_table(model, 13)}
    exclusion, cost = rows["Exclusion rate, all"], rows["Public cost per citizen-year (DKK)"]
    assert exclusion["text"] == (fmt_value(exclusion["now"], "share"), fmt_value(exclusion["baseline"], "share"),
                                 fmt_value(exclusion["difference"], "share", diff=True))
    assert exclusion["text"][0].endswith("%") and exclusion["text"][2].endswith(" pp")
    assert cost["text"][1] == fmt_value(cost["baseline"], "DKK")
    assert "Proactive automation share" in levers_html(model) and "font-weight: 600" in levers_html(model)
    assert "reproduces the baseline" in levers_html(cls())


# ------------------------------------------------------------------ live plots


def _full_draws(monkeypatch) -> list[int]:
    """Count full draws of any figure (as opposed to redrawing only its lines over the saved background)."""
    calls = []
    draw = FigureCanvasAgg.draw
    monkeypatch.setattr(FigureCanvasAgg, "draw", lambda self, *a, **k: (calls.append(1), draw(self, *a, **k))[1])
    return calls


def test_live_plot_draws_everything_once_then_only_the_run_lines(cls, monkeypatch):
    model = cls()
    plot = LivePlot(model, PLOTS[0])
    full = _full_draws(monkeypatch)
    images = [plot.png(0)]
    for week in range(1, 14):
        model.step()
        images.append(plot.png(week))
    assert len(full) == 1, "a week redrew the whole figure"
    assert len(set(images)) > 1 and images[0].startswith(b"\x89PNG")
    (ax,) = plot.figure.axes
    assert ax.get_ylabel() == "excluded (% of each group)" and ax.get_ylim()[0] == 0
    assert [len(line.get_xdata()) for line in plot.lines] == [13, 13, 13]


def test_live_plot_redraws_in_full_when_the_run_outgrows_the_axis(cls, monkeypatch):
    model = cls()
    for _ in range(13):
        model.step()
    plot = LivePlot(model, PLOTS[4])  # public cost, DKK
    full = _full_draws(monkeypatch)
    plot.png(13)
    top = plot.figure.axes[0].get_ylim()[1]
    model.metrics.overall[:13] *= 10  # a cost far above the baseline's
    plot.png(13)
    peak = np.nanmax(metric_series(model.metrics, "cost_per_citizen_year_dkk")[:13])
    assert len(full) == 2 and peak > top and plot.figure.axes[0].get_ylim()[1] >= peak


def test_live_plot_is_in_the_house_style():
    cls = DashboardModel.for_scenario(small_config(size=300, weeks=100), size=300)  # the mandate starts in week 95
    plot = LivePlot(cls(), PLOTS[0])
    (ax,) = plot.figure.axes
    assert tuple(plot.figure.get_size_inches())[0] == style.WIDTH and plot.figure.dpi == style.SCREEN_DPI
    dashed = [line.get_color() for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert dashed[:4] == [style.FURNITURE, *style.PALETTE[:3]]  # the mandate marker, then the baseline's lines
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "first 52 weeks (window filling)" in labels and "baseline (dashed)" in labels
    assert [t.get_text() for t in ax.texts] == ["mandate starts"]


def test_axis_top_is_a_round_number_at_or_above_the_peak():
    assert axis_top(37.2, 100.0) == 40.0
    assert axis_top(97.0, 100.0) == 100.0 and axis_top(130.0, 100.0) == 100.0
    assert axis_top(0.0, None) == 1.0 and axis_top(412.0, None) >= 412.0


# ------------------------------------------------------------------ the page, rendered without a browser


def _status(rc) -> str:
    return str(rc.find(v.Html, class_="digex-status").widget.children[0])


def _wait(condition, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_page_step_renders_each_plot_once_without_a_full_redraw(cls, monkeypatch):
    drawn = []
    png = LivePlot.png
    monkeypatch.setattr(LivePlot, "png", lambda self, weeks: (drawn.append(self.spec), png(self, weeks))[1])
    threads = threading.active_count()
    box, rc = solara.render(app.Dashboard(cls), handle_error=False)
    try:
        assert "Not started" in _status(rc) and len(drawn) == len(PLOTS)
        panel = rc.find(app.ControlPanel).widget
        assert panel.applied == lever_values(cls.base) and panel.running and not panel.playing
        assert [spec["name"] for spec in panel.levers] == list(LEVERS)
        full = _full_draws(monkeypatch)
        drawn.clear()
        panel.vue_step()
        _wait(lambda: "week 13 of 30" in _status(rc), "the first quarter")
        assert drawn == list(PLOTS) and full == []

        panel.vue_reset({**panel.applied, "helpers_per_10k": 4.0})
        _wait(lambda: rc.find(app.ControlPanel).widget.applied["helpers_per_10k"] == 4.0, "the reset")
        assert "Not started" in _status(rc)
        panel.vue_reset({"self_help_share": 1.5})
        _wait(lambda: any("Levers not applied" in str(w.children) for w in rc.find(v.Alert).widgets), "the error")
        assert "Not started" in _status(rc)
    finally:
        rc.close()
    _wait(lambda: threading.active_count() <= threads, "the page's worker thread to stop", seconds=10)


# ------------------------------------------------------------------ results folders


def _results(folder, kind: str = "run"):
    (folder / "plots").mkdir(parents=True)
    (folder / ".tmp").mkdir()
    (folder / ".digex-output").write_text(f"written by digex\nkind: {kind}\n")
    (folder / "manifest.json").write_text('{"command": "digex run scenarios/denmark_baseline.yaml"}')
    (folder / "summary.csv").write_text("metric,mean\n" + "".join(f"m{i},{i}\n" for i in range(30)))
    (folder / "plots" / "exclusion_over_time.png").write_bytes(b"\x89PNG fake")
    (folder / ".tmp" / "half_written.png").write_bytes(b"")
    return folder


def test_results_folder_lists_its_figures_tables_and_command(tmp_path, monkeypatch):
    folder, inside = find_results(str(_results(tmp_path / "r")))
    assert inside == [] and folder.kind == "run" and folder.command.startswith("digex run")
    assert folder.figures == ("plots/exclusion_over_time.png",) and folder.tables == ("summary.csv",)
    assert folder.figure("plots/exclusion_over_time.png") == b"\x89PNG fake"
    frame, cut = folder.table("summary.csv")
    assert len(frame) == 30 and not cut
    monkeypatch.setattr(app, "TABLE_ROWS", 10)
    frame, cut = folder.table("summary.csv")
    assert len(frame) == 10 and cut
    with pytest.raises(UserError, match="not a figure"):
        folder.figure("../../etc/passwd")
    with pytest.raises(UserError, match="not a table"):
        folder.table("manifest.json")


def test_folder_of_results_folders_lists_them(tmp_path):
    _results(tmp_path / "b", "compare")
    _results(tmp_path / "a")
    (tmp_path / "notes").mkdir()
    folder, inside = find_results(str(tmp_path))
    assert folder is None and [p.name for p in inside] == ["a", "b"]


def test_results_folder_errors_are_one_line(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    for text, message in [("", "type the path"), (str(tmp_path / "missing"), "does not exist"),
                          (str(tmp_path / "file.txt"), "is not a folder"),
                          (str(tmp_path / "empty"), "is not a digex results folder")]:
        with pytest.raises(UserError, match=message):
            find_results(text)
    folder, _ = find_results(str(_results(tmp_path / "r")))
    (folder.path / "manifest.json").write_text("[not json")
    (folder.path / "summary.csv").write_text('a,b\n"unclosed,1\n')
    assert find_results(str(folder.path))[0].command == ""
    with pytest.raises(UserError, match="cannot read"):
        folder.table("summary.csv")


def test_results_browser_lists_a_folder_of_results_and_shows_a_file_or_why_not(tmp_path, monkeypatch):
    import ipywidgets

    folder, _ = find_results(str(_results(tmp_path / "runs" / "a")))
    box, rc = solara.render(app.ResultsBrowser(str(tmp_path / "runs")), handle_error=False)
    try:
        (button,) = [w for w in rc.find(v.Btn).widgets if "a (run)" in str(w.children)]
        button.click()
        (header,) = rc.find(solara.widgets.HTML).widgets
        assert str(folder.path) in header.unsafe_innerHTML and "digex run scenarios" in header.unsafe_innerHTML
    finally:
        rc.close()
    monkeypatch.setattr(app, "TABLE_ROWS", 10)
    box, rc = solara.render(app.ResultsFile(folder, "summary.csv"), handle_error=False)
    assert "The first 10 rows:" in str(rc.find(v.Html).widgets[0].children)
    rc.close()
    box, rc = solara.render(app.ResultsFile(folder, "plots/exclusion_over_time.png"), handle_error=False)
    assert rc.find(ipywidgets.Image).widget.value == b"\x89PNG fake"
    rc.close()
    (folder.path / "summary.csv").write_bytes(b'a,b\n"unclosed,1\n')
    box, rc = solara.render(app.ResultsFile(folder, "summary.csv"), handle_error=False)
    assert "cannot read" in str(rc.find(v.Alert).widget.children)
    rc.close()


# ------------------------------------------------------------------ digex app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "missing.yaml"),
        (["--port", "70000"], "--port"),
        (["--size", "10"], "--size"),
        (["--seed", "-1"], "--seed"),
        (["--results", "no/such/folder"], "--results"),
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
