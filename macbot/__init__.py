"""MacBot TTS: a local text-to-speech daemon for voice assistants (Piper voices, onnxruntime).

The Python API (docs/API_PYTHON.md), imported on first use so that ``import macbot`` stays
light:

- :class:`Client`: the running daemon (standard library only): ``Client().speak("Hi")``.
- :func:`speak`: in this process, no daemon: ``macbot.speak("Hi").save("hi.wav")``;
  :class:`Speaker` keeps a voice loaded across calls; :class:`Speech` is what they return.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .client.http import DaemonClient as Client
    from .core.api import Speaker, Speech, speak

__all__ = ["Client", "Speaker", "Speech", "__version__", "speak"]


def __getattr__(name: str) -> Any:
    if name == "Client":
        from .client.http import DaemonClient

        return DaemonClient
    if name in ("speak", "Speaker", "Speech"):
        from .core import api

        return getattr(api, name)
    raise AttributeError(f"module 'macbot' has no attribute {name!r}")
