"""Model optimization toolkit: make, inspect, verify, trial and gate variants of a Piper voice.

Modules, one job each:

- :mod:`.extras`      lazy imports of optional packages, with the pyproject extra to install;
- :mod:`.phrases`     built-in calibration phrases and verification sentences;
- :mod:`.graph`       sizes and parameter counts of an ONNX model by op/dtype, and model diffs;
- :mod:`.quantizer`   the methods: dynamic, static QDQ, INT4 (MatMulNBits), FP16, CoreML prep;
- :mod:`.spectral`    mel-cepstral distortion between two waveforms (DTW-aligned);
- :mod:`.transcriber` whisper tiny.en transcription and word error rate;
- :mod:`.verifier`    original vs variant audio with noise scales 0: distance, WER, WAVs;
- :mod:`.gate`        the quality gate (verdict written to the manifest);
- :mod:`.speed`       a quick side-by-side speed measurement for the manifest;
- :mod:`.trials`      per-node quantization trials, size estimates, export by threshold;
- :mod:`.variants`    one call that makes a variant, measures it and writes its manifest;
- :mod:`.benchmark`   the `variants` benchmark suite (JSON, Markdown, PNG; speed into manifests);
- :mod:`.commands`    the ``macbot quantize / inspect / verify / trial / estimate-size /
  export-optimized`` commands.
"""
