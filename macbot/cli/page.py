"""``macbot page``: the address of the daemon's try-it page, with the token for it.

With a token configured the URL carries it in its fragment (``/#token=…``), which the browser
never sends to the server; the page keeps it in the tab's ``sessionStorage``. ``--open``
hands the URL to the default browser (on its command line, which other users of this machine
could see in the process list for a moment); without it, copy the printed URL.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from urllib.parse import quote

from ..client.http import daemon_url
from ..config import AppConfig, auth_token
from ..errors import ExitCode
from .common import command


def register(sub) -> None:
    page = command(
        sub,
        "page",
        help="print (or open) the daemon's try-it page, with the token it needs",
        description="Print the address of the daemon's page (GET /): type text, hear it with\n"
        "each word highlighted, see the engine and live metrics. With a token configured the\n"
        "address carries it after '#', which the browser keeps to itself.\n\n"
        "examples:\n"
        "  macbot page\n"
        "  macbot page --open",
    )
    page.add_argument(
        "--open",
        action="store_true",
        help="open it in the default browser (default: print it only)",
    )
    page.set_defaults(handler=run)


def page_url(config: AppConfig) -> str:
    """``http://HOST:PORT/``, with ``#token=…`` when the daemon has a token."""
    url = daemon_url(config) + "/"
    token = auth_token(config)
    return f"{url}#token={quote(token, safe='')}" if token else url


def run(args: argparse.Namespace, config: AppConfig) -> int:
    url = page_url(config)
    print(url)
    if args.open and not webbrowser.open(url):
        print("macbot: no browser to open it with; copy the address above", file=sys.stderr)
    return ExitCode.OK
