"""The ``macbot`` command line. ``main()`` parses and hands off; errors are one line with a
named exit code (see :class:`ExitCode` and the README)."""

from __future__ import annotations

import argparse
import enum
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __version__
from .config import AppConfig, ConfigError, load_config

_LOGGER = logging.getLogger("macbot")


class ExitCode(enum.IntEnum):
    """Exit statuses of ``macbot`` (documented in the README)."""

    OK = 0
    FAILURE = 1
    """Anything unexpected (a bug: please report it with the log)."""
    USAGE = 2
    """Bad command-line arguments (argparse's own code)."""
    BAD_CONFIG = 3
    """The config file is missing, unreadable or has a bad value."""
    VOICE_NOT_FOUND = 4
    """The voice name or path does not exist."""
    EMPTY_TEXT = 5
    """The text is empty or has nothing speakable."""
    NO_AUDIO_DEVICE = 6
    """Playback was asked for but this machine has no output device."""
    SYNTHESIS_FAILED = 7
    """The model failed on the input."""
    OUTPUT_ERROR = 8
    """The output file cannot be written."""
    ADDRESS_IN_USE = 9
    """``serve``: the port is taken (another daemon running?)."""
    MODEL_UNSUPPORTED = 10
    """``split``: the model's graph does not have the shape the tool needs (or the result does
    not reproduce it)."""
    MISSING_EXTRA = 11
    """An optional package is not installed (the message names the extra to install)."""
    SERVICE_FAILED = 20
    """``service``: launchctl/systemctl refused or is missing (the message says why)."""
    SERVICE_NOT_RUNNING = 21
    """``service status``: the daemon does not answer ``/health``."""
    DAEMON_ERROR = 22
    """``say``/``menubar``: the running daemon refused the request or went away."""
    MODEL_NOT_FOUND = 30
    """Toolkit: the model (or its ``.onnx.json``, or a trials CSV) does not exist."""
    QUANTIZATION_FAILED = 31
    """Toolkit: a quantization method failed on this model."""
    QUALITY_GATE_FAILED = 32
    """``verify``: the variant failed the quality gate (its manifest says why)."""


class CLIError(Exception):
    """A failure reported as one line on stderr with ``code`` as the exit status."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[argparse.Namespace, AppConfig], int]

COMMAND_MODULES = (
    "macbot.bench",
    "macbot.service.cli",
    "macbot.menubar",
    "macbot.doctor",
    "macbot.tune",
    "macbot.split",
    "macbot.toolkit.commands",
)
"""Modules that add subcommands: each has ``register(subparsers)``, which adds its parsers with
``set_defaults(handler=fn)`` where ``fn(args, config) -> int`` may raise :class:`CLIError`.
They must import heavy or optional packages inside their handlers, not at module level."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="macbot",
        description="MacBot TTS: local text-to-speech daemon with Piper voices.",
    )
    parser.add_argument("--version", action="version", version=f"macbot {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML config file (default: $MACBOT_CONFIG, else built-in defaults)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    say = sub.add_parser("say", help="speak text, or write it to a WAV file")
    say.add_argument("text", help="text to speak, or - to read standard input")
    say.add_argument("-o", "--output", type=Path, help="write audio here (.wav) instead of playing")
    say.add_argument("--voice", help="voice name (see `macbot voices`) or path to a .onnx")
    say.add_argument("--speed", type=float, help="speaking rate, 0.25 to 4 (default: config)")
    say.add_argument("--noise-scale", type=float, help="generator noise (0: deterministic)")
    say.add_argument("--noise-w-scale", type=float, help="phoneme width noise")
    say.add_argument("--speaker", type=int, help="speaker id for multi-speaker voices")
    say.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="through the daemon: return once the audio has played (default) or at once "
        "(--no-wait); in-process always waits",
    )
    say.add_argument(
        "--local",
        action="store_true",
        help="synthesize in this process even when a daemon is running",
    )
    say.set_defaults(handler=_cmd_say)

    serve = sub.add_parser("serve", help="run the daemon (HTTP API on server.host:server.port)")
    serve.add_argument("--host", help="override server.host")
    serve.add_argument("--port", type=int, help="override server.port")
    serve.add_argument(
        "--log-file",
        type=Path,
        help="log here instead of stderr, rotated at 5 MB keeping 3 old files (the launchd "
        "agent uses ~/Library/Logs/MacBot/macbot.log)",
    )
    serve.set_defaults(handler=_cmd_serve)

    voices = sub.add_parser("voices", help="list the voices that can be used")
    voices.add_argument("--json", action="store_true", help="print JSON")
    voices.set_defaults(handler=_cmd_voices)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        config = load_config(args.config)
        return int(args.handler(args, config))
    except CLIError as exc:
        _fail(str(exc))
        return int(exc.code)
    except ConfigError as exc:
        _fail(f"bad config: {exc}")
        return int(ExitCode.BAD_CONFIG)
    except KeyboardInterrupt:
        return 130


