"""One exception tree for the whole package (the model is httpx's ``_exceptions.py``).

Every error MacBot raises on purpose is a :class:`MacbotError`. Each class carries, once:

- ``code``: a stable machine-readable name (``voice_not_found``), sent in HTTP error bodies so
  that clients (``macbot say``) decide by it instead of parsing messages;
- ``exit_code``: the :class:`ExitCode` the command line exits with;
- ``http_status``: the status the HTTP API answers with.

The CLI (``macbot.cli.main``) and the HTTP layer (``macbot.daemon.app``) each render these in
one place; nothing else maps errors to statuses. :func:`error_class` finds the class of a code
that came back over HTTP.

    MacbotError
    ├── UsageError                bad arguments or request fields (400 / exit 2)
    │   ├── InvalidType, UnknownModel
    │   ├── UnsupportedFormatError  no such audio format or extension (400 / exit 12)
    │   ├── HookInputError        a hook's input is not its JSON (400 / exit 13)
    │   ├── MarkupError           malformed SSML or ``[[…]]`` command (gives the position)
    │   ├── TextTooLong           text over the limit (400, as OpenAI answers it)
    │   ├── SpeechTooLong         what the text says over the limit (spoken form, pauses)
    │   ├── PayloadTooLarge       body over the limit (413)
    │   ├── NotFound              no such job, route or model id (404)
    │   ├── MethodNotAllowed      (405)
    │   ├── Unauthorized          missing or wrong bearer token (401)
    │   └── Forbidden             foreign Host or Origin (403)
    ├── ConfigError               bad config file or value (exit 3)
    ├── VoiceNotFoundError        (400 / exit 4)
    ├── EmptyTextError            nothing to speak (400 / exit 5)
    ├── NoAudioDeviceError        no sound output here (503 / exit 6)
    ├── SynthesisError            the model failed (500 / exit 7)
    │   ├── NoEngineError         no engine candidate loads for a voice (503)
    │   └── ModelDamagedError     a packaged model's parts fail their SHA-256 (503 / exit 13)
    ├── OutputError               cannot write the output file (exit 8)
    ├── AddressInUseError         the port is taken (exit 9)
    ├── ModelUnsupportedError     the graph lacks what a tool needs (exit 10)
    ├── MissingExtraError         an optional package is missing (501 / exit 11)
    ├── BenchmarksMissing         ``bench`` outside a source checkout (exit 16)
    ├── ServiceError              launchctl/systemctl refused (exit 20)
    ├── ServiceNotRunning         the daemon does not answer (exit 21)
    │   └── DaemonUnavailable     nothing answers at its address
    ├── DaemonError               the daemon refused a client's request (exit 22)
    │   └── DaemonNoAnswer        it took the request but gave no answer (not repeated)
    ├── ModelNotFoundError        toolkit: no such model file (exit 30)
    ├── QuantizationError         toolkit: a method failed (exit 31)
    └── QualityGateFailed         toolkit: the variant failed the gate (exit 32)
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar


class ExitCode(enum.IntEnum):
    """Exit statuses of ``macbot`` (the README lists them)."""

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
    """The model's graph does not have the shape a tool needs (or the result differs)."""
    MISSING_EXTRA = 11
    """An optional package is not installed (the message names the extra to install)."""
    UNSUPPORTED_FORMAT = 12
    """``say -o``: the file's extension names no audio format MacBot writes."""
    HOOK_INPUT = 13
    """``hook``: standard input is not a hook's JSON object with ``hook_event_name``. (Never
    2: Claude Code reads exit 2 from a hook as "block", and would keep the agent going.)"""
    MODEL_DAMAGED = 14
    """A packaged model's parts are missing or fail their SHA-256 check (reinstall them)."""
    DOWNLOAD_FAILED = 15
    """``voices download``: the voice could not be fetched (no such voice, no network)."""
    NO_BENCHMARKS = 16
    """``bench``: the benchmarks live in a source checkout's ``benchmarks/``, not in the wheel."""
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
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT, as shells report it)."""


_BY_CODE: dict[str, type[MacbotError]] = {}


class MacbotError(Exception):
    """Base of every error MacBot raises on purpose.

    ``message`` is one line for people; ``hint`` says what to do about it; ``param`` names the
    request field or option at fault (OpenAI's error shape has a slot for it).
    """

    code: ClassVar[str] = "error"
    exit_code: ClassVar[ExitCode] = ExitCode.FAILURE
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, hint: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.param = param

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            _BY_CODE.setdefault(cls.code, cls)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of an HTTP error: ``{"error": message, "code": code, …}``."""
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.hint:
            body["hint"] = self.hint
        if self.param:
            body["param"] = self.param
        return body


_BY_CODE[MacbotError.code] = MacbotError


def error_class(code: str | None) -> type[MacbotError]:
    """The class of an error ``code`` (as sent by the daemon); :class:`MacbotError` if unknown."""
    return _BY_CODE.get(code or "", MacbotError)


# -- requests and arguments ----------------------------------------------------------------


class UsageError(MacbotError):
    """Bad command-line arguments or request fields."""

    code = "invalid_request"
    exit_code = ExitCode.USAGE
    http_status = 400


class InvalidType(UsageError):
    """A request field of the wrong JSON type."""

    code = "invalid_type"


class UnknownModel(UsageError):
    """The OpenAI route's ``model`` is neither a model id nor a voice name."""

    code = "model_not_found"


class MarkupError(UsageError):
    """Malformed SSML, or an SSML element, attribute or ``[[…]]`` command that cannot be
    honoured. The message names the line and column; HTTP bodies also carry ``position``."""

    code = "invalid_markup"

    def __init__(
        self, message: str, *, line: int, column: int, offset: int, hint: str | None = None
    ) -> None:
        super().__init__(f"{message} (line {line}, column {column})", hint=hint)
        self.line = line
        self.column = column
        self.offset = offset
        """Characters before the fault, from the start of the text."""

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["position"] = {"line": self.line, "column": self.column, "offset": self.offset}
        return body


class HookInputError(UsageError):
    """A coding agent's hook input that is not a JSON object with ``hook_event_name``."""

    code = "invalid_hook_input"
    exit_code = ExitCode.HOOK_INPUT


class PayloadTooLarge(UsageError):
    """A body over ``server.max_body_bytes``."""

    code = "too_large"
    http_status = 413


class TextTooLong(UsageError):
    """Text over ``server.max_text_chars``: a 400, as OpenAI answers ``string_above_max_length``
    and as the OpenAPI document's ``maxLength`` says (it was a 413 before issue 21, which no
    schema-driven client expects of a value over ``maxLength``)."""

    code = "string_above_max_length"


class SpeechTooLong(UsageError):
    """Text within the limit whose speech is not: its spoken form (numbers, URLs … read out)
    or its pauses add up to more than one request may ask (:mod:`macbot.core.limits`)."""

    code = "speech_too_long"


class NotFound(UsageError):
    """No such job or route."""

    code = "not_found"
    http_status = 404


class ModelIdNotFound(NotFound):
    """``GET /v1/models/{id}`` of an id that does not exist."""

    code = "model_not_found"


class MethodNotAllowed(UsageError):
    """The route exists, the method does not."""

    code = "method_not_allowed"
    http_status = 405


class IdleTimeout(UsageError):
    """A WebSocket or Wyoming client sent nothing (or half a message) for too long."""

    code = "idle_timeout"
    http_status = 408


class Busy(MacbotError):
    """Every session of a listener is taken (``max_sessions``, ``max_connections``)."""

    code = "busy"
    http_status = 503


class UnsupportedFormatError(UsageError):
    """An audio format this machine's libsndfile cannot write, or a file extension no format
    has."""

    code = "unsupported_format"
    exit_code = ExitCode.UNSUPPORTED_FORMAT


class Unauthorized(UsageError):
    """A token is required and was missing or wrong."""

    code = "unauthorized"
    http_status = 401


class MissingToken(Unauthorized):
    code = "missing_token"


class InvalidToken(Unauthorized):
    code = "invalid_api_key"


class Forbidden(UsageError):
    """A foreign ``Host`` or a cross-origin browser request."""

    code = "forbidden"
    http_status = 403


class HostNotAllowed(Forbidden):
    code = "host_not_allowed"


class CrossOrigin(Forbidden):
    code = "cross_origin"


# -- configuration and voices ----------------------------------------------------------------


class ConfigError(MacbotError):
    """A config value is wrong. The message names the key and the file."""

    code = "bad_config"
    exit_code = ExitCode.BAD_CONFIG
    http_status = 500

    def __init__(
        self, key: str, message: str, source: object | None = None, *, hint: str | None = None
    ) -> None:
        self.key = key
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"{key}{where}: {message}", hint=hint)


