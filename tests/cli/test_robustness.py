"""Issue 11: the command line under interruption and bad input (Found 7 and 9), as real
``macbot`` processes where the process itself is under test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import soundfile as sf

from macbot import cli
from macbot.cli.say import FILE_EXTENSIONS
from macbot.core.manifests import manifest_path
from macbot.errors import ExitCode
from macbot.tools.toolkit import variants

MACBOT = [sys.executable, "-m", "macbot"]
LONG_TEXT = "and then another word " * 100
"""Long and unpunctuated: one model run of about 4,000 ids before issue 11 (many seconds)."""


def env_without_daemon() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MACBOT_CONFIG", "MACBOT_TOKEN")}


# -- Found 7: a config file that is not UTF-8, at start -----------------------------------------


def test_found_7_a_non_utf8_config_at_start_is_one_line_and_the_config_exit_code(tmp_path):
    path = tmp_path / "macbot.yaml"
    path.write_bytes("server:\n  # caf\xe9\n  port: 8123\n".encode("latin-1"))
    proc = subprocess.run(
        [*MACBOT, "--config", str(path), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_without_daemon(),
    )
    assert proc.returncode == ExitCode.BAD_CONFIG
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "not UTF-8" in lines[0] and str(path) in lines[0]


# -- Found 9: Ctrl-C ---------------------------------------------------------------------------


def test_found_9_ctrl_c_during_say_local_exits_130_cleanly(tmp_path):
    """Ctrl-C while a long text is being synthesized stops with exit 130, not an abort of the
    interpreter (``terminate called without an active exception``, exit 134): the worker
    was left inside a long model run while the interpreter exited."""
    out = tmp_path / "long.wav"
    with subprocess.Popen(
        [*MACBOT, "-v", "say", "--local", "-o", str(out), LONG_TEXT],
        stderr=subprocess.PIPE,
        text=True,
        env=env_without_daemon(),
    ) as proc:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 120
        while "loaded en_US-joe-medium" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        time.sleep(1.0)  # inside the synthesis
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert code == ExitCode.INTERRUPTED, seen + rest
    assert "terminate called" not in rest and "Traceback" not in rest
    assert "macbot: interrupted" in rest
    assert not out.exists()  # nothing half-written


def test_found_9_ctrl_c_during_quantize_leaves_no_half_made_variant(tmp_path, monkeypatch):
    """Before the fix the variant and a manifest saying "not measured yet" stayed behind."""

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the variant is being measured

    monkeypatch.setattr(variants, "measure_speed", interrupted)
    code = cli.main(["quantize", "--coreml", "--no-verify", "--output", str(tmp_path)])
    assert code == ExitCode.INTERRUPTED
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [], left


def test_discard_removes_a_variant_and_its_manifest(tmp_path):
    model = tmp_path / "v.dynamic.onnx"
    model.write_bytes(b"x")
    manifest_path(model).write_text("{}")
    variants.discard(model)
    variants.discard(model)  # nothing left: no error either
    assert list(tmp_path.iterdir()) == []


# -- Found 9: `say -o` writes every extension it lists -------------------------------------------


@pytest.mark.parametrize("extension", FILE_EXTENSIONS)
def test_found_9_say_writes_every_listed_extension(tmp_path, extension):
    """``say -o x.mp3`` printed a 20-line traceback; every extension the CLI lists now writes
    a file of that format (or is refused in one line)."""
    out = tmp_path / f"hi{extension}"
    proc = subprocess.run(
        [*MACBOT, "say", "Hello there.", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_without_daemon(),
    )
    if proc.returncode == ExitCode.USAGE:  # this libsndfile lacks the format: one line
        assert len(proc.stderr.strip().splitlines()) == 1
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    if extension in (".aac", ".m4a"):  # FFmpeg's formats (through PyAV): libsndfile has none
        import av

        with av.open(str(out)) as container:
            frames = [f for f in container.decode(audio=0)]
        duration = sum(f.samples for f in frames) / frames[0].sample_rate
    else:
        duration = sf.info(str(out)).duration
    assert 0.5 < duration < 3


def test_say_refuses_an_unknown_extension_in_one_line(tmp_path):
    proc = subprocess.run(
        [*MACBOT, "say", "hi", "-o", str(tmp_path / "x.mp4")],
        capture_output=True,
        text=True,
        timeout=60,
        env=env_without_daemon(),
    )
    # its own named exit code since issue 14 (say's -o): 12, UNSUPPORTED_FORMAT
    assert proc.returncode == ExitCode.UNSUPPORTED_FORMAT
    assert len(proc.stderr.strip().splitlines()) == 1 and ".mp4" in proc.stderr
