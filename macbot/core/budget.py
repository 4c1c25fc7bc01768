"""``voice: auto``: each family's figures on this host, and the choice they make.

:func:`measure` times a loaded engine on :data:`TYPICAL_SENTENCE`: the first audio (from the
request to the first chunk of ``stream_sentence``) and the real-time factor (synthesis time
over audio time). The figures are kept in ``optimized_dir/families.json``, keyed like the
tune records (the model's SHA-256, onnxruntime, the CPU, the providers, plus the family), so
they are measured once per host and model; the optimizer measures again after it swaps in a
faster variant (:func:`record`).

:func:`choose` takes the first family of ``models.tts.prefer`` whose figures meet the budget:
first audio within ``models.tts.latency_budget_ms`` and a real-time factor under
:data:`MAX_RTF` (speech stays continuous: each sentence is ready before the one before it has
been played).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..config import TTSConfig
from ..errors import MacbotError
from .engines import Engine, SynthesisOptions
from .hashing import cached_sha256, hash_index
from .probes import HostFacts, host_facts
from .records import find_record, save_record
from .voices import AUTO, AUTO_FALLBACK, VoiceInfo, configured_voice

_LOGGER = logging.getLogger(__name__)

TYPICAL_SENTENCE = "The meeting moved to three o'clock, so we still have time for lunch."
"""An assistant's sentence of typical length (68 characters, 13 words)."""
FAMILIES_FILE = "families.json"
MAX_RTF = 0.8
"""A family must synthesize faster than this fraction of real time: with the 20% margin,
the next sentence is ready before the current one has been played, even on a busy machine."""
RUNS = 2
FAMILY_VOICES = AUTO_FALLBACK
"""The voice ``auto`` speaks for each family (Kokoro's ``jm_kumo`` had the lowest WER on the
Harvard sentences: 0.073 against joe's 0.125, docs/ENGINES.md)."""


@dataclass(frozen=True)
class Figures:
    """One family's measurement on this host."""

    family: str
    voice: str
    engine: str
    first_audio_ms: float
    rtf: float
    runs: int
    measured_at: float
    measured_by: str = "first load"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def meets(self, budget_ms: float) -> bool:
        return self.first_audio_ms <= budget_ms and self.rtf <= MAX_RTF

    def why(self, budget_ms: float) -> str:
        """Whether and why the figures meet the budget, in words."""
        parts = [
            f"first audio {self.first_audio_ms:.0f} ms "
            + ("<=" if self.first_audio_ms <= budget_ms else ">")
            + f" {budget_ms:.0f} ms",
            f"RTF {self.rtf:.2f} " + ("<=" if self.rtf <= MAX_RTF else ">") + f" {MAX_RTF}",
        ]
        return ", ".join(parts)


PROBE_TEXT = "Ready."
"""A one-word sentence: its first audio is a lower bound of a typical sentence's."""


def _timed(engine: Engine, text: str, options: SynthesisOptions) -> tuple[float, float]:
    """(seconds to the first chunk, real-time factor) of one synthesis of ``text``."""
    started = time.perf_counter()
    first = None
    samples = 0
    for chunk in engine.synthesize(text, options):
        first = first if first is not None else time.perf_counter() - started
        samples += len(chunk.samples)
    total = time.perf_counter() - started
    return first or total, total / max(samples / engine.sample_rate, 1e-6)


def measure(
    engine: Engine,
    text: str = TYPICAL_SENTENCE,
    runs: int = RUNS,
    give_up_ms: float | None = None,
) -> Figures:
    """Time ``engine`` on ``text`` (after one warm-up run): the median first audio and RTF of
    ``runs`` runs.

    ``give_up_ms``: first time a one-word sentence (warm); when even its first audio is over
    ``give_up_ms``, a typical sentence's is too, and the probe's figures (a lower bound, so
    labelled) are returned at once: a slow machine does not spend a minute proving that
    Kokoro is too slow for it.
    """
    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    if give_up_ms is not None:
        _timed(engine, PROBE_TEXT, options)
        first, rtf = _timed(engine, PROBE_TEXT, options)
        if first * 1000 > give_up_ms:
            return Figures(
                family=engine.family,
                voice=engine.voice.name,
                engine=engine.label,
                first_audio_ms=round(first * 1000, 1),
                rtf=round(rtf, 4),
                runs=1,
                measured_at=round(time.time(), 3),
                measured_by="one-word probe, already over the budget (a lower bound)",
            )
    _timed(engine, text, options)
    firsts, rtfs = [], []
    for _ in range(max(1, runs)):
        first, rtf = _timed(engine, text, options)
        firsts.append(first)
        rtfs.append(rtf)
    return Figures(
        family=engine.family,
        voice=engine.voice.name,
        engine=engine.label,
        first_audio_ms=round(statistics.median(firsts) * 1000, 1),
        rtf=round(statistics.median(rtfs), 4),
        runs=len(firsts),
        measured_at=round(time.time(), 3),
    )


