"""Live speech (issue 14): text streamed in over the WebSocket, and word timings against whisper.

- ``websocket``: replies streamed in word by word at 15 words/s over the daemon's WebSocket
  (the bundled voice's split: streaming inside clauses). Per reply: the time from the moment
  the first sentence's last word is sent to the first audio received, against piper-tts's time
  to synthesize that whole first sentence (``PiperVoice.synthesize``, its first chunk), in
  interleaved rounds; medians. Target: ≤ 0.6×. Speech that starts before the sentence's last
  word (an earlier clause) counts as 0 s: the listener waits for nothing.
- ``word-timings``: on sentences no test, calibration or tuning set uses
  (:data:`UNSEEN_SENTENCES`), the daemon's word timings (``/speak`` ``timestamps``, through
  the synthesizer) against whisper tiny.en's own word timings (faster-whisper
  ``word_timestamps=True``) on the same audio: words paired in order (after normalization),
  median absolute difference of their start times. Target: ≤ 0.10 s.

Noise scales 0 (every round says the same), phrase cache off (every round synthesizes).
"""

from __future__ import annotations

import difflib
import json
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from piper import PiperVoice, SynthesisConfig
from websockets.sync.client import connect

from macbot.config import AppConfig, config_from_dict
from macbot.core.engines.chunked import find_split, split_dir_for
from macbot.core.manifests import Manifest
from macbot.core.synthesizer import Synthesizer
from macbot.core.voices import bundled_voice
from macbot.daemon.app import create_app
from macbot.daemon.state import state_of
from macbot.daemon.websocket import SpeechSocket
from macbot.tools.split import split_voice
from macbot.tools.toolkit.transcriber import Transcriber

from .common import first_sentence, p50
from .harness import DETERMINISTIC
from .options import BenchOptions

WORDS_PER_SECOND = 15.0

REPLIES = [
    "The dishwasher finished its cycle about ten minutes ago and the dishes are still warm. "
    "Do you want me to remind you to empty it?",
    "I checked the train schedule for tomorrow morning and the earliest direct connection "
    "leaves at six forty. Shall I set an alarm?",
    "Your electricity bill for last month came to eighty four dollars, which is a little lower "
    "than in October. The payment is due on the fifteenth.",
    "Sure. I have moved your dentist appointment to Thursday afternoon and sent a confirmation "
    "to your email address.",
    "The living room window has been open since noon while the heating is running at full "
    "power. Should I close it for you?",
    "Here is the plan for the evening: dinner at seven, then the movie at nine, and the taxi is "
    "booked for eleven.",
]
"""Replies as an assistant writes them: first sentences of 4 to 20 words, with and without a
comma (a clause may start speech before the sentence ends)."""

UNSEEN_SENTENCES = [
    "The neighbours asked whether we could feed their cat on Saturday.",
    "Your running shoes have covered almost six hundred kilometres now.",
    "A thunderstorm is expected to reach the coast shortly after midnight.",
    "The library extended your loan of the history book by three weeks.",
    "Please remember that the bakery on the corner is closed on Mondays.",
    "I moved the photos from last summer into a separate album.",
    "The printer in the study has run out of black ink again.",
    "Grandma's birthday party starts at four o'clock in the garden.",
    "Traffic on the bridge is moving slowly because of road works.",
    "The washing machine will be finished in twenty five minutes.",
    "Your subscription to the cooking magazine renews next Wednesday.",
    "It is quite windy outside, so take a warm jacket with you.",
]
"""Sentences that no test, calibration, verification or tuning set of the project uses."""


def _split(voice) -> Path:
    """The folder of the voice's split with phoneme durations: the configured optimized folder's
    when it has one, else a fresh split (temporary)."""
    folder = find_split(voice, AppConfig().tts.optimized_dir)
    if folder is not None and Manifest.load(folder).parameters.get("durations_output"):
        return folder.parent
    tmp = Path(tempfile.mkdtemp(prefix="macbot-live-bench-"))
    split_voice(voice, tmp)
    return split_dir_for(voice, tmp).parent


def _synthesizer(optimized_dir: Path) -> Synthesizer:
    config = config_from_dict(
        {
            "models": {
                "tts": {
                    "piper": DETERMINISTIC,
                    "optimized_dir": str(optimized_dir),
                    "streaming": {"enabled": True},
                }
            },
            "voice_assistant": {
                "performance": {"tts_cache_enabled": False, "tts_cache_persist": False}
            },
        }
    )
    synth = Synthesizer(config)
    synth.warmup()
    return synth


def stream_reply(url: str, text: str, rate: float = WORDS_PER_SECOND) -> float:
    """Send ``text`` word by word at ``rate`` words/s; return seconds from sending the first
    sentence's last word to the first audio (negative: audio came before it)."""
    words = text.split(" ")
    last = len(first_sentence(text).split(" ")) - 1
    sent_last: list[float] = []
    first_audio: list[float] = []
    with connect(url) as ws:
        ws.send(json.dumps({"type": "start"}))
        json.loads(ws.recv(timeout=60))  # ready

        def send() -> None:
            started = time.perf_counter()
            for i, word in enumerate(words):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                ws.send(json.dumps({"type": "text", "text": ("" if i == 0 else " ") + word}))
                if i == last:
                    sent_last.append(time.perf_counter())
            ws.send(json.dumps({"type": "close"}))

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        for message in ws:
            if isinstance(message, bytes) and not first_audio:
                first_audio.append(time.perf_counter())
        sender.join()
    return first_audio[0] - sent_last[0]


