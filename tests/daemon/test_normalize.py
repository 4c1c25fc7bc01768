"""The text front end over real HTTP: ``POST /normalize``, ``normalize`` on ``/speak``,
``normalization_options`` on the OpenAI route, malformed SSML as a 400 with its position."""

from __future__ import annotations

SPEECH = {"model": "tts-1", "voice": "alloy", "response_format": "wav"}


def test_normalize_returns_the_spoken_form(live_server):
    resp = live_server.post(
        "/normalize", json={"text": "**Sure!** The ETA is 5:30 pm. [[slnc 200]] 😀 Bye."}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["text"] == "Sure! The E T eigh is five thirty P M. [[slnc 200]] Bye."
    assert body["language"] == "en-us"
    assert body["segments"] == [
        {"text": "Sure! The E T eigh is five thirty P M."},
        {"pause": 0.2},
        {"text": "Bye."},
    ]
    assert body["options"]["emoji"] == "drop" and body["notes"] == []


def test_normalize_takes_the_request_options(live_server):
    body = live_server.post(
        "/normalize",
        json={
            "text": "Call 555-123-4567 😀",
            "normalize": {"emoji": "name", "phone_numbers": False},
        },
    ).json()
    assert body["text"] == "Call 555-123-4567 grinning face"
    assert (
        live_server.post("/normalize", json={"text": "**x** $5", "normalize": False}).json()["text"]
        == "**x** $5"
    )


def test_malformed_ssml_is_a_400_with_the_position(live_server):
    for path, body in [
        ("/normalize", {"text": "<speak>\n  Hello <break time='soon'/></speak>"}),
        ("/speak", {"text": "<speak>\n  Hello <break time='soon'/></speak>", "play": False}),
    ]:
        resp = live_server.post(path, json=body)
        assert resp.status_code == 400, path
        error = resp.json()
        assert error["code"] == "invalid_markup"
        assert error["position"] == {"line": 2, "column": 9, "offset": 16}
        assert "line 2, column 9" in error["error"]


def test_openai_route_renders_markup_errors_in_its_shape(live_server):
    resp = live_server.post("/v1/audio/speech", json={**SPEECH, "input": "Hi [[rate fast]]"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_markup" and "line 1, column 4" in error["message"]


def test_bad_options_name_the_field(live_server):
    resp = live_server.post("/speak", json={"text": "Hi", "normalize": {"emoji": "loud"}})
    assert resp.status_code == 400 and resp.json()["param"] == "normalize.emoji"
    resp = live_server.post(
        "/v1/audio/speech",
        json={**SPEECH, "input": "Hi", "normalization_options": {"unit_normalization": 1}},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "normalization_options.unit_normalization"


def test_cache_key_includes_the_normalized_text_and_the_options(live_server):
    """End to end (issue 13): the phrase cache is keyed by what is said and how the text was
    read, not by the characters typed."""

    def speak(text: str, **extra) -> str:
        resp = live_server.post("/speak", json={"text": text, "play": False, **extra})
        assert resp.status_code == 200, resp.text
        return resp.headers["X-Cache"]

    assert speak("**Cache** check: it costs $7.") == "miss"
    assert speak("Cache check: it costs seven dollars.") == "hit"
    assert speak("**Cache** check: it costs $7.", normalize={"emoji": "name"}) == "miss"
    assert speak("**Cache** check: it costs $7.", normalize={"currency": False}) == "miss"
    assert speak("**Cache** check: it costs $7.") == "hit"


def test_openai_route_honours_kokoro_names(live_server):
    text = "Read https://example.com/a now."
    on = live_server.post("/v1/audio/speech", json={**SPEECH, "input": text})
    off = live_server.post(
        "/v1/audio/speech",
        json={**SPEECH, "input": text, "normalization_options": {"url_normalization": False}},
    )
    assert on.status_code == off.status_code == 200
    assert off.headers["X-Cache"] == "miss"
    assert on.content != off.content
