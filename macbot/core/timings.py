"""Word timings: the model's phoneme durations → the input's words.

Two halves meet here:

- **Labels** (before synthesis): the text front end says which input word each spoken word
  stands for (a :class:`~macbot.core.text.segments.Span` keeps the written form, so
  ``"$1,234"`` spoken as six words stays ONE input word). :func:`label_segment` gives each
  sentence of a segment one label per phoneme word of the voice (the pieces of the sentence's
  phonemes between spaces, as espeak made them).
- **Times** (after the model ran): the duration predictor's frames per phoneme id
  (piper's ``w_ceil``, already scaled by the length scale, so speed changes are in it) give
  each phoneme word its first and last frame (:func:`phoneme_word_frames`);
  :func:`sentence_words` joins labels and frames into :class:`~macbot.core.audio.WordTiming`
  s, one per input word, consecutive pieces of one input word merged.

Frames → seconds: ``frames × hop_length / sample_rate`` (256 samples per frame in Piper voices).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .audio import AudioChunk, WordTiming
from .text.segments import Segment

PAD, BOS, EOS, SPACE = "_", "^", "$", " "
"""Piper's special phonemes: padding after every phoneme, sentence start and end, word gap."""

NO_DURATIONS = (
    "the engine has no phoneme durations yet: the background optimizer's first step makes the "
    "voice's split, which has them, and swaps it in (within a minute of a fresh start); or run "
    "`macbot split`, or use a voice model with piper's alignment output "
    "(python -m piper.patch_voice_with_alignment)"
)
"""Why a request asking for word timings gets none."""

_EDGE_OPEN = "\"'“”‘’([{<«*_`¿¡"
_EDGE_CLOSE = "\"'“”‘’)]}>»*_`,;:!?…"


@dataclass(frozen=True)
class WordLabel:
    """One spoken word (as the front end wrote it for the voice) and the input word it says."""

    key: int | None
    """The input word's position in its utterance: consecutive spoken words with the same key
    are one input word (``"1,234"`` said as several); ``None``: inserted by the front end."""
    word: str
    """The input word as written (edge punctuation removed)."""
    weight: int = 1
    """Letters of the spoken word: when espeak says two spoken words as one phoneme word
    (``"in the"`` → ``ɪnðə``), each gets a share of its time in proportion."""
    token: int = 0
    """The spoken word's position in its utterance (the phrase cache keeps times per spoken
    word, so that another text with the same spoken form can regroup them)."""


@dataclass
class Numbering:
    """The next free input-word key and spoken-word position, carried across segments."""

    key: int = 0
    token: int = 0


def input_word(token: str) -> str:
    """``token`` of the input without the punctuation around it (``"world!"`` → ``"world"``;
    a final ``.`` stays when the word has another one: ``"U.S."``)."""
    word = token.strip().lstrip(_EDGE_OPEN).rstrip(_EDGE_CLOSE)
    if word.endswith(".") and "." not in word[:-1]:
        word = word.rstrip(".")
    return word


def is_word(token: str) -> bool:
    """A token that is said: it has a letter or digit (IPA letters and marks count)."""
    return any(ch.isalnum() or unicodedata.category(ch).startswith("M") for ch in token)


# -- labels ------------------------------------------------------------------------------------


def spoken_tokens(segment: Segment, numbering: Numbering | None = None) -> list[WordLabel]:
    """The segment's spoken words in order, each with its input word; ``numbering`` (advanced
    here) carries the keys and positions on from the segments before.

    A span whose spoken text is its source (plain text) gives each of its words its own input
    word; a replaced span (``"$5"`` → ``"five dollars"``, a lexicon's phonemes) gives all its
    words the one input word it came from; a span the front end inserted gives none.
    """
    numbering = numbering if numbering is not None else Numbering()
    chars: list[str] = []
    owners: list[tuple[int | None, str]] = []
    for span in segment.spans:
        spoken = f" {span.spoken} " if span.phonemes else span.spoken
        if not span.phonemes and spoken == span.source:
            for piece in re.split(r"(\s+)", spoken):
                owner: tuple[int | None, str] = (None, "")
                if piece and not piece.isspace() and is_word(piece):
                    owner = (numbering.key, input_word(piece))
                    numbering.key += 1
                chars.extend(piece)
                owners.extend([owner] * len(piece))
            continue
        owner = (None, "")
        if span.source.strip() and is_word(span.source):
            owner = (numbering.key, input_word(span.source))
            numbering.key += 1
        chars.extend(spoken)
        owners.extend([owner] * len(spoken))
    tokens: list[WordLabel] = []
    start = None
    for i, ch in enumerate([*chars, " "]):
        if ch.isspace():
            if start is not None:
                token = "".join(chars[start:i])
                if is_word(token):
                    # the token's input word: that of its first letter or digit
                    key, word = next(owners[j] for j in range(start, i) if is_word(chars[j]))
                    weight = sum(1 for c in token if is_word(c))
                    tokens.append(WordLabel(key, word, weight, numbering.token))
                    numbering.token += 1
                start = None
        elif start is None:
            start = i
    return tokens