def websocket_suite(bench: BenchOptions) -> dict:
    """First audio of replies streamed in at 15 words/s over the WebSocket, from the first
    sentence's last word, against piper-tts synthesizing that whole sentence."""
    report = bench.reporter
    report.step("splitting the voice (when needed), loading the daemon and piper-tts")
    voice = bundled_voice()
    synth = _synthesizer(_split(voice))
    state = state_of(create_app(synth.config, synthesizer=synth))
    socket = SpeechSocket(lambda: state, "127.0.0.1", 0).start()
    piper_voice = PiperVoice.load(voice.model_path)
    piper_cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)

    def piper_first(text: str) -> float:
        started = time.perf_counter()
        next(iter(piper_voice.synthesize(first_sentence(text), piper_cfg)))
        return time.perf_counter() - started

    piper_first(REPLIES[0])
    stream_reply(socket.url, REPLIES[0], rate=1000.0)  # warm every path
    piper_times: dict[str, list[float]] = {t: [] for t in REPLIES}
    ws_times: dict[str, list[float]] = {t: [] for t in REPLIES}
    report.step("interleaved rounds", bench.rounds * len(REPLIES))
    try:
        for _ in range(bench.rounds):
            for text in REPLIES:
                piper_times[text].append(piper_first(text))
                ws_times[text].append(stream_reply(socket.url, text))
                report.advance()
    finally:
        socket.stop()
        synth.close()
    rows = []
    for text in REPLIES:
        waited = p50([max(0.0, t) for t in ws_times[text]])
        piper = p50(piper_times[text])
        rows.append(
            {
                "first sentence": first_sentence(text)[:48],
                "words": len(first_sentence(text).split()),
                "piper_whole_sentence_s": round(piper, 3),
                "ws_first_audio_after_last_word_s": round(waited, 3),
                "raw_p50_s": round(p50(ws_times[text]), 3),
                "ratio": round(waited / piper, 3),
            }
        )
    median_ratio = statistics.median(r["ratio"] for r in rows)
    rows.append(
        {
            "first sentence": "median over replies",
            "words": "",
            "piper_whole_sentence_s": round(p50([r["piper_whole_sentence_s"] for r in rows]), 3),
            "ws_first_audio_after_last_word_s": round(
                p50([r["ws_first_audio_after_last_word_s"] for r in rows]), 3
            ),
            "raw_p50_s": "",
            "ratio": round(median_ratio, 3),
        }
    )
    return {
        "suite": "websocket",
        "rate_words_per_s": WORDS_PER_SECOND,
        "rounds": bench.rounds,
        "median_ratio": median_ratio,
        "target": "<= 0.6",
        "rows": rows,
    }


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", word.lower())


def pair_words(
    ours: list[tuple[str, float, float]], heard: list[tuple[str, float, float]]
) -> list[tuple[tuple[str, float, float], tuple[str, float, float]]]:
    """The words of both lists that are the same word, paired in order (difflib's matching
    blocks over the normalized words)."""
    a = [_norm(w) for w, _, _ in ours]
    b = [_norm(w) for w, _, _ in heard]
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    pairs = []
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pairs.append((ours[block.a + k], heard[block.b + k]))
    return pairs


def word_timings_suite(bench: BenchOptions) -> dict:
    """The daemon's word timings against whisper tiny.en's, on unseen sentences."""
    report = bench.reporter
    report.step("splitting the voice (when needed), loading it and whisper")
    synth = _synthesizer(_split(bundled_voice()))
    transcriber = Transcriber(threads=2)
    rows = []
    starts: list[float] = []
    ends: list[float] = []
    signed: list[float] = []
    report.step("synthesize and align", len(UNSEEN_SENTENCES))
    try:
        for text in UNSEEN_SENTENCES:
            result = synth.synthesize(text)
            ours = [(w.word, w.start, w.end) for w in result.words]
            heard = transcriber.words(result.samples, result.sample_rate)
            pairs = pair_words(ours, heard)
            d_start = [abs(o[1] - h[1]) for o, h in pairs]
            d_end = [abs(o[2] - h[2]) for o, h in pairs]
            starts += d_start
            signed += [o[1] - h[1] for o, h in pairs]
            ends += d_end
            rows.append(
                {
                    "sentence": text[:48],
                    "words": len(ours),
                    "paired": len(pairs),
                    "start_abs_diff_p50_s": round(p50(d_start), 3),
                    "end_abs_diff_p50_s": round(p50(d_end), 3),
                }
            )
            report.advance()
    finally:
        synth.close()
    rows.append(
        {
            "sentence": "all words",
            "words": sum(r["words"] for r in rows),
            "paired": sum(r["paired"] for r in rows),
            "start_abs_diff_p50_s": round(p50(starts), 3),
            "end_abs_diff_p50_s": round(p50(ends), 3),
        }
    )
    return {
        "suite": "word-timings",
        "median_start_abs_diff_s": p50(starts),
        "median_end_abs_diff_s": p50(ends),
        "median_start_diff_ours_minus_whisper_s": p50(signed),
        "target": "<= 0.10 s",
        "rows": rows,
    }
