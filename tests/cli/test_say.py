"""``macbot say`` takes macOS ``say``'s flags: real subprocesses, the real voice, real files
(no daemon answers at $MACBOT_URL, so it synthesizes in-process), and ``-a`` with a sound
card that "plays" in real time (this machine has none)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import yaml
from conftest import ClockOutput, make_config

from macbot import cli
from macbot.cli.say import voice_name
from macbot.client.say import NATURAL_WPM, WordPrinter, speed_for_rate
from macbot.core import playback
from macbot.errors import ExitCode, UsageError

MACBOT = [sys.executable, "-m", "macbot"]


@pytest.fixture
def quiet_config(tmp_path):
    """Deterministic synthesis (noise 0), so two runs of one text give the same samples."""
    path = tmp_path / "macbot.yaml"
    path.write_text(
        yaml.safe_dump({"models": {"tts": {"piper": {"noise_scale": 0.0, "noise_w_scale": 0.0}}}})
    )
    return path


def say(*args: str, config=None, stdin: str | None = None):
    cmd = [*MACBOT, "say", *args]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(
        cmd, input=stdin, capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def test_a_script_written_for_say_works(tmp_path, quiet_config):
    out = tmp_path / "out.wav"
    proc = say("-v", "joe", "-r", "200", "-o", str(out), "hello", config=quiet_config)
    assert proc.returncode == 0, proc.stderr
    info = sf.info(str(out))
    assert info.format == "WAV" and info.samplerate == 22050 and 0.2 < info.duration < 2


def test_say_names_the_voice_in_full_to_the_daemon(live_server, tmp_path):
    """``-v joe`` reaches the daemon as ``en_US-joe-medium``, the name ``/voices`` lists."""
    before = live_server.get("/tts-performance").json()["performance"]["syntheses"]
    out = tmp_path / "joe.wav"
    env = {**os.environ, "MACBOT_URL": live_server.url}
    proc = subprocess.run(
        [*MACBOT, "say", "-v", "joe", "-o", str(out), "Through the daemon."],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert live_server.get("/tts-performance").json()["performance"]["syntheses"] == before + 1
    assert sf.info(str(out)).duration > 0.5
    config = make_config()
    assert voice_name("joe", config) == "en_US-joe-medium"
    assert voice_name("en_US-joe-medium", config) == "en_US-joe-medium"
    assert voice_name("nobody", config) == "nobody"  # the daemon's to refuse, with its list
    assert voice_name("voices/x.onnx", config) == "voices/x.onnx"


def test_text_from_stdin_a_file_or_several_words_is_the_same_text(tmp_path, quiet_config):
    text = "Read from anywhere."
    (tmp_path / "in.txt").write_text(text + "\n")
    outs = {name: tmp_path / f"{name}.aiff" for name in ("words", "file", "stdin", "nothing")}
    runs = {
        "words": say("-o", str(outs["words"]), "Read", "from", "anywhere.", config=quiet_config),
        "file": say("-f", str(tmp_path / "in.txt"), "-o", str(outs["file"]), config=quiet_config),
        "stdin": say("-f", "-", "-o", str(outs["stdin"]), stdin=text, config=quiet_config),
        "nothing": say("-o", str(outs["nothing"]), stdin=text, config=quiet_config),
    }
    for name, proc in runs.items():
        assert proc.returncode == 0, (name, proc.stderr)
    audio = {name: sf.read(str(path), dtype="int16") for name, path in outs.items()}
    assert sf.info(str(outs["words"])).format == "AIFF"
    reference, rate = audio["words"]
    assert rate == 22050 and len(reference) > rate // 2
    for name, (samples, _) in audio.items():
        assert np.array_equal(samples, reference), name


def test_rate_in_words_per_minute_scales_the_duration(tmp_path, quiet_config):
    text = "The quick brown fox jumps over the lazy dog near the river bank today."
    slow, fast = tmp_path / "slow.wav", tmp_path / "fast.wav"
    assert say("-r", "150", "-o", str(slow), text, config=quiet_config).returncode == 0
    assert say("-r", "300", "-o", str(fast), text, config=quiet_config).returncode == 0
    words = len(text.split())
    slow_wpm = words / sf.info(str(slow)).duration * 60
    fast_wpm = words / sf.info(str(fast)).duration * 60
    # One sentence: its pause at the end does not scale, so "about" the rate asked for.
    assert slow_wpm == pytest.approx(150, rel=0.2) and fast_wpm == pytest.approx(300, rel=0.2)
    assert fast_wpm > 1.5 * slow_wpm
    # At the measured natural rate the voice speaks at speed 1.
    assert speed_for_rate(NATURAL_WPM) == 1.0
    with pytest.raises(UsageError, match="between 55 and 880 words per minute"):
        speed_for_rate(20)


def test_errors_are_one_line_with_named_exit_codes(tmp_path):
    proc = say("-o", str(tmp_path / "out.xyz"), "hello")
    assert proc.returncode == ExitCode.UNSUPPORTED_FORMAT == 12
    assert proc.stderr.count("\n") == 1 and "unknown audio extension '.xyz'" in proc.stderr
    assert not (tmp_path / "out.xyz").exists()
    proc = say("-f", str(tmp_path / "missing.txt"))
    assert proc.returncode == ExitCode.USAGE and "cannot read" in proc.stderr
    proc = say("-f", "-", "words too", stdin="x")
    assert proc.returncode == ExitCode.USAGE and "not both" in proc.stderr
    proc = say("-r", "200", "--speed", "1", "x")
    assert proc.returncode == ExitCode.USAGE
    proc = say("--speed", "9", "x")  # the one range check and message (config.check_speed)
    assert proc.returncode == ExitCode.USAGE and proc.stderr.count("\n") == 1
    assert "'--speed' must be between 0.25 and 4 (got 9.0)" in proc.stderr


def test_question_mark_lists_voices_and_devices():
    proc = say("-v", "?")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("en_US-joe-medium") and "en_US" in first and "#" in first
    proc = say("-a", "?")
    if proc.returncode == ExitCode.NO_AUDIO_DEVICE:  # this machine: no PortAudio, no card
        assert "no audio output" in proc.stderr
    else:
        assert proc.returncode == 0 and proc.stdout.strip()


def test_audio_device_plays_in_process_on_that_device(monkeypatch, capsys):
    opened = []

    def output(device):
        opened.append(device)
        return clock

    clock = ClockOutput(realtime=True)
    monkeypatch.setattr(playback, "SoundDeviceOutput", output)
    code = cli.main(["say", "-a", "3", "--noise-scale", "0", "Played on device three."])
    assert code == ExitCode.OK
    assert opened == ["3"]
    assert clock.total > 22050  # more than a second of speech went to the device


def test_the_word_printer_prints_each_word_once_in_order():
    printed = []
    printer = WordPrinter(printed.append)
    word = lambda w: {"word": w, "start": 0, "end": 0}  # noqa: E731
    printer.update({"words": [], "current_word": None})
    printer.update({"words": [], "current_word": word("Hello")})
    printer.update({"words": [word("Hello")], "current_word": word("there")})
    printer.update({"words": [word("Hello")], "current_word": word("there")})
    # A poll that comes late sees several new words at once.
    printer.update({"words": [word(w) for w in ("Hello", "there", "my", "friend")]})
    assert printed == ["Hello", "there", "my", "friend"]


def test_progress_in_process_prints_each_word_as_it_plays(
    monkeypatch, capsys, tmp_path, voice_split
):
    _, folder = voice_split
    config = tmp_path / "split.yaml"
    tts = {"streaming": {"enabled": True}, "optimized_dir": str(folder.parent)}
    config.write_text(yaml.safe_dump({"models": {"tts": tts}}))
    clock = ClockOutput(realtime=True)
    monkeypatch.setattr(playback, "SoundDeviceOutput", lambda device: clock)
    code = cli.main(
        ["--config", str(config), "say", "-a", "0", "--progress", "Hello, Dave. See you at noon."]
    )
    assert code == ExitCode.OK
    assert capsys.readouterr().out.splitlines() == ["Hello", "Dave", "See", "you", "at", "noon"]


LONG = " ".join(
    f"Sentence number {n} of a long reply, read out while a file is written." for n in range(6)
)


def say_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``macbot say`` with its stderr on a pseudo-terminal (as in a shell); returns
    (exit code, what the terminal showed)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*MACBOT, "say", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            piece = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not piece:
            break
        shown += piece
    os.close(master)
    return proc.wait(timeout=120), shown.decode("utf-8", "replace")


@pytest.mark.parametrize("where", ["in-process", "daemon"])
def test_writing_a_long_file_shows_progress_on_a_terminal_only(
    where, tmp_path, quiet_config, request
):
    """Issue 19 item 9: `say -f long.txt -o long.wav` was silent for 37 s."""
    text = tmp_path / "long.txt"
    text.write_text(LONG)
    out = tmp_path / "long.wav"
    env = dict(os.environ)
    args = ["-f", str(text), "-o", str(out)]
    if where == "daemon":
        live = request.getfixturevalue("live_server")
        env["MACBOT_URL"] = live.url
        before = live.get("/tts-performance").json()["performance"]["syntheses"]
    else:
        args += ["--local", "--config", str(quiet_config)]
    code, shown = say_on_a_terminal(args, env)
    assert code == 0, shown
    progress = [line for line in shown.split("\r") if "s of audio (" in line]
    assert len(progress) >= 2, shown  # it moved: one line per sentence (or piece) made
    assert "%)" in progress[-1]
    assert "wrote" in shown and sf.info(str(out)).duration > 10
    if where == "daemon":
        after = live.get("/tts-performance").json()["performance"]["syntheses"]
        assert after > before  # made by the daemon, streamed
    piped = subprocess.run(
        [*MACBOT, "say", *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert piped.returncode == 0, piped.stderr
    assert "s of audio (" not in piped.stderr and "\r" not in piped.stderr
    assert "macbot: wrote" in piped.stderr
