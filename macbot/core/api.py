"""The in-process Python API: ``macbot.speak(text)`` → :class:`Speech`, and :class:`Speaker`
to keep a voice loaded across calls. No daemon needed (for one, use ``macbot.Client``).

    import macbot

    speech = macbot.speak("Hello **there**.", voice="en_US-joe-medium", speed=1.2)
    speech.save("hello.mp3")            # any format by extension; .vtt/.srt: captions
    wav = speech.wav()                  # bytes of a 16-bit WAV file
    speech.samples, speech.sample_rate  # float32 numpy samples
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import AppConfig, check_speed, load_config
from ..errors import OutputError, UsageError
from .audio import WordTiming
from .captions import caption_format, captions
from .formats import wav_bytes, write_file
from .synthesizer import Synthesizer


@dataclass(frozen=True)
class Speech:
    """One utterance: float32 mono samples, their rate, and the input's words with their
    times (empty when the voice's engine has no phoneme durations)."""

    text: str
    samples: np.ndarray
    sample_rate: int
    words: tuple[WordTiming, ...]
    voice: str
    engine: str

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0

    def wav(self) -> bytes:
        """The audio as a 16-bit mono WAV file."""
        return wav_bytes(self.samples, self.sample_rate)

    def captions(self, fmt: str = "vtt") -> str:
        """Captions of the words: ``vtt`` (WebVTT) or ``srt`` (SubRip)."""
        if not self.words:
            raise UsageError(f"no word timings for captions (engine {self.engine})")
        return captions(self.words, fmt, self.text)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the audio to ``path`` in the format its extension names (``.wav``, ``.mp3``,
        ``.flac``, ``.opus``, ``.aac``, ``.m4a`` …), or the captions (``.vtt``, ``.srt``)."""
        path = Path(path)
        fmt = caption_format(path)
        if fmt is None:
            return write_file(path, self.samples, self.sample_rate)
        try:
            path.write_text(self.captions(fmt), encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return path


class Speaker:
    """A voice kept loaded in this process (the daemon's engine chain, text front end and
    phrase cache). Use it as a context manager, or :meth:`close` it."""

    def __init__(self, config: AppConfig | str | os.PathLike[str] | None = None) -> None:
        """``config``: an :class:`~macbot.config.AppConfig`, a YAML file, or ``None`` for the
        file ``macbot`` itself would use (``$MACBOT_CONFIG``, the user's folder …)."""
        if not isinstance(config, AppConfig):
            config = load_config(config)
        self.synthesizer = Synthesizer(config)

    def speak(self, text: str, voice: str | None = None, speed: float | None = None) -> Speech:
        """``text`` (markdown, SSML or plain) spoken by ``voice`` (a name from ``macbot
        voices``; default: ``models.tts.voice``) at ``speed`` (0.25 to 4)."""
        speed = check_speed(speed)
        synth = self.synthesizer
        options = synth.default_options().with_overrides(speed=speed)
        result = synth.synthesize(text, voice, options)
        return Speech(
            text, result.samples, result.sample_rate, result.words, result.voice, result.engine
        )

    def close(self) -> None:
        self.synthesizer.close()

    def __enter__(self) -> Speaker:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def speak(
    text: str,
    voice: str | None = None,
    speed: float | None = None,
    config: AppConfig | str | os.PathLike[str] | None = None,
) -> Speech:
    """Speak ``text`` in this process and return the :class:`Speech` (the voice is loaded for
    this call; keep a :class:`Speaker` for many)."""
    with Speaker(config) as speaker:
        return speaker.speak(text, voice, speed)
