"""Speaking: ``POST /speak``, ``POST /normalize``, playback jobs and their progress, barge-in,
pause and resume, and the sound devices."""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from ..core.captions import captions as caption_text
from ..core.captions import check_format
from ..core.formats import SPEAK_FORMATS
from ..core.playback import check_policy
from ..core.synthesizer import Synthesizer
from ..core.timings import NO_DURATIONS
from ..errors import NoAudioDeviceError, NotFound, UsageError
from . import audiofile, parsing
from .state import state

bp = Blueprint("speak", __name__)


@bp.post("/speak")
def speak() -> Response:
    """Speak text.

    Request JSON: ``text`` (required; markdown, SSML or ``say``'s ``[[…]]`` commands),
    ``voice``, ``speed`` (0.25–4), ``play`` (default true; false when ``stream``),
    ``stream`` (default false), ``format`` (``wav``, the default; ``mp3``, ``flac``,
    ``opus``, ``aac``, ``m4a``, ``aiff``; or ``pcm``: raw s16le mono at the voice's rate,
    ``audio/L16`` with the rate in ``X-Sample-Rate``; for files, ``timestamps`` and streams),
    ``normalize`` (the text front end: ``true``/``false`` or an object of options, e.g.
    ``{"emoji": "name", "urls": false}``; default ``models.tts.text``), ``timestamps``
    (default false; needs ``play: false`` and no ``stream``), ``captions`` (``vtt`` or
    ``srt``: the answer of ``timestamps`` with the caption file too), ``policy`` (with ``play``:
    ``queue``, the default, waits its turn; ``replace`` drops what is queued and playing,
    then plays; ``interrupt`` stops what is playing, plays at once, and the queue goes on
    after it). Malformed SSML is a 400 whose body has ``position``.

    - ``play: true``: synthesis starts in the background and is queued for the sound
      device, which starts on the first sentence; the answer returns at once:
      ``{"status": "queued", "job_id": n, "played": true, …}``. Where the machine has no
      output device: ``{"status": "unavailable", "played": false, "message": …}``.
    - ``play: false``: the whole utterance as a file of ``format`` (``audio/wav``).
    - ``timestamps: true, play: false``: JSON ``{"audio": the file in base64, "sample_rate",
      "duration", "words": [{"word", "start", "end"}], "engine", "voice", "cached"}``: the
      input's words (as written: ``"$1,234"`` is one word) with seconds from the start of
      the audio. When the engine has no phoneme durations, ``words`` is empty and
      ``words_unavailable`` says why.
    - ``captions: "vtt" | "srt"``: as ``timestamps``, plus ``"captions"``: the WebVTT or
      SubRip file of the words, cues grouped as subtitles are (at most two lines of 42
      characters, 7 s, split at sentence ends, pauses and the widest gaps;
      ``macbot.core.captions``), and ``"captions_format"``. ``captions`` is null, with
      ``words_unavailable``, when the engine has no word timings.
    - ``stream: true``: the audio as each piece is ready, chunked: ``format: "wav"`` (an
      open-ended WAV header, then samples), ``"pcm"`` (raw s16le mono; the rate is in
      ``X-Sample-Rate``), or a compressed format (FLAC and M4A come whole at the end).
    """
    st = state()
    synth, player = st.synthesizer, st.player
    body = parsing.json_body('{"text": "Hello"}')
    text = parsing.text(body, "text", st.config.server.max_text_chars)
    voice = parsing.voice_name(body.get("voice"), st.voice_names())
    speed = parsing.speed(body)
    stream = parsing.optional_bool(body, "stream", default=False)
    play = parsing.optional_bool(body, "play", default=not stream)
    fmt = parsing.optional_str(body, "format") or "wav"
    policy = check_policy(parsing.optional_str(body, "policy") or "queue")
    timestamps = parsing.optional_bool(body, "timestamps", default=False)
    captions = parsing.optional_str(body, "captions")
    if captions is not None:
        check_format(captions)
    text_options = parsing.text_options(body, "normalize", synth.text_options())
    if fmt not in SPEAK_FORMATS:
        raise UsageError(
            f"'format' must be one of {', '.join(SPEAK_FORMATS)} (got {fmt!r})", param="format"
        )
    if stream and play:
        raise UsageError(
            "'stream' returns the audio; it cannot be combined with 'play'", param="stream"
        )
    for name, asked in (("timestamps", timestamps), ("captions", captions is not None)):
        if asked and (play or stream):
            raise UsageError(
                f"'{name}' answers JSON with the audio: it needs 'play': false and no 'stream'",
                param=name,
            )
    options = synth.default_options().with_overrides(speed=speed)
    started = time.perf_counter()
    if timestamps or captions is not None:
        chunks = synth.stream(text, voice, options, text_options)
        written = audiofile.write(chunks, SPEAK_FORMATS[fmt], started)
        return _timed_response(synth, written, text, captions)
    if stream:
        chunks = synth.stream(text, voice, options, text_options)
        response = audiofile.stream_response(chunks, SPEAK_FORMATS[fmt])
        response.headers["X-Audio-Format"] = "s16le" if fmt == "pcm" else fmt
        return response
    if play:
        engine = synth.engine(voice)  # an unknown voice is a 400 either way
        ok, reason = player.available()
        if not ok:
            # Synthesize anyway: the text is checked and the phrase lands in the cache.
            chunks = synth.stream(text, voice, options, text_options)
            try:
                first = next(chunks)
                duration = first.duration + sum(chunk.duration for chunk in chunks)
            finally:
                chunks.close()
            return jsonify(
                status="unavailable",
                played=False,
                message=f"playback unavailable: {reason}",
                engine=first.engine,
                voice=first.voice,
                duration=round(duration, 3),
                cached=first.cached,
            )
        job = player.submit(synth.stream(text, voice, options, text_options), policy)
        return jsonify(
            status="queued",
            played=True,
            job_id=job.id,
            policy=policy,
            queued_jobs=player.queued(),
            engine=engine.engine_type,
            voice=engine.voice.name,
        )
    # The file is written as the sentences come and sent from it (issue 21).
    chunks = synth.stream(text, voice, options, text_options)
    written = audiofile.write(chunks, SPEAK_FORMATS[fmt], started)
    return audiofile.file_response(written, {"X-Synthesis-Seconds": f"{written.seconds:.4f}"})


