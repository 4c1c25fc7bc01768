"""A small HTTP client for the running daemon (``macbot say``, the menu-bar app, ``service``,
the benchmarks).

Standard library only (urllib), so the shell triggers start fast. The daemon's address is
``$MACBOT_URL`` or ``http://server.host:server.port`` from the config; the bearer token follows
the server's own rule (:func:`macbot.config.auth_token`: ``server.auth_token``, else
``$MACBOT_TOKEN``). Error answers become :class:`~macbot.errors.DaemonError` carrying the
daemon's error ``code``, so callers decide by the code, never by the message.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..config import AppConfig, auth_token, load_config
from ..errors import DaemonError, DaemonNoAnswer, DaemonUnavailable

_LOGGER = logging.getLogger(__name__)

ENV_URL = "MACBOT_URL"
"""Overrides the daemon's address (``http://127.0.0.1:8123``)."""

_DONE_STATES = {
    "done",
    "finished",
    "played",
    "complete",
    "completed",
    "cancelled",
    "canceled",
    "interrupted",
}
_FAILED_STATES = {"failed", "error"}


@dataclass
class Reply:
    """An HTTP answer: status, headers (lower-case names), and body."""

    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str = ""

    def json(self) -> dict[str, Any]:
        data = json.loads(self.body.decode("utf-8") or "{}")
        return data if isinstance(data, dict) else {"value": data}


@dataclass
class SpeakResult:
    """What ``/speak`` answered: JSON info when playing, WAV bytes when not."""

    info: dict[str, Any] = field(default_factory=dict)
    wav: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        value = self.info.get("duration", self.headers.get("x-audio-duration", 0))
        try:
            return float(value)
        except (TypeError, ValueError):
            return 0.0

    @property
    def job_id(self) -> str | None:
        for key in ("job_id", "job", "id"):
            value = self.info.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                return str(value)
            if isinstance(value, dict) and isinstance(value.get("id"), (str, int)):
                return str(value["id"])
        return None


def daemon_url(config: AppConfig) -> str:
    """``$MACBOT_URL``, else the configured host and port (a wildcard bind → loopback)."""
    env = os.environ.get(ENV_URL, "").strip()
    if env:
        return env.rstrip("/")
    host = config.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{config.server.port}"


