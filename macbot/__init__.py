"""MacBot TTS: a local text-to-speech daemon for voice assistants (Piper voices, onnxruntime)."""

__version__ = "0.1.0"
