"""The dashboard (``digex app``) in a real browser: Debian's Chromium driven by Playwright.

The test never downloads a browser: it uses /usr/bin/chromium, which
``scripts/ensure-chromium.sh`` (run by ``make test``) installs with apt-get
when it is missing. Under CI (CI=true) a missing Chromium is a failure, not a
skip. The screenshot is saved to test-artifacts/dashboard.png, and the time of
one Step (from the click until every plot shows the new quarter) to
test-artifacts/step_seconds.txt; no test asserts a time.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sim.app import LEVERS, PLOTS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
STARTUP_TIMEOUT_S = 180
DATE = r"\d{2} [A-Z][a-z]{2} \d{4}"


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="ensure-chromium"):
        _require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _require_chromium()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m sim app`` (the Danish baseline at the dashboard's 5,000 citizens) on a free localhost port."""
    _require_chromium()
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "sim", "app", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"digex app exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"digex app did not answer at {url} within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page(server):
    """A Chromium page on the dashboard; collects script errors and failed requests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1440, "height": 1800})
            pg.set_default_timeout(60_000)
            pg.problems = []
            pg.on("pageerror", lambda e: pg.problems.append(f"script error: {e}"))
            pg.on("response", lambda r: pg.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
            pg.goto(server)
            pg.get_by_role("button", name="Step").wait_for()
            pg.locator(".digex-status", has_text="Not started").wait_for()
            yield pg
        finally:
            browser.close()


# ------------------------------------------------------------------ reading the page


def figures(pg) -> dict[str, tuple[str, str, str]]:
    """The 'this setting vs baseline' table: figure -> (this setting, baseline, difference)."""
    rows = pg.locator(".digex-figures tbody tr")
    out = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        out[cells[0]] = tuple(cells[1:])
    return out


def run_levers(pg) -> dict[str, tuple[str, bool]]:
    """The levers table: lever label -> (value in this run, whether it is bold: moved from the scenario)."""
    out = {}
    for row in pg.locator(".digex-levers tbody tr").all():
        first = row.locator("td").first
        out[first.inner_text()] = (row.locator("td").nth(1).inner_text(),
                                   "600" in (first.get_attribute("style") or ""))
    return out


def lever(pg, name: str):
    """The control of one lever in the control panel."""
    return pg.locator(f'[data-lever="{name}"]')


def shown_levers(pg) -> dict[str, str]:
    """Each lever's value as the control panel shows it, keyed by label (as the levers table words it)."""
    out = {}
    for name, spec in LEVERS.items():
        box = lever(pg, name)
        if spec.widget == "SliderFloat":
            now = box.get_by_role("slider").get_attribute("aria-valuenow")
            assert box.locator(".digex-lever-value").inner_text() == now, f"{name}: value text differs from slider"
            out[spec.label] = now
        elif spec.widget == "Select":
            out[spec.label] = box.locator(".v-select__selection").inner_text()
        else:
            checked = box.locator("input").get_attribute("aria-checked")
            out[spec.label] = "on" if checked == "true" else "off"
    return out


PLOT_IMAGES = ".digex-plot img, img.digex-plot"


def plot_sources(pg) -> list[str]:
    """The source (a blob URL, new for each image sent) of each live plot, once every plot is on the page."""
    pg.wait_for_function(f"n => document.querySelectorAll('{PLOT_IMAGES}').length === n", arg=len(PLOTS))
    return pg.eval_on_selector_all(PLOT_IMAGES, "els => els.map(e => e.src)")


def plot_images(pg) -> list[bytes]:
    """What each plot shows: a PNG screenshot of every plot image as rendered by the browser."""
    plot_sources(pg)
    images = pg.locator(PLOT_IMAGES).all()
    for img in images:
        img.evaluate("img => img.complete || new Promise(done => img.addEventListener('load', done))")
    return [img.screenshot(animations="disabled") for img in images]


def step_to(pg, week: int, every_plot: bool = False) -> float:
    """Press Step (one quarter) and wait until the page shows ``week`` and the exclusion plot (or, with
    ``every_plot``, every plot: not one stays unchanged at the scenario's settings) has been redrawn; the seconds.

    Under some levers a plot stays the same for a quarter (no centre request goes unserved when every procedure
    is automated), and an unchanged image is not sent again.
    """
    before = plot_sources(pg)
    start = time.perf_counter()
    pg.get_by_role("button", name="Step").click()
    pg.locator(".digex-status", has_text=f"week {week} of").wait_for()
    pg.wait_for_function(f"([old, every]) => {{ const now = [...document.querySelectorAll('{PLOT_IMAGES}')]"
                         ".map(e => e.src); return now.length === old.length && "
                         "(every ? now.every((s, i) => s !== old[i]) : now[0] !== old[0]); }", arg=[before, every_plot])
    seconds = time.perf_counter() - start
    pg.wait_for_timeout(300)  # the other plots of the same render
    return seconds


def is_zero(text: str) -> bool:
    """A difference cell that shows no difference (or no value)."""
    return text == "–" or re.fullmatch(r"[+-]?0(\.0+)?( pp)?", text) is not None