class DaemonClient:
    """Calls the daemon's HTTP API. Connection failures raise :class:`DaemonUnavailable`;
    error answers raise :class:`DaemonError`. (``macbot.Client`` is this class.)"""

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = 120.0
    ) -> None:
        """``url``: the daemon's address (``None``: ``$MACBOT_URL``, else the config file's
        ``server.host``/``port``); ``token``: its bearer token (``None`` with no ``url``: the
        config's ``server.auth_token``, else ``$MACBOT_TOKEN``)."""
        if url is None:
            config = load_config()
            url = daemon_url(config)
            token = token or auth_token(config)
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: AppConfig, timeout: float = 120.0) -> DaemonClient:
        return cls(daemon_url(config), auth_token(config), timeout)

    def _build(
        self, method: str, path: str, body: dict[str, Any] | None, raw: bytes | None = None
    ) -> urllib.request.Request:
        data = json.dumps(body).encode("utf-8") if body is not None else raw
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        return req

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
        raw_body: bytes | None = None,
    ) -> Reply:
        """One request; any HTTP answer (also 4xx/5xx) is returned, not raised. ``body`` is
        sent as JSON; ``raw_body``: JSON already encoded, sent as it is.

        Nothing reached the daemon (refused, or the request could not be sent):
        :class:`DaemonUnavailable`. The request was sent but no whole answer came (a timeout,
        a dropped connection): :class:`DaemonNoAnswer`, because the daemon may have acted on
        it; a caller must not then do the same work again (``say`` spoke twice before
        issue 11).
        """
        req = self._build(method, path, body, raw_body)
        limit = timeout or self.timeout
        try:
            with urllib.request.urlopen(req, timeout=limit) as resp:
                return _reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return _reply(exc.code, exc.headers, exc.read())
        except urllib.error.URLError as exc:  # urllib wraps errors of connecting and sending
            raise DaemonUnavailable(f"no daemon at {self.url} ({exc.reason})") from exc
        except (OSError, http.client.HTTPException) as exc:  # after the request was sent
            what = f"no answer within {limit:g}s" if isinstance(exc, TimeoutError) else exc
            raise DaemonNoAnswer(
                0,
                f"the daemon at {self.url} took {method} {path} but gave {what}",
                hint="it may still be working on it; it was not repeated here",
            ) from exc

    def stream(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[bytes]:
        """One request whose answer is read piece by piece as the daemon sends it (chunked
        streams); an error answer raises :class:`~macbot.errors.DaemonError`. ``headers`` is
        filled with the answer's headers (lower-case names) before the first piece."""
        req = self._build(method, path, body)
        try:
            resp = urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            self._checked(_reply(exc.code, exc.headers, exc.read()))
            raise  # _checked raised already; this keeps type checkers content
        except urllib.error.URLError as exc:
            raise DaemonUnavailable(f"no daemon at {self.url} ({exc.reason})") from exc
        except (OSError, http.client.HTTPException) as exc:  # sent, but no answer came
            raise DaemonNoAnswer(
                0, f"the daemon at {self.url} took {method} {path} but gave no answer ({exc})"
            ) from exc
        if headers is not None:
            headers.update(_reply(resp.status, resp.headers, b"").headers)
        with resp:
            while piece := resp.read1(1 << 16):
                yield piece

    def _checked(self, reply: Reply) -> Reply:
        if reply.status >= 400:
            message, code = f"HTTP {reply.status}", None
            if "json" in reply.content_type:
                with contextlib.suppress(ValueError):  # a non-JSON page: keep the status
                    body = reply.json()
                    error = body.get("error", message)
                    if isinstance(error, dict):  # OpenAI's shape under /v1/
                        error, code = error.get("message", message), error.get("code")
                    else:
                        code = body.get("code")
                    message = str(error)
            raise DaemonError(reply.status, message, code)
        return reply

    def health(self, timeout: float = 1.0) -> dict[str, Any]:
        """``/health`` as JSON (also while the daemon is starting: ``ready`` false)."""
        try:
            reply = self.request("GET", "/health", timeout=timeout)
        except DaemonNoAnswer as exc:  # /health does nothing: no answer is no daemon here
            raise DaemonUnavailable(f"no answer from {self.url}/health ({exc})") from exc
        try:
            data = reply.json()
        except ValueError as exc:
            raise DaemonUnavailable(f"{self.url} is not a MacBot daemon") from exc
        if "ready" not in data and reply.status in (401, 403):
            raise DaemonError(
                reply.status, str(data.get("error", "unauthorized")), data.get("code")
            )
        if "ready" not in data:
            raise DaemonUnavailable(f"{self.url} is not a MacBot daemon")
        return data

    def ready(self, wait: float = 0.0, timeout: float = 1.0) -> bool:
        """Whether a daemon answers and has its voice loaded; waits up to ``wait`` seconds
        for one that is starting. ``False`` when nothing answers."""
        deadline = time.monotonic() + wait
        while True:
            try:
                if self.health(timeout=timeout).get("ready"):
                    return True
            except DaemonUnavailable:
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)

    def speak(
        self,
        text: str,
        voice: str | None = None,
        speed: float | None = None,
        play: bool = True,
        policy: str | None = None,
    ) -> SpeakResult:
        """``POST /speak``: with ``play`` the daemon queues the audio (under ``policy``:
        ``queue``, ``replace`` or ``interrupt``) and answers JSON; without, the answer is the
        WAV."""
        body: dict[str, Any] = {"text": text, "play": play}
        if policy is not None and play:
            body["policy"] = policy
        if voice is not None:
            body["voice"] = voice
        if speed is not None:
            body["speed"] = speed
        reply = self._checked(self.request("POST", "/speak", body))
        if play:
            return SpeakResult(info=reply.json(), headers=reply.headers)
        if "audio" not in reply.content_type:
            raise DaemonError(reply.status, f"expected audio, got {reply.content_type!r}")
        return SpeakResult(wav=reply.body, headers=reply.headers)

    def speak_timed(
        self,
        text: str,
        voice: str | None = None,
        speed: float | None = None,
        captions: str | None = None,
        fmt: str = "wav",
    ) -> dict[str, Any]:
        """``POST /speak`` with ``timestamps`` (and ``captions``: ``vtt`` or ``srt``): the
        JSON answer, ``{"audio": the file of format ``fmt`` in base64, "sample_rate",
        "duration", "words", "captions", …}``."""
        body: dict[str, Any] = {"text": text, "play": False, "timestamps": True, "format": fmt}
        if captions is not None:
            body["captions"] = captions
        if voice is not None:
            body["voice"] = voice
        if speed is not None:
            body["speed"] = speed
        return self._checked(self.request("POST", "/speak", body)).json()

    def job(self, job_id: str) -> dict[str, Any] | None:
        """A job's state where the daemon has a job endpoint (``/jobs/<id>``), else ``None``."""
        for path in (f"/jobs/{job_id}", f"/speak/{job_id}"):
            reply = self.request("GET", path)
            if reply.status in (404, 405):
                continue
            self._checked(reply)
            return reply.json()
        return None

    def follow_job(
        self,
        job_id: str,
        on_update: Callable[[dict[str, Any]], Any],
        interval: float = 0.05,
        timeout: float = 600.0,
    ) -> str:
        """Poll ``GET /jobs/{id}`` every ``interval`` seconds, handing each answer (state and
        progress: ``words``, ``current_word``) to ``on_update``, until the job has ended;
        returns its final state. A failed job raises :class:`DaemonError`."""
        deadline = time.monotonic() + timeout
        while True:
            state = self._checked(self.request("GET", f"/jobs/{job_id}")).json()
            on_update(state)
            word = str(state.get("state", ""))
            if word in _FAILED_STATES:
                raise DaemonError(500, f"job {job_id} failed")
            if state.get("done") is True or time.monotonic() > deadline:
                return word
            time.sleep(interval)

    def wait_played(self, result: SpeakResult, timeout: float = 600.0) -> str:
        """Block until ``result``'s audio has played: poll its job where the daemon reports one,
        otherwise wait for the audio's duration. Returns how it waited (for logs)."""
        job_id = result.job_id
        deadline = time.monotonic() + timeout
        if job_id is not None:
            state = self.job(job_id)
            while state is not None:
                word = str(state.get("state", state.get("status", ""))).lower()
                if word in _DONE_STATES or state.get("done") is True:
                    return f"job {job_id} {word or 'done'}"
                if word in _FAILED_STATES:
                    raise DaemonError(500, str(state.get("error", f"job {job_id} failed")))
                if time.monotonic() > deadline:
                    return f"job {job_id} still {word} after {timeout:g}s"
                time.sleep(0.1)
                state = self.job(job_id)
        time.sleep(min(result.duration, timeout))
        return f"waited {result.duration:.2f}s (the audio's duration)"

    def interrupt(self) -> dict[str, Any]:
        """``POST /interrupt``: stop what is playing and drop the queue."""
        reply = self.request("POST", "/interrupt", {})
        if reply.status == 404:
            raise DaemonError(404, "this daemon has no /interrupt (update macbot)")
        return self._checked(reply).json()

    def pause(self) -> dict[str, Any]:
        """``POST /pause``: hold playback mid-word until :meth:`resume`."""
        return self._checked(self.request("POST", "/pause", {})).json()

    def resume(self) -> dict[str, Any]:
        """``POST /resume``: go on from where :meth:`pause` held."""
        return self._checked(self.request("POST", "/resume", {})).json()

    def voices(self) -> dict[str, Any]:
        """``/voices``: ``{"default": name, "voices": [{name, language, …}]}``."""
        return self._checked(self.request("GET", "/voices", timeout=10)).json()

    def performance(self) -> dict[str, Any]:
        """``/tts-performance``: engine, voice, timings."""
        return self._checked(self.request("GET", "/tts-performance", timeout=5)).json()

    def info(self, timeout: float = 5.0) -> dict[str, Any]:
        """``/info``: engine, probes, decision and the background ``optimization``."""
        return self._checked(self.request("GET", "/info", timeout=timeout)).json()


def _reply(status: int, headers: Any, body: bytes) -> Reply:
    names = {k.lower(): v for k, v in (headers.items() if headers else [])}
    return Reply(status, names, body, names.get("content-type", ""))
