"""``GET /``, the try-it page, in a real headless browser (Debian's chromium and
chromedriver, driven by selenium; nothing is downloaded) against the real daemon over real
HTTP, with the bundled voice's real split (its word timings): the page loads, shows the
engine, and speaking highlights the words in order. Where no browser is installed the browser
tests are skipped and say why (``.ci/run`` installs one)."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

import pytest
from conftest import RecordingOutput, make_config, optimized_config, start_server

from macbot.core.optimization import STEPS
from macbot.daemon.page import CSP
from macbot.daemon.state import state_of

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
)


def test_the_page_is_one_file_with_no_external_assets(live_server):
    resp = live_server.get("/")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    assert resp.headers["Content-Security-Policy"] == CSP
    html = resp.text
    for external in ("http://", "https://", "src=", "<link", "@import"):
        assert external not in html, external


SCREENSHOTS = os.environ.get("MACBOT_SCREENSHOTS")
"""A folder to save the page's screenshots in (docs/images when the docs are refreshed)."""


def screenshot(driver, name: str) -> None:
    if SCREENSHOTS:
        driver.set_window_size(1100, 1350)
        driver.save_screenshot(str(Path(SCREENSHOTS) / name))


ENDED = "const s = document.body.dataset.state; return s === 'done' || s === 'error' ? s : null"
CHART_POINTS = "return Number(document.getElementById('chart').dataset.points)"


def press_speak(driver) -> str:
    """Press Speak and wait for the end: ``done`` or ``error``."""
    driver.execute_script("document.body.dataset.state = ''")
    driver.find_element("id", "speak").click()
    return wait_until(driver, ENDED)


def test_the_favicon_is_an_icon(live_server):
    """Issue 19 item 5: `/favicon.ico` was a 404 (every browser asks for it)."""
    resp = live_server.get("/favicon.ico")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/x-icon"
    reserved, kind, count = struct.unpack_from("<HHH", resp.content)
    assert (reserved, kind, count) == (0, 1, 1)
    width, height, _, _, _, bits, size, offset = struct.unpack_from("<BBBBHHII", resp.content, 6)
    assert (width, height, bits) == (32, 32, 32)
    png = resp.content[offset : offset + size]
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) == size
    assert struct.unpack(">II", png[16:24]) == (32, 32)


