"""``GET /``, the try-it page, in a real headless browser (Debian's chromium and
chromedriver, driven by selenium; nothing is downloaded) against the real daemon over real
HTTP, with the bundled voice's real split (its word timings): the page loads, shows the
engine, and speaking highlights the words in order. Where no browser is installed the browser
tests are skipped and say why (``.ci/run`` installs one)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import RecordingOutput, make_config, start_server

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