# ------------------------------------------------------------------ tests


def test_page_has_its_own_controls_the_date_and_visible_equal_levers(page):
    pg = page
    text = pg.locator("body").inner_text()
    for generic in ("Play Interval", "Render Interval", "Use Threads", "PAGE 0", "Page 0", "Time:"):
        assert generic not in text, f"Mesa's generic control '{generic}' is on the page"
    assert re.search(f"Not started: the run begins {DATE}", pg.locator(".digex-status").inner_text())

    boxes = [lever(pg, name).bounding_box() for name in LEVERS]
    assert len({round(b["width"]) for b in boxes}) == 1, boxes
    sliders = [lever(pg, name).locator(".v-slider").bounding_box() for name, s in LEVERS.items()
               if s.widget == "SliderFloat"]
    assert len({round(b["width"]) for b in sliders}) == 1 and sliders[0]["width"] > 200, sliders
    for name, spec in LEVERS.items():  # every value is on screen without touching a lever
        if spec.widget == "SliderFloat":
            assert lever(pg, name).locator(".digex-lever-value").is_visible()
    assert shown_levers(pg) == {label: value for label, (value, _) in run_levers(pg).items()}

    step_to(pg, 13)
    assert re.match(f"{DATE} · week 13 of ", pg.locator(".digex-status").inner_text())
    assert pg.problems == [], pg.problems


def _week(pg) -> int:
    found = re.search(r"week (\d+) of", pg.locator(".digex-status").inner_text())
    return int(found.group(1)) if found else 0


def test_play_runs_quarters_until_paused_and_reset_stops_it(page):
    pg = page
    pg.get_by_role("button", name="▶").click()
    pg.wait_for_function("() => /week (5[2-9]|[6-9][0-9]|[1-9][0-9]{2}) of/"
                         ".test(document.querySelector('.digex-status').innerText)")
    assert pg.get_by_role("button", name="Step").is_disabled()
    pg.get_by_role("button", name="❚❚").click()
    pg.wait_for_function("() => !document.querySelector('.digex-buttons button:nth-child(3)').disabled")
    paused = _week(pg)
    pg.wait_for_timeout(1000)
    assert _week(pg) == paused and paused % 13 == 0
    pg.get_by_role("button", name="▶").click()
    pg.locator(".digex-status", has_text=f"week {paused + 13} of").wait_for()
    pg.get_by_role("button", name="Reset").click()
    pg.locator(".digex-status", has_text="Not started").wait_for()
    pg.wait_for_timeout(1000)
    assert "Not started" in pg.locator(".digex-status").inner_text()
    assert pg.get_by_role("button", name="▶").is_enabled()
    assert pg.problems == [], pg.problems


def test_levers_apply_exactly_as_shown_when_reset_follows_at_once(page):
    """Keyboard and mouse moves, then Reset at once, while the server is still busy with a Step: the run
    uses the values on screen (the old page lost the slider updates still waiting in the browser)."""
    pg = page
    pg.get_by_role("button", name="Step").click()  # keeps the server busy while the levers move

    helpers = lever(pg, "helpers_per_10k").get_by_role("slider")
    helpers.focus()
    for _ in range(3):
        helpers.press("ArrowRight")
    mandatory = lever(pg, "mandatory_share").get_by_role("slider")
    mandatory.focus()
    mandatory.press("Home")
    outages = lever(pg, "outage_rate").get_by_role("slider")
    outages.focus()
    outages.press("PageUp")

    track = lever(pg, "self_help_share").locator(".v-slider").bounding_box()
    pg.mouse.click(track["x"] + 0.2 * track["width"], track["y"] + track["height"] / 2)
    thumb = lever(pg, "automation_share").locator(".v-slider__thumb").bounding_box()
    track = lever(pg, "automation_share").locator(".v-slider").bounding_box()
    pg.mouse.move(thumb["x"] + thumb["width"] / 2, thumb["y"] + thumb["height"] / 2)
    pg.mouse.down()
    pg.mouse.move(track["x"] + 0.7 * track["width"], track["y"] + track["height"] / 2, steps=8)
    pg.mouse.up()

    lever(pg, "proxy_access").locator(".v-input--selection-controls__ripple").click()
    lever(pg, "optout_rule").locator(".v-select").click()
    pg.get_by_role("option", name="remote").click()
    pg.get_by_role("button", name="Reset").click()

    on_screen = shown_levers(pg)
    pg.locator(".digex-levers", has_text="differ from the scenario").wait_for()
    pg.locator(".digex-status", has_text="Not started").wait_for()
    in_run = run_levers(pg)
    assert {label: value for label, (value, _) in in_run.items()} == on_screen
    assert shown_levers(pg) == on_screen
    moved = {label for label, (_, bold) in in_run.items() if bold}
    assert moved == {spec.label for spec in LEVERS.values()} - {"Mandate: digital by default"}, in_run
    assert pg.locator(".digex-pending").count() == 0, "the page still says levers are waiting for Reset"
    assert pg.problems == [], pg.problems


