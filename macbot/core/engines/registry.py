"""The engines' registry: a loader per candidate format, found by name (uvicorn's registry of
implementations, speaches' executors behind one handler protocol).

Code outside ``core/engines/`` loads an engine through :func:`load` and uses it through the
:class:`~.base.Engine` protocol; it never names an implementation. A family's engines plug in
by registering their formats here.

=============  ==========================================  ======================
format         what ``path`` is                            engine
=============  ==========================================  ======================
``onnx``       a whole Piper model (or a quantized copy)   :class:`.PiperEngine`
``split``      a split voice's folder (encoder + decoder)  :class:`.ChunkedEngine`
``mlpackage``  a Piper voice converted for CoreML          :class:`.MLPackageEngine`
``kokoro``     a Kokoro-82M model                          :class:`.KokoroEngine`
=============  ==========================================  ======================

Kokoro runs on CoreML through onnxruntime's provider (format ``kokoro`` with CoreML providers,
after its probe: :mod:`macbot.core.coreml_probe`). Its ``mlpackage`` door is kept but closed:
a static-shape CoreML export of Kokoro needs coremltools on a Mac and the PyTorch model
(coremltools converts no ONNX), so ``mlpackage`` for a Kokoro voice says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import ModelUnsupportedError
from ..sessions import CPU, Providers, SessionPlan
from ..voices import VoiceInfo
from .base import Engine
from .chunked import ChunkedEngine
from .coreml import load_mlpackage
from .kokoro import KokoroEngine
from .piper import PiperEngine

Loader = Callable[..., Engine]
"""``loader(voice, path, *, providers, plan, label, **options) -> Engine``."""

_LOADERS: dict[str, Loader] = {}


def register(fmt: str, loader: Loader) -> None:
    """Make ``loader`` the one for candidates of format ``fmt``."""
    _LOADERS[fmt] = loader


def formats() -> list[str]:
    """The registered formats."""
    return sorted(_LOADERS)


def format_of(voice: VoiceInfo) -> str:
    """The format of ``voice``'s own model (``kokoro`` for that family, else ``onnx``)."""
    return "kokoro" if voice.family == "kokoro" else "onnx"


def load(
    voice: VoiceInfo,
    path: Path | None = None,
    fmt: str | None = None,
    *,
    providers: Providers = CPU,
    plan: SessionPlan | None = None,
    label: str | None = None,
    **options: Any,
) -> Engine:
    """The engine of ``voice`` from ``path`` (default: its own model) in format ``fmt``
    (default: the voice's family's). ``options`` go to the format's loader (a split's chunk
    sizes, onnxruntime's pre-optimized copy, Kokoro's language)."""
    fmt = fmt or format_of(voice)
    try:
        loader = _LOADERS[fmt]
    except KeyError:
        raise ValueError(f"no engine for format {fmt!r} (known: {', '.join(formats())})") from None
    return loader(voice, path, providers=providers, plan=plan, label=label, **options)


def _onnx(voice: VoiceInfo, path: Path | None, **kw: Any) -> Engine:
    implementation = kw.pop("implementation", "piper")
    return PiperEngine.load(voice, path, implementation, kw.pop("providers"), kw.pop("plan"), **kw)


def _split(voice: VoiceInfo, path: Path | None, **kw: Any) -> Engine:
    if path is None:
        raise ValueError("a split engine needs the split's folder")
    providers = kw.pop("providers")
    kw.setdefault("encoder_providers", providers)
    kw.setdefault("decoder_providers", providers)
    return ChunkedEngine.load_split(voice, path, **kw)


def _mlpackage(voice: VoiceInfo, path: Path | None, **_kw: Any) -> Engine:
    if voice.family == "kokoro":
        raise ModelUnsupportedError(
            "no .mlpackage engine for Kokoro: a static-shape CoreML export needs coremltools "
            "and the PyTorch model on a Mac; Kokoro uses onnxruntime's CoreML provider instead, "
            "where its probe finds it faster (docs/ENGINES.md)"
        )
    if path is None:
        raise ValueError("a CoreML engine needs its .mlpackage")
    return load_mlpackage(path, voice)


def _kokoro(voice: VoiceInfo, path: Path | None, **kw: Any) -> Engine:
    return KokoroEngine.load(voice, path, providers=kw.pop("providers"), plan=kw.pop("plan"), **kw)


register("onnx", _onnx)
register("split", _split)
register("mlpackage", _mlpackage)
register("kokoro", _kokoro)
