#!/usr/bin/env python3
"""Make optimized variants of a Piper voice (same as `macbot quantize`).

python scripts/quantize_tts_model.py --model piper_voices/en_US-amy-medium/model.onnx --dynamic
python scripts/quantize_tts_model.py --static --per-channel --exclude conv_post
python scripts/quantize_tts_model.py --all --benchmark

Every output lands in optimized_models/ (or --output) with NAME.manifest.json beside it.
"""

import sys

from macbot.cli import main

if __name__ == "__main__":
    sys.exit(main(["quantize", *sys.argv[1:]]))
