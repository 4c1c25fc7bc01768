"""The runtime: audio, voices, engines, the engine chain, the synthesizer and its cache.

Nothing here imports Flask, argparse or the ``onnx`` package; the daemon, the client, the
tools and the CLI build on it (see the layers in ``pyproject.toml``).
"""
