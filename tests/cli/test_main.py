"""The `macbot` command: real subprocesses where the process boundary matters."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import soundfile as sf

from macbot import cli
from macbot.errors import ExitCode

MACBOT = [sys.executable, "-m", "macbot"]


def run(*args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run(
        [*MACBOT, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_say_writes_a_wav_whose_duration_fits_the_text(tmp_path):
    out = tmp_path / "hello.wav"
    text = "Hello there. The daemon writes this sentence to a file for you."
    proc = run("say", text, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    info = sf.info(str(out))
    assert info.format == "WAV" and info.subtype == "PCM_16"
    assert info.samplerate == 22050 and info.channels == 1
    words = len(text.split())
    # English speech runs at roughly 2-4 words a second.
    assert words / 4.5 < info.duration < words / 1.5


def test_say_reads_stdin_and_honours_speed(tmp_path):
    slow, fast = tmp_path / "slow.wav", tmp_path / "fast.wav"
    text = "Reading from standard input works too."
    assert (
        run(
            "say", "-", "-o", str(slow), "--speed", "0.5", "--noise-w-scale", "0", stdin=text
        ).returncode
        == 0
    )
    assert (
        run(
            "say", "-", "-o", str(fast), "--speed", "2", "--noise-w-scale", "0", stdin=text
        ).returncode
        == 0
    )
    assert sf.info(str(slow)).duration > 2.5 * sf.info(str(fast)).duration


@pytest.mark.parametrize(
    ("args", "stdin", "code", "fragment"),
    [
        (["say", "   "], None, ExitCode.EMPTY_TEXT, "no text"),
        (["say", "-"], "\n\n", ExitCode.EMPTY_TEXT, "no text"),
        (
            ["say", "hi", "--voice", "nobody", "-o", "x.wav"],
            None,
            ExitCode.VOICE_NOT_FOUND,
            "unknown voice 'nobody'",
        ),
        (
            ["--config", "/nonexistent/macbot.yaml", "voices"],
            None,
            ExitCode.BAD_CONFIG,
            "config file not found",
        ),
        (["say", "hi", "--speed", "10", "-o", "x.wav"], None, ExitCode.USAGE, "--speed"),
        (
            ["say", "hi", "-o", "/nonexistent-dir/x.wav"],
            None,
            ExitCode.OUTPUT_ERROR,
            "cannot write",
        ),
    ],
)
def test_errors_are_one_line_with_a_named_exit_code(tmp_path, args, stdin, code, fragment):
    proc = subprocess.run(
        [*MACBOT, *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == code
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("macbot: error:") and fragment in lines[0]


def test_bad_config_value_names_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  tts:\n    speed: 0\n")
    proc = run("--config", str(path), "say", "hi", "-o", str(tmp_path / "x.wav"))
    assert proc.returncode == ExitCode.BAD_CONFIG
    assert "models.tts.speed" in proc.stderr and str(path) in proc.stderr


def test_say_without_an_audio_device(monkeypatch, capsys):
    """This machine has no sound card, so `say` without -o must say so, not crash."""
    from macbot.core import playback
    from macbot.errors import NoAudioDeviceError

    class NoDevice(playback.SoundDeviceOutput):
        def check(self) -> None:
            raise NoAudioDeviceError("no audio output: PortAudio library not found")

    monkeypatch.setattr(playback, "SoundDeviceOutput", NoDevice)
    assert cli.main(["say", "Hello"]) == ExitCode.NO_AUDIO_DEVICE
    err = capsys.readouterr().err
    assert "no audio output" in err and "-o FILE.wav" in err


def test_voices_lists_the_bundled_voice():
    proc = run("voices", "--json")
    assert proc.returncode == 0
    assert '"en_US-joe-medium"' in proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_the_seed_curl_and_exits_cleanly_on_sigterm(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            *MACBOT,
            "--config",
            str(Path(__file__).parents[2] / "config" / "macbot.yaml"),
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("daemon did not become ready")
        resp = requests.post(
            url + "/speak", json={"text": "Testing quantized TTS performance."}, timeout=60
        )
        assert resp.status_code == 200
        # piper, or a variant the checkout's optimized_models/ holds after `make run` optimized
        assert resp.json()["engine"].startswith("piper")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read()
        proc.stdout.close()
    assert "listening on" in output


def test_serve_on_a_taken_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run("serve", "--port", str(port))
    assert proc.returncode == ExitCode.ADDRESS_IN_USE
    assert "already in use" in proc.stderr
