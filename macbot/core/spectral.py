"""Spectral distance between two renderings of the same sentence: mel-cepstral distortion.

For each waveform (resampled to nothing; both come from the same voice, same sample rate):

1. frames of 1024 samples (46 ms at 22.05 kHz), hop 256, Hann window; power spectrum |X|²;
2. 80 triangular mel filters (0 Hz … sr/2, HTK mel scale); log *amplitude*
   ``S_k = ½ · ln(max(mel_k, floor))``, the floor 80 dB below the loudest band;
3. the real cepstrum of that mel log-amplitude spectrum,
   ``c_d = (1/80) Σ_k S_k cos(π d (k + ½) / 80)`` (a DCT-II scaled so that
   ``S_k ≈ c₀ + 2 Σ_d c_d cos(…)``, the scale of the mel-cepstra MCD is defined on); keep
   c₁ … c₂₄ (c₀, the frame energy, is dropped, as is usual for MCD);
4. frames quieter than 40 dB below the loudest frame of the *reference* are dropped
   (silence carries no spectral shape and would dilute the distance);
5. the two cepstrum sequences are aligned by dynamic time warping (Euclidean frame cost);
   with noise scales 0 the durations of a quantized variant can still differ by a few frames;
6. per aligned frame pair ``MCD = (10 / ln 10) · sqrt(2 · Σ_{d=1}^{24} (c_d − c′_d)²)`` dB,
   averaged over the alignment path.

Identical audio gives 0 dB. The values are of the same order as SPTK mel-cepstrum MCD (a few
dB between two TTS systems) but not identical to it (mel filterbank instead of a frequency
warp), so compare values from this function with each other: the quality gate's bound
(:mod:`macbot.tools.toolkit.gate`) and the CoreML probe's (:mod:`macbot.core.coreml_probe`) are
calibrated on it.
"""

from __future__ import annotations

import numpy as np

N_FFT = 1024
HOP = 256
N_MELS = 80
N_CEPS = 24
SILENCE_DB = 40.0
FLOOR = 1e-8
"""Mel energies are floored at 80 dB below the loudest band of the utterance."""
_K = 10.0 / np.log(10.0) * np.sqrt(2.0)


def _mel_filters(sample_rate: int) -> np.ndarray:
    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hz / 700.0)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    freqs = np.linspace(0, sample_rate / 2, N_FFT // 2 + 1)
    points = mel_to_hz(
        np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sample_rate / 2)), N_MELS + 2)
    )
    filters = np.zeros((N_MELS, freqs.size))
    for m in range(N_MELS):
        left, centre, right = points[m], points[m + 1], points[m + 2]
        rising = (freqs - left) / max(centre - left, 1e-9)
        falling = (right - freqs) / max(right - centre, 1e-9)
        filters[m] = np.clip(np.minimum(rising, falling), 0.0, None)
    return filters


def _cepstrum_matrix() -> np.ndarray:
    """``c_d = (1/N) Σ_k S_k cos(π d (k + ½) / N)``: the real cepstrum of a log-amplitude
    spectrum sampled on N mel bands (so that ``S_k ≈ c_0 + 2 Σ_d c_d cos(…)``)."""
    n = np.arange(N_MELS)
    d = np.arange(N_CEPS + 1)[:, None]
    return np.cos(np.pi / N_MELS * (n + 0.5) * d) / N_MELS


def mel_cepstrum(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(cepstra c₀…c₂₄ per frame, frame energies in dB)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if x.size < N_FFT:
        x = np.pad(x, (0, N_FFT - x.size))
    frames = 1 + (x.size - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spectrum = np.abs(np.fft.rfft(x[index] * np.hanning(N_FFT), axis=1)) ** 2
    mel = spectrum @ _mel_filters(sample_rate).T
    floor = max(float(mel.max()), 1e-20) * FLOOR
    log_amplitude = 0.5 * np.log(np.maximum(mel, floor))
    ceps = log_amplitude @ _cepstrum_matrix().T
    energy_db = 10.0 * np.log10(np.maximum(spectrum.sum(axis=1), 1e-20))
    return ceps, energy_db


def _dtw_path(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the cheapest monotonic alignment of a cost matrix (steps: →, ↓, ↘)."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        row = cost[i - 1]
        diag_up = np.minimum(acc[i - 1, :-1], acc[i - 1, 1:]) + row  # from ↘ or ↓
        current = acc[i]
        for j in range(1, m + 1):  # → needs the running row: a short sequential scan
            left = current[j - 1] + row[j - 1]
            current[j] = diag_up[j - 1] if diag_up[j - 1] < left else left
    i, j = n, m
    path_i, path_j = [], []
    while i > 0 and j > 0:
        path_i.append(i - 1)
        path_j.append(j - 1)
        steps = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
        move = int(np.argmin(steps))
        i, j = (i - 1, j - 1) if move == 0 else (i - 1, j) if move == 1 else (i, j - 1)
    return np.array(path_i[::-1]), np.array(path_j[::-1])


def mel_cepstral_distortion(reference: np.ndarray, variant: np.ndarray, sample_rate: int) -> float:
    """MCD in dB between ``reference`` and ``variant`` (see the module docstring)."""
    ref_c, ref_e = mel_cepstrum(reference, sample_rate)
    var_c, var_e = mel_cepstrum(variant, sample_rate)
    ref_keep = ref_e >= ref_e.max() - SILENCE_DB
    var_keep = var_e >= ref_e.max() - SILENCE_DB
    ref_c, var_c = ref_c[ref_keep, 1:], var_c[var_keep, 1:]
    if len(ref_c) == 0 or len(var_c) == 0:
        return float("inf") if len(ref_c) != len(var_c) else 0.0
    diff = ref_c[:, None, :] - var_c[None, :, :]
    cost = np.sqrt((diff**2).sum(axis=2))
    path_i, path_j = _dtw_path(cost)
    return float(_K * cost[path_i, path_j].mean())
