"""A safe localhost service: who may talk to the daemon at all.

Any web page the user opens can make the browser send requests to ``127.0.0.1``. The
``before_request`` hook installed by :func:`install` refuses, before any route runs (so
nothing is ever spoken for a refused request):

* a ``Host`` header that is not a loopback name (``localhost``, a loopback IP literal such
  as ``127.0.0.1`` or ``[::1]``, any port) or a configured name → 403. This defeats DNS
  rebinding, where ``evil.example`` resolves to 127.0.0.1 and the browser sends
  ``Host: evil.example:8123``.
* a browser cross-origin request: an ``Origin`` header that is not the daemon's own origin
  (``http://`` + the checked ``Host``), or ``Sec-Fetch-Site: cross-site``/``same-site`` → 403.
  Programs (curl, the ``openai`` client) send neither header.
* with a bearer token configured (``server.auth_token`` or ``$MACBOT_TOKEN``): a missing or
  wrong ``Authorization: Bearer …`` on any route but ``/health`` → 401.

Errors are JSON: ``{"error": message}``, or OpenAI's shape under ``/v1/``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, jsonify, request

from .config import AppConfig

_LOGGER = logging.getLogger(__name__)

ENV_TOKEN = "MACBOT_TOKEN"
"""Environment variable holding the bearer token when ``server.auth_token`` is not set."""

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""Host names always accepted in the ``Host`` header."""

OPEN_PATHS = frozenset({"/health"})
"""Routes that need no token (launchd and monitors poll them)."""

_CROSS_SITE = frozenset({"cross-site", "same-site"})


def auth_token(config: AppConfig) -> str | None:
    """The bearer token in force: ``server.auth_token``, else ``$MACBOT_TOKEN``, else none."""
    return config.server.auth_token or os.environ.get(ENV_TOKEN) or None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, without port or brackets) is loopback."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_host_names(config: AppConfig) -> frozenset[str]:
    """Lower-case names accepted in ``Host``: loopback, a non-loopback bind host, extras."""
    names = set(LOOPBACK_NAMES)
    host = config.server.host.strip("[]").lower()
    if host not in ("0.0.0.0", "::"):
        names.add(host)
    names.update(h.strip("[]").lower() for h in config.server.allowed_hosts)
    return frozenset(names)


def split_host(value: str) -> tuple[str, str | None] | None:
    """``"name:port"`` / ``"[::1]:port"`` → (name, port); ``None`` when malformed."""
    value = value.strip()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else None
    elif value.count(":") == 1:
        name, port = value.split(":")
    elif ":" in value:
        name, port = value, None  # a bare IPv6 address
    else:
        name, port = value, None
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        return None
    return name.lower(), port


def warn_if_exposed(config: AppConfig) -> None:
    """Log loudly when the daemon binds beyond loopback (call before binding)."""
    host = config.server.host.strip("[]")
    if is_loopback(host):
        return
    _LOGGER.warning(
        "SECURITY: server.host is %s, not loopback: other machines can reach the API%s. "
        "Keep 127.0.0.1 unless you mean it; add the names clients use to server.allowed_hosts.",
        host,
        "" if auth_token(config) else " and NO auth token is set (server.auth_token)",
    )


def install(app: Flask) -> None:
    """Install the refusal hook on ``app`` (reads the config of ``app.extensions`` per request,
    so a reloaded config applies at once)."""
    app.before_request(_guard)


def error_response(message: str, status: int, code: str | None = None) -> Response:
    """A JSON error; OpenAI's shape for ``/v1/`` routes, ``{"error": msg}`` elsewhere."""
    if request.path.startswith("/v1/"):
        from .openai_api import openai_error  # local: keeps the import graph one-way

        return openai_error(message, status, code=code)
    resp = jsonify(error=message)
    resp.status_code = status
    return resp


def _guard() -> Response | None:
    config: AppConfig = current_app.extensions["macbot"]["config"]
    refusal = _check_host(config) or _check_origin() or _check_token(config)
    if refusal is None:
        return None
    message, status, code = refusal
    _LOGGER.warning(
        "refused %s %s from %s: %s", request.method, request.path, request.remote_addr, message
    )
    resp = error_response(message, status, code)
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="macbot"'
    return resp


def _check_host(config: AppConfig) -> tuple[str, int, str] | None:
    raw = request.headers.get("Host", "")
    parsed = split_host(raw)
    if parsed is None or not (parsed[0] in allowed_host_names(config) or _loopback_ip(parsed[0])):
        return (
            f"host {raw!r} is not allowed (the daemon answers only to localhost names; "
            "add others to server.allowed_hosts)",
            403,
            "host_not_allowed",
        )
    return None


def _loopback_ip(name: str) -> bool:
    """An IP literal in the loopback range (127.0.0.0/8, ::1 spelled out): no DNS involved."""
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_origin() -> tuple[str, int, str] | None:
    origin = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if origin is None:
        if fetch_site in _CROSS_SITE:
            return ("cross-site browser requests are not allowed", 403, "cross_origin")
        return None
    if not _same_origin(origin, request.headers.get("Host", "")):
        return (f"cross-origin request from {origin!r} refused", 403, "cross_origin")
    return None


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin.strip())
    if parts.scheme != "http" or not parts.netloc or parts.path not in ("", "/"):
        return False  # "null", https pages, file:// …
    mine, theirs = split_host(host), split_host(parts.netloc)
    if mine is None or theirs is None:
        return False
    port_mine = mine[1] or "80"
    port_theirs = theirs[1] or "80"
    return mine[0] == theirs[0] and port_mine == port_theirs


def _check_token(config: AppConfig) -> tuple[str, int, str] | None:
    token = auth_token(config)
    if token is None or request.path in OPEN_PATHS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return ("missing bearer token (Authorization: Bearer TOKEN)", 401, "missing_token")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return ("invalid bearer token", 401, "invalid_api_key")
    return None


def masked(value: Any) -> Any:
    """How a secret shows in ``/config``: ``"***"`` when set, ``None`` when not."""
    return "***" if value else None
