"""``macbot say``: speak text, or write it to an audio file, through the daemon when one runs.

The path through the daemon imports only the HTTP client, so a shell trigger starts fast;
the in-process path imports the engine when it needs it.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path

from ..client.http import DaemonClient
from ..client.say import say_via_daemon
from ..config import AppConfig
from ..errors import ExitCode, NoAudioDeviceError, OutputError, UsageError
from .common import command, read_text, spinner

_LOGGER = logging.getLogger(__name__)

FILE_EXTENSIONS = (".aif", ".aiff", ".flac", ".mp3", ".ogg", ".opus", ".wav")
"""What ``-o`` writes (:data:`macbot.core.formats.FILE_FORMATS`; a test keeps them equal)."""


def register(sub) -> None:
    say = command(
        sub,
        "say",
        help="speak text, or write it to an audio file",
        description="Speak TEXT on the sound device, or write it to an audio file with -o.\n"
        "Through the running daemon when one answers (its cache, queue and sound device),\n"
        "else in this process.\n\n"
        "examples:\n"
        '  macbot say "Hello there"\n'
        '  macbot say "Hello there" -o hello.wav\n'
        "  echo 'From a pipe' | macbot say - --no-wait",
    )
    say.add_argument("text", help="the text to speak, or - to read it from standard input")
    say.add_argument(
        "-o",
        "--output",
        type=Path,
        help="write the audio to this file instead of playing it; the extension picks the "
        f"format: {', '.join(FILE_EXTENSIONS)} (default: play)",
    )
    say.add_argument(
        "--voice",
        help="voice name (see `macbot voices`) or path to a .onnx (default: models.tts.voice)",
    )
    say.add_argument(
        "--speed",
        type=float,
        help="speaking rate, 0.25 to 4; 2 is twice as fast (default: models.tts.speed)",
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
    text = read_text(args.text)
    if args.speed is not None and not 0.25 <= args.speed <= 4:
        raise UsageError(f"--speed must be between 0.25 and 4 (got {args.speed})")
    output: Path | None = args.output
    if output is not None and output.suffix.lower() not in FILE_EXTENSIONS:
        raise UsageError(
            f"cannot write {output.name}: unknown audio extension {output.suffix or '(none)'!r}",
            hint=f"use one of {', '.join(FILE_EXTENSIONS)}",
        )
    if use_daemon(args, config):
        voice, speed = asked_for(args, config)
        result = say_via_daemon(
            DaemonClient.from_config(config),
            text,
            voice=voice,
            speed=speed,
            play=output is None,
            wait=args.wait,
        )
        if result is not None:
            if output is not None:
                _write_wav(output, result.wav or b"")
                _made(output, result.duration)
            return ExitCode.OK
    return _say_here(args, config, text, output)


def _say_here(args: argparse.Namespace, config: AppConfig, text: str, output: Path | None) -> int:
    """Synthesize in this process (no daemon, ``--local``, or in-process-only options)."""
    from ..core.audio import AudioChunk
    from ..core.formats import write_file
    from ..core.playback import Player, SoundDeviceOutput
    from ..core.synthesizer import Synthesizer

    player = None
    if output is None:
        player = Player(SoundDeviceOutput(config.voice_assistant.audio.output_device))
        ok, reason = player.available()
        if not ok:
            raise NoAudioDeviceError(reason, hint="use -o FILE.wav to write a file")
    synth = Synthesizer(config)
    try:
        options = synth.default_options().with_overrides(
            speed=args.speed,
            noise_scale=args.noise_scale,
            noise_w_scale=args.noise_w_scale,
            speaker=args.speaker,
        )
        with spinner("synthesizing…"):
            result = synth.synthesize(text, args.voice, options)
    finally:
        synth.close()
    if output is not None:
        write_file(output, result.samples, result.sample_rate)
        _made(output, result.duration)
        return ExitCode.OK
    assert player is not None
    done = player.enqueue(
        [AudioChunk(result.samples, result.sample_rate, result.engine, result.voice)]
    )
    done.wait()
    return ExitCode.OK


def _write_wav(path: Path, wav: bytes) -> None:
    """The daemon's WAV as is for ``.wav``; re-encoded by extension otherwise."""
    if path.suffix.lower() == ".wav":
        try:
            path.write_bytes(wav)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror}") from exc
        return
    import soundfile as sf

    from ..core.formats import write_file

    samples, rate = sf.read(io.BytesIO(wav), dtype="float32")
    write_file(path, samples, rate)


def _made(path: Path, seconds: float) -> None:
    """Say what was made, on stderr (stdout stays free for pipes)."""
    print(f"macbot: wrote {seconds:.2f} s of audio to {path}", file=sys.stderr)


def asked_for(args: argparse.Namespace, config: AppConfig) -> tuple[str | None, float | None]:
    """The voice name and speed to send the daemon: the options, else what the config file in
    force says (a running daemon may have been started with another file; it must still speak
    with the voice asked for, or refuse: a misspelled voice exited 0 in the daemon's own voice
    before issue 11). ``None``: no file, the daemon's own."""
    voice, speed = args.voice, args.speed
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
    """The daemon takes text, voice names, speed and play; noise and speaker overrides and
    voices given as files are in-process only (``/speak`` has no such fields, and over HTTP a
    voice is a name)."""
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
    return True
