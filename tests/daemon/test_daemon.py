"""The daemon core over real HTTP: parallel workers, fairness, streaming, cache, playback queue."""

from __future__ import annotations

import io
import shutil
import threading
import time

import numpy as np
import pytest
import requests
import soundfile as sf
from conftest import RecordingOutput, make_config, start_server

from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice
from macbot.daemon.state import state_of

PARAGRAPH = (
    "Good morning. The weather today is sunny with a light breeze. "
    "Your next meeting starts in fifteen minutes. I have set a timer for ten minutes."
)
LONG = " ".join(
    [
        "The package you ordered last Tuesday will arrive tomorrow before noon.",
        "Turning off the lights in the living room and the kitchen now.",
        "There are three new messages from your team about the quarterly report.",
    ]
)


def wav_int16(content: bytes) -> np.ndarray:
    data, _ = sf.read(io.BytesIO(content), dtype="int16")
    return data


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def server_factory():
    """Start real servers with their own synthesizer config; stop them afterwards."""
    started = []

    def start(output: RecordingOutput | None = None, **sections):
        config = make_config(**sections)
        live, server, thread = start_server(config, output or RecordingOutput())
        started.append((live, server, thread))
        return live

    yield start
    for live, server, thread in started:
        server.request_stop()
        thread.join(timeout=5)
        state_of(live.app).player.close()
        live.synth.close()


# -- parallel workers and ordering --------------------------------------------------------------


def test_parallel_output_is_identical_to_sequential(live_server):
    """With noise 0, sentences run on several workers but come back exactly as run one by one."""
    synth = Synthesizer(make_config(voice_assistant__performance={"tts_workers": 3}))
    assert synth.workers == 3 and synth.intra_op_threads >= 1
    engine = synth.engine()
    options = synth.default_options()
    sequential = np.concatenate([c.samples for c in engine.synthesize(PARAGRAPH, options)])
    result = synth.synthesize(PARAGRAPH)
    assert not result.cached
    assert np.array_equal(result.samples, sequential)
    synth.close()

    resp = live_server.post("/speak", json={"text": PARAGRAPH, "play": False})
    assert resp.status_code == 200 and resp.headers["X-Cache"] == "miss"
    data, _ = sf.read(io.BytesIO(resp.content), dtype="float32")
    assert np.max(np.abs(data - sequential)) < 2 / 32767


def test_concurrent_requests_each_get_their_own_audio(live_server):
    texts = [f"Request number {n}. Two sentences." for n in range(4)]
    expected = {t: live_server.synth.synthesize(t).samples for t in texts}
    live_server.synth.cache.clear()
    got: dict[str, bytes] = {}
    errors: list[BaseException] = []

    def call(text: str) -> None:
        try:
            resp = requests.post(
                live_server.url + "/speak", json={"text": text, "play": False}, timeout=60
            )
            resp.raise_for_status()
            got[text] = resp.content
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for text in texts:
        data, _ = sf.read(io.BytesIO(got[text]), dtype="float32")
        assert np.max(np.abs(data - expected[text])) < 2 / 32767


def test_short_request_finishes_before_a_long_one_submitted_just_before(server_factory):
    """Over HTTP with one worker: FIFO would make the short request wait for all of LONG."""
    live = server_factory(
        voice_assistant__performance={"tts_workers": 1, "tts_cache_enabled": False}
    )
    pool = live.synth.pool
    finished: list[str] = []

    def call(name: str, text: str) -> None:
        resp = requests.post(live.url + "/speak", json={"text": text, "play": False}, timeout=60)
        assert resp.status_code == 200
        finished.append(name)

    long_thread = threading.Thread(target=call, args=("long", LONG))
    long_thread.start()
    assert wait_for(lambda: pool.running_tasks() >= 1)
    short_thread = threading.Thread(target=call, args=("short", "Okay."))
    short_thread.start()
    short_thread.join(60)
    long_thread.join(60)
    assert finished == ["short", "long"]


# -- streaming -----------------------------------------------------------------------------------


def test_streamed_pcm_equals_the_wav_samples_in_order(live_server):
    whole = live_server.post("/speak", json={"text": PARAGRAPH, "play": False})
    expected = wav_int16(whole.content)
    live_server.synth.cache.clear()  # stream a fresh synthesis, sentence by sentence
    resp = live_server.session.post(
        live_server.url + "/speak",
        json={"text": PARAGRAPH, "stream": True, "format": "pcm"},
        stream=True,
        timeout=60,
    )
    assert resp.status_code == 200
    assert resp.headers["Transfer-Encoding"] == "chunked"
    assert resp.headers["X-Sample-Rate"] == "22050"
    assert resp.headers["X-Cache"] == "miss"
    pieces = [p for p in resp.iter_content(chunk_size=None) if p]
    assert len(pieces) >= 2  # more than one piece: it was not sent as one block
    streamed = np.frombuffer(b"".join(pieces), dtype="<i2")
    assert np.array_equal(streamed, expected)