def _fail(message: str) -> None:
    print(f"macbot: error: {message}", file=sys.stderr)


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


# -- commands ----------------------------------------------------------------------------------


def _read_text(arg: str) -> str:
    text = sys.stdin.read() if arg == "-" else arg
    if not text.strip():
        raise CLIError(ExitCode.EMPTY_TEXT, "no text to speak (empty input)")
    return text


def _cmd_say(args: argparse.Namespace, config: AppConfig) -> int:
    from .audio import AudioChunk
    from .engine import SynthesisError
    from .playback import Player, SoundDeviceOutput
    from .synthesizer import EmptyTextError, Synthesizer
    from .voices import VoiceNotFoundError

    text = _read_text(args.text)
    if args.speed is not None and not 0.25 <= args.speed <= 4:
        raise CLIError(ExitCode.USAGE, f"--speed must be between 0.25 and 4 (got {args.speed})")
    if _use_daemon(args):
        from .say_client import say_via_daemon

        status = say_via_daemon(args, config, text)
        if status is not None:
            return status
    player = None
    if args.output is None:
        player = Player(SoundDeviceOutput(config.voice_assistant.audio.output_device))
        ok, reason = player.available()
        if not ok:
            raise CLIError(ExitCode.NO_AUDIO_DEVICE, f"{reason} (use -o FILE.wav to write a file)")
    try:
        synth = Synthesizer(config)
        options = synth.default_options().with_overrides(
            speed=args.speed,
            noise_scale=args.noise_scale,
            noise_w_scale=args.noise_w_scale,
            speaker=args.speaker,
        )
        result = synth.synthesize(text, args.voice, options)
    except VoiceNotFoundError as exc:
        raise CLIError(ExitCode.VOICE_NOT_FOUND, str(exc)) from exc
    except EmptyTextError as exc:
        raise CLIError(ExitCode.EMPTY_TEXT, str(exc)) from exc
    except (SynthesisError, ValueError) as exc:
        raise CLIError(ExitCode.SYNTHESIS_FAILED, str(exc)) from exc
    if args.output is not None:
        _write_audio(args.output, result.samples, result.sample_rate)
        _LOGGER.info("wrote %.2fs of audio to %s", result.duration, args.output)
        return ExitCode.OK
    assert player is not None
    done = player.enqueue(
        [AudioChunk(result.samples, result.sample_rate, result.engine, result.voice)]
    )
    done.wait()
    return ExitCode.OK


def _use_daemon(args: argparse.Namespace) -> bool:
    """The daemon takes text, voice, speed and play; noise and speaker overrides are
    in-process only (``/speak`` has no such fields)."""
    if args.local:
        return False
    overrides = (args.noise_scale, args.noise_w_scale, args.speaker)
    if any(v is not None for v in overrides):
        _LOGGER.info("--noise-scale/--noise-w-scale/--speaker: synthesizing in-process")
        return False
    return True


def _write_audio(path: Path, samples, sample_rate: int) -> None:
    import soundfile as sf

    ext = path.suffix.lstrip(".").upper()
    fmt = ext if ext in sf.available_formats() else "WAV"
    try:
        sf.write(str(path), samples, sample_rate, format=fmt, subtype="PCM_16")
    except (OSError, RuntimeError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise CLIError(ExitCode.OUTPUT_ERROR, f"cannot write {path}: {exc}") from exc


def _cmd_serve(args: argparse.Namespace, config: AppConfig) -> int:
    from .config import replace
    from .server import serve
    from .voices import VoiceNotFoundError

    overrides = {}
    if args.host:
        overrides["server.host"] = args.host
    if args.port is not None:
        overrides["server.port"] = args.port
    if overrides:
        config = replace(config, overrides)
    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    if args.log_file is not None:
        from .logfile import log_to_file

        log_to_file(args.log_file.expanduser())
    try:
        return serve(config)
    except VoiceNotFoundError as exc:
        raise CLIError(ExitCode.VOICE_NOT_FOUND, str(exc)) from exc
    except OSError as exc:
        if exc.errno in (48, 98):  # EADDRINUSE on macOS, Linux
            raise CLIError(
                ExitCode.ADDRESS_IN_USE,
                f"{config.server.host}:{config.server.port} is already in use "
                "(is another macbot running?)",
            ) from exc
        raise


def _cmd_voices(args: argparse.Namespace, config: AppConfig) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from .voices import list_voices

    voices = [v.describe() for v in list_voices(config.tts.voices_dir)]
    if args.json:
        print(json.dumps(voices, indent=2))
        return ExitCode.OK
    table = Table(title=f"Piper voices (folder: {config.tts.voices_dir})")
    for column in ("name", "source", "language", "quality", "speakers", "size MB"):
        table.add_column(column)
    for v in voices:
        table.add_row(
            str(v["name"]),
            str(v["source"]),
            str(v.get("language", "")),
            str(v.get("quality", "")),
            str(v.get("num_speakers", "")),
            str(v.get("size_mb", "")),
        )
    Console().print(table)
    return ExitCode.OK
