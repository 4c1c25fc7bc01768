"""``macbot say``: speak text, or write it to an audio file, through the daemon when one runs.

It takes macOS ``say``'s flags, so scripts written for ``say`` keep working:
``-v VOICE`` (``-v '?'`` lists voices), ``-r`` words per minute, ``-o FILE`` (.wav, .aiff …
by extension), ``-f FILE`` or ``-f -``, ``-a DEVICE`` (``-a '?'`` lists devices),
``--progress``, and the text as one or several words (none: standard input).

The path through the daemon imports only the HTTP client, so a shell trigger starts fast;
the in-process path imports the engine when it needs it.
"""

from __future__ import annotations

import argparse
import base64
import logging
import sys
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..client.http import DaemonClient
from ..client.say import ProgressLine, WordPrinter, say_via_daemon, speed_for_rate
from ..config import PLAYBACK_POLICIES, SPEED_RANGE, AppConfig, check_speed
from ..core.captions import CAPTION_EXTENSIONS, caption_format
from ..core.formats import FILE_FORMATS, AudioWriter, encode, file_format
from ..core.voices import find_voice
from ..errors import (
    DaemonUnavailable,
    EmptyTextError,
    ExitCode,
    NoAudioDeviceError,
    OutputError,
    UnsupportedFormatError,
    UsageError,
    VoiceNotFoundError,
)
from .common import GLOBAL_LONG, command, spinner

if TYPE_CHECKING:  # only for annotations: say starts without loading the synthesizer
    from ..core.engines import SynthesisOptions
    from ..core.synthesizer import Synthesizer

_LOGGER = logging.getLogger(__name__)

FILE_EXTENSIONS = tuple(sorted(FILE_FORMATS))
"""What ``-o`` writes: the extensions of :data:`macbot.core.formats.FILE_FORMATS`."""

LIST = "?"
"""``-v '?'`` and ``-a '?'`` list the voices and the devices, as ``say`` does."""


def register(sub) -> None:
    say = command(
        sub,
        "say",
        help="speak text, or write it to an audio file (takes macOS say's flags)",
        description="Speak TEXT on the sound device, or write it to an audio file with -o.\n"
        "Through the running daemon when one answers (its cache, queue and sound device),\n"
        "else in this process. Takes the flags of macOS `say`; -v here is the voice (use\n"
        "--verbose, or `macbot -v say …`, for more logging).\n\n"
        "examples:\n"
        '  macbot say "Hello there"\n'
        "  macbot say -v joe -r 200 -o hello.wav Hello there\n"
        "  echo 'From a pipe' | macbot say -f -\n"
        "  macbot say --progress --policy interrupt 'Timer done.'\n"
        "  macbot say -o reply.wav --captions reply.vtt 'Hello there. How are you?'\n"
        "  macbot say -o reply.srt -f reply.md\n"
        "  macbot say -v '?'",
        options=GLOBAL_LONG,
    )
    say.add_argument(
        "text",
        nargs="*",
        help="the text to speak; several words are joined with spaces; - or nothing reads "
        "standard input (like say)",
    )
    say.add_argument(
        "-v",
        "--voice",
        help="voice name (see `macbot voices`) or path to a .onnx; '?' lists the voices "
        "(default: models.tts.voice)",
    )
    say.add_argument(
        "-r",
        "--rate",
        type=float,
        help="speaking rate in words per minute, as say's -r (the bundled voice speaks about "
        "220 at speed 1); not with --speed (default: models.tts.speed)",
    )
    say.add_argument(
        "-o",
        "--output",
        "--output-file",
        type=Path,
        help="write the audio to this file instead of playing it; the extension picks the "
        f"format: {', '.join(FILE_EXTENSIONS)}; {', '.join(CAPTION_EXTENSIONS)} write only the "
        "captions (default: play)",
    )
    say.add_argument(
        "--captions",
        type=Path,
        metavar="FILE",
        help="with -o: also write captions of the words to FILE (.vtt WebVTT or .srt SubRip; "
        "needs word timings: a split voice) (default: none)",
    )
    say.add_argument(
        "-f",
        "--input-file",
        help="read the text from this file; - reads standard input (default: the TEXT arguments)",
    )
    say.add_argument(
        "-a",
        "--audio-device",
        help="play on this output device, by index or name, in this process; '?' lists the "
        "devices (default: voice_assistant.audio.output_device, through the daemon)",
    )
    say.add_argument(
        "--progress",
        action="store_true",
        help="print each word on its own line as it plays; implies --wait; nothing with -o "
        "(default: off)",
    )
    say.add_argument(
        "--policy",
        choices=PLAYBACK_POLICIES,
        help="through the daemon: queue waits its turn, replace drops what is queued and "
        "playing, interrupt plays at once and the queue goes on after it (default: queue)",
    )
    say.add_argument(
        "--speed",
        type=float,
        help=f"speaking rate, {SPEED_RANGE[0]:g} to {SPEED_RANGE[1]:g}; 2 is twice as fast "
        "(default: models.tts.speed)",
    )
    say.add_argument(
        "--noise-scale",
        type=float,
        help="generator noise; 0 makes the audio identical run to run; in-process only "
        "(default: the voice's own)",
    )
    say.add_argument(
        "--noise-w-scale",
        type=float,
        help="phoneme-width noise; in-process only (default: the voice's own)",
    )
    say.add_argument(
        "--speaker",
        type=int,
        help="speaker id of a multi-speaker voice; in-process only (default: the voice's)",
    )
    say.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="through the daemon: return once the audio has played, or at once with "
        "--no-wait; in-process always waits (default: --wait)",
    )
    say.add_argument(
        "--local",
        action="store_true",
        help="synthesize in this process even when a daemon is running (default: use the "
        "daemon when one answers)",
    )
    say.set_defaults(handler=run)


