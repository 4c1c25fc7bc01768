#!/usr/bin/env python3
"""Benchmark MacBot TTS engines side by side (same as `macbot bench`; the suites are this
checkout's benchmarks/, docs/BENCHMARKS.md).

python scripts/benchmark_tts.py rtf --rounds 3 --json bench_results/rtf.json
"""

import sys

from macbot.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