def test_levers_change_the_plots_and_figures(page):
    pg = page
    pg.locator(".digex-levers", has_text="reproduces the baseline").wait_for()

    # At the scenario's settings the run is the baseline: figures equal, differences zero.
    step_to(pg, 13, every_plot=True)
    first = plot_images(pg)
    assert len(first) == 5 and all(len(png) > 5_000 for png in first)
    seconds = step_to(pg, 26, every_plot=True)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "step_seconds.txt").write_text(f"{seconds:.2f}\n")
    default = figures(pg)
    assert set(default) >= {"Exclusion rate, all", "Exclusion rate, 80+", "Exclusion rate, lowest skill quintile",
                            "Exempt from Digital Post", "Centre queue (weeks waited)", "Mean trust (0-1)",
                            "Public cost per citizen-year (DKK)"}
    assert all(now == base and is_zero(diff) for now, base, diff in default.values()), default
    default_plots = plot_images(pg)
    assert default_plots[0] != first[0], "the exclusion plot did not change when the model stepped"

    # Move two levers: all procedures resolved proactively; automatic exemption.
    slider = lever(pg, "automation_share").get_by_role("slider")
    slider.focus()
    slider.press("End")
    lever(pg, "optout_rule").locator(".v-select").click()
    pg.get_by_role("option", name="automatic").click()
    pg.locator(".digex-pending").wait_for()
    pg.get_by_role("button", name="Reset").click()
    pg.locator(".digex-status", has_text="Not started").wait_for()
    moved = {label: value for label, (value, bold) in run_levers(pg).items() if bold}
    assert moved == {"Opt-out rule": "automatic", "Proactive automation share": "1"}

    step_to(pg, 13)
    step_to(pg, 26)
    changed = figures(pg)
    cost = "Public cost per citizen-year (DKK)"
    assert changed[cost][1] == default[cost][1]  # same baseline
    assert not is_zero(changed[cost][2])
    assert float(changed["Exclusion rate, all"][0].rstrip("%")) < float(default["Exclusion rate, all"][0].rstrip("%"))
    changed_plots = plot_images(pg)
    assert changed_plots[0] != default_plots[0], "the exclusion plot is the same under other levers"
    assert changed_plots[4] != default_plots[4], "the cost plot is the same under other levers"

    # Play on to 2017 for the screenshot, so the run's lines stand out against the baseline's.
    pg.get_by_role("button", name="▶").click()
    pg.wait_for_function("() => /week ([3-9][0-9]{2}) of/.test(document.querySelector('.digex-status').innerText)")
    pg.get_by_role("button", name="❚❚").click()
    pg.wait_for_function("() => !document.querySelector('.digex-buttons button:nth-child(3)').disabled")
    plot_images(pg)
    pg.set_viewport_size({"width": 1440, "height": 1320})
    pg.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert pg.problems == [], pg.problems


def _results_folder(folder: Path) -> Path:
    """A small results folder as ``digex run`` leaves one: marker, manifest, a table and a figure."""
    from matplotlib.figure import Figure

    (folder / "plots").mkdir(parents=True)
    (folder / ".digex-output").write_text("written by digex\nkind: run\n")
    (folder / "manifest.json").write_text('{"command": "digex run scenarios/denmark_baseline.yaml"}')
    (folder / "summary.csv").write_text("scenario,metric,mean\nbaseline,exclusion_rate,0.123\n")
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1], [1, 0])
    fig.savefig(folder / "plots" / "exclusion_over_time.png")
    return folder


def _open_folder(pg, path: Path) -> None:
    field = pg.get_by_label(re.compile("Results folder"))
    field.fill(str(path))
    field.press("Enter")


def test_results_tab_browses_the_figures_and_tables_of_a_results_folder(page, tmp_path):
    pg = page
    folder = _results_folder(tmp_path / "results" / "baseline")
    (tmp_path / "notes").mkdir()
    pg.get_by_role("tab", name="Results folder").click()

    _open_folder(pg, tmp_path / "notes")
    pg.locator(".digex-results-error", has_text="is not a digex results folder").wait_for()

    _open_folder(pg, tmp_path / "results")  # a folder of results folders lists them
    pg.locator(".digex-results-folder", has_text="baseline (run)").click()
    pg.get_by_text("written by digex run").wait_for()
    pg.get_by_text("digex run scenarios/denmark_baseline.yaml").wait_for()

    pg.locator(".v-select", has_text="Figure").click()
    pg.get_by_role("option", name="plots/exclusion_over_time.png").click()
    image = pg.locator(".v-window-item--active img")
    image.wait_for()
    assert image.evaluate("img => img.complete ? img.naturalWidth : new Promise(done => "
                          "img.addEventListener('load', () => done(img.naturalWidth)))") > 100

    pg.locator(".v-select", has_text="Table").click()
    pg.get_by_role("option", name="summary.csv").click()
    pg.locator("td", has_text="exclusion_rate").wait_for()
    assert str(folder) in pg.locator("body").inner_text()
    assert pg.problems == [], pg.problems
