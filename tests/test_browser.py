"""The keyboard page in a real browser: headless Chromium, driven by Playwright, typing key by key.

Needs Playwright for Python and a Chromium on the system (Debian's `chromium` package; set
SEQKIT_CHROMIUM to use another); skips with the reason when either is absent.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi", reason="seqkit serve needs the serve extra (fastapi, uvicorn)")
uvicorn = pytest.importorskip("uvicorn", reason="seqkit serve needs the serve extra (fastapi, uvicorn)")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright: pip install playwright")

from seqkit.serve import create_app  # noqa: E402
from seqkit.tasks import ForecastTask, NextWordTask  # noqa: E402
from seqkit.tasks.suggester import Suggester  # noqa: E402


def _chromium() -> str:
    found = os.environ.get("SEQKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("no Chromium on this system (apt-get install chromium, or set SEQKIT_CHROMIUM)")
    return found


@pytest.fixture(scope="module")
def server(language_model, forecaster):
    """`seqkit serve`'s app (with a forecaster) on a free loopback port, in a thread; its address and its model."""
    task = NextWordTask.from_checkpoint(language_model)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = uvicorn.Server(uvicorn.Config(create_app(task, None, ForecastTask.from_checkpoint(forecaster)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.started, "the server did not start"
    yield f"http://127.0.0.1:{port}", task
    running.should_exit = True
    thread.join(timeout=10)


def _shown(page, text: str) -> list[str]:
    """The words on the suggestion buttons once they are those for `text`."""
    page.wait_for_function("text => document.getElementById('suggestions').dataset.text === text", arg=text)
    return page.eval_on_selector_all("#suggestions .suggestion", "buttons => buttons.map(b => b.dataset.word)")


def test_typing_shows_the_suggesters_words_and_tab_takes_the_first(server, tmp_path):
    address, task = server
    chromium = _chromium()  # skips before anything starts when there is none
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(address)
            box = page.locator("#text")
            box.click()
            box.press_sequentially("and god ", delay=40)
            want = [w for w, _ in Suggester(task).feed("and god").suggest(3)]
            assert _shown(page, "and god ") == want
            box.press_sequentially("s", delay=40)
            completions = [w for w, _ in Suggester(task).feed("and god").complete("s", 3)]
            assert _shown(page, "and god s") == completions
            page.keyboard.press("Tab")
            assert box.input_value() == f"and god {completions[0]} "
            assert page.locator("#trace canvas[data-part]").count() == 5  # an LSTM: h, c and the gates i, f, o
            assert page.locator("#trace .scale").count() == 5  # each heatmap with its colour scale
            box.press_sequentially("th", delay=40)  # half a word: no column of its own yet
            _shown(page, f"and god {completions[0]} th")
            page.wait_for_timeout(1000)  # the trace comes after the suggestions: give it time to (wrongly) grow
            assert page.locator("#trace .words").first.inner_text().split() == ["and", "god", completions[0]]
            page.screenshot(path=str(tmp_path / "keyboard.png"), full_page=True)
            assert (tmp_path / "keyboard.png").stat().st_size > 10_000
        finally:
            browser.close()


def test_the_forecast_page_draws_an_uploaded_csv(server):
    from seqkit import packaged

    address, _ = server
    chromium = _chromium()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{address}/#forecast")
            page.wait_for_selector('[data-tab="forecast"]:not([hidden])')
            page.set_input_files("#csv", str(packaged.sample("co2_weekly.csv")))
            page.wait_for_function("() => document.getElementById('forecast-message').textContent.length > 0")
            assert page.inner_text("#forecast-message") == "co2_weekly.csv: the forecast of co2, with its quantile band"
            inked = page.evaluate("""() => {
                const canvas = document.getElementById('forecast-plot');
                const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                let count = 0;
                for (let i = 3; i < pixels.length; i += 4) count += pixels[i] > 0;
                return count;
            }""")
            assert inked > 1000  # the history, the forecast and its band were drawn
        finally:
            browser.close()
