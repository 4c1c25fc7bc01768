"""MacBot's benchmarks: suites that time the daemon, its engines and its tools against
piper-tts and each other, side by side in one run so that ratios are fair on a busy machine.

They live beside the package, not in it (a wheel of ``macbot`` holds none of this): run them
from a source checkout with ``macbot bench SUITE …`` or ``python scripts/benchmark_tts.py SUITE
…``. :mod:`benchmarks.suites` registers every suite (what each measures: docs/BENCHMARKS.md),
:mod:`benchmarks.options` their typed options, and :mod:`benchmarks.harness` starts the daemon
for the suites and the tests alike.
"""