def run(args: argparse.Namespace, config: AppConfig) -> int:
    if args.voice == LIST:
        return _list_voices(config)
    if args.audio_device == LIST:
        return _list_devices(config)
    text = gather_text(args)
    speed = check_speed(args.speed, "--speed")
    if args.rate is not None:
        if speed is not None:
            raise UsageError("give -r (words per minute) or --speed, not both")
        speed = speed_for_rate(args.rate)
    output: Path | None = args.output
    if args.captions is not None or (output is not None and caption_format(output)):
        return _say_with_captions(args, config, text, speed)
    if output is not None:
        check_audio_extension(output)
    printer = WordPrinter(_print_word) if args.progress and output is None else None
    if use_daemon(args, config):
        voice, speed = asked_for(args, config, speed)
        result = say_via_daemon(
            DaemonClient.from_config(config),
            text,
            voice=voice_name(voice, config),
            speed=speed,
            output=(output, _audio_file(output)) if output is not None else None,
            wait=args.wait,
            policy=args.policy,
            progress=printer,
            made=ProgressLine.for_text(text, speed) if output is not None else None,
        )
        if result is not None:
            if output is not None:
                _made(output, result.duration)
            return ExitCode.OK
    return _say_here(args, config, text, speed, output, printer)


def _say_with_captions(
    args: argparse.Namespace, config: AppConfig, text: str, speed: float | None
) -> int:
    """``-o FILE --captions FILE.vtt`` or ``-o FILE.srt``: the audio (unless ``-o`` names a
    caption file) and the captions of its words, through the daemon when one answers."""

    audio: Path | None = args.output
    caption: Path | None = args.captions
    if audio is None:
        raise UsageError("--captions needs -o FILE (the audio the captions are for)")
    if caption_format(audio):
        if caption is not None:
            raise UsageError("-o names a caption file already; leave out --captions")
        audio, caption = None, args.output
    assert caption is not None
    fmt = caption_format(caption)
    if fmt is None:
        raise UnsupportedFormatError(
            f"cannot write captions to {caption.name}: unknown extension "
            f"{caption.suffix or '(none)'!r} (use one of {', '.join(CAPTION_EXTENSIONS)})"
        )
    if audio is not None:
        check_audio_extension(audio)
    timed = _timed_via_daemon(args, config, text, speed, fmt) if use_daemon(args, config) else None
    if timed is None:
        timed = _timed_here(args, config, text, speed, fmt)
    data, duration, file_text, reason = timed
    if file_text is None:
        raise UsageError(f"no captions: {reason}", param="captions")
    if audio is not None:
        try:
            audio.write_bytes(data)
        except OSError as exc:
            raise OutputError(f"cannot write {audio}: {exc.strerror or exc}") from exc
        _made(audio, duration)
    try:
        caption.write_text(file_text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"cannot write {caption}: {exc.strerror or exc}") from exc
    print(f"macbot: wrote {fmt} captions to {caption}", file=sys.stderr)
    return ExitCode.OK


