"""The chunked engine: chunk plans, exact joins on the real voice, fixed shapes, the daemon hook."""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
from conftest import make_config

from macbot.core.engines.chunked import (
    ChunkedEngine,
    FlowLatent,
    Window,
    chunk_sizes,
    plan_chunks,
)
from macbot.core.engines.piper import PiperEngine
from macbot.core.synthesizer import Synthesizer
from macbot.tools.split import MAX_DIFF

HOP = 256
LONG = "Good morning, the weather today is sunny with a light breeze from the west."
"""A 14-word sentence: 316 latent frames, five chunks of 64."""


# -- plans (pure) ------------------------------------------------------------------------------


def _covers(windows: list[Window], frames: int) -> None:
    """Kept ranges tile [0, frames) in order; each lies inside its window."""
    assert windows[0].keep_start == 0 and windows[-1].keep_stop == frames
    for a, b in itertools.pairwise(windows):
        assert a.keep_stop == b.keep_start
    for w in windows:
        assert w.start <= w.keep_start < w.keep_stop <= w.stop <= frames


@pytest.mark.parametrize("frames", [1, 15, 63, 64, 65, 128, 192, 193, 634])
def test_dynamic_plan_tiles_the_sentence_with_context(frames):
    windows = plan_chunks(frames, 64, 16)
    assert len(windows) == -(-frames // 64)
    _covers(windows, frames)
    for w in windows:
        assert w.keep_start - w.start == min(16, w.keep_start)  # context, or up to the edge
        assert w.stop - w.keep_stop == min(16, frames - w.keep_stop)
        assert w.padding == 0


def test_dynamic_plan_boundaries():
    assert plan_chunks(40, 64, 16) == [Window(0, 40, 0, 40, 40)]  # shorter than a chunk
    assert plan_chunks(64, 64, 16) == [Window(0, 64, 0, 64, 64)]  # exactly one chunk
    assert plan_chunks(192, 64, 16) == [  # exactly three chunks
        Window(0, 80, 0, 64, 80),
        Window(48, 144, 64, 128, 96),
        Window(112, 192, 128, 192, 80),
    ]
    assert plan_chunks(0, 64, 16) == []
    with pytest.raises(ValueError, match="chunk must be"):
        plan_chunks(10, 0, 16)


def test_growing_chunks():
    assert chunk_sizes(634, 32, 4) == [32, 128, 474]
    assert chunk_sizes(634, 32, 2) == [32, 64, 128, 256, 154]
    assert chunk_sizes(634, 32, 0) == [32, 602]  # 0: the rest in one piece
    assert chunk_sizes(20, 32, 4) == [20]
    assert chunk_sizes(160, 32, 4) == [32, 128]  # exactly two chunks
    windows = plan_chunks(634, 32, 12, growth=4)
    _covers(windows, 634)
    assert [w.keep_stop - w.keep_start for w in windows] == [32, 128, 474]
    with pytest.raises(ValueError, match="growth"):
        chunk_sizes(100, 32, 0.5)
    with pytest.raises(ValueError, match="one chunk size"):
        plan_chunks(100, 32, 12, fixed=True, growth=2)


@pytest.mark.parametrize("frames", [1, 40, 95, 96, 97, 128, 192, 634])
def test_fixed_plan_has_one_window_size(frames):
    windows = plan_chunks(frames, 64, 16, fixed=True)
    _covers(windows, frames)
    assert {w.size for w in windows} == {96}
    if frames <= 96:  # one window: the whole sentence, zero-padded at the end
        assert windows == [Window(0, frames, 0, frames, 96)]
        assert windows[0].padding == 96 - frames
    else:  # shifted inside the sentence, never padded
        assert all(w.stop - w.start == 96 and w.padding == 0 for w in windows)
        assert windows[0].start == 0 and windows[-1].stop == frames


# -- the real voice ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chunked(voice_split):
    voice, folder = voice_split
    return ChunkedEngine.load_split(voice, folder, chunk_frames=64, context_frames=16, growth=1)


@pytest.fixture(scope="module")
def long_latent(chunked, plain):
    (sentence,) = chunked.sentences(LONG)
    return chunked.latent(sentence.phoneme_ids, plain)


def _sharing(engine: ChunkedEngine, chunk: int, context: int, growth: float) -> ChunkedEngine:
    """Another plan over the same loaded sessions."""
    return ChunkedEngine(
        engine.voice,
        engine.encoder,
        engine.decoder,
        engine.voice_config,
        hop_length=engine.hop_length,
        gain=engine.gain,
        chunk_frames=chunk,
        context_frames=context,
        growth=growth,
    )


def _decode_whole(engine: ChunkedEngine, latent: np.ndarray) -> np.ndarray:
    return engine.decoder.run(None, {engine._decoder_input: latent})[0].reshape(-1)


def test_chunks_join_to_the_full_models_raw_output(chunked, full_engine, plain):
    text = f"{LONG} Yes. I have set a timer for ten minutes."
    for sentence in full_engine.sentences(text):
        reference = full_engine.infer(sentence.phoneme_ids, plain)
        parts = list(chunked.decode(chunked.latent(sentence.phoneme_ids, plain)))
        joined = np.concatenate(parts)
        assert joined.shape == reference.shape
        assert float(np.max(np.abs(joined - reference))) <= MAX_DIFF
        assert all(p.size == 64 * HOP for p in parts[:-1])  # first (and middle) chunks
        assert 0 < parts[-1].size <= 64 * HOP  # last chunk: the rest


@pytest.mark.parametrize("frames", [40, 64, 128, 192, 200])
def test_chunk_boundaries_on_real_latents(chunked, long_latent, frames):
    """Shorter than a chunk, exactly one chunk, exactly 2 and 3 chunks, 3 chunks + a bit."""
    latent = np.ascontiguousarray(long_latent[:, :, :frames])
    parts = list(chunked.decode(latent))
    assert len(parts) == -(-frames // 64)
    joined = np.concatenate(parts)
    reference = _decode_whole(chunked, latent)
    assert joined.shape == reference.shape == (frames * HOP,)
    assert float(np.max(np.abs(joined - reference))) <= MAX_DIFF


@pytest.mark.parametrize("growth", [2.0, 4.0, 0.0])
def test_growing_chunks_join_exactly(chunked, long_latent, growth):
    engine = _sharing(chunked, 32, 12, growth)
    parts = list(engine.decode(long_latent))
    sizes = chunk_sizes(long_latent.shape[-1], 32, growth)
    assert [p.size for p in parts] == [n * HOP for n in sizes]
    joined = np.concatenate(parts)
    assert float(np.max(np.abs(joined - _decode_whole(chunked, long_latent)))) <= MAX_DIFF


def test_later_sentences_of_a_request_come_in_one_piece(chunked, full_engine, plain):
    """The audio before a later sentence is its buffer: no chunking, no context overhead."""
    first, second = chunked.sentences(f"{LONG} {LONG}")
    assert first.index == 0 and second.index == 1
    assert len(list(chunked.stream_sentence(first, plain))) > 1
    (whole,) = list(chunked.stream_sentence(second, plain))
    raw = full_engine.infer(second.phoneme_ids, plain)
    np.testing.assert_allclose(whole.samples, raw * chunked.gain, atol=2 * MAX_DIFF)


def test_the_opening_window_waits_only_for_the_prior_and_a_short_flow_run(chunked, plain):
    """Issue 20 item 7: the first window's latent comes from the flow over its 80 frames and
    32 of context (not the whole sentence's 316), later windows from one whole run; the audio
    is the encoder's."""
    (sentence,) = chunked.sentences(LONG)
    latent, durations = chunked.encode_in_steps(sentence.phoneme_ids, plain)
    reference, reference_durations = chunked.encode(sentence.phoneme_ids, plain)
    np.testing.assert_array_equal(durations, reference_durations)
    parts = list(chunked.decode(latent))
    assert latent.flow_runs == [64 + 16 + 32, reference.shape[-1]]
    expected = list(chunked.decode(reference))
    assert len(parts) == len(expected) == 5
    for a, b in zip(parts, expected, strict=True):
        assert float(np.max(np.abs(a - b))) <= MAX_DIFF


def test_only_the_opening_streamed_run_takes_the_flow_in_steps(chunked, plain, monkeypatch):
    calls = []
    steps = chunked.encode_in_steps

    def counted(ids, options):
        latent, durations = steps(ids, options)
        calls.append(latent)
        return latent, durations

    monkeypatch.setattr(chunked, "encode_in_steps", counted)
    first, second = chunked.sentences(f"{LONG} {LONG}")
    assert first.opens_request and not second.opens_request
    opening = list(chunked.stream_sentence(first, plain))
    assert len(calls) == 1 and calls[0].flow_runs == [64 + 16 + 32, 316]
    assert len(opening) == 5
    list(chunked.stream_sentence(second, plain))  # decoded whole: the encoder's one run
    list(chunked.stream_sentence(first, replace(plain, whole=True)))
    assert len(calls) == 1


def test_a_short_opening_sentence_runs_its_flow_once(chunked, plain):
    """When the first window's flow run would be more than half the sentence, the wait it
    saves is less than the work it repeats: one run over the whole sentence."""
    (sentence,) = chunked.sentences("I have set a timer for ten minutes.")
    latent, _ = chunked.encode_in_steps(sentence.phoneme_ids, plain)
    frames = latent.shape[-1]
    assert 64 + 16 + 32 < frames < 2 * (64 + 16 + 32)
    reference, _ = chunked.encode(sentence.phoneme_ids, plain)
    parts = list(chunked.decode(latent))
    assert latent.flow_runs == [frames]
    np.testing.assert_array_equal(
        np.concatenate(parts), np.concatenate(list(chunked.decode(reference)))
    )


def test_too_little_flow_context_shows_in_the_first_window(chunked, plain):
    """The flow's exactness can fail: with 8 frames of context the first window differs."""
    (sentence,) = chunked.sentences(LONG)
    z_p, mask = chunked.flow.prior.run(None, chunked.model_inputs(sentence.phoneme_ids, plain))[:2]
    latent = FlowLatent(chunked.flow.run_flow, z_p, mask, 8)
    head = latent[:, :, 0:80]
    whole = chunked.flow.run_flow(z_p, mask)[:, :, 0:80]
    assert latent.flow_runs == [88]
    assert float(np.max(np.abs(head - whole))) > 1e-3


def test_too_little_context_does_not_join(chunked, long_latent):
    """The exactness test can fail: with 4 frames of context the seams show."""
    engine = _sharing(chunked, 64, 4, 1.0)
    joined = np.concatenate(list(engine.decode(long_latent)))
    assert float(np.max(np.abs(joined - _decode_whole(engine, long_latent)))) > 1e-3


def test_stream_is_the_unsplit_audio_times_one_gain(chunked, full_engine, plain):
    """Streamed parts: raw × the manifest's gain (Piper's per-sentence peak is unknown while
    streaming), so they equal the unsplit engine's normalized sentence up to one constant."""
    (sentence,) = chunked.sentences(LONG)
    parts = list(chunked.stream_sentence(sentence, plain))
    assert len(parts) == -(-chunked.latent(sentence.phoneme_ids, plain).shape[-1] // 64) > 1
    assert [p.part for p in parts] == list(range(len(parts)))
    assert [p.last_part for p in parts] == [False] * (len(parts) - 1) + [True]
    assert {p.index for p in parts} == {sentence.index}
    streamed = np.concatenate([p.samples for p in parts])
    whole = chunked.synthesize_sentence(sentence, plain).samples
    np.testing.assert_array_equal(streamed, whole)
    raw = full_engine.infer(sentence.phoneme_ids, plain)
    np.testing.assert_allclose(streamed, raw * chunked.gain, atol=2 * MAX_DIFF)
    unsplit = full_engine.synthesize_sentence(sentence, plain).samples  # raw / peak
    ratio = chunked.gain * float(np.max(np.abs(raw)))
    np.testing.assert_allclose(streamed, unsplit * ratio, atol=2 * MAX_DIFF)
    assert 0.5 < ratio <= 1.0


def test_silence_rides_on_the_last_part(chunked):
    from macbot.core.engines.piper import SynthesisOptions

    options = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, sentence_silence=0.5)
    first, _ = chunked.sentences("Hello there. Goodbye.")
    parts = list(chunked.stream_sentence(first, options))
    assert np.all(parts[-1].samples[-int(0.5 * chunked.sample_rate) :] == 0)
    assert sum(p.samples.size for p in parts) % HOP == int(0.5 * chunked.sample_rate) % HOP


# -- fixed shapes ------------------------------------------------------------------------------


def test_static_decoder_gives_the_same_audio(voice_split, chunked, long_latent, plain):
    voice, folder = voice_split
    cpu = ("CPUExecutionProvider",)
    static = ChunkedEngine.load_split(
        voice, folder, 64, 16, encoder_providers=cpu, decoder_providers=cpu, static=True
    )
    assert static.static_frames == 96
    assert static.decoder.get_inputs()[0].shape == [1, 192, 96]
    assert static.describe()["decoder_providers"] == ["CPUExecutionProvider"]
    for frames in (97, 192, long_latent.shape[-1]):  # longer than a window: exact
        latent = np.ascontiguousarray(long_latent[:, :, :frames])
        joined = np.concatenate(list(static.decode(latent)))
        reference = _decode_whole(chunked, latent)
        assert float(np.max(np.abs(joined - reference))) <= MAX_DIFF


@pytest.mark.parametrize("frames", [1, 40, 95, 96])
def test_static_engine_decodes_short_sentences_exactly(voice_split, chunked, long_latent, frames):
    """Shorter than one window: the dynamic decoder on the CPU takes it (exact)."""
    voice, folder = voice_split
    static = ChunkedEngine.load_split(voice, folder, 64, 16, static=True)
    latent = np.ascontiguousarray(long_latent[:, :, :frames])
    (part,) = list(static.decode(latent))
    reference = _decode_whole(chunked, latent)
    assert part.shape == reference.shape == (frames * HOP,)
    assert float(np.max(np.abs(part - reference))) <= MAX_DIFF


@pytest.mark.parametrize("frames", [40, 95, 96])
def test_static_decoder_pads_short_latents_and_trims(voice_split, chunked, long_latent, frames):
    """``pad_short``: one window, zero-padded at the end, output trimmed to the right length;
    exact when nothing was padded; otherwise zeros are not the convolutions' own edge, and the
    end differs (measured up to 2e-2 on a latent cut mid-word)."""
    voice, folder = voice_split
    static = ChunkedEngine.load_split(voice, folder, 64, 16, static=True, pad_short=True)
    assert static.short_decoder is None
    latent = np.ascontiguousarray(long_latent[:, :, :frames])
    (part,) = list(static.decode(latent))
    reference = _decode_whole(chunked, latent)
    assert part.shape == reference.shape == (frames * HOP,)
    diff = np.abs(part - reference)
    if frames == 96:
        assert float(diff.max()) <= MAX_DIFF
    else:  # the start, far from the padding, is exact
        assert float(diff[: HOP * (frames - 16)].max()) <= MAX_DIFF


def test_padding_a_real_short_sentence_is_close(voice_split, full_engine, plain):
    """A real sentence ends in silence, so padding changes little (about 1e-4 measured)."""
    voice, folder = voice_split
    static = ChunkedEngine.load_split(voice, folder, 64, 16, static=True, pad_short=True)
    (sentence,) = static.sentences("Yes.")
    reference = full_engine.infer(sentence.phoneme_ids, plain)
    audio = static.infer(sentence.phoneme_ids, plain)
    assert audio.shape == reference.shape and audio.size < 96 * HOP
    assert float(np.max(np.abs(audio - reference))) <= 1e-3


def test_static_decoder_size_must_match_chunk_and_context(voice_split):
    voice, folder = voice_split
    small = ChunkedEngine.load_split(voice, folder, 16, 16, static=True)  # decoder.static48
    assert small.static_frames == 48
    with pytest.raises(FileNotFoundError, match="--static-frames 112"):
        ChunkedEngine.load_split(voice, folder, 80, 16, static=True)


# -- the daemon --------------------------------------------------------------------------------


def _streaming_config(optimized_dir, enabled=True):
    return make_config(
        models__tts__optimized_dir=str(optimized_dir),
        models__tts__streaming={"enabled": enabled, "chunk_frames": 64, "context_frames": 16},
    )


def test_synthesizer_streams_with_a_valid_split(voice_split):
    _, folder = voice_split
    synth = Synthesizer(_streaming_config(folder.parent))
    engine = synth.engine()
    assert isinstance(engine, ChunkedEngine)
    chunks = list(synth.stream(LONG))
    assert len(chunks) > 1 and all(c.engine == "piper_chunked" for c in chunks)
    assert engine.describe()["chunk_frames"] == 64


def test_synthesizer_falls_back_without_a_usable_split(voice_split, tmp_path):
    _, folder = voice_split
    disabled = Synthesizer(_streaming_config(folder.parent, enabled=False)).engine()
    assert type(disabled) is PiperEngine
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["source_sha256"] = "f" * 64  # made from another model
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert type(Synthesizer(_streaming_config(tmp_path)).engine()) is PiperEngine
    manifest = json.loads((folder / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(manifest))
    (copy / "decoder.onnx").write_bytes(b"broken")  # a broken file: logged, then fallback
    assert type(Synthesizer(_streaming_config(tmp_path)).engine()) is PiperEngine


def test_streaming_config_keys_are_checked():
    from macbot.config import config_from_dict
    from macbot.errors import ConfigError

    config = config_from_dict({"models": {"tts": {"streaming": {"chunk_frames": 32}}}})
    assert config.tts.streaming.chunk_frames == 32 and config.tts.streaming.context_frames == 12
    with pytest.raises(ConfigError, match=r"models\.tts\.streaming\.context_frames"):
        config_from_dict({"models": {"tts": {"streaming": {"context_frames": -1}}}})
    with pytest.raises(ConfigError, match=r"models\.tts\.streaming\.enabled"):
        config_from_dict({"models": {"tts": {"streaming": {"enabled": "yes"}}}})


def test_the_split_engine_runs_the_worker_plan(voice_split):
    """Issue 10: the chunked engine was loaded without the worker plan's options (all-core
    threads per worker, memory pattern on). Now both of its sessions come from the plan, with
    spinning off because they take turns."""
    _, folder = voice_split
    config = make_config(
        models__tts__optimized_dir=str(folder.parent),
        models__tts__streaming={"enabled": True},
        voice_assistant__performance={"tts_intra_op_threads": 1, "tts_memory_arena": False},
    )
    synth = Synthesizer(config)
    engine = synth.engine()
    assert isinstance(engine, ChunkedEngine)
    assert engine.flow is not None and engine.encoder is engine.flow  # the encoder's halves
    for session in (engine.flow.prior, engine.flow.flow, engine.decoder):
        opts = session.get_session_options()
        assert opts.intra_op_num_threads == synth.plan.intra_op_threads == 1
        assert not opts.enable_mem_pattern and not opts.enable_cpu_mem_arena
        assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    synth.close()


def test_finding_a_split_hashes_the_voice_once(voice_split, monkeypatch):
    """Issue 10: find_split re-hashed the 63 MB voice on every load."""
    from macbot.core import hashing
    from macbot.core.engines.chunked import find_split

    voice, folder = voice_split
    calls = []
    real = hashing.file_sha256
    monkeypatch.setattr(hashing, "file_sha256", lambda path: calls.append(path) or real(path))
    hashing.forget()
    for _ in range(3):
        assert find_split(voice, folder.parent) == folder
    assert len(calls) <= 1  # once, or never when the hash index already had it
    hashing.forget()  # a fresh process: the index beside the models answers
    assert find_split(voice, folder.parent) == folder
    assert len(calls) <= 1


def test_release_arena_runs_on_the_dynamic_and_the_static_split(voice_split, chunked, plain):
    """Issue 11: idle release shrinks both sessions' arenas with one tiny run each; the engines
    synthesize as before afterwards."""
    voice, folder = voice_split
    static = ChunkedEngine.load_split(voice, folder, 64, 16, static=True)
    for engine in (chunked, static):
        before = np.concatenate([c.samples for c in engine.synthesize("Hello there.", plain)])
        engine.release_arena()
        after = np.concatenate([c.samples for c in engine.synthesize("Hello there.", plain)])
        assert np.array_equal(before, after)
