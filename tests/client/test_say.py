"""``macbot say`` through a live daemon (real app over HTTP, recording sound card) and
in-process give the same audio; errors of the daemon become the documented exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import yaml
from conftest import OPTIMIZED_DIR, RecordingOutput, start_server

from macbot.daemon.state import state_of
from macbot.errors import ExitCode

TEXT = "The daemon and this process say the same words."


def say(*args: str, env: dict[str, str] | None = None, config=None):
    base = {k: v for k, v in os.environ.items() if k not in ("MACBOT_URL", "MACBOT_CONFIG")}
    cmd = [sys.executable, "-m", "macbot"]
    if config is not None:
        cmd += ["--config", str(config)]
    return subprocess.run(
        [*cmd, "say", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def config_for(tmp_path, url: str):
    """A config file naming the daemon's port, deterministic like the daemon's, and with the
    daemon's optimized_dir: the checkout's optimized_models/ (filled by `make run`'s background
    optimization) would give `say --local` another engine than the test daemon."""
    port = int(url.rsplit(":", 1)[1])
    path = tmp_path / "macbot.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "tts": {
                        "piper": {"noise_scale": 0.0, "noise_w_scale": 0.0},
                        "optimized_dir": OPTIMIZED_DIR,
                        "streaming": {"enabled": False},
                    }
                },
                "server": {"host": "127.0.0.1", "port": port},
            }
        )
    )
    return path


def syntheses(live) -> int:
    return live.get("/tts-performance").json()["performance"]["syntheses"]


@pytest.mark.parametrize("ext", [".wav", ".flac", ".aiff"])
def test_say_through_the_daemon_and_in_process_give_the_same_audio(live_server, tmp_path, ext):
    """Issue 18: through the daemon, say streams its raw samples into the same audio writer
    (it decoded the daemon's WAV to encode it again)."""
    config = config_for(tmp_path, live_server.url)  # found through server.port, no MACBOT_URL
    via_daemon, local = tmp_path / f"daemon{ext}", tmp_path / f"local{ext}"
    before = syntheses(live_server)
    proc = say(TEXT, "-o", str(via_daemon), config=config)
    assert proc.returncode == 0, proc.stderr
    assert syntheses(live_server) == before + 1  # the daemon did it

    proc = say(TEXT, "-o", str(local), "--local", config=config)
    assert proc.returncode == 0, proc.stderr
    assert syntheses(live_server) == before + 1  # --local left the daemon alone

    a, rate_a = sf.read(str(via_daemon), dtype="int16")
    b, rate_b = sf.read(str(local), dtype="int16")
    assert rate_a == rate_b == 22050
    assert sf.info(str(via_daemon)).format == sf.info(str(local)).format == ext[1:].upper()
    assert len(a) == len(b) and len(a) > rate_a  # more than a second of speech
    # Same voice, same settings (noise 0): identical up to float rounding between processes.
    assert np.max(np.abs(a.astype(np.int32) - b.astype(np.int32))) <= 2


def test_say_plays_on_the_daemons_sound_device_and_waits(live_server):
    text = "Played by the daemon."
    proc = say(text, env={"MACBOT_URL": live_server.url})  # --wait is the default
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 10
    while not live_server.output.played and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live_server.output.played) == 1
    samples, rate = live_server.output.played[0]
    expected = live_server.synth.synthesize(text)  # cached by the daemon's request: same audio
    assert rate == expected.sample_rate
    assert np.array_equal(samples, expected.samples)


def test_say_no_wait_returns_after_queueing(live_server):
    proc = say("Queued, not awaited.", "--no-wait", env={"MACBOT_URL": live_server.url})
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 10
    while not live_server.output.played and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(live_server.output.played) == 1