def _timed_via_daemon(
    args: argparse.Namespace, config: AppConfig, text: str, speed: float | None, fmt: str
) -> tuple[bytes, float, str | None, str] | None:
    """The daemon's audio file (in the format of ``-o``'s extension), duration, captions and
    why none (``None``: no daemon answers)."""
    client = DaemonClient.from_config(config)
    voice, speed = asked_for(args, config, speed)
    try:
        if not client.ready(wait=1.0):
            return None
        body = client.speak_timed(
            text, voice_name(voice, config), speed, captions=fmt, fmt=_audio_format(args)
        )
    except DaemonUnavailable as exc:
        _LOGGER.warning("%s; synthesizing in-process", exc)
        return None
    reason = str(body.get("words_unavailable", ""))
    data = base64.b64decode(body["audio"])
    return data, float(body["duration"]), body.get("captions"), reason


def _audio_file(output: Path) -> Callable[[int], AudioWriter]:
    """The audio writer of ``output``'s format, for a sample rate."""

    return partial(AudioWriter, file_format(output))


def _audio_format(args: argparse.Namespace) -> str:
    """The format ``-o`` names by its extension (``wav`` when ``-o`` is the captions)."""

    output: Path = args.output
    found = FILE_FORMATS.get(output.suffix.lower()) if output is not None else None
    return found.name if found is not None else "wav"


def _timed_here(
    args: argparse.Namespace, config: AppConfig, text: str, speed: float | None, fmt: str
) -> tuple[bytes, float, str | None, str]:
    """As :func:`_timed_via_daemon`, synthesized in this process."""
    from ..core.captions import captions
    from ..core.synthesizer import Synthesizer
    from ..core.timings import NO_DURATIONS

    synth = Synthesizer(config)
    try:
        options = _local_options(synth, args, speed)
        with spinner("synthesizing…"):
            result = synth.synthesize(text, args.voice, options)
        has_durations = synth.engine(result.voice).has_durations
    finally:
        synth.close()
    file_text = captions(result.words, fmt, text) if result.words else None
    reason = "no words were spoken" if has_durations else NO_DURATIONS
    data = encode(result.samples, result.sample_rate, _audio_format(args))
    return data, result.duration, file_text, reason


def _local_options(
    synth: Synthesizer, args: argparse.Namespace, speed: float | None
) -> SynthesisOptions:
    """The in-process synthesis options: the config's, with ``-r``/``--speed`` and the
    in-process-only overrides (noise scales, speaker)."""
    return synth.default_options().with_overrides(
        speed=speed,
        noise_scale=args.noise_scale,
        noise_w_scale=args.noise_w_scale,
        speaker=args.speaker,
    )


def check_audio_extension(path: Path) -> None:
    """:class:`UnsupportedFormatError` unless ``-o``'s ``path`` names an audio file say writes."""
    if path.suffix.lower() not in FILE_EXTENSIONS:
        raise UnsupportedFormatError(
            f"cannot write {path.name}: unknown audio extension {path.suffix or '(none)'!r} "
            f"(use one of {', '.join(FILE_EXTENSIONS)})"
        )


def voice_name(spec: str | None, config: AppConfig) -> str | None:
    """The full name of a voice given by its speaker's name (``joe`` →
    ``en_US-joe-medium``, as ``say -v`` scripts name voices), so the daemon, which takes
    names as ``/voices`` lists them, gets one; anything else as given (an unknown name is
    the daemon's to refuse, with its list)."""
    if spec is None or is_path(spec):
        return spec
    try:
        return find_voice(spec, config.tts).name
    except VoiceNotFoundError:
        return spec


def gather_text(args: argparse.Namespace) -> str:
    """The text, as ``say`` takes it: ``-f FILE`` (``-`` is standard input), else the words
    given, joined with spaces, else standard input. Empty is an error."""
    words: list[str] = args.text
    if args.input_file is not None:
        if words:
            raise UsageError("give the text as arguments or with -f FILE, not both")
        text = _read_input(args.input_file)
    elif not words or words == ["-"]:
        text = sys.stdin.read()
    else:
        text = " ".join(words)
    if not text.strip():
        raise EmptyTextError("no text to speak (empty input)", hint='macbot say "Hello"')
    return text


def _read_input(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"cannot read {name}: {reason}", param="input-file") from exc