def test_streamed_wav_has_an_open_ended_header(live_server):
    resp = live_server.post(
        "/speak", json={"text": PARAGRAPH, "stream": True, "format": "wav"}, stream=True
    )
    body = resp.content
    assert resp.headers["Content-Type"] == "audio/wav"
    assert body[:4] == b"RIFF" and body[4:8] == b"\xff\xff\xff\xff"
    assert body[40:44] == b"\xff\xff\xff\xff"
    whole = live_server.post("/speak", json={"text": PARAGRAPH, "play": False})
    expected = wav_int16(whole.content)
    assert np.array_equal(np.frombuffer(body[44:], dtype="<i2"), expected)


def test_synthesizer_stream_is_ordered_and_fills_the_cache(shared_synth):
    shared_synth.cache.clear()
    chunks = list(shared_synth.stream(PARAGRAPH))
    assert [c.index for c in chunks] == list(range(len(chunks))) and len(chunks) >= 3
    again = list(shared_synth.stream(PARAGRAPH))
    assert len(again) == 1 and again[0].cached
    assert np.array_equal(again[0].samples, np.concatenate([c.samples for c in chunks]))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "Hi.", "stream": True, "format": "vorbis"}, "'format'"),
        ({"text": "Hi.", "stream": True, "play": True}, "'stream'"),
        ({"text": "Hi.", "stream": "yes"}, "'stream'"),
    ],
)
def test_bad_stream_requests_are_400(live_server, body, message):
    resp = live_server.post("/speak", json=body)
    assert resp.status_code == 400 and message in resp.json()["error"]
    assert live_server.output.played == []


# -- phrase cache ----------------------------------------------------------------------------


def test_cache_byte_budget_over_http(server_factory):
    live = server_factory(voice_assistant__performance={"tts_cache_max_mb": 0.3})
    for text in ("The first phrase is here.", "A second, different phrase.", "And a third."):
        assert live.post("/speak", json={"text": text, "play": False}).status_code == 200
    perf = live.get("/tts-performance").json()
    assert perf["cache"]["evictions"] >= 1
    assert perf["performance"]["cache_evictions"] == perf["cache"]["evictions"]
    assert perf["cache"]["bytes"] <= 0.3 * 1024 * 1024


def test_cache_persists_across_restarts_and_clears(tmp_path, server_factory):
    folder = tmp_path / "cache"
    perf = {"tts_cache_persist": True, "tts_cache_dir": str(folder)}
    first = server_factory(voice_assistant__performance=perf)
    resp = first.post("/speak", json={"text": "Persist me, please.", "play": False})
    assert resp.headers["X-Cache"] == "miss"
    assert len(list(folder.glob("*.npz"))) == 1
    (folder / ("0" * 64 + ".npz")).write_bytes(b"not a zip file")  # a corrupted entry

    second = server_factory(voice_assistant__performance=perf)
    assert second.synth.cache.stats()["skipped_files"] == 1
    again = second.post("/speak", json={"text": "Persist  me, please. ", "play": False})
    assert again.headers["X-Cache"] == "hit"
    assert again.content == resp.content

    cleared = second.session.delete(second.url + "/cache", timeout=10).json()
    assert cleared == {"cleared": 1}
    assert list(folder.glob("*.npz")) == []
    assert second.post("/cache/clear").json() == {"cleared": 0}


def test_a_different_model_file_never_hits(tmp_path, server_factory):
    """Same voice name, text and options; only the model's bytes (so its sha256) differ."""
    folder = tmp_path / "cache"
    voice = bundled_voice()
    same, other = tmp_path / "same", tmp_path / "other"
    for where in (same, other):
        where.mkdir()
        shutil.copy(voice.model_path, where / voice.model_path.name)
        shutil.copy(voice.config_path, where / voice.config_path.name)
    with open(other / voice.model_path.name, "ab") as fh:
        fh.write(b"\x98\x06\x01")  # an unknown protobuf field: the same network, other bytes
    perf = {"tts_cache_persist": True, "tts_cache_dir": str(folder)}
    text = {"text": "Which model made me?", "play": False}

    def start(where):
        piper = {"voice_path": str(where / voice.model_path.name), "noise_scale": 0.0}
        return server_factory(
            models__tts__piper={**piper, "noise_w_scale": 0.0},
            voice_assistant__performance=perf,
        )

    assert start(same).post("/speak", json=text).headers["X-Cache"] == "miss"
    assert start(same).post("/speak", json=text).headers["X-Cache"] == "hit"  # a copy: same sha
    assert start(other).post("/speak", json=text).headers["X-Cache"] == "miss"


