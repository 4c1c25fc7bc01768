"""The JSON of ``/info``, ``/tts-performance`` and ``/memory``, read from the synthesizer's
parts (the shapes are documented in ``openapi.yaml``)."""

from __future__ import annotations

import os
from dataclasses import asdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import onnxruntime
import psutil

from ..config import AppConfig
from ..core.probes import host_facts
from ..core.synthesizer import Synthesizer
from ..version import __version__

FAMILIES = ("kokoro", "piper")
"""The families whose figures ``/info`` lists, in this order."""


def info(synth: Synthesizer) -> dict[str, Any]:
    """``/info``: the engine in use and the versions behind it (the route adds the config
    file and the optimization)."""
    default = synth.default_voice.name
    engine = synth.voices.loaded_engine(default)
    decision = synth.decisions.get(default)
    return {
        "voice": default,
        "engine": engine.describe() if engine else None,
        "probes": host_facts().to_dict(),
        "engine_decision": decision.to_dict() if decision else None,
        "auto": synth.auto.to_dict() if synth.auto else None,
        "families": families(synth),
        "loaded_voices": synth.loaded_voices(),
        "available_providers": onnxruntime.get_available_providers(),
        "versions": {
            "macbot": __version__,
            "onnxruntime": onnxruntime.__version__,
            "piper-tts": _dist_version("piper-tts"),
        },
    }


def families(synth: Synthesizer) -> dict[str, Any]:
    """Each family's recorded figures on this host (``None``: not measured yet)."""
    out: dict[str, Any] = {}
    for family in FAMILIES:
        figures = synth.voices.known_figures(family)
        out[family] = asdict(figures) if figures else None
    return out


def performance(synth: Synthesizer) -> dict[str, Any]:
    """``/tts-performance`` in the guide's shape, plus cache and worker details (the route
    adds the playback queue)."""
    default = synth.default_voice.name
    engine = synth.voices.loaded_engine(default)
    snap = synth.stats.snapshot()
    cache = synth.cache.stats()
    pool = synth.pool
    return {
        "engine_loaded": engine is not None,
        "engine_type": engine.engine_type if engine else None,
        "engine_decision": (
            {
                "mode": d.mode,
                "winner": d.winner,
                "rejected": {a.engine_type: a.reason for a in d.attempts if not a.accepted},
            }
            if (d := synth.decisions.get(default))
            else None
        ),
        "voice": default,
        "performance": {
            **snap,
            "cache_hits": cache["hits"],
            "cache_misses": cache["misses"],
            "cache_evictions": cache["evictions"],
            "cache_bytes": cache["bytes"],
            "active_jobs": pool.active_jobs(),
            "queued_jobs": pool.waiting_jobs(),
            "queued_sentences": pool.queued_tasks(),
        },
        "workers": {
            **synth.plan.describe(),
            "running_sentences": pool.running_tasks(),
        },
        "cache": cache,
    }


def memory(synth: Synthesizer, config: AppConfig) -> dict[str, Any]:
    """``/memory``: resident and virtual memory, the phrase cache's bytes, and the size of
    each loaded voice's model file and of the configured optimized models."""
    mem = psutil.Process(os.getpid()).memory_info()
    models: list[dict[str, Any]] = []
    for name in synth.loaded_voices():
        voice = synth.resolve(name)
        models.append(_file_entry(voice.model_path, kind="voice", voice=name))
    piper = config.tts.piper
    for kind, path in (("quantized", piper.quantized_path), ("coreml", piper.coreml_path)):
        if path is not None and Path(path).exists():
            models.append(_file_entry(Path(path), kind=kind, voice=None))
    return {
        "rss_bytes": mem.rss,
        "rss_mb": round(mem.rss / 1e6, 1),
        "vms_bytes": mem.vms,
        "cache_bytes": synth.cache.stats()["bytes"],
        "models": models,
        "model_bytes": sum(m["bytes"] for m in models),
    }


def _file_entry(path: Path, kind: str, voice: str | None) -> dict[str, Any]:
    size = path.stat().st_size if path.is_file() else _dir_size(path)
    return {"kind": kind, "voice": voice, "path": str(path), "bytes": size}


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None
