"""``GET /``: a page to try the daemon in a browser (``page.html``: one file, inline script
and style, no build step, no external assets).

The page needs no token to load (it holds no secret); what it fetches does. With a token
configured, ``macbot page`` opens it as ``/#token=…``: a URL fragment is never sent to the
server nor logged, and the page moves it into the tab's ``sessionStorage`` and out of the
address bar. A page opened without it asks for the token.
"""

from __future__ import annotations

import functools
import struct
import zlib
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


@bp.get("/favicon.ico")
def favicon() -> Response:
    """The page's icon (``image/x-icon``: a 32×32 PNG in an ICO; browsers ask for it)."""
    resp = Response(favicon_ico(), 200, mimetype="image/x-icon")
    resp.headers["Cache-Control"] = "max-age=86400"
    return resp


ICON_SIZE = 32
ICON_BARS = (0.35, 0.6, 0.9, 0.6, 0.35)
"""A sound wave's bars (heights as shares of the icon) in white on the page's blue disc."""


@functools.cache
def favicon_ico() -> bytes:
    """The icon, drawn here (no asset file, nothing fetched): a PNG wrapped in an ICO."""
    n = ICON_SIZE
    rows = []
    for y in range(n):
        row = bytearray(b"\x00")  # PNG filter: none
        for x in range(n):
            cx, cy = x + 0.5 - n / 2, y + 0.5 - n / 2
            inside = cx * cx + cy * cy <= (n / 2) ** 2
            bar = int((x - 4) // 5) if 4 <= x < 4 + 5 * len(ICON_BARS) else -1
            lit = (
                0 <= bar < len(ICON_BARS) and (x - 4) % 5 < 3 and abs(cy) <= ICON_BARS[bar] * n / 2
            )
            row += bytes((255, 255, 255, 255) if lit and inside else (47, 111, 221, 255 * inside))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", n, n, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png