# -- playback queue ------------------------------------------------------------------------------


def test_interrupt_stops_playing_and_drops_the_queue(live_server):
    output = live_server.output
    output.release.clear()  # the "sound card" holds the first sentence until stopped
    ids = []
    for text in ("First thing to say.", "Second thing.", "Third thing."):
        resp = live_server.post("/speak", json={"text": text})
        assert resp.status_code == 200 and resp.json()["status"] == "queued"
        ids.append(resp.json()["job_id"])
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert wait_for(lambda: len(output.played) == 1)
    perf = live_server.get("/tts-performance").json()
    assert perf["playback"]["playing"] and perf["playback"]["queued_jobs"] == 2

    stopped = live_server.post("/interrupt").json()
    assert (stopped["stopped"], stopped["dropped"], stopped["job_id"]) == (1, 2, ids[0])
    assert stopped["played_seconds"] == 0.0  # this sound card reports nothing played
    player = state_of(live_server.app).player
    assert wait_for(lambda: not player.playing and player.queued() == 0)
    output.release.set()
    player.enqueue([]).wait(10)
    assert len(output.played) == 1 and output.stopped >= 1

    resp = live_server.post("/speak", json={"text": "After the barge-in."})
    assert resp.json()["status"] == "queued"
    player.enqueue([]).wait(10)
    assert len(output.played) == 2


def test_devices(live_server):
    body = live_server.get("/devices").json()
    assert body["available"] is True and body["devices"][0]["name"] == "Recording output"
    live_server.output.is_available = False
    body = live_server.get("/devices").json()
    assert body["available"] is False and body["devices"] == []


def test_devices_without_portaudio_is_a_message(server_factory):
    """The real sounddevice output on this machine (no PortAudio, no sound card)."""
    from macbot.core.playback import SoundDeviceOutput
    from macbot.daemon.app import create_app
    from macbot.errors import NoAudioDeviceError

    config = make_config(voice_assistant__audio={"output_device": "3"})
    app = create_app(config, synthesizer=Synthesizer(config))
    output = state_of(app).player.output
    assert isinstance(output, SoundDeviceOutput) and output.device == 3
    body = app.test_client().get("/devices").get_json()
    try:
        output.devices()
    except NoAudioDeviceError as exc:
        assert body == {"devices": [], "output_device": "3", "available": False, "error": str(exc)}
    else:  # a machine with audio: the host's list
        assert body["available"] == bool(body["devices"])
    state_of(app).synthesizer.close()


def test_tts_performance_is_complete(live_server):
    live_server.post("/speak", json={"text": PARAGRAPH, "play": False})
    live_server.post("/speak", json={"text": PARAGRAPH, "play": False})
    perf = live_server.get("/tts-performance").json()["performance"]
    for key in (
        "avg_duration",
        "p50_duration",
        "p95_duration",
        "real_time_factor",
        "avg_time_to_first_audio",
        "p95_time_to_first_audio",
        "cache_hits",
        "cache_misses",
        "cache_evictions",
        "cache_bytes",
        "active_jobs",
        "queued_jobs",
        "errors",
    ):
        assert key in perf, key
    assert perf["cache_hits"] >= 1 and perf["cache_bytes"] > 0
    assert 0 < perf["avg_time_to_first_audio"] <= perf["avg_duration"]


def test_session_options_follow_the_worker_plan():
    """The worker plan's session settings are what every engine of the synthesizer runs with."""
    plan = Synthesizer(
        make_config(voice_assistant__performance={"tts_workers": 2, "tts_intra_op_threads": 3})
    )
    opts = plan.engine().session.get_session_options()
    assert (plan.workers, opts.intra_op_num_threads) == (2, 3)
    assert opts.enable_cpu_mem_arena and not opts.enable_mem_pattern  # the defaults
    plan.close()
    sequential = Synthesizer(
        make_config(
            voice_assistant__performance={
                "tts_parallel_processing": False,
                "tts_memory_arena": False,
            }
        )
    )
    opts = sequential.plan.session.options()
    assert sequential.workers == 1 and opts.intra_op_num_threads == 0  # all cores, one run
    assert not opts.enable_cpu_mem_arena and not opts.enable_mem_pattern
    sequential.close()
