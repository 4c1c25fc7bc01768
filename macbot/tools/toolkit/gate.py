"""The quality gate: may a variant replace its original?

A variant is **usable** only when, measured by :func:`~.verifier.verify` on the same sentences:

- its WER through whisper tiny.en is at most the original's + :data:`WER_MARGIN_POINTS`
  (percentage points; the original's own WER is the floor, because whisper tiny mishears some
  words of any TTS voice), **and**
- its mean mel-cepstral distortion from the original is at most :data:`MCD_BOUND_DB`.

Why 5 dB (measured, see the README): FP16 measures 0.04 dB, INT8 weights (dynamic QUInt8)
2.0 dB over the 32 sentences (2.6–3.4 dB with conv_post quantized too), static QDQ 3.0–4.0 dB —
all intelligible;
the voice with Gaussian noise (σ = 0.01) added to its raw output — a plainly audible hiss that
whisper mostly forgives — measures 5.9–6.6 dB, and σ = 0.003 (faint hiss) 4.6–5.1 dB. 5 dB
keeps every whole-model INT8 rendering and rejects audible noise: the WER check catches
broken words, the distance catches damage that ASR forgives (hiss, buzz, a changed timbre).

Missing measurements never pass: no WER (the ``quality`` extra is missing) means unusable.
"""

from __future__ import annotations

import math
from typing import Any

from ...core.manifests import Verdict

WER_MARGIN_POINTS = 2.0
MCD_BOUND_DB = 5.0
MIN_SENTENCES = 30
"""The WER is judged over at least this many sentences for a verdict the engines may trust;
fewer gives a verdict marked ``provisional`` in its reasons (tests use fewer)."""


def judge(
    quality: dict[str, Any],
    wer_margin_points: float = WER_MARGIN_POINTS,
    mcd_bound_db: float = MCD_BOUND_DB,
) -> Verdict:
    """The verdict for a ``quality`` section written by :func:`~.verifier.verify`."""
    reasons: list[str] = []
    failed: list[str] = []

    def fail(reason: str) -> None:
        failed.append(reason)
        reasons.append(reason)

    mcd = quality.get("mcd_db_mean")
    if mcd is None or not math.isfinite(float(mcd)):
        fail("spectral distance not measured")
    elif mcd > mcd_bound_db:
        fail(f"mel-cepstral distortion {mcd:.2f} dB > bound {mcd_bound_db:.2f} dB")
    else:
        reasons.append(f"mel-cepstral distortion {mcd:.2f} dB <= bound {mcd_bound_db:.2f} dB")
    if "wer_variant" not in quality or "wer_original" not in quality:
        fail("WER not measured (install the quality extra and run `macbot verify`)")
    else:
        delta = 100 * (quality["wer_variant"] - quality["wer_original"])
        limit = f"original {100 * quality['wer_original']:.1f}% + {wer_margin_points:g} points"
        if delta > wer_margin_points + 1e-9:
            fail(f"WER {100 * quality['wer_variant']:.1f}% > {limit}")
        else:
            reasons.append(f"WER {100 * quality['wer_variant']:.1f}% <= {limit}")
    if quality.get("sentences", 0) < MIN_SENTENCES:
        reasons.append(
            f"provisional: measured on {quality.get('sentences', 0)} sentences (< {MIN_SENTENCES})"
        )
    return Verdict(usable=not failed, reasons=reasons, failed=failed)