def _timed_response(
    synth: Synthesizer, written: audiofile.Written, text: str, captions: str | None = None
) -> Response:
    """``/speak``'s answer with ``timestamps``: the file in base64 and the words (and the
    caption file in format ``captions``, when asked)."""
    out: dict[str, object] = {
        "sample_rate": written.writer.rate,
        "duration": round(written.duration, 6),
        "words": [w.to_dict() for w in written.words],
        "engine": written.first.engine,
        "voice": written.first.voice,
        "cached": written.cached,
    }
    if captions is not None:
        out["captions_format"] = captions
        out["captions"] = caption_text(written.words, captions, text) if written.words else None
    if not written.words:
        engine = synth.engine(written.first.voice)
        out["words_unavailable"] = "no words were spoken" if engine.has_durations else NO_DURATIONS
    return audiofile.json_with_audio(written, out)


@bp.post("/normalize")
def normalize() -> Response:
    """The words ``/speak`` would say: the text front end's result, nothing synthesized.

    Request JSON: ``text`` (required), ``voice`` (a name from ``/voices``, ``default`` or
    ``null``: its language picks the rules), ``normalize``
    (options, as on ``/speak``). Answer: ``{"text": the spoken form (pauses as
    ``[[slnc MS]]``), "language": the rules' language or null, "segments": [{"text", "rate",
    "volume"} or {"pause"}], "notes": [...], "options": the options in force}``. Malformed
    SSML is a 400 with ``position``.
    """
    st = state()
    synth = st.synthesizer
    body = parsing.json_body('{"text": "**Hello** at 5pm"}')
    text = parsing.text(body, "text", st.config.server.max_text_chars)
    voice = parsing.voice_name(body.get("voice"), st.voice_names())  # as on /speak
    text_options = parsing.text_options(body, "normalize", synth.text_options())
    utterance = synth.normalize(text, voice, text_options)
    return jsonify(**utterance.to_dict(), options=text_options.to_dict())


@bp.get("/jobs/<int:job_id>")
def job(job_id: int) -> Response:
    """A playback job queued by ``/speak``: ``{"id", "state", "done", "policy",
    "played_seconds", "words", "current_word"}``. ``state`` is ``queued``, ``playing``,
    ``paused``, ``done``, ``interrupted`` or ``failed``; ``words`` are the words heard in full
    so far (``{"word", "start", "end"}``, seconds from the job's start) and ``current_word``
    the one playing now (or null), so a client can follow the speech word by word (``macbot
    say --progress`` polls this). Words come from the engine's word timings; a voice without
    them has none. 404 for an unknown (or long forgotten) id."""
    player = state().player
    found = player.job(job_id)
    if found is None:
        raise NotFound(f"no playback job {job_id}")
    return jsonify(
        id=found.id,
        state=found.state,
        done=found.done.is_set(),
        policy=found.policy,
        **player.progress(found).to_dict(),
    )


@bp.post("/interrupt")
def interrupt() -> Response:
    """Barge-in: stop what is playing, drop the queue and end a pause. ``{"stopped": 0|1,
    "dropped": n, "job_id": the stopped job or null}``; with a stopped job also what the
    listener heard of it: ``played_seconds``, ``words`` (the words played in full, as in
    ``/jobs/{id}``) and ``current_word`` (the word cut by the stop, or null)."""
    return jsonify(state().player.interrupt())


@bp.post("/pause")
def pause() -> Response:
    """Hold playback where it is, mid-word, until ``/resume``; queued and new jobs wait too
    (``/interrupt`` also ends a pause). ``{"paused": true, "job_id": the job held or null}``."""
    return jsonify(state().player.pause())


@bp.post("/resume")
def resume() -> Response:
    """Go on from where ``/pause`` held. ``{"paused": false, "job_id": the job playing on or
    null}``."""
    return jsonify(state().player.resume())


@bp.get("/devices")
def devices() -> Response:
    """Sound output devices: ``{"devices": [{index, name, channels}], "output_device": …,
    "available": bool}`` (``"error"`` says why when there is no audio)."""
    st = state()
    configured = st.config.voice_assistant.audio.output_device
    try:
        found = st.player.devices()
    except NoAudioDeviceError as exc:
        return jsonify(devices=[], output_device=configured, available=False, error=str(exc))
    return jsonify(devices=found, output_device=configured, available=bool(found))