class VoiceNotFoundError(MacbotError):
    """No voice of that name or path; the message lists the voices there are."""

    code = "voice_not_found"
    exit_code = ExitCode.VOICE_NOT_FOUND
    http_status = 400


# -- synthesis and audio ---------------------------------------------------------------------


class EmptyTextError(MacbotError):
    """The text has nothing to speak."""

    code = "empty_text"
    exit_code = ExitCode.EMPTY_TEXT
    http_status = 400


class NoAudioDeviceError(MacbotError):
    """No output device (or no PortAudio) on this machine."""

    code = "no_audio_device"
    exit_code = ExitCode.NO_AUDIO_DEVICE
    http_status = 503


class SynthesisError(MacbotError):
    """The model failed on an input."""

    code = "synthesis_failed"
    exit_code = ExitCode.SYNTHESIS_FAILED
    http_status = 500


class NoEngineError(SynthesisError):
    """No engine candidate loads and passes the smoke test for a voice."""

    code = "no_engine"
    http_status = 503


class OutputError(MacbotError):
    """An output file cannot be written."""

    code = "output_error"
    exit_code = ExitCode.OUTPUT_ERROR
    http_status = 500


class AddressInUseError(MacbotError):
    """``serve``: the address is taken."""

    code = "address_in_use"
    exit_code = ExitCode.ADDRESS_IN_USE


