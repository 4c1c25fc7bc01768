"""What the model toolkit's commands share: ``quantize``, ``inspect``, ``verify``, ``trial``,
``estimate-size`` and ``export-optimized`` (one module each in :mod:`macbot.cli`).

The handlers import the quantizer, whisper and the trials when they run (onnxruntime's
quantization tools are slow to import), so the other commands start fast.

Optional packages (onnx, faster-whisper) are imported by the toolkit only when a step needs
them; a missing one is a :class:`~macbot.errors.MissingExtraError` naming the extra to install
(exit code ``MISSING_EXTRA``). Models are given by path or by voice name.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.table import Table

from ..config import AppConfig
from ..core.voices import VoiceInfo
from ..errors import (
    MissingExtraError,
    ModelNotFoundError,
    UsageError,
    VoiceNotFoundError,
)
from ..tools.toolkit.phrases import VERIFY_SENTENCES
from .common import voice_or_model

_LOGGER = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("optimized_models")

MODEL_HELP = (
    "the voice: a name (see `macbot voices`) or the path of its .onnx (default: the configured "
    "voice, models.tts.voice)"
)
TRIALS_CSV = DEFAULT_OUTPUT / "quantization-trials.csv"


def source_voice(model: str | None, config: AppConfig) -> tuple[VoiceInfo, Path]:
    """(voice, model path) for ``--model``: a voice name or the path of its ``.onnx``
    (default: the configured voice)."""
    try:
        voice = voice_or_model(model, config)
    except VoiceNotFoundError as exc:
        raise ModelNotFoundError(str(exc), hint="`macbot voices` lists the names") from exc
    return voice, voice.model_path


def existing(path: Path, what: str = "model") -> Path:
    if not Path(path).is_file():
        raise ModelNotFoundError(f"{what} not found: {path}")
    return Path(path)


@contextlib.contextmanager
def model_errors() -> Iterator[None]:
    """A file the toolkit cannot find is a missing model (exit ``MODEL_NOT_FOUND``)."""
    try:
        yield
    except FileNotFoundError as exc:
        raise ModelNotFoundError(str(exc).strip("'\"")) from exc


def load_transcriber(enabled: bool) -> Any:
    """whisper tiny.en, or ``None`` (with a warning) when ``--no-wer`` or the extra is missing."""
    from ..tools.toolkit.transcriber import Transcriber

    if not enabled:
        return None

    try:
        return Transcriber()
    except MissingExtraError as exc:
        raise MissingExtraError(f"{exc} (or pass --no-wer: distance only, never usable)") from exc


def verify_sentences(count: int) -> list[str]:

    if not 1 <= count <= len(VERIFY_SENTENCES):
        raise UsageError(f"--sentences must be 1 to {len(VERIFY_SENTENCES)} (got {count})")
    return VERIFY_SENTENCES[:count]


def mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:.1f}"


def summary_table(rows: list[tuple[Path, Any]]) -> Any:

    table = Table(title="Variants (speed-up: source RTF / variant RTF, side by side)")
    table.add_column("variant", overflow="fold")
    for column in ("MB", "smaller", "speed-up", "MCD dB", "WER orig→var", "usable"):
        table.add_column(column, no_wrap=True)
    for path, m in rows:
        q = m.quality or {}
        wer = (
            f"{100 * q['wer_original']:.1f}% → {100 * q['wer_variant']:.1f}%"
            if "wer_variant" in q
            else "-"
        )
        table.add_row(
            path.name.removesuffix(".onnx"),
            mb(m.sizes["output"]),
            f"{m.sizes['source'] / m.sizes['output']:.2f}×",
            f"{m.speed['speedup']:.2f}×" if "speedup" in (m.speed or {}) else "-",
            f"{q['mcd_db_mean']:.2f}" if "mcd_db_mean" in q else "-",
            wer,
            "yes" if m.verdict and m.verdict.usable else "no",
        )
    return table


def read_trials(path: Path) -> list:
    from ..tools.toolkit.trials import read_csv

    try:
        return read_csv(existing(path, "trials CSV"))
    except (ValueError, KeyError) as exc:
        raise UsageError(f"bad trials CSV {path}: {exc}") from exc


def add_measurement_arguments(parser: argparse.ArgumentParser) -> None:
    """How a new variant is measured (``quantize``, ``export-optimized``)."""
    parser.add_argument(
        "--sentences",
        type=int,
        default=32,
        help="verification sentences, 1 to 32 (default: 32)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="skip the quality measurement (default: off)"
    )
    parser.add_argument(
        "--no-wer",
        action="store_true",
        help="distance only, no whisper; the variant is then never usable (default: off)",
    )
    parser.add_argument(
        "--no-speed",
        action="store_true",
        help="skip timing; `macbot bench variants` fills it in (default: off)",
    )
