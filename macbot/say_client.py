"""``macbot say`` through the running daemon: its cache, queue and sound device are used, and
the voice is already loaded. ``cli._cmd_say`` calls :func:`say_via_daemon` first and
synthesizes in-process when it returns ``None`` (no daemon)."""

from __future__ import annotations

import argparse
import logging
import re

from .config import AppConfig

_LOGGER = logging.getLogger(__name__)

STARTING_WAIT = 15.0
"""Seconds to wait for a daemon that answers but is still loading its voice."""


def say_via_daemon(args: argparse.Namespace, config: AppConfig, text: str) -> int | None:
    """Speak ``text`` (or write it to ``args.output``) with the daemon; ``None`` when no
    daemon answers, so the caller synthesizes in-process."""
    from .cli import CLIError, ExitCode
    from .client import DaemonClient, DaemonError, DaemonUnavailable

    client = DaemonClient.from_config(config)
    try:
        if not client.ready(wait=STARTING_WAIT):
            _LOGGER.info("no daemon ready at %s: synthesizing in-process", client.url)
            return None
        if args.output is not None:
            result = client.speak(text, args.voice, args.speed, play=False)
            _write_wav(args.output, result.wav or b"")
            _LOGGER.info(
                "wrote %.2fs of audio from %s to %s", result.duration, client.url, args.output
            )
            return ExitCode.OK
        result = client.speak(text, args.voice, args.speed, play=True)
        if result.info.get("played") is False:
            reason = result.info.get("message", "playback unavailable")
            raise CLIError(
                ExitCode.NO_AUDIO_DEVICE,
                f"the daemon at {client.url} cannot play: {reason} (use -o FILE.wav)",
            )
        if args.wait:
            how = client.wait_played(result)
            _LOGGER.info("played through %s: %s", client.url, how)
        return ExitCode.OK
    except DaemonUnavailable as exc:
        _LOGGER.warning("%s; synthesizing in-process", exc)
        return None
    except DaemonError as exc:
        hint = " (set MACBOT_TOKEN or server.auth_token)" if exc.status in (401, 403) else ""
        raise CLIError(_exit_code(exc), f"daemon at {client.url}: {exc}{hint}") from exc


def _exit_code(exc) -> int:
    """The ``say`` exit code for an error answer of the daemon."""
    from .cli import ExitCode

    message = str(exc).lower()
    if exc.status == 400 and re.search(r"unknown voice|voice (model|config) not found", message):
        return ExitCode.VOICE_NOT_FOUND
    if exc.status == 400 and ("empty" in message or "nothing to speak" in message):
        return ExitCode.EMPTY_TEXT
    if exc.status in (400, 413):
        return ExitCode.USAGE
    if exc.status == 500:
        return ExitCode.SYNTHESIS_FAILED
    return ExitCode.DAEMON_ERROR


def _write_wav(path, wav: bytes) -> None:
    """The daemon's WAV as is for ``.wav``; re-encoded by suffix otherwise (``.flac`` …)."""
    import io

    import soundfile as sf

    from .cli import _write_audio

    if path.suffix.lower() != ".wav":
        samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
        _write_audio(path, samples, rate)
        return
    from .cli import CLIError, ExitCode

    try:
        path.write_bytes(wav)
    except OSError as exc:
        raise CLIError(ExitCode.OUTPUT_ERROR, f"cannot write {path}: {exc.strerror}") from exc