# -- models and tools ------------------------------------------------------------------------


class ModelUnsupportedError(MacbotError):
    """The model's graph does not have the shape a tool needs."""

    code = "model_unsupported"
    exit_code = ExitCode.MODEL_UNSUPPORTED
    http_status = 422


class ModelDamagedError(SynthesisError):
    """A packaged model's parts are missing or fail their SHA-256 check."""

    code = "model_damaged"
    exit_code = ExitCode.MODEL_DAMAGED
    http_status = 503


class MissingExtraError(MacbotError):
    """An optional package is not installed; the message names the pyproject extra."""

    code = "missing_extra"
    exit_code = ExitCode.MISSING_EXTRA
    http_status = 501


class BenchmarksMissing(MacbotError):
    """``macbot bench`` run from an installed package: the suites live in a source
    checkout's ``benchmarks/`` (beside ``macbot/``), which a wheel does not hold."""

    code = "benchmarks_missing"
    exit_code = ExitCode.NO_BENCHMARKS


class ModelNotFoundError(MacbotError):
    """Toolkit: a model file (or its ``.onnx.json``, or a trials CSV) does not exist."""

    code = "model_file_not_found"
    exit_code = ExitCode.MODEL_NOT_FOUND
    http_status = 404


class DownloadError(MacbotError):
    """A voice could not be downloaded (the catalogue has no such voice, or no network)."""

    code = "download_failed"
    exit_code = ExitCode.DOWNLOAD_FAILED


class QuantizationError(MacbotError):
    """Toolkit: a quantization method failed on this model."""

    code = "quantization_failed"
    exit_code = ExitCode.QUANTIZATION_FAILED


class QualityGateFailed(MacbotError):
    """Toolkit: a variant failed the quality gate."""

    code = "quality_gate_failed"
    exit_code = ExitCode.QUALITY_GATE_FAILED


# -- the service and the daemon seen from a client -------------------------------------------


class ServiceError(MacbotError):
    """launchctl/systemctl refused or is missing; the message says why."""

    code = "service_failed"
    exit_code = ExitCode.SERVICE_FAILED


class ServiceNotRunning(MacbotError):
    """The daemon does not answer ``/health``."""

    code = "service_not_running"
    exit_code = ExitCode.SERVICE_NOT_RUNNING


class DaemonUnavailable(ServiceNotRunning):
    """Nothing answers at the daemon's address (or it is not a MacBot daemon)."""

    code = "daemon_unavailable"


class DaemonError(MacbotError):
    """The daemon answered a client's request with an error.

    ``status`` is the HTTP status and ``remote_code`` the daemon's own ``code``; the exit code
    is the one that error has here (``voice_not_found`` → 4), else ``DAEMON_ERROR``.
    """

    code = "daemon_error"
    exit_code = ExitCode.DAEMON_ERROR

    def __init__(
        self,
        status: int,
        message: str,
        remote_code: str | None = None,
        *,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.remote_code = remote_code
        remote = error_class(remote_code)
        if remote is not MacbotError and remote is not DaemonError:
            self.exit_code = remote.exit_code  # type: ignore[misc]  (per instance on purpose)


class DaemonNoAnswer(DaemonError):
    """The daemon took a request but no whole answer came back (a timeout, a dropped
    connection). It may have acted on it, so the client must not do the same work again."""

    code = "daemon_no_answer"

    def __init__(self, status: int, message: str, *, hint: str | None = None) -> None:
        super().__init__(status, message, None, hint=hint)
