"""The daemon's own log file, rotated by size.

launchd never rotates ``StandardOutPath``/``StandardErrorPath``, so ``macbot serve --log-file
PATH`` (what the launchd agent runs) logs through a :class:`~logging.handlers.RotatingFileHandler`
instead of stderr: ``PATH`` plus ``PATH.1`` … ``PATH.N``. Under systemd the journal rotates, and
the unit does not pass ``--log-file``.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

MAX_BYTES = 5 * 1024 * 1024
"""Rotate when the file reaches this size."""
BACKUPS = 3
"""Rotated files kept (``macbot.log.1`` … ``.3``): at most 20 MB of logs in all."""
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_to_file(path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> logging.Handler:
    """Send the root logger to a rotating ``path`` instead of its stream handlers (stderr, which
    launchd would append to forever). Returns the handler."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        if type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    return handler