def utterance_tokens(segments: Sequence[Segment]) -> list[WordLabel]:
    """The spoken words of all ``segments`` (pauses have none), numbered as the synthesizer
    numbers them (see :func:`label_segment`)."""
    numbering = Numbering()
    return [t for seg in segments if not seg.is_pause for t in spoken_tokens(seg, numbering)]


def phoneme_pieces(phonemes: str) -> list[str]:
    """A sentence's phonemes split at word gaps (the same pieces as its ids split at the space
    id, see :func:`phoneme_word_frames`)."""
    return phonemes.split(SPACE)


PieceLabels = tuple[WordLabel, ...]
"""The input words said in one phoneme word (usually one; none: nothing of the input)."""

_SKIP, _JOIN = 2.0, 0.35
"""Alignment costs: leaving a word unpaired, and pairing two with one."""
_MARKS = set("ˈˌːˑ")


_BAND = 128
"""How far (in phoneme words) an alignment may stray from the straight line through its
segment: espeak joins or splits a few words per sentence, so the best pairing of normal text
stays well inside, and a segment of thousands of words is aligned in linear time and memory."""

_MOVES = ((2, 1), (1, 2), (1, 1), (1, 0), (0, 1))
"""The moves of :func:`align`, in the order that breaks ties between equal costs."""


def _cost(letters: int, phonemes: int) -> float:
    return abs(math.log((letters + 1) / (phonemes + 1)))


class _Costs:
    """:func:`_cost` of one letter count against every phoneme count up to ``top``, one row per
    letter count met (a segment has few distinct word lengths)."""

    def __init__(self, top: int) -> None:
        self.top = top
        self.rows: dict[int, np.ndarray] = {}

    def __call__(self, letters: int, phonemes: np.ndarray) -> np.ndarray:
        row = self.rows.get(letters)
        if row is None:
            row = np.array([_cost(letters, p) for p in range(self.top + 1)])
            self.rows[letters] = row
        return row[phonemes]


def _window(values: np.ndarray, first: int, start: int, count: int) -> np.ndarray:
    """``count`` entries of a band row (``values``, its first column ``first``) from column
    ``start`` on; ``inf`` outside the band."""
    out = np.full(count, np.inf)
    lo, hi = max(start, first), min(start + count, first + len(values))
    if lo < hi:
        out[lo - start : hi - start] = values[lo - first : hi - first]
    return out


