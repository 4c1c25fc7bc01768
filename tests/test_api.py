"""The Python API (issue 19): ``from macbot import Client``, ``macbot.speak()``; ``import macbot``
stays light."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import srt
import yaml
from conftest import DETERMINISTIC, make_config

import macbot
from macbot.errors import UsageError

TEXT = "Hello there. The total is $4.50 today."


def test_import_macbot_loads_nothing_heavy():
    code = (
        "import sys, macbot; "
        "print(sorted(m for m in ('numpy', 'onnxruntime', 'flask', 'soundfile', 'macbot.core') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_speak_in_process_is_the_engines_audio(shared_synth, tmp_path):
    config = make_config()
    speech = macbot.speak(TEXT, config=config)
    expected = shared_synth.synthesize(TEXT)
    assert speech.sample_rate == 22050 and speech.voice == "en_US-joe-medium"
    np.testing.assert_allclose(speech.samples, expected.samples, atol=1e-6)
    samples, rate = sf.read(io.BytesIO(speech.wav()), dtype="float32")
    assert rate == 22050 and len(samples) == len(expected.samples)
    out = speech.save(tmp_path / "hello.flac")
    assert sf.info(str(out)).format == "FLAC"
    with pytest.raises(UsageError, match="no word timings"):
        speech.save(tmp_path / "hello.srt")  # this engine has no durations


def test_speaker_keeps_the_voice_and_checks_speed(tmp_path):
    path = tmp_path / "macbot.yaml"
    path.write_text(yaml.safe_dump({"models": {"tts": {"piper": DETERMINISTIC}}}))
    with macbot.Speaker(path) as speaker:
        slow = speaker.speak(TEXT, speed=0.5)
        fast = speaker.speak(TEXT, speed=2.0)
        with pytest.raises(UsageError, match="speed"):
            speaker.speak(TEXT, speed=9)
    assert slow.duration > 2.5 * fast.duration


def test_speech_captions_with_a_split(voice_split, tmp_path):
    _, folder = voice_split
    config = make_config(
        models__tts__streaming={"enabled": True}, models__tts__optimized_dir=str(folder.parent)
    )
    speech = macbot.speak(TEXT, config=config)
    assert [w.word for w in speech.words][:2] == ["Hello", "there"]
    subs = list(srt.parse(speech.save(tmp_path / "hello.srt").read_text()))
    assert [s.content for s in subs] == ["Hello there.", "The total is $4.50 today."]


def test_client_is_the_daemon_client(live_server, monkeypatch):
    monkeypatch.setenv("MACBOT_URL", live_server.url)
    client = macbot.Client()  # $MACBOT_URL, as every macbot command finds the daemon
    assert client.url == live_server.url and client.ready()
    result = client.speak(TEXT, play=False)
    samples, rate = sf.read(io.BytesIO(result.wav), dtype="float32")
    assert rate == 22050 and len(samples) / rate == pytest.approx(result.duration, abs=0.01)
    assert "en_US-joe-medium" in {v["name"] for v in client.voices()["voices"]}
