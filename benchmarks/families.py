"""Two families in one daemon (issue 20): ``families-rss``.

A real ``macbot serve`` process (``tts_auto_optimize: false``, phrase cache off so that every
request synthesizes) with Piper's joe and a Kokoro voice loaded, sent varied requests that
alternate between the two, measured from outside: RSS at rest after warm-up, after the
requests, and the peak on the way.

Target: RSS at rest after 200 requests ≤ 450 MB.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from macbot.core.voices import bundled_voice

from .daemon import varied_texts
from .harness import ServedDaemon
from .memory import Sampler, at_rest
from .options import BenchOptions

KOKORO_VOICE = "jm_kumo"
TARGET_MB = 450


def families_rss_suite(bench: BenchOptions) -> dict:
    """RSS of one daemon serving a Piper and a Kokoro voice, ``--rss-requests`` alternating."""
    report = bench.reporter
    count = bench.rss_requests
    voices = (bundled_voice().name, KOKORO_VOICE)
    folder = Path(tempfile.mkdtemp(prefix="macbot-families-"))
    daemon = ServedDaemon(
        {"tts_cache_enabled": False, "tts_auto_optimize": False},
        folder,
        tts={"optimized_dir": str(folder / "optimized")},
    )
    rows: list[dict] = []
    errors = 0
    try:
        report.step("warm-up: both voices", None)
        for voice in voices:
            daemon.post_speak("Both families are loaded now.", voice=voice)
        warm = at_rest(daemon)
        rows.append({"measure": "RSS at rest, both voices loaded", "mb": round(warm, 1)})
        report.step(f"{count} varied requests, alternating", count)
        with Sampler(daemon, interval=0.1) as sampler:
            for i, text in enumerate(varied_texts(count, seed=20)):
                try:
                    daemon.post_speak(text, voice=voices[i % 2])
                except RuntimeError:
                    errors += 1
                report.advance()
        rows.append({"measure": "peak during the requests", "mb": round(sampler.peak, 1)})
        after = at_rest(daemon)
        rows.append(
            {
                "measure": f"RSS at rest after {count} requests",
                "mb": round(after, 1),
                "target": f"<= {TARGET_MB}",
            }
        )
    finally:
        code = daemon.stop()
    rows.append({"measure": "errors / daemon exit status", "mb": f"{errors} / {code}"})
    return {"suite": "families-rss", "voices": list(voices), "rows": rows}
