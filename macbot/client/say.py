"""``macbot say`` through the running daemon: its cache, queue and sound device are used, and
the voice is already loaded. The CLI calls :func:`say_via_daemon` first and synthesizes
in-process when it returns ``None`` (no daemon answers)."""

from __future__ import annotations

import logging

from ..errors import DaemonError, DaemonUnavailable, NoAudioDeviceError
from .http import DaemonClient, SpeakResult

_LOGGER = logging.getLogger(__name__)

STARTING_WAIT = 15.0
"""Seconds to wait for a daemon that answers but is still loading its voice."""


def say_via_daemon(
    client: DaemonClient,
    text: str,
    *,
    voice: str | None = None,
    speed: float | None = None,
    play: bool = True,
    wait: bool = True,
) -> SpeakResult | None:
    """Speak ``text`` with the daemon (``play``), or get its WAV back (``result.wav``).
    ``None`` when no daemon answers, so the caller synthesizes in-process.

    The daemon's refusals raise :class:`~macbot.errors.DaemonError`, whose exit code is the
    one its error ``code`` has here (an unknown voice exits 4, as in-process); a daemon
    without a sound device raises :class:`~macbot.errors.NoAudioDeviceError`.
    """
    try:
        if not client.ready(wait=STARTING_WAIT):
            _LOGGER.info("no daemon ready at %s: synthesizing in-process", client.url)
            return None
        result = client.speak(text, voice, speed, play=play)
        if not play:
            return result
        if result.info.get("played") is False:
            reason = result.info.get("message", "playback unavailable")
            raise NoAudioDeviceError(
                f"the daemon at {client.url} cannot play: {reason}", hint="use -o FILE.wav"
            )
        if wait:
            how = client.wait_played(result)
            _LOGGER.info("played through %s: %s", client.url, how)
        return result
    except DaemonUnavailable as exc:
        _LOGGER.warning("%s; synthesizing in-process", exc)
        return None
    except DaemonError as exc:
        if exc.status in (401, 403):
            exc.hint = "set MACBOT_TOKEN or server.auth_token to the daemon's token"
        exc.message = f"daemon at {client.url}: {exc.message}"
        raise
