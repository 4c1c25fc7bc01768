"""Word timings over HTTP (issue 14): ``POST /speak`` with ``timestamps`` and the OpenAI route's
SSE word events, from the real app on a real socket with the bundled voice's real split."""

from __future__ import annotations

import base64
import io
import json

import pytest
import soundfile as sf

from macbot.core.timings import NO_DURATIONS

TEXT = "Hello, Dave. The total is $1,234 today."
WORDS = ["Hello", "Dave", "The", "total", "is", "$1,234", "today"]


def test_speak_with_timestamps_answers_audio_and_words(split_server):
    resp = split_server.post("/speak", json={"text": TEXT, "play": False, "timestamps": True})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    samples, rate = sf.read(io.BytesIO(base64.b64decode(body["audio"])), dtype="float32")
    assert rate == body["sample_rate"] == 22050
    assert len(samples) / rate == pytest.approx(body["duration"], abs=1e-3)
    words = body["words"]
    assert [w["word"] for w in words] == WORDS
    ends = [0.0] + [w["end"] for w in words]
    for w, previous_end in zip(words, ends, strict=False):
        assert previous_end <= w["start"] < w["end"]
    assert words[-1]["end"] <= body["duration"]
    assert body["engine"] == "piper_chunked" and "words_unavailable" not in body
    # the same request again comes from the cache, with the same words
    again = split_server.post("/speak", json={"text": TEXT, "play": False, "timestamps": True})
    assert again.json()["cached"] is True and again.json()["words"] == words
    assert again.json()["audio"] == body["audio"]


def test_timestamps_with_play_is_a_usage_error(split_server):
    resp = split_server.post("/speak", json={"text": TEXT, "timestamps": True})
    assert resp.status_code == 400 and resp.json()["param"] == "timestamps"
    resp = split_server.post(
        "/speak", json={"text": TEXT, "play": False, "stream": True, "timestamps": True}
    )
    assert resp.status_code == 400 and resp.json()["param"] == "timestamps"


def test_sse_stream_carries_word_events_before_their_audio(split_server):
    resp = split_server.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": TEXT, "response_format": "pcm", "stream_format": "sse"},
        stream=True,
    )
    assert resp.status_code == 200
    events = [
        json.loads(line[len("data: ") :])
        for line in resp.iter_lines(decode_unicode=True)
        if line.startswith("data: ")
    ]
    words = [e for e in events if e["type"] == "speech.word"]
    assert [e["word"] for e in words] == WORDS
    assert events[0]["type"] == "speech.word" and events[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if "audio" in e)
    seconds = len(audio) / 2 / 24000
    assert all(0 <= w["start"] < w["end"] <= seconds + 0.01 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)


def test_an_engine_without_durations_says_why(live_server):
    resp = live_server.post("/speak", json={"text": TEXT, "play": False, "timestamps": True})
    assert resp.status_code == 200
    body = resp.json()
    assert body["words"] == [] and body["words_unavailable"] == NO_DURATIONS
    assert body["engine"] == "piper"