def family_key(family: str, model_sha256: str, facts: HostFacts) -> dict[str, Any]:
    """What a family's figures are valid for: the family, its model, onnxruntime, the CPU
    and the providers."""
    return {
        "family": family,
        "model_sha256": model_sha256,
        "onnxruntime": facts.onnxruntime_version,
        "cpu": facts.cpu_model or "unknown",
        "providers": sorted(facts.providers),
    }


def recorded(optimized_dir: Path, key: dict[str, Any]) -> Figures | None:
    """The figures stored for ``key`` in ``optimized_dir``, or ``None``."""
    found = find_record(Path(optimized_dir) / FAMILIES_FILE, key)
    if not found:
        return None
    try:
        return Figures(**found["figures"])
    except (KeyError, TypeError):
        return None


def record(optimized_dir: Path, key: dict[str, Any], figures: Figures) -> None:
    """Keep ``figures`` under ``key`` (the optimizer calls this again after a swap)."""
    save_record(Path(optimized_dir) / FAMILIES_FILE, {"key": key, "figures": asdict(figures)})


@dataclass(frozen=True)
class AutoChoice:
    """What ``auto`` chose and why."""

    family: str
    voice: str
    reason: str
    figures: Mapping[str, Figures | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "voice": self.voice,
            "reason": self.reason,
            "figures": {f: asdict(v) if v else None for f, v in self.figures.items()},
        }


def choose(
    prefer: Sequence[str], budget_ms: float, figures_of: Callable[[str], Figures | None]
) -> AutoChoice:
    """The first family of ``prefer`` whose figures (``figures_of(family)``: recorded, or
    measured now) meet the budget; when none does, the one with the earliest first audio."""
    seen: dict[str, Figures | None] = {}
    for family in prefer:
        figures = seen[family] = figures_of(family)
        if figures is not None and figures.meets(budget_ms):
            return AutoChoice(
                family,
                figures.voice,
                f"{family} is the first of {list(prefer)} within the budget: "
                + figures.why(budget_ms),
                seen,
            )
    measured = [f for f in seen.values() if f is not None]
    if not measured:
        family = prefer[-1] if prefer else "piper"
        return AutoChoice(family, FAMILY_VOICES[family], "no family could be measured", seen)
    best = min(measured, key=lambda f: f.first_audio_ms)
    return AutoChoice(
        best.family,
        best.voice,
        f"no family meets the budget; {best.family} has the earliest first audio: "
        + "; ".join(f"{f.family}: {f.why(budget_ms)}" for f in measured),
        seen,
    )


def recorded_figures(tts: TTSConfig, facts: HostFacts | None = None) -> dict[str, Figures | None]:
    """Each family's recorded figures on this host (``None``: not measured yet, or the family
    cannot load here); nothing is loaded or measured."""
    facts = facts or host_facts()
    out: dict[str, Figures | None] = {}
    for family in FAMILY_VOICES:
        try:
            voice = configured_voice(tts, FAMILY_VOICES[family])
        except MacbotError as exc:  # a family that cannot load here is not chosen
            _LOGGER.info("voice auto: %s unavailable: %s", family, exc)
            out[family] = None
            continue
        sha = cached_sha256(voice.model_path, hash_index(tts.optimized_dir))
        out[family] = recorded(tts.optimized_dir, family_key(family, sha, facts))
    return out


def recorded_choice(tts: TTSConfig) -> AutoChoice | None:
    """What ``auto`` chooses from the recorded figures alone (``None``: none recorded for the
    preferred families yet; the daemon measures at its first start)."""
    figures = recorded_figures(tts)
    if not any(figures.get(f) for f in tts.prefer):
        return None
    return choose(tts.prefer, tts.latency_budget_ms, figures.get)


def auto_voice(tts: TTSConfig) -> VoiceInfo:
    """The configured voice, with ``auto`` resolved from the recorded figures (the first
    preferred family's voice when nothing is recorded): for the command line, which does
    not measure."""
    if tts.voice != AUTO or tts.piper.voice_path is not None:
        return configured_voice(tts)
    choice = recorded_choice(tts)
    return configured_voice(tts, choice.voice if choice else None)
