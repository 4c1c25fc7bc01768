"""The user lexicon: a YAML file of words the voice says wrong, each with what to say instead.

::

    Nguyen: win                         # replacement text
    kubectl: cube control
    Siobhan: {phonemes: "ʃɪvˈɔːn"}      # IPA, spoken as is (the voice's phoneme set)

Words match whole and ignoring case, except keys written in capitals ("US"), which match only
in capitals. The longest key wins where keys overlap ("New York City" before "New York").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from ...errors import ConfigError
from .segments import Span

KEY = "models.tts.text.lexicon"


@dataclass(frozen=True)
class Entry:
    """One word and what to say for it."""

    word: str
    say: str
    phonemes: bool = False


class Lexicon:
    """Whole-word replacements, applied before the language's rules."""

    def __init__(self, entries: Iterable[Entry] = (), source: Path | None = None) -> None:
        self.entries = {e.word: e for e in entries}
        self.source = source
        self._folded = {e.word.casefold(): e for e in self.entries.values() if not _caps(e.word)}
        words = sorted(self.entries, key=len, reverse=True)
        self._pattern = None
        if words:
            alternatives = "|".join(
                re.escape(w) if _caps(w) else f"(?i:{re.escape(w)})" for w in words
            )
            self._pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read a lexicon file; every problem is a :class:`ConfigError` naming the entry."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(KEY, f"cannot read {path}: {exc.strerror}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(KEY, f"{path} is not valid YAML: {exc}".splitlines()[0]) from None
        return cls.from_mapping(data or {}, path)

    @classmethod
    def from_mapping(cls, data: object, source: Path | None = None) -> Lexicon:
        """Entries from parsed YAML: ``word: text`` or ``word: {phonemes: IPA}`` /
        ``word: {say: text}``."""
        where = str(source) if source else "the lexicon"
        if not isinstance(data, Mapping):
            raise ConfigError(KEY, f"{where} must be a mapping of word: replacement")
        entries = []
        for word, value in data.items():
            if not isinstance(word, str) or not word.strip():
                raise ConfigError(KEY, f"{where}: every key must be a word (got {word!r})")
            if isinstance(value, str) and value.strip():
                entries.append(Entry(word.strip(), value.strip()))
            elif isinstance(value, Mapping) and len(value) == 1 and "phonemes" in value:
                phonemes = value["phonemes"]
                if not isinstance(phonemes, str) or not phonemes.strip():
                    raise ConfigError(KEY, f"{where}: {word!r}: phonemes must be a string")
                entries.append(Entry(word.strip(), phoneme_text(phonemes), phonemes=True))
            elif isinstance(value, Mapping) and len(value) == 1 and "say" in value:
                entries.append(Entry(word.strip(), str(value["say"]).strip()))
            else:
                raise ConfigError(
                    KEY,
                    f"{where}: {word!r} must map to text, {{phonemes: IPA}} or {{say: text}}"
                    f" (got {value!r})",
                )
        return cls(entries, source)

    def check_phonemes(self, known: set[str]) -> None:
        """Every phoneme entry uses only phonemes in ``known`` (the voice's set)."""
        for entry in self.entries.values():
            if entry.phonemes:
                unknown = unknown_phonemes(entry.say, known)
                if unknown:
                    where = str(self.source) if self.source else "the lexicon"
                    raise ConfigError(
                        KEY,
                        f"{where}: {entry.word!r}: the voice has no phoneme "
                        f"{', '.join(repr(c) for c in unknown)}",
                    )

    def apply(self, text: str) -> list[Span]:
        """``text`` as spans: each lexicon word replaced, the rest as written."""
        if self._pattern is None:
            return [Span(text, text)]
        spans: list[Span] = []
        start = 0
        for match in self._pattern.finditer(text):
            word = match.group()
            entry = self.entries.get(word) or self._folded.get(word.casefold())
            if entry is None:
                continue
            if match.start() > start:
                spans.append(Span(text[start : match.start()], text[start : match.start()]))
            spans.append(Span(entry.say, word, phonemes=entry.phonemes))
            start = match.end()
        if start < len(text):
            spans.append(Span(text[start:], text[start:]))
        return spans


def phoneme_text(phonemes: str) -> str:
    """Phonemes as the voice's ids expect them: NFD (accents as their own code points), single
    spaces."""
    return " ".join(unicodedata.normalize("NFD", phonemes).split())


def unknown_phonemes(phonemes: str, known: set[str]) -> list[str]:
    """The characters of ``phonemes`` not in ``known`` (empty ``known``: no check)."""
    if not known:
        return []
    return sorted({c for c in phoneme_text(phonemes) if c not in known and c != " "})


def _caps(word: str) -> bool:
    return word.isupper() and len(word) > 1
