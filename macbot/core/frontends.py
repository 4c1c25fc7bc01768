"""Each voice's text front end, built once: its language's rules and phonemes, and the user
lexicon (read once, when the synthesizer is built)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..config import AppConfig
from ..errors import EmptyTextError
from .text import FrontEnd, Lexicon, TextOptions, Utterance, frontend_for, kokoro_frontend
from .voices import VoiceInfo


class FrontEnds:
    """The text front ends of the voices used so far, and the config's text options."""

    def __init__(self, config: AppConfig, resolve: Callable[[str | None], VoiceInfo]) -> None:
        self.config = config
        """Read per request (a reload that keeps the engines sets it)."""
        lexicon_path = config.tts.text.lexicon
        self.lexicon = Lexicon.load(lexicon_path) if lexicon_path else None
        """The user lexicon of ``models.tts.text.lexicon``."""
        self._resolve = resolve
        """A request's voice name → its voice (``None``: the default)."""
        self._built: dict[str, FrontEnd] = {}
        self._lock = threading.Lock()  # apart from the voices' lock, held while a voice loads

    def options(self) -> TextOptions:
        """The text front end's options of ``models.tts.text`` (requests override them)."""
        return TextOptions.from_config(self.config.tts.text)

    def of(self, voice: str | None = None) -> FrontEnd:
        """``voice``'s front end, built from its JSON config without loading its model."""
        info = self._resolve(voice)
        with self._lock:
            found = self._built.get(info.name)
            if found is None:
                found = (
                    kokoro_frontend(self.config.tts.kokoro.language, self.lexicon)
                    if info.family == "kokoro"
                    else frontend_for(info, self.lexicon)
                )
                self._built[info.name] = found
            return found

    def process(
        self, text: str, voice: str | None = None, text_options: TextOptions | None = None
    ) -> Utterance:
        """What ``voice`` says for ``text``; :class:`EmptyTextError` for blank text."""
        if not text.strip():
            raise EmptyTextError("text is empty")
        return self.of(voice).process(text, text_options or self.options())
