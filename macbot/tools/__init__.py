"""Offline tools, apart from the runtime: they edit graphs or need optional extras.

- :mod:`.split` and :mod:`.split_quant`: cut a voice into encoder + decoder, quantize the
  decoder (``onnx``, the ``toolkit`` extra);
- :mod:`.tune`: time the engine candidates with the daemon's own session plan;
- :mod:`.toolkit`: make, inspect, verify, trial and gate quantized variants;
- :mod:`.toolkit`'s speed measurement and :mod:`.tune`: the engine benchmarks a user runs
  on this host (``macbot quantize --benchmark``, ``macbot tune``).

The benchmark suites live beside the package, in a source checkout's ``benchmarks/``. The
daemon never imports this package.
"""
