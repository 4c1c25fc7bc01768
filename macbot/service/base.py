"""What every service manager (launchd, systemd) offers, and the values they share."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..config import PROJECT_ROOT


@dataclass(frozen=True)
class ServiceSpec:
    """How the service runs the daemon."""

    python: Path = field(default_factory=lambda: Path(sys.executable))
    """The interpreter of this install (the venv's), so the service runs this macbot."""

    config_path: Path | None = None
    """Passed as ``MACBOT_CONFIG``; ``None``: the daemon uses its built-in defaults."""

    working_dir: Path = PROJECT_ROOT
    """The daemon's working directory (relative config paths resolve against the file)."""

    def program_arguments(self, *extra: str) -> list[str]:
        """``python -m macbot serve`` plus ``extra``."""
        return [str(self.python), "-m", "macbot", "serve", *extra]


@dataclass
class ServiceStatus:
    """The state of the service as its manager reports it."""

    manager: str
    """``launchd`` or ``systemd``."""
    installed: bool
    """The plist/unit file exists."""
    loaded: bool
    """The manager knows the service (bootstrapped / unit loaded)."""
    state: str
    """The manager's word: ``running``, ``not running``, ``active``, ``failed``, ``not loaded`` …"""
    pid: int | None = None
    last_exit: str | None = None
    """launchd's ``last exit code`` or systemd's ``Main PID`` result, as printed."""
    path: Path | None = None
    """The plist or unit file."""
    detail: str = ""
    """The manager's message when it refused (for ``status`` to show)."""

    @classmethod
    def not_loaded(cls, manager: str, path: Path, output: str) -> ServiceStatus:
        """The manager does not know the service; ``output`` is its message."""
        return cls(
            manager, path.exists(), False, "not loaded", path=path, detail=" ".join(output.split())
        )

    @property
    def running(self) -> bool:
        return self.pid is not None or self.state in ("running", "active")

    def to_dict(self) -> dict[str, object]:
        return {
            "manager": self.manager,
            "installed": self.installed,
            "loaded": self.loaded,
            "state": self.state,
            "running": self.running,
            "pid": self.pid,
            "last_exit": self.last_exit,
            "path": str(self.path) if self.path else None,
            "detail": self.detail,
        }


class ServiceManager(Protocol):
    name: str
    path: Path
    """The plist or unit file this manager writes."""

    def install(self, spec: ServiceSpec) -> list[str]:
        """Write the service file, load and start it; returns what was done, line by line."""
        ...

    def uninstall(self) -> list[str]:
        """Stop and unload the service and remove its file."""
        ...

    def start(self) -> list[str]:
        """(Re)start the daemon."""
        ...

    def stop(self) -> list[str]:
        """Stop the daemon (it starts again at the next login)."""
        ...

    def status(self) -> ServiceStatus: ...

    def log_command(self, lines: int, follow: bool) -> list[str]:
        """The command that shows the daemon's log (``tail``/``journalctl``)."""
        ...

    def log_files(self) -> list[Path]:
        """Files the daemon logs to (empty where the journal keeps them)."""
        ...
