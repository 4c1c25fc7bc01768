"""``GET /``: a page to try the daemon in a browser (``page.html``: one file, inline script
and style, no build step, no external assets).

The page needs no token to load (it holds no secret); what it fetches does. With a token
configured, ``macbot page`` opens it as ``/#token=…``: a URL fragment is never sent to the
server nor logged, and the page moves it into the tab's ``sessionStorage`` and out of the
address bar. A page opened without it asks for the token.
"""

from __future__ import annotations

import functools
from importlib import resources

from flask import Blueprint, Response

bp = Blueprint("page", __name__)

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; media-src blob:; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""Only the page's own inline script and style, requests to this daemon, and the audio it
made; no other site's frames may embed it."""


@bp.get("/")
def page() -> Response:
    """The try-it page (text/html): type or paste text, hear it with each word highlighted as
    it plays (``/speak`` with ``timestamps``), the engine, the optimization state (``/info``)
    and live metrics (``/tts-performance``, polled)."""
    resp = Response(page_html(), 200, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@functools.cache
def page_html() -> str:
    """The packaged ``page.html``."""
    return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
