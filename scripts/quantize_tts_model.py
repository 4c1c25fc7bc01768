#!/usr/bin/env python3
"""Make optimized variants of a Piper voice (same as `macbot quantize`).

python scripts/quantize_tts_model.py --model piper_voices/en_US-amy-medium/model.onnx --dynamic
python scripts/quantize_tts_model.py --static --per-channel --exclude conv_post
python scripts/quantize_tts_model.py --all --benchmark

Every output lands in optimized_models/ (or --output) with NAME.manifest.json beside it.
"""

import argparse
import sys

from macbot.cli import CLIError
from macbot.toolkit.commands import add_quantize_arguments, cmd_quantize

if __name__ == "__main__":
    parser = add_quantize_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    try:
        sys.exit(int(cmd_quantize(parser.parse_args())))
    except CLIError as exc:
        print(f"quantize_tts_model: error: {exc}", file=sys.stderr)
        sys.exit(int(exc.code))
