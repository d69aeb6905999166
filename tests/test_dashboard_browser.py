"""The dashboard (``digex app``) in a real browser: Debian's Chromium driven by Playwright.

The test never downloads a browser: it uses /usr/bin/chromium, which
``scripts/ensure-chromium.sh`` (run by ``make test``) installs with apt-get
when it is missing. Under CI (CI=true) a missing Chromium is a failure, not a
skip. The screenshot is saved to test-artifacts/dashboard.png.
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

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
SIZE = 2000
STARTUP_TIMEOUT_S = 180


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
    """``python -m sim app`` on a free localhost port; yields its URL and stops it afterwards."""
    _require_chromium()
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim", "app", "--host", "127.0.0.1", "--port", str(port), "--size", str(SIZE)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
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
            yield pg
        finally:
            browser.close()


def figures(pg) -> dict[str, tuple[str, str, str]]:
    """The 'this setting vs baseline' table: figure -> (this setting, baseline, difference)."""
    rows = pg.locator(".digex-figures tbody tr")
    out = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        out[cells[0]] = tuple(cells[1:])
    return out


def plot_images(pg) -> list[bytes]:
    """What each plot shows: a PNG screenshot of every plot image as rendered by the browser."""
    images = pg.locator(".vue-grid-layout img").all()
    for img in images:
        img.evaluate("img => img.complete || new Promise(done => img.addEventListener('load', done))")
    return [img.screenshot(animations="disabled") for img in images]


def step_to(pg, week: int) -> None:
    """Press Step (one quarter) and wait until the figures show ``week``."""
    pg.get_by_role("button", name="Step").click()
    pg.locator(".digex-figures", has_text=f"Week {week} of").wait_for()
    pg.wait_for_timeout(500)  # let the plot images of the same render arrive


def is_zero(text: str) -> bool:
    """A difference cell that shows no difference (or no value)."""
    return text == "–" or re.fullmatch(r"[+-]0(\.0+)?( pp| DKK)?", text) is not None


def test_levers_change_the_plots_and_figures(page):
    pg = page
    pg.locator(".digex-figures", has_text="Not started").wait_for()
    pg.locator(".digex-levers", has_text="reproduces the baseline").wait_for()

    # At the scenario's settings the run is the baseline: figures equal, differences zero.
    step_to(pg, 13)
    first = plot_images(pg)
    assert len(first) == 5 and all(len(png) > 5_000 for png in first)
    step_to(pg, 26)
    default = figures(pg)
    assert set(default) >= {"Exclusion rate, all", "Exclusion rate, 80+", "Exclusion rate, lowest skill quintile",
                            "Exempt from Digital Post", "Centre queue (weeks waited)", "Mean trust (0-1)",
                            "Public cost per citizen-year"}
    assert all(now == base and is_zero(diff) for now, base, diff in default.values()), default
    default_plots = plot_images(pg)
    assert default_plots[0] != first[0], "the exclusion plot did not change when the model stepped"

    # Move two levers: all procedures resolved proactively; automatic exemption.
    slider = pg.locator(".v-input", has_text="Proactive automation share").get_by_role("slider")
    slider.focus()
    slider.press("End")
    assert slider.get_attribute("aria-valuenow") == "1"
    pg.locator(".v-select", has_text="Opt-out rule").click()
    pg.get_by_role("option", name="automatic").click()
    pg.get_by_role("button", name="Reset").click()
    pg.locator(".digex-figures", has_text="Not started").wait_for()
    levers = pg.locator(".digex-levers tbody tr")
    moved = {row.locator("td").first.inner_text(): row.locator("td").all_inner_texts()[1:]
             for row in levers.all() if "600" in (row.locator("td").first.get_attribute("style") or "")}
    assert moved == {"Opt-out rule": ["automatic", "in_person"], "Proactive automation share": ["1", "0"]}

    step_to(pg, 13)
    step_to(pg, 26)
    changed = figures(pg)
    assert changed["Public cost per citizen-year"][1] == default["Public cost per citizen-year"][1]  # same baseline
    assert not is_zero(changed["Public cost per citizen-year"][2])
    assert float(changed["Exclusion rate, all"][0].rstrip("%")) < float(default["Exclusion rate, all"][0].rstrip("%"))
    changed_plots = plot_images(pg)
    assert changed_plots[0] != default_plots[0], "the exclusion plot is the same under other levers"
    assert changed_plots[4] != default_plots[4], "the cost plot is the same under other levers"

    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert pg.problems == [], pg.problems
