"""``macbot split``: cut a voice into encoder + decoder for streaming inside sentences."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import AppConfig
from ..errors import ExitCode, ModelUnsupportedError, OutputError, UsageError
from .common import command, out_console, spinner, voice_or_model


def register(sub) -> None:
    parser = command(
        sub,
        "split",
        help="split a voice into encoder.onnx + decoder.onnx for streaming inside sentences",
        description="Split a Piper voice at the decoder's input, check that encoder -> decoder\n"
        "reproduces the full model (noise scales 0), and write both with a manifest to\n"
        "OUTPUT/<voice>.split/. Needs the toolkit extra (the onnx package).",
    )
    parser.add_argument(
        "--model",
        help="the voice: a name (see `macbot voices`) or the path of its .onnx (default: "
        "the configured voice)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="folder for the split (default: models.tts.optimized_dir, optimized_models/)",
    )
    parser.add_argument(
        "--static-frames",
        type=int,
        action="append",
        help="also export a decoder with this fixed frame count, the form CoreML needs "
        "(repeatable; default: chunk_frames + 2 x context_frames of models.tts.streaming)",
    )
    parser.add_argument(
        "--quantize-decoder",
        action="store_true",
        help="also write decoder.qdq.onnx (static int8 QDQ, calibrated on real latents) and "
        "record its speed and spectral distance in the manifest (default: off)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    from ..core.engines.chunked import split_dir_for
    from ..tools.split import split_voice
    from ..tools.split_quant import quantize_decoder

    streaming = config.tts.streaming
    statics = args.static_frames or [streaming.chunk_frames + 2 * streaming.context_frames]
    if any(f < 1 for f in statics):
        raise UsageError(f"--static-frames must be positive (got {statics})")
    voice = voice_or_model(args.model, config)
    output = args.output or config.tts.optimized_dir
    try:
        with spinner(f"splitting {voice.name} and checking it against the full model…"):
            manifest = split_voice(voice, output, static_frames=statics)
    except OSError as exc:
        raise OutputError(f"cannot write the split to {output}: {exc}") from exc
    except Exception as exc:
        # onnx raises DecodeError/ValidationError (no common base) for files it cannot read
        if type(exc).__module__.startswith(("onnx", "google.protobuf")):
            raise ModelUnsupportedError(f"cannot read {voice.model_path} as ONNX: {exc}") from exc
        raise
    folder = split_dir_for(voice, output)
    console = out_console()
    if args.quantize_decoder:
        with spinner("quantizing the decoder (static int8, calibrated)…"):
            q = quantize_decoder(voice, folder)
        console.print(
            f"{q['file']}: {q['speedup']:.2f}x the float decoder's speed, log-spectral "
            f"distance {q['lsd_db']:.2f} dB, {q['size'] / 1e6:.1f} MB"
        )
    console.print(
        f"{voice.name}: cut at {manifest.parameters['cut_tensor']} "
        f"(hop {manifest.parameters['hop_length']}), max |split - full| = "
        f"{manifest.quality['max_abs_diff']:.3g}, streaming gain "
        f"{manifest.parameters['gain']:.4f} -> {folder}"
    )
    console.print(
        "The daemon streams inside sentences with it from its next start "
        "(models.tts.streaming.enabled)."
    )
    return ExitCode.OK