def test_daemon_errors_become_exit_codes(live_server, tmp_path):
    env = {"MACBOT_URL": live_server.url}
    proc = say("Hello.", "--voice", "no-such-voice", "-o", str(tmp_path / "x.wav"), env=env)
    assert proc.returncode == ExitCode.VOICE_NOT_FOUND
    assert proc.stderr.startswith(f"macbot: error: daemon at {live_server.url}: unknown voice")
    assert not (tmp_path / "x.wav").exists()
    proc = say("Hello.", "-o", str(tmp_path / "missing" / "x.wav"), env=env)
    assert proc.returncode == ExitCode.OUTPUT_ERROR, proc.stderr


def test_a_daemon_without_sound_device_says_so(shared_synth):
    live, server, thread = start_server(
        shared_synth.config, RecordingOutput(available=False), shared_synth
    )
    try:
        proc = say("Nobody hears this.", env={"MACBOT_URL": live.url})
        assert proc.returncode == ExitCode.NO_AUDIO_DEVICE
        assert "cannot play" in proc.stderr and "-o FILE.wav" in proc.stderr
    finally:
        server.request_stop()
        thread.join(timeout=5)
        state_of(live.app).player.close()


def test_without_a_daemon_say_synthesizes_in_process(tmp_path):
    out = tmp_path / "fallback.wav"
    proc = say(
        "Nobody is listening on that port.",
        "-o",
        str(out),
        env={"MACBOT_URL": "http://127.0.0.1:9"},
    )
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(out)).duration > 1


def test_in_process_only_options_skip_the_daemon():
    # /speak has no noise or speaker fields: these go in-process so they are honoured.
    from macbot.cli.main import build_parser
    from macbot.cli.say import use_daemon

    parse = build_parser().parse_args
    assert use_daemon(parse(["say", "x"])) is True
    assert use_daemon(parse(["say", "x", "--local"])) is False
    for flag in ("--noise-scale", "--noise-w-scale", "--speaker"):
        assert use_daemon(parse(["say", "x", flag, "0"])) is False


def test_client_and_server_resolve_the_token_by_one_rule(shared_synth, tmp_path):
    """Issue 10: with server.auth_token and $MACBOT_TOKEN both set (and different), the server
    and `macbot say` use the same one (server.auth_token), so say is not refused with 401."""
    from conftest import make_config

    config = make_config(server={"auth_token": "from-config"})
    live, server, thread = start_server(config, RecordingOutput(), shared_synth)
    try:
        path = config_for(tmp_path, live.url)
        data = yaml.safe_load(path.read_text())
        data["server"]["auth_token"] = "from-config"
        path.write_text(yaml.safe_dump(data))
        out = tmp_path / "x.wav"
        before = syntheses_with_token(live, "from-config")
        proc = say("Token rule.", "-o", str(out), config=path, env={"MACBOT_TOKEN": "from-env"})
        assert proc.returncode == 0, proc.stderr
        assert syntheses_with_token(live, "from-config") == before + 1  # the daemon spoke it
        assert sf.info(str(out)).duration > 0.3
    finally:
        server.request_stop()
        thread.join(timeout=5)
        state_of(live.app).player.close()


def syntheses_with_token(live, token: str) -> int:
    resp = live.get("/tts-performance", headers={"Authorization": f"Bearer {token}"})
    return resp.json()["performance"]["syntheses"]


def test_the_error_code_decides_the_exit_code_not_the_message():
    """`say` maps the daemon's error `code` (never its wording) to the exit code."""
    from macbot.errors import DaemonError

    assert DaemonError(400, "anything at all", "voice_not_found").exit_code == 4
    assert DaemonError(400, "unknown voice 'x'", "empty_text").exit_code == ExitCode.EMPTY_TEXT
    assert DaemonError(413, "too long", "string_above_max_length").exit_code == ExitCode.USAGE
    assert DaemonError(500, "unknown voice", None).exit_code == ExitCode.DAEMON_ERROR
    assert DaemonError(503, "x", "no_engine").exit_code == ExitCode.SYNTHESIS_FAILED