def _say_here(
    args: argparse.Namespace,
    config: AppConfig,
    text: str,
    speed: float | None,
    output: Path | None,
    printer: WordPrinter | None,
) -> int:
    """Synthesize in this process (no daemon, ``--local``, ``-a``, or in-process-only
    options)."""
    from ..core.playback import Player, SoundDeviceOutput
    from ..core.synthesizer import Synthesizer

    player = None
    if output is None:
        device = args.audio_device or config.voice_assistant.audio.output_device
        player = Player(SoundDeviceOutput(device))
        ok, reason = player.available()
        if not ok:
            raise NoAudioDeviceError(reason, hint="use -o FILE.wav to write a file")
    synth = Synthesizer(config)
    try:
        options = _local_options(synth, args, speed)
        if output is not None:
            made = ProgressLine.for_text(text, options.speed)
            writer: AudioWriter | None = None
            try:
                with spinner("synthesizing…") if not made.enabled else nullcontext():
                    for chunk in synth.stream(text, args.voice, options):
                        if writer is None:
                            writer = AudioWriter(file_format(output), chunk.sample_rate)
                        writer.write(chunk.samples)
                        made.update(writer.seconds)
                if writer is None:
                    raise EmptyTextError("nothing to speak")
                seconds = writer.seconds
                writer.save(output)
            finally:
                made.close()
                if writer is not None:
                    writer.close()
            _made(output, seconds)
            return ExitCode.OK
        assert player is not None
        job = player.submit(synth.stream(text, args.voice, options))
        while not job.done.wait(0.05):
            if printer is not None:
                printer.update(player.progress(job).to_dict())
        if printer is not None:
            printer.update(player.progress(job).to_dict())
        if job.error is not None:
            raise job.error
        return ExitCode.OK
    finally:
        if player is not None:
            player.close()
        synth.close()


def _print_word(word: str) -> None:
    print(word, flush=True)


def _list_voices(config: AppConfig) -> int:
    """``say -v '?'``: one voice a line, name, language and a note after ``#``."""
    from ..core.voices import all_voices

    for voice in all_voices(config.tts):
        info = voice.describe()
        language = str(info.get("language") or "?")
        size = f", {info['size_mb']} MB" if "size_mb" in info else ""
        note = f"{voice.family} {info.get('source', '')} voice{size}"
        print(f"{voice.name:<24} {language:<8} # {note}")
    return ExitCode.OK


def _list_devices(config: AppConfig) -> int:
    """``say -a '?'``: the output devices of this machine, index and name, as ``-a`` takes
    them (no sound output here: the error says why)."""
    from ..core.playback import SoundDeviceOutput

    for device in SoundDeviceOutput(None).devices():
        print(f"{device['index']:>4} {device['name']}")
    return ExitCode.OK


def _made(path: Path, seconds: float) -> None:
    """Say what was made, on stderr (stdout stays free for pipes)."""
    print(f"macbot: wrote {seconds:.2f} s of audio to {path}", file=sys.stderr)


def asked_for(
    args: argparse.Namespace, config: AppConfig, speed: float | None = None
) -> tuple[str | None, float | None]:
    """The voice name and speed to send the daemon: the options (``speed``: the one ``-r``
    or ``--speed`` asked for), else what the config file in force says (a running daemon may
    have been started with another file; it must still speak with the voice asked for, or
    refuse: a misspelled voice exited 0 in the daemon's own voice before issue 11). ``None``:
    no file, the daemon's own."""
    voice = args.voice
    if speed is None:
        speed = args.speed
    if config.source is not None:
        if voice is None:
            tts = config.tts
            voice = (
                tts.piper.voice_path.name.removesuffix(".onnx")
                if tts.piper.voice_path
                else tts.voice
            )
        if speed is None:
            speed = config.tts.speed
    return voice, speed


def is_path(voice: str) -> bool:
    """Whether a voice is given as a file (the daemon takes voice names only)."""
    return voice.endswith(".onnx") or "/" in voice or voice.startswith("~")


def use_daemon(args: argparse.Namespace, config: AppConfig | None = None) -> bool:
    """The daemon takes text, voice names, speed, play and policy; noise and speaker
    overrides, voices given as files and another audio device (``-a``) are in-process only
    (``/speak`` has no such fields, and over HTTP a voice is a name)."""
    if args.local:
        return False
    overrides = (args.noise_scale, args.noise_w_scale, args.speaker)
    if any(v is not None for v in overrides):
        _LOGGER.info("--noise-scale/--noise-w-scale/--speaker: synthesizing in-process")
        return False
    voice = args.voice if args.voice is not None else config.tts.voice if config else None
    if voice is not None and is_path(voice):
        _LOGGER.info("voice %s is a file; the daemon takes names: synthesizing in-process", voice)
        return False
    if args.audio_device is not None:
        _LOGGER.info("-a %s: playing in-process on that device", args.audio_device)
        return False
    return True
