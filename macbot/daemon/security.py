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
  wrong ``Authorization: Bearer …`` on any route but ``/health`` and the static page ``/``
  → 401.

Errors are JSON: ``{"error": message}``, or OpenAI's shape under ``/v1/``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request

from ..config import AppConfig, auth_token
from ..errors import (
    CrossOrigin,
    HostNotAllowed,
    InvalidToken,
    MacbotError,
    MissingToken,
    Unauthorized,
    UsageError,
)
from .state import state

_LOGGER = logging.getLogger(__name__)

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""Host names always accepted in the ``Host`` header."""

OPEN_PATHS = frozenset({"/health"})
"""Routes that need no token (launchd and monitors poll them)."""

PAGE_PATHS = frozenset({"/", "/favicon.ico"})
"""Pages an HTTP ``GET`` may load without a token: the try-it page is static and holds no
secret; everything it fetches needs the token. (Only over HTTP: the WebSocket's path is
``/`` too, and it needs the token.)"""

_CROSS_SITE = frozenset({"cross-site", "same-site"})


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
    """Install the refusal hook on ``app`` (reads the config in force per request, so a
    reloaded config applies at once)."""
    app.before_request(_guard)


def _guard() -> None:
    config = state().config
    refusal = check_headers(config, request.headers, request.path)
    if refusal is None or (isinstance(refusal, Unauthorized) and _page_request()):
        return  # a token refusal comes after the Host and Origin checks passed
    _LOGGER.warning(
        "refused %s %s from %s: %s", request.method, request.path, request.remote_addr, refusal
    )
    raise refusal


def check_headers(
    config: AppConfig,
    headers: Mapping[str, str],
    path: str,
    other_origin_ports: Collection[int] = (),
    token: str | None = None,
) -> MacbotError | None:
    """The refusal for a request with ``headers`` to ``path`` (``None``: allowed): the Host,
    Origin and token rules above. The WebSocket, on its own port, passes the HTTP port in
    ``other_origin_ports`` (a page of the daemon may connect) and a ``token`` given in its
    URL (browsers cannot set headers on a WebSocket)."""
    return (
        _check_duplicates(headers)
        or _check_host(config, headers)
        or _check_origin(headers, other_origin_ports)
        or _check_token(config, headers, path, token)
    )


_SINGLE_HEADERS = ("Host", "Origin", "Authorization")


def _check_duplicates(headers: Mapping[str, str]) -> MacbotError | None:
    """A header that decides a refusal, given twice, is refused (a 400). The WebSocket's
    headers raise on ``get`` of a repeated name (a 500 with a traceback before issue 21);
    waitress joins repeats with commas, which the checks below refuse."""
    get_all = getattr(headers, "get_all", None)
    if get_all is None:
        return None
    for name in _SINGLE_HEADERS:
        if len(get_all(name)) > 1:
            return UsageError(f"the {name} header is given more than once", param=name)
    return None


def _check_host(config: AppConfig, headers: Mapping[str, str]) -> MacbotError | None:
    raw = headers.get("Host", "")
    parsed = split_host(raw)
    if parsed is None or not (parsed[0] in allowed_host_names(config) or is_loopback(parsed[0])):
        return HostNotAllowed(
            f"host {raw!r} is not allowed (the daemon answers only to localhost names; "
            "add others to server.allowed_hosts)"
        )
    return None


def _check_origin(headers: Mapping[str, str], other_ports: Collection[int]) -> MacbotError | None:
    origin = headers.get("Origin")
    fetch_site = headers.get("Sec-Fetch-Site", "").lower()
    if origin is None:
        if fetch_site in _CROSS_SITE:
            return CrossOrigin("cross-site browser requests are not allowed")
        return None
    if not _same_origin(origin, headers.get("Host", ""), other_ports):
        return CrossOrigin(f"cross-origin request from {origin!r} refused")
    return None


def _same_origin(origin: str, host: str, other_ports: Collection[int] = ()) -> bool:
    parts = urlsplit(origin.strip())
    if parts.scheme != "http" or not parts.netloc or parts.path not in ("", "/"):
        return False  # "null", https pages, file:// …
    mine, theirs = split_host(host), split_host(parts.netloc)
    if mine is None or theirs is None:
        return False
    port_mine = mine[1] or "80"
    port_theirs = theirs[1] or "80"
    ports = {port_mine, *(str(p) for p in other_ports)}
    return mine[0] == theirs[0] and port_theirs in ports


def _check_token(
    config: AppConfig, headers: Mapping[str, str], path: str, from_url: str | None
) -> MacbotError | None:
    token = auth_token(config)
    if token is None or path in OPEN_PATHS:
        return None
    header = headers.get("Authorization", "")
    if not header and from_url:
        header = f"Bearer {from_url}"
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return MissingToken("missing bearer token (Authorization: Bearer TOKEN)")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return InvalidToken("invalid bearer token")
    return None


def _page_request() -> bool:
    return request.method in ("GET", "HEAD") and request.path in PAGE_PATHS


def masked(value: Any) -> Any:
    """How a secret shows in ``/config``: ``"***"`` when set, ``None`` when not."""
    return "***" if value else None
