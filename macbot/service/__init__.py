"""Running the daemon as a background service: a launchd agent on macOS, a systemd user unit
on Linux. ``macbot service install|uninstall|start|stop|status|logs`` (see :mod:`.cli`)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ServiceError
from .base import ServiceManager, ServiceSpec, ServiceStatus
from .launchd import LaunchdManager
from .runner import CommandResult, Runner, SubprocessRunner
from .systemd import SystemdManager

__all__ = [
    "CommandResult",
    "Runner",
    "ServiceError",
    "ServiceManager",
    "ServiceSpec",
    "ServiceStatus",
    "SubprocessRunner",
    "manager_for",
]


def manager_for(
    platform: str | None = None, runner: Runner | None = None, home: Path | None = None
) -> ServiceManager:
    """The service manager of this OS (``platform`` as ``sys.platform``): launchd on macOS,
    systemd elsewhere on Linux. Raises :class:`ServiceError` on other systems."""
    platform = platform or sys.platform
    runner = runner or SubprocessRunner()
    home = home or Path.home()
    if platform == "darwin":
        return LaunchdManager(runner, home)
    if platform.startswith("linux"):
        return SystemdManager(runner, home)
    raise ServiceError(f"background services are supported on macOS and Linux, not {platform}")
