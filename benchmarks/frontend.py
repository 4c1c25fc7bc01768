"""The ``frontend`` suite: does the text front end make LLM replies sound as a person says them?

For each reply of :data:`~benchmarks.replies.REPLIES` (markdown, emoji, numbers,
money, times, dates, units, URLs …), three contenders are synthesized with the bundled voice
(noise 0) and heard by whisper tiny.en:

- **spoken form**: the hand-written spoken form, spoken as is (the front end off): the best
  the voice and whisper can do;
- **front end**: the reply as typed, through the front end (the daemon's default);
- **no front end**: the reply as typed, spoken as written (the daemon before the front end).

Scores: corpus WER against the spoken form (both sides put through the same front end and
the toolkit's normalization first, so that whisper writing "$4.50" and the reference saying
"four dollars and fifty cents" match; the front end's "eigh" for the letter A counts as "a"),
and the markup or symbol names heard (words such as "asterisk" or "slash" heard more often
than the spoken form says them). The front end's own cost is timed per sentence (piper's
sentence split of its output). Targets (issue 13): WER within 3 points of the spoken form, no
markup names, ≤ 2 ms per sentence.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter

from macbot.config import config_from_dict
from macbot.core.synthesizer import Synthesizer
from macbot.tools.toolkit.transcriber import Transcriber, normalize, word_error_rate

from .harness import DETERMINISTIC
from .options import BenchOptions
from .replies import REPLIES

SYMBOL_WORDS = frozenset(
    [
        "asterisk",
        "asterisks",
        "hash",
        "hashtag",
        "pound",
        "backtick",
        "underscore",
        "pipe",
        "tilde",
        "caret",
        "bracket",
        "brackets",
        "parenthesis",
        "brace",
        "slash",
        "backslash",
        "colon",
        "semicolon",
        "equals",
        "ampersand",
        "percent",
        "dollar",
        "degree",
        "star",
        "grinning",
        "popper",
        "automobile",
        "alarm",
        "soccer",
        "smiley",
        "emoji",
        "http",
        "https",
        "www",
        "greater",
        "less",
        "dash",
    ]
)
"""Words that betray markup, symbols or emoji read by name ("sun", ☀️'s name, is left out:
whisper hears "sunrise" as "sun rises")."""

SPOKEN = "spoken form, spoken as is"
FRONT_END = "reply through the front end"
RAW = "reply as typed, no front end"


def frontend_suite(bench: BenchOptions) -> dict:
    """WER and symbol names heard for the replies with and without the front end, against
    their spoken forms; and the front end's time per sentence."""
    report = bench.reporter
    report.step("loading the voice and whisper")
    config = config_from_dict(
        {
            "models": {"tts": {"piper": DETERMINISTIC}},
            "voice_assistant": {
                "performance": {"tts_cache_enabled": False, "tts_cache_persist": False}
            },
        }
    )
    synth = Synthesizer(config)
    synth.warmup()
    transcriber = Transcriber(threads=2)
    on = synth.text_options()
    off = dataclasses.replace(on, enabled=False, ssml=False, say_commands=False)
    frontend = synth.frontend()
    contenders = {
        SPOKEN: lambda reply, spoken: synth.synthesize(spoken, text_options=off),
        FRONT_END: lambda reply, spoken: synth.synthesize(reply, text_options=on),
        RAW: lambda reply, spoken: synth.synthesize(reply, text_options=off),
    }
    heard: dict[str, list[str]] = {name: [] for name in contenders}
    audio: dict[str, float] = dict.fromkeys(contenders, 0.0)
    report.step("synthesize and transcribe", len(REPLIES))
    for reply, spoken in REPLIES:
        for name, speak in contenders.items():
            result = speak(reply, spoken)
            audio[name] += result.duration
            heard[name].append(transcriber.transcribe(result.samples, result.sample_rate))
        report.advance()
    synth.close()

    def words(text: str) -> str:
        # the front end writes the letter A "eigh" for the voice; compare it as "a"
        return " ".join(
            "a" if w == "eigh" else w for w in normalize(frontend.process(text, on).text).split()
        )

    references = [words(spoken) for _reply, spoken in REPLIES]
    seconds, sentences = _time_front_end(synth, rounds=max(bench.rounds, 1) * 10)
    rows = []
    details = []
    base = None
    for name in contenders:
        hypotheses = [words(h) for h in heard[name]]
        wer = word_error_rate(references, hypotheses) * 100
        base = wer if base is None else base
        symbols = sum(extra_symbol_words(r, h) for r, h in zip(references, hypotheses, strict=True))
        rows.append(
            {
                "contender": name,
                "wer_%": round(wer, 2),
                "vs_spoken_points": round(wer - base, 2),
                "symbol_words_heard": symbols,
                "audio_s": round(audio[name], 1),
                "frontend_ms_per_sentence": (
                    round(seconds / sentences * 1000, 4) if name == FRONT_END else "-"
                ),
            }
        )
    for (reply, spoken), index in zip(REPLIES, range(len(REPLIES)), strict=True):
        details.append(
            {
                "reply": reply,
                "spoken": spoken,
                **{name: heard[name][index] for name in contenders},
            }
        )
    return {
        "suite": "frontend",
        "replies": len(REPLIES),
        "sentences": sentences,
        "rows": rows,
        "details": details,
    }


def extra_symbol_words(reference: str, hypothesis: str) -> int:
    """Symbol words heard more often than the spoken form says them."""
    ref = Counter(w for w in reference.split() if w in SYMBOL_WORDS)
    hyp = Counter(w for w in hypothesis.split() if w in SYMBOL_WORDS)
    return sum(max(0, count - ref[word]) for word, count in hyp.items())


def _time_front_end(synth: Synthesizer, rounds: int) -> tuple[float, int]:
    """Seconds the front end takes per pass over every reply (best of ``rounds``), and the
    sentences its output has (piper's own split)."""
    frontend = synth.frontend()
    options = synth.text_options()
    engine = synth.engine()
    sentences = 0
    for reply, _spoken in REPLIES:
        for segment in frontend.process(reply, options).segments:
            if not segment.is_pause:
                sentences += len(engine.sentences(segment.text))
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for reply, _spoken in REPLIES:
            frontend.process(reply, options)
        best = min(best, time.perf_counter() - started)
    return best, sentences
