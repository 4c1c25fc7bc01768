"""Captions (issue 19): ``/speak`` with ``captions`` and ``macbot say --captions`` / ``-o x.srt``
on the bundled voice's real split (it has word timings), read back with real parsers and set
against whisper tiny.en's own word timings on the same audio."""

from __future__ import annotations

import base64
import io
import os
import statistics
import subprocess
import sys

import pytest
import soundfile as sf
import srt
import webvtt
import yaml

from macbot.core.timings import NO_DURATIONS

TEXT = (
    "The neighbours asked whether we could feed their cat on Saturday. "
    "A thunderstorm is expected to reach the coast shortly after midnight, "
    "so please bring the garden chairs inside before you go to bed."
)


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))


def speak(server, fmt: str) -> dict:
    resp = server.post("/speak", json={"text": TEXT, "play": False, "captions": fmt})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_vtt_cues_show_every_word_in_order_at_its_time(split_server):
    body = speak(split_server, "vtt")
    assert body["captions_format"] == "vtt" and body["words"]
    parsed = webvtt.from_buffer(io.StringIO(body["captions"]))
    assert len(parsed) >= 3  # two sentences, the second too long for one cue
    shown = " ".join(c.text.replace("\n", " ") for c in parsed)
    assert shown == TEXT.strip()  # every word, with the input's punctuation
    starts = [w["start"] for w in body["words"]]
    for cue in parsed:
        assert all(len(line) <= 42 for line in cue.text.split("\n"))
        assert cue.text.count("\n") <= 1
        assert min(abs(seconds(cue.start) - s) for s in starts) < 0.001  # a word's start
    assert seconds(parsed[-1].end) <= body["duration"] + 0.001


def test_srt_parses_and_matches_the_vtt(split_server):
    vtt = webvtt.from_buffer(io.StringIO(speak(split_server, "vtt")["captions"]))
    subs = list(srt.parse(speak(split_server, "srt")["captions"]))
    assert [s.content for s in subs] == [c.text for c in vtt]
    assert [round(s.start.total_seconds(), 3) for s in subs] == [seconds(c.start) for c in vtt]


def test_cue_starts_agree_with_whisper(split_server):
    """Each cue's first word against the same word as whisper tiny.en hears and times it
    (the benchmark `macbot bench captions` reports the median over more sentences)."""
    from benchmarks.livespeech import pair_words
    from macbot.tools.toolkit.transcriber import Transcriber

    body = speak(split_server, "vtt")
    samples, rate = sf.read(io.BytesIO(base64.b64decode(body["audio"])), dtype="float32")
    heard = Transcriber(threads=2).words(samples, rate)
    parsed = webvtt.from_buffer(io.StringIO(body["captions"]))
    firsts = [(c.text.split()[0], seconds(c.start), seconds(c.end)) for c in parsed]
    pairs = pair_words(firsts, heard)
    assert len(pairs) >= len(firsts) - 1
    assert statistics.median(abs(ours[1] - theirs[1]) for ours, theirs in pairs) <= 0.15


def test_captions_need_play_false_and_a_known_format(split_server):
    resp = split_server.post("/speak", json={"text": TEXT, "captions": "vtt"})
    assert resp.status_code == 400 and resp.json()["param"] == "captions"
    resp = split_server.post("/speak", json={"text": TEXT, "play": False, "captions": "ass"})
    assert resp.status_code == 400 and "vtt, srt" in resp.json()["error"]
    resp = split_server.post("/speak", json={"text": TEXT, "play": False, "captions": 1})
    assert resp.status_code == 400 and resp.json()["code"] == "invalid_type"


def test_an_engine_without_timings_says_why(live_server):
    resp = live_server.post("/speak", json={"text": TEXT, "play": False, "captions": "srt"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["captions"] is None and body["words_unavailable"] == NO_DURATIONS


# -- macbot say ----------------------------------------------------------------------------------


def say(*args: str, url: str = "http://127.0.0.1:9", config=None):
    cmd = [sys.executable, "-m", "macbot", "say", *args]
    if config is not None:
        cmd += ["--config", str(config)]
    env = {**os.environ, "MACBOT_URL": url}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_say_writes_audio_and_captions_through_the_daemon(split_server, tmp_path, ext):
    """The daemon writes the audio in -o's format (issue 18: say re-encoded its WAV)."""
    audio, vtt = tmp_path / f"reply{ext}", tmp_path / "reply.vtt"
    proc = say("-o", str(audio), "--captions", str(vtt), TEXT, url=split_server.url)
    assert proc.returncode == 0, proc.stderr
    info = sf.info(str(audio))
    assert info.format == ext[1:].upper()
    parsed = webvtt.read(str(vtt))
    assert seconds(parsed[-1].end) <= info.duration + 0.001
    assert " ".join(c.text.replace("\n", " ") for c in parsed) == TEXT


def test_say_writes_srt_alone_in_process(voice_split, tmp_path):
    _, folder = voice_split
    config = tmp_path / "macbot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "tts": {
                        "optimized_dir": str(folder.parent),
                        "streaming": {"enabled": True},
                        "piper": {"noise_scale": 0.0, "noise_w_scale": 0.0},
                    }
                }
            }
        )
    )
    out = tmp_path / "reply.srt"
    proc = say("-o", str(out), "Hello there. How are you today?", config=config)
    assert proc.returncode == 0, proc.stderr
    subs = list(srt.parse(out.read_text()))
    assert [s.content for s in subs] == ["Hello there.", "How are you today?"]
    assert not list(tmp_path.glob("*.wav"))  # -o x.srt writes the captions only


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--captions", "x.vtt", "Hi."], "--captions needs -o"),
        (["-o", "x.wav", "--captions", "x.txt", "Hi."], "unknown extension '.txt'"),
        (["-o", "x.vtt", "--captions", "y.srt", "Hi."], "leave out --captions"),
    ],
)
def test_say_captions_usage_errors(tmp_path, args, fragment):
    proc = subprocess.run(
        [sys.executable, "-m", "macbot", "say", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode in (2, 12) and fragment in proc.stderr
    assert proc.stderr.count("\n") == 1  # one line
