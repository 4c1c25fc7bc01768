"""The `macbot` command: real subprocesses where the process boundary matters."""

from __future__ import annotations

import json
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

from benchmarks.harness import free_port
from macbot import cli
from macbot.cli.main import build_parser
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


# -- the CLI as a new user meets it (issue 10) ---------------------------------------------


def leaf_parsers(parser=None, path=()):
    """(command path, parser) of every command that runs, nested ones (service ACTION) too."""
    import argparse

    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from leaf_parsers(child, (*path, name))


def test_every_command_takes_the_global_options_after_it():
    commands = list(leaf_parsers())
    assert len(commands) >= 20
    for path, parser in commands:
        options = {s for a in parser._actions for s in a.option_strings}
        assert {"--config", "-v"} <= options, path
    args = build_parser().parse_args(["serve", "--config", "my.yaml", "--port", "9"])
    assert args.config == Path("my.yaml") and args.port == 9
    args = build_parser().parse_args(["--config", "my.yaml", "serve"])
    assert args.config == Path("my.yaml")


def test_macbot_command_config_file_is_used(tmp_path):
    """`macbot voices --config FILE` reads FILE (its voices_dir), like `macbot --config FILE`."""
    voices = tmp_path / "voices"
    voices.mkdir()
    from macbot.core.voices import bundled_voice

    voice = bundled_voice()
    (voices / "mine.onnx").symlink_to(voice.model_path)
    (voices / "mine.onnx.json").symlink_to(voice.config_path)
    config = tmp_path / "macbot.yaml"
    config.write_text(f"models:\n  tts:\n    voices_dir: {voices}\n")
    for args in (
        ["voices", "--json", "--config", str(config)],
        ["--config", str(config), "voices", "--json"],
    ):
        proc = run(*args)
        assert proc.returncode == 0, proc.stderr
        assert '"name": "mine"' in proc.stdout


def test_every_option_explains_itself_and_states_its_default():
    """Help text for every argument; every option that takes a value says its default."""
    import argparse

    missing = []
    for path, parser in leaf_parsers():
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
                continue
            name = " ".join(path) + " " + (action.option_strings or [action.dest])[0]
            if not action.help:
                missing.append(f"{name}: no help")
            elif action.option_strings and action.nargs != 0 and "default" not in action.help:
                missing.append(f"{name}: no default in {action.help!r}")
    assert missing == []


def test_a_yaml_mistake_is_one_line_with_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  tts:\n    voice: joe\n   speed: 1\n")
    proc = run("--config", str(path), "voices")
    assert proc.returncode == ExitCode.BAD_CONFIG
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "invalid YAML at line 4, column" in lines[0] and str(path) in lines[0]
    assert "while scanning" not in proc.stderr and "hint:" in lines[0]


def test_a_missing_macbot_config_names_the_variable():
    proc = run("voices", env={"MACBOT_CONFIG": "/nonexistent/env.yaml"})
    assert proc.returncode == ExitCode.BAD_CONFIG
    assert proc.stderr.startswith("macbot: error: $MACBOT_CONFIG: config file not found")


def test_doctor_shows_config_and_sound_and_no_raw_none(tmp_path):
    config = tmp_path / "macbot.yaml"
    config.write_text("models:\n  tts:\n    sped: 1\n")
    proc = run("doctor", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert "None" not in proc.stdout
    assert f"config: {config}" in proc.stdout.replace("\n", "")
    assert "sound output:" in proc.stdout and "did you mean models.tts.speed" in proc.stdout
    data = json.loads(run("doctor", "--json", "--config", str(config)).stdout)
    assert data["config"]["source"] == str(config)
    assert set(data["audio"]) >= {"available"}
    coreml = data["families"]["kokoro_coreml"]  # issue 20 item 3: with the Kokoro figures
    assert not coreml["use"] and "CoreMLExecutionProvider" in coreml["reason"]
    assert "kokoro on CoreML: not used: not probed: " in proc.stdout.replace("\n", "")
    if not data["audio"]["available"]:  # this machine has no sound card
        assert "PortAudio" in data["audio"]["hint"]


def test_inspect_takes_a_voice_name():
    proc = run("inspect", "en_US-joe-medium", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"]["params"] > 1_000_000
    proc = run("inspect", "no-such-voice")
    assert proc.returncode == ExitCode.MODEL_NOT_FOUND
    assert "unknown voice 'no-such-voice'" in proc.stderr
