"""The launchd agent (macOS): the plist, and ``launchctl`` to load, start, stop and inspect it.

The plist is generated with :mod:`plistlib` by :func:`build_plist` (the committed
``launchd/com.macbot.tts.plist`` is the same function's output with ``@PLACEHOLDER@`` values),
checked by :func:`validate_plist`, and read back after writing.

Loading uses the launchctl 2 verbs (``bootstrap``/``bootout`` in the ``gui/<uid>`` domain,
``kickstart``, ``kill``, ``print``); where launchctl answers ``Unrecognized subcommand`` (before
OS X 10.10) it falls back to ``load -w``/``unload -w``/``start``/``stop``.
"""

from __future__ import annotations

import logging
import os
import plistlib
import re
from pathlib import Path
from typing import Any

from ..errors import ServiceError
from .base import ServiceSpec, ServiceStatus
from .runner import NOT_FOUND, CommandResult, Runner

_LOGGER = logging.getLogger(__name__)

LABEL = "com.macbot.tts"
THROTTLE_SECONDS = 10
"""launchd waits this long between restarts after a crash (its default is 10 s as well)."""
EXIT_TIMEOUT_SECONDS = 40
"""SIGKILL after SIGTERM only after this long: the daemon drains requests for up to 30 s."""
DAEMON_LOG = "macbot.log"
"""The daemon's own log (``serve --log-file``), rotated by the daemon."""
STDOUT_LOG = "launchd.out.log"
STDERR_LOG = "launchd.err.log"
"""Where launchd sends stdout/stderr: only what bypasses logging (a crash's traceback)."""

PLACEHOLDERS = {
    "python": "@PYTHON@",
    "config": "@CONFIG@",
    "working_dir": "@WORKDIR@",
    "home": "@HOME@",
}
"""The values in the committed template (``launchd/com.macbot.tts.plist``)."""

_REQUIRED: dict[str, type] = {
    "Label": str,
    "ProgramArguments": list,
    "RunAtLoad": bool,
    "KeepAlive": dict,
    "ThrottleInterval": int,
    "ExitTimeOut": int,
    "WorkingDirectory": str,
    "EnvironmentVariables": dict,
    "StandardOutPath": str,
    "StandardErrorPath": str,
    "ProcessType": str,
}


def log_dir(home: Path) -> Path:
    """``~/Library/Logs/MacBot`` (Console.app lists it under Log Reports)."""
    return home / "Library" / "Logs" / "MacBot"


def plist_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def build_plist(spec: ServiceSpec, home: Path) -> dict[str, Any]:
    """The agent's property list.

    ``KeepAlive: {SuccessfulExit: false}`` restarts the daemon after a crash (non-zero exit or
    a signal) but not after a clean exit: ``macbot serve`` exits 0 on SIGTERM, so
    ``macbot service stop`` stays stopped until the next login or ``start``.
    """
    logs = log_dir(home)
    env = {"PYTHONUNBUFFERED": "1"}
    if spec.config_path is not None:
        env["MACBOT_CONFIG"] = str(spec.config_path)
    return {
        "Label": LABEL,
        "ProgramArguments": spec.program_arguments("--log-file", str(logs / DAEMON_LOG)),
        "WorkingDirectory": str(spec.working_dir),
        "EnvironmentVariables": env,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": THROTTLE_SECONDS,
        "ExitTimeOut": EXIT_TIMEOUT_SECONDS,
        "ProcessType": "Interactive",
        "StandardOutPath": str(logs / STDOUT_LOG),
        "StandardErrorPath": str(logs / STDERR_LOG),
    }


def template_plist() -> dict[str, Any]:
    """:func:`build_plist` with the placeholders of the committed template."""
    spec = ServiceSpec(
        python=Path(PLACEHOLDERS["python"]),
        config_path=Path(PLACEHOLDERS["config"]),
        working_dir=Path(PLACEHOLDERS["working_dir"]),
    )
    return build_plist(spec, Path(PLACEHOLDERS["home"]))