@pytest.fixture(scope="module")
def browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(
            f"no headless browser here ({', '.join(missing)} missing; .ci/run installs "
            "Debian's chromium and chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="macbot-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_until(driver, script: str, timeout: float = 60.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script(script)
    )


def test_the_page_shows_the_engine_and_highlights_words_in_order(browser, split_server):
    browser.get(split_server.url + "/")
    engine = wait_until(browser, "return document.getElementById('engine').dataset.engine")
    assert engine == "piper_chunked"
    assert "en_US-joe-medium" in browser.find_element("id", "engine").text
    wait_until(browser, "return document.querySelectorAll('#metrics dt').length > 0")

    text = "The quick brown fox jumps over the lazy dog."
    box = browser.find_element("id", "text")
    box.clear()
    box.send_keys(text)
    browser.find_element("id", "speak").click()
    state = wait_until(
        browser,
        "const s = document.body.dataset.state; return s === 'done' || s === 'error' ? s : null",
    )
    assert state == "done", browser.find_element("id", "status").text
    shown = [s.text for s in browser.find_elements("css selector", "#words span")]
    assert shown == [w.strip(".") for w in text.split()]
    highlighted = browser.execute_script("return window.macbotHighlights")
    # Words light up in the order spoken, each once. The page looks at the audio's clock every
    # 25 ms, so on a loaded machine a short word may pass between two looks: most words must
    # light up, the first and the last among them.
    assert highlighted == sorted(set(highlighted)), highlighted
    assert highlighted[0] == 0 and highlighted[-1] == len(shown) - 1
    assert len(highlighted) >= 0.75 * len(shown), highlighted
    assert all(
        "spoken" in s.get_attribute("class")
        for s in browser.find_elements("css selector", "#words span")
    )


def test_with_a_token_the_page_asks_for_it_or_takes_it_from_the_fragment(browser, shared_synth):
    config = make_config(server__auth_token="page-token")
    live, server, thread = start_server(config, RecordingOutput(), shared_synth)
    try:
        browser.get(live.url + "/")
        wait_until(browser, "return !document.getElementById('auth').hidden")
        browser.get(live.url + "/#token=page-token")
        engine = wait_until(browser, "return document.getElementById('engine').dataset.engine")
        assert engine == "piper"
        assert "token" not in browser.current_url  # moved out of the address bar
        stored = browser.execute_script("return sessionStorage.getItem('macbot-token')")
        assert stored == "page-token"
    finally:
        server.request_stop()
        thread.join(timeout=5)
        state_of(live.app).player.close()


def test_voice_picker_and_speed_reach_the_daemon(browser, split_server):
    """Issue 19 item 5: a voice picker with every voice of `/voices` (grouped by family when
    the listing has one) and a speed that changes what is spoken."""
    browser.get(split_server.url + "/")
    wait_until(browser, "return document.querySelectorAll('#voice option').length > 1")
    listed = {v["name"] for v in split_server.get("/voices").json()["voices"]}
    options = browser.execute_script(
        "return Array.from(document.querySelectorAll('#voice option')).map(o => o.value)"
    )
    assert set(options) == listed | {""}  # "" is the daemon's default
    families = {v.get("family") for v in split_server.get("/voices").json()["voices"]}
    groups = browser.execute_script(
        "return Array.from(document.querySelectorAll('#voice optgroup')).map(g => g.label)"
    )
    assert set(groups) == ({f for f in families if f} if any(families) else set())

    def spoken(speed: str, voice: str) -> float:
        browser.execute_script(
            "const s = document.getElementById('speed'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('input'));"
            "document.getElementById('voice').value = arguments[1];",
            speed,
            voice,
        )
        state = press_speak(browser)
        assert state == "done", browser.find_element("id", "status").text
        return float(browser.execute_script("return document.body.dataset.duration"))

    normal = spoken("1", "en_US-joe-medium")
    fast = spoken("2", "en_US-joe-medium")
    assert browser.find_element("id", "speed-value").text == "2.00×"
    assert fast < 0.75 * normal  # twice the speed: about half the audio
    # a blend (or any name) typed in goes to the daemon, which says what it thinks of it
    browser.find_element("id", "blend").send_keys("nobody(1)+joe(1)")
    assert press_speak(browser) == "error"
    assert "nobody" in browser.find_element("id", "status").text
    # live metrics: a chart of the syntheses since the last look, drawn inline (no asset)
    wait_until(browser, CHART_POINTS + " > 0")
    points = browser.find_element("id", "line-rtf").get_attribute("points")
    assert points.strip()


def test_the_optimization_is_a_list_of_steps_with_progress_and_the_gain(
    browser, optimized, tmp_path
):
    """Issue 19 item 5: the Optimization column was raw JSON. The real state of a finished
    run (the daemon reads it from optimize.json) shows as steps, a bar and the gain."""
    folder, final, _reports = optimized
    copy = tmp_path / "optimized"
    shutil.copytree(folder, copy)
    config = optimized_config(copy)
    live, server, thread = start_server(config, RecordingOutput())
    try:
        browser.get(live.url + "/")
        wait_until(browser, "return document.querySelectorAll('#steps li').length > 0")
        steps = browser.execute_script(
            "return Array.from(document.querySelectorAll('#steps li'))"
            ".map(li => [li.dataset.step, li.dataset.state])"
        )
        assert steps == [[s.name, s.state] for s in final.steps]
        assert [name for name, _ in steps] == list(STEPS)
        assert browser.execute_script("return document.getElementById('opt-progress').value") == 1
        summary = browser.find_element("id", "opt-summary").text
        assert summary.startswith("done") and "{" not in summary  # words, not JSON
        rows = browser.find_elements("css selector", "#candidates tbody tr")
        assert len(rows) == len(final.candidates)
        gain = browser.find_element("id", "gain").text
        assert final.winner in gain
        chosen = next(c for c in final.candidates if c["chosen"])
        if chosen["name"] != "piper":
            assert f"{chosen['speedup']:.2f}×" in gain
        # the `auto` voice choice, when /info has it (models.tts.voice: auto), is shown
        assert not browser.find_element("id", "auto").is_displayed()
        browser.execute_script(
            "showAuto({family: 'kokoro', kokoro: {rtf: 0.21}, piper: {rtf: 0.08}})"
        )
        auto = browser.find_element("id", "auto").text
        assert "kokoro" in auto and "rtf 0.21" in auto and "rtf 0.08" in auto
        if SCREENSHOTS:  # a page in use: words spoken, the chart drawn
            browser.execute_script("showAuto(null)")
            box = browser.find_element("id", "text")
            for text in (
                "Good morning. The weather today is sunny with a light breeze.",
                "Your next meeting starts in fifteen minutes.",
                "It costs $1,234 at 5:30pm.",
            ):
                box.clear()
                box.send_keys(text)
                assert press_speak(browser) == "done"
                time.sleep(2.5)  # one look at the metrics after each
            wait_until(browser, CHART_POINTS + " > 1")
            screenshot(browser, "page.png")
    finally:
        server.request_stop()
        thread.join(timeout=5)
        state_of(live.app).player.close()
        live.synth.close()
