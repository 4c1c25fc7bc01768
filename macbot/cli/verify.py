"""``macbot verify``: the distance and WER of a variant against its original.

Shared helpers: :mod:`macbot.cli.toolkit`.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from ..config import AppConfig
from ..core.manifests import Manifest
from ..errors import ExitCode
from .common import command, model_file, out_console, progress
from .toolkit import (
    load_transcriber,
    model_errors,
    source_voice,
    summary_table,
    verify_sentences,
)


def cmd_verify(args: argparse.Namespace, config: AppConfig) -> int:
    """Distance + WER of a variant against its original; updates the variant's manifest."""
    from ..tools.toolkit.variants import reverify

    variant = model_file(args.variant, config)
    original = args.against
    if original is None:
        with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
            original = Path(Manifest.load(variant).source)
    voice, original = source_voice(str(original) if original else None, config)
    sentences = verify_sentences(args.sentences)
    with model_errors():
        transcriber = load_transcriber(not args.no_wer)
        with progress() as bar:
            task = bar.add_task(f"verifying {variant.name}", total=2 * len(sentences))
            manifest = reverify(
                voice,
                variant,
                original,
                sentences,
                transcriber,
                args.out,
                lambda: bar.advance(task),
            )
    q = manifest.quality
    console = out_console()
    console.print(summary_table([(variant, manifest)]))
    for reason in manifest.verdict.reasons:
        console.print(f"  {reason}")
    for key in ("wav_original", "wav_variant"):
        if key in q:
            console.print(f"  {key}: {q[key]}")
    if not manifest.verdict.usable:
        return ExitCode.QUALITY_GATE_FAILED
    return ExitCode.OK


def register(sub: Any) -> None:
    """Add ``verify``."""
    v = command(sub, "verify", help="distance and WER of a variant against its original")
    v.add_argument("variant", help="the variant: a path to its .onnx")
    v.add_argument(
        "--against",
        help="the original: a path or voice name (default: the source named in the variant's "
        "manifest)",
    )
    v.add_argument(
        "--sentences",
        type=int,
        default=32,
        help="built-in sentences to render, 1 to 32; the gate needs at least 30 (default: 32)",
    )
    v.add_argument(
        "--out",
        type=Path,
        help="also write NAME.original.wav and NAME.variant.wav here (default: none)",
    )
    v.add_argument(
        "--no-wer",
        action="store_true",
        help="distance only, no whisper; the variant is then never usable (default: off)",
    )
    v.set_defaults(handler=cmd_verify)