def validate_plist(data: Any, placeholders: bool = False) -> None:
    """Raise :class:`ServiceError` unless ``data`` is a plist launchd will run as our agent:
    every required key with its type, absolute paths, string arguments and environment."""
    if not isinstance(data, dict):
        raise ServiceError("plist: the top level must be a dictionary")
    for key, kind in _REQUIRED.items():
        if key not in data:
            raise ServiceError(f"plist: missing key {key}")
        value = data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ServiceError(f"plist: {key} must be {kind.__name__}, got {type(value).__name__}")
    if data["Label"] != LABEL:
        raise ServiceError(f"plist: Label must be {LABEL}")
    args = data["ProgramArguments"]
    if not args or not all(isinstance(a, str) and a for a in args):
        raise ServiceError("plist: ProgramArguments must be non-empty strings")
    if data["KeepAlive"] != {"SuccessfulExit": False}:
        raise ServiceError("plist: KeepAlive must be {SuccessfulExit: false}")
    if data["ThrottleInterval"] <= 0 or data["ExitTimeOut"] <= 0:
        raise ServiceError("plist: ThrottleInterval and ExitTimeOut must be positive")
    env = data["EnvironmentVariables"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ServiceError("plist: EnvironmentVariables must map strings to strings")
    paths = [args[0], data["WorkingDirectory"], data["StandardOutPath"], data["StandardErrorPath"]]
    if "MACBOT_CONFIG" in env:
        paths.append(env["MACBOT_CONFIG"])
    for value in paths:
        if not (Path(value).is_absolute() or (placeholders and value.startswith("@"))):
            raise ServiceError(f"plist: {value} must be an absolute path")


def write_plist(path: Path, data: dict[str, Any]) -> None:
    """Validate, write atomically as XML, then read the file back and check it again."""
    validate_plist(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".plist.tmp")
    tmp.write_bytes(plistlib.dumps(data, fmt=plistlib.FMT_XML, sort_keys=False))
    os.replace(tmp, path)
    with path.open("rb") as fh:
        back = plistlib.load(fh)
    if back != data:
        raise ServiceError(f"{path}: the plist read back differs from what was written")
    validate_plist(back)


def parse_print(text: str) -> dict[str, str]:
    """The service's own ``key = value`` lines of ``launchctl print gui/<uid>/<label>``.

    Nested blocks (``environment = {…}``, coalitions) repeat keys such as ``state`` and ``pid``
    that are not the service's, so only lines one level inside the outer block count.
    """
    fields: dict[str, str] = {}
    depth = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.endswith("{"):
            depth += 1
            continue
        if line == "}" or line.startswith("}"):
            depth -= 1
            continue
        if depth == 1:
            key, sep, value = line.partition(" = ")
            if sep and key not in fields:
                fields[key] = value.strip()
    return fields


def _not_loaded(result: CommandResult) -> bool:
    out = result.output
    return (
        "Could not find service" in out
        or "No such process" in out
        or "not find specified service" in out
    )


def _unsupported(result: CommandResult) -> bool:
    return "Unrecognized subcommand" in result.output


def _maybe_loaded(result: CommandResult) -> bool:
    """``Bootstrap failed: 5: Input/output error`` is what launchctl says when the label is
    already in the domain (or still draining from a bootout); 37 is "already in progress"."""
    out = result.output
    return (
        "service already loaded" in out
        or "Input/output error" in out
        or "Operation already in progress" in out
        or result.returncode in (5, 37)
    )


class LaunchdManager:
    """``macbot service`` on macOS: a LaunchAgent in the user's ``gui/<uid>`` domain."""

    name = "launchd"

    def __init__(self, runner: Runner, home: Path, uid: int | None = None) -> None:
        self.runner = runner
        self.home = home
        self.uid = os.getuid() if uid is None else uid
        self.path = plist_path(home)
        self.logs = log_dir(home)

    @property
    def domain(self) -> str:
        return f"gui/{self.uid}"

    @property
    def target(self) -> str:
        return f"{self.domain}/{LABEL}"

    def _launchctl(self, *args: str) -> CommandResult:
        result = self.runner.run(["launchctl", *args])
        if result.returncode == NOT_FOUND:
            raise ServiceError("launchctl not found: launchd agents need macOS")
        _LOGGER.debug("launchctl %s -> %d %s", " ".join(args), result.returncode, result.output)
        return result

    def _fail(self, what: str, result: CommandResult) -> ServiceError:
        detail = " ".join(result.output.split()) or f"exit status {result.returncode}"
        return ServiceError(f"launchctl {what} failed: {detail}")

    # -- loading -------------------------------------------------------------------------------

    def _load(self) -> list[str]:
        """bootstrap the plist; replace an already-loaded copy; fall back to ``load -w``."""
        result = self._launchctl("bootstrap", self.domain, str(self.path))
        if result.ok:
            return [f"loaded {LABEL} into {self.domain} (launchctl bootstrap)"]
        if _unsupported(result):
            return self._legacy_load()
        if _maybe_loaded(result):
            # Already there (an older plist, or a stale half-load): take it out, load ours.
            out = self._launchctl("bootout", self.target)
            if not out.ok and not _not_loaded(out):
                raise self._fail("bootout", out)
            again = self._launchctl("bootstrap", self.domain, str(self.path))
            if again.ok:
                return [f"replaced the loaded {LABEL} in {self.domain} (bootout, bootstrap)"]
            raise self._fail("bootstrap", again)
        raise self._fail("bootstrap", result)

    def _legacy_load(self) -> list[str]:
        result = self._launchctl("load", "-w", str(self.path))
        if "service already loaded" in result.output:
            self._launchctl("unload", "-w", str(self.path))
            result = self._launchctl("load", "-w", str(self.path))
        if not result.ok or "failed" in result.output.lower():
            raise self._fail("load", result)
        return [f"loaded {self.path} (launchctl load -w: this launchctl has no bootstrap)"]

    # -- the commands --------------------------------------------------------------------------

    def install(self, spec: ServiceSpec) -> list[str]:
        self.logs.mkdir(parents=True, exist_ok=True)
        write_plist(self.path, build_plist(spec, self.home))
        done = [f"wrote {self.path}"]
        return done + self._load()

    def uninstall(self) -> list[str]:
        done: list[str] = []
        result = self._launchctl("bootout", self.target)
        if result.ok:
            done.append(f"unloaded {LABEL} (launchctl bootout)")
        elif _not_loaded(result):
            done.append(f"{LABEL} was not loaded")
        elif _unsupported(result):
            if self.path.exists():
                legacy = self._launchctl("unload", "-w", str(self.path))
                if not legacy.ok:
                    raise self._fail("unload", legacy)
            done.append(f"unloaded {self.path} (launchctl unload -w)")
        else:
            raise self._fail("bootout", result)
        if self.path.exists():
            self.path.unlink()
            done.append(f"removed {self.path}")
        return done

    def start(self) -> list[str]:
        if not self.path.exists():
            raise ServiceError(f"not installed ({self.path} missing): run `macbot service install`")
        result = self._launchctl("kickstart", "-k", self.target)
        if result.ok:
            return [f"(re)started {LABEL} (launchctl kickstart -k)"]
        if _not_loaded(result):
            return self._load()  # RunAtLoad starts it
        if _unsupported(result):
            done = self._legacy_load()
            legacy = self._launchctl("start", LABEL)
            if not legacy.ok:
                raise self._fail("start", legacy)
            return [*done, f"started {LABEL} (launchctl start)"]
        raise self._fail("kickstart", result)

    def stop(self) -> list[str]:
        result = self._launchctl("kill", "SIGTERM", self.target)
        if result.ok:
            return [
                f"sent SIGTERM to {LABEL}: it drains and exits 0, so KeepAlive leaves it stopped "
                "(it starts again at login or with `macbot service start`)"
            ]
        if _not_loaded(result):
            return [f"{LABEL} is not running"]
        if _unsupported(result):
            legacy = self._launchctl("unload", str(self.path))
            if not legacy.ok:
                raise self._fail("unload", legacy)
            return [f"unloaded {self.path} (launchctl unload)"]
        raise self._fail("kill", result)

    def status(self) -> ServiceStatus:
        installed = self.path.exists()
        result = self._launchctl("print", self.target)
        if not result.ok:
            if _not_loaded(result):
                return ServiceStatus.not_loaded(self.name, self.path, result.output)
            raise self._fail("print", result)
        fields = parse_print(result.stdout)
        pid = fields.get("pid")
        return ServiceStatus(
            self.name,
            installed,
            True,
            fields.get("state", "unknown"),
            pid=int(pid) if pid and re.fullmatch(r"\d+", pid) else None,
            last_exit=fields.get("last exit code"),
            path=self.path,
        )

    def log_files(self) -> list[Path]:
        return [self.logs / DAEMON_LOG, self.logs / STDERR_LOG, self.logs / STDOUT_LOG]

    def log_command(self, lines: int, follow: bool) -> list[str]:
        files = [str(p) for p in self.log_files() if p.exists()]
        if not files:
            raise ServiceError(f"no log files yet in {self.logs}")
        return ["tail", "-n", str(lines), *(["-F"] if follow else []), *files]