def align(
    letters: Sequence[int], phonemes: Sequence[int], band: int = _BAND
) -> list[tuple[list[int], list[int]]]:
    """Pair spoken words (their letter counts) with phoneme words (their phoneme counts) in
    order: one with one, two with one or one with two, or left alone; the pairing whose lengths
    agree best (dynamic programming). Returns the pairs as (word indices, phoneme indices).

    The pairing is searched within ``band`` phoneme words of the straight line from the first
    pair to the last (issue 21: the whole n×m table of 2,500 one-letter words took 30 s and
    740 MB), so time and memory grow with ``(n + m) × band``; a segment shorter than the band
    gets the same pairing as the whole table.
    """
    n, m = len(letters), len(phonemes)
    said = np.asarray(phonemes, dtype=np.int64).reshape(-1)
    joined = said[:-1] + said[1:] if m > 1 else np.zeros(0, dtype=np.int64)
    costs = _Costs(int(max(said.max(initial=0), joined.max(initial=0))))

    def bounds(i: int) -> tuple[int, int]:
        if n == 0:
            return 0, m
        lo = (i - 1) * m // n - band
        hi = -(-(i + 1) * m // n) + band
        return max(0, lo), min(m, hi)

    # per row: its first column, the best costs and the move that reached each cell
    rows: list[tuple[int, np.ndarray, np.ndarray]] = []
    for i in range(n + 1):
        lo, hi = bounds(i)
        width = hi - lo + 1
        cols = np.arange(lo, hi + 1)
        cand = np.full((4, width), np.inf)
        if i == 0:
            cand[3, 0] = 0.0  # the start (row 0's band starts at column 0); never traced back
        if i >= 1:
            first1, best1, _ = rows[i - 1]
            l1 = letters[i - 1]
            ok = cols >= 1
            prev = _window(best1, first1, lo - 1, width)  # (i-1, j-1)
            cand[2, ok] = prev[ok] + 0.0 + costs(l1, said[cols[ok] - 1])
            ok2 = cols >= 2
            prev = _window(best1, first1, lo - 2, width)  # (i-1, j-2)
            cand[1, ok2] = prev[ok2] + _JOIN + costs(l1, joined[cols[ok2] - 2])
            cand[3] = _window(best1, first1, lo, width) + _SKIP  # (i-1, j)
        if i >= 2:
            first2, best2, _ = rows[i - 2]
            l2 = letters[i - 2] + letters[i - 1]
            ok = cols >= 1
            prev = _window(best2, first2, lo - 1, width)  # (i-2, j-1)
            cand[0, ok] = prev[ok] + _JOIN + costs(l2, said[cols[ok] - 1])
        move = np.argmin(cand, axis=0).astype(np.int8)
        best = cand[move, np.arange(width)]
        # a word of the voice left alone, along the row: x[j] = min(c[j], x[j-1] + skip)
        while True:
            skipped = np.concatenate(([np.inf], best[:-1] + _SKIP))
            better = skipped < best
            if not better.any():
                break
            best = np.where(better, skipped, best)
            move[better] = 4
        rows.append((lo, best, move))
        if i >= 2:
            rows[i - 2] = (rows[i - 2][0], np.zeros(0), rows[i - 2][2])  # its costs are spent
    pairs = []
    i, j = n, m
    while i or j:
        first, _, move = rows[i]
        di, dj = _MOVES[move[j - first]]
        pairs.append((list(range(i - di, i)), list(range(j - dj, j))))
        i, j = i - di, j - dj
    return pairs[::-1]


def label_segment(
    segment: Segment, sentences_phonemes: Sequence[str], numbering: Numbering | None = None
) -> list[tuple[PieceLabels, ...]]:
    """Labels for the phoneme pieces of each sentence the voice made of ``segment`` (its spoken
    words, numbered on from ``numbering``, which this advances).

    The spoken words and the voice's phoneme words mostly pair one to one; espeak sometimes
    says two words as one (``"in the"`` → ``ɪnðə``) or one as two: :func:`align` pairs them by
    their lengths, so every input word said gets a time.
    """
    tokens = spoken_tokens(segment, numbering)
    pieces = [phoneme_pieces(p) for p in sentences_phonemes]
    words = [(s, i) for s, ps in enumerate(pieces) for i, p in enumerate(ps) if is_word(p)]
    labels: list[list[PieceLabels]] = [[()] * len(ps) for ps in pieces]
    letters = [t.weight for t in tokens]
    sounds = [sum(1 for ch in pieces[s][i] if is_word(ch) and ch not in _MARKS) for s, i in words]
    for token_ids, word_ids in align(letters, sounds):
        said = tuple(tokens[k] for k in token_ids)
        for k in word_ids:
            s, i = words[k]
            labels[s][i] = said
    return [tuple(x) for x in labels]


# -- times -------------------------------------------------------------------------------------


def phoneme_word_frames(
    phoneme_ids: Sequence[int], durations: np.ndarray, id_map: Mapping[str, Sequence[int]]
) -> list[tuple[int, int] | None]:
    """First and last frame (``[start, end)``) of each piece of a sentence between space ids;
    ``None`` for a piece with nothing said in it.

    A piece starts at its first sounding phoneme and ends after the padding that follows its
    last one; the sentence start and end marks, padding before the first phoneme and
    punctuation (pauses) are not part of any word.
    """
    durations = np.asarray(durations, dtype=np.float64).reshape(-1)
    if durations.size != len(phoneme_ids):
        raise ValueError(f"{durations.size} durations for {len(phoneme_ids)} phoneme ids")
    ends = np.cumsum(durations)
    starts = ends - durations
    sounding = {i for ph, ids in id_map.items() if is_word(ph) for i in ids}
    pad = set(id_map.get(PAD, ()))
    space = set(id_map.get(SPACE, ()))
    spans: list[tuple[int, int] | None] = []
    first = last = None
    for pos, pid in enumerate([*phoneme_ids, None]):
        if pid is None or pid in space:
            spans.append(None if first is None else (int(starts[first]), int(ends[last])))
            first = last = None
            continue
        if pid in sounding:
            first = pos if first is None else first
            last = pos
        elif pid in pad and last == pos - 1 and first is not None:
            last = pos  # the transition after a sounding phoneme belongs to it
    return spans


def sentence_words(
    labels: Sequence[PieceLabels],
    frames: Sequence[tuple[int, int] | None],
    seconds_per_frame: float,
    spoken: bool = False,
) -> list[tuple[int, WordTiming]]:
    """The input words of one sentence: ``(start frame, timing)`` with times in seconds from the
    sentence's first sample; pieces of one input word joined, a piece of several words shared
    among them by their letters. Empty without labels.

    ``spoken``: the spoken words instead (inserted ones too), each timing's ``word`` its
    position in the utterance (:attr:`WordLabel.token`, as text).
    """
    out: list[tuple[float, WordTiming]] = []
    last = None
    for said, span in zip(labels, frames, strict=False):
        if not said or span is None:
            continue
        total = sum(label.weight for label in said)
        start = float(span[0])
        for label in said:
            end = start + (span[1] - span[0]) * label.weight / total
            group = label.token if spoken else label.key
            if spoken or label.key is not None:
                if out and group == last:
                    first, timing = out[-1]
                    timing = WordTiming(timing.word, timing.start, end * seconds_per_frame)
                    out[-1] = (first, timing)
                else:
                    word = str(label.token) if spoken else label.word
                    out.append(
                        (
                            start,
                            WordTiming(word, start * seconds_per_frame, end * seconds_per_frame),
                        )
                    )
            last = group
            start = end
    return [(math.floor(first), timing) for first, timing in out]


def regroup(spoken: Sequence[WordTiming], tokens: Sequence[WordLabel]) -> tuple[WordTiming, ...]:
    """Input words from spoken-word times (``word``: the spoken word's position, as kept in the
    phrase cache) and the spoken words of the text asking: ``"$5"`` and ``"5 dollars"`` say the
    same words but are one and two input words."""
    out: list[WordTiming] = []
    last = None
    for timing in spoken:
        position = int(timing.word)
        if not 0 <= position < len(tokens):
            return ()  # another spoken form (cannot happen for the same cache key)
        label = tokens[position]
        if label.key is None:
            last = None
            continue
        if out and label.key == last:
            out[-1] = WordTiming(out[-1].word, out[-1].start, timing.end)
        else:
            out.append(WordTiming(label.word, timing.start, timing.end))
        last = label.key
    return tuple(out)


def shifted(words: Sequence[WordTiming], seconds: float) -> tuple[WordTiming, ...]:
    """``words`` with ``seconds`` added to their times (rounded to the microsecond)."""
    return tuple(
        WordTiming(w.word, round(w.start + seconds, 6), round(w.end + seconds, 6)) for w in words
    )


def utterance_words(chunks: Sequence[AudioChunk], spoken: bool = False) -> tuple[WordTiming, ...]:
    """The words of consecutive ``chunks`` with times from the first chunk's first sample
    (``spoken``: their spoken words' times, :attr:`~macbot.core.audio.AudioChunk.spoken`)."""
    words: list[WordTiming] = []
    offset = 0.0
    for chunk in chunks:
        words.extend(shifted(chunk.spoken if spoken else chunk.words, offset))
        offset += chunk.duration
    return tuple(words)
