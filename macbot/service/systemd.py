"""The systemd user unit (Linux): ``~/.config/systemd/user/macbot-tts.service`` managed with
``systemctl --user``; the log is the journal (``journalctl --user -u macbot-tts``), which
journald rotates, so the unit does not pass ``--log-file``."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ..errors import ServiceError
from .base import ServiceSpec, ServiceStatus
from .runner import NOT_FOUND, CommandResult, Runner

_LOGGER = logging.getLogger(__name__)

UNIT = "macbot-tts.service"
RESTART_SEC = 5
STOP_TIMEOUT_SECONDS = 40
"""SIGKILL after SIGTERM only after this long: the daemon drains requests for up to 30 s."""


def unit_path(home: Path) -> Path:
    return home / ".config" / "systemd" / "user" / UNIT


def _quote(value: str) -> str:
    """A value for a unit file: ``%`` doubled (specifiers), quoted when it has spaces."""
    value = value.replace("%", "%%")
    if re.search(r'[\s"\\]', value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def build_unit(spec: ServiceSpec) -> str:
    """The unit file. ``Restart=on-failure`` restarts after a crash, not after the clean exit 0
    that ``macbot serve`` makes on SIGTERM (``systemctl stop``)."""
    exec_start = " ".join(_quote(a) for a in spec.program_arguments())
    env = ["PYTHONUNBUFFERED=1"]
    if spec.config_path is not None:
        env.insert(0, f"MACBOT_CONFIG={spec.config_path}")
    lines = [
        "# MacBot TTS daemon as a systemd user service. Written by `macbot service install`;",
        "# edits are overwritten by the next install.",
        "[Unit]",
        "Description=MacBot TTS daemon (local text-to-speech HTTP API)",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start}",
        f"WorkingDirectory={_quote(str(spec.working_dir))}",
        *(f"Environment={_quote(e)}" for e in env),
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={STOP_TIMEOUT_SECONDS}",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values…]}}`` of a unit file (comments and blank lines skipped)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ServiceError(f"unit file: unexpected line {raw!r}")
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def parse_status(text: str) -> dict[str, str]:
    """``Loaded``, ``Active`` (state), ``sub`` (the word in brackets) and ``Main PID`` (with
    its result) from ``systemctl status`` output."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        for key in ("Loaded", "Active", "Main PID"):
            if line.startswith(key + ":") and key not in fields:
                fields[key] = line[len(key) + 1 :].strip()
    active = fields.get("Active", "")
    match = re.match(r"(\S+)(?: \(([^)]*)\))?", active)
    if match:
        fields["state"] = match.group(1)
        fields["sub"] = match.group(2) or ""
    return fields


def _no_bus(result: CommandResult) -> bool:
    return "Failed to connect to bus" in result.output


def _no_unit(result: CommandResult) -> bool:
    out = result.output
    return "not loaded" in out or "does not exist" in out or "could not be found" in out


class SystemdManager:
    """``macbot service`` on Linux: a unit run by the user's systemd instance."""

    name = "systemd"

    def __init__(self, runner: Runner, home: Path) -> None:
        self.runner = runner
        self.home = home
        self.path = unit_path(home)

    def _systemctl(self, *args: str) -> CommandResult:
        return self._check(self.runner.run(["systemctl", "--user", *args]))

    def _check(self, result: CommandResult) -> CommandResult:
        if result.returncode == NOT_FOUND:
            raise ServiceError("systemctl not found: the background service needs systemd")
        if _no_bus(result):
            raise ServiceError(self._no_bus_message(result))
        return result

    def _no_bus_message(self, result: CommandResult) -> str:
        detail = " ".join(result.output.split())
        unit = (
            f"The unit file is {self.path}"
            if self.path.exists()
            else f"No unit file is installed ({self.path} does not exist)"
        )
        return (
            f"systemctl --user cannot reach your user service manager ({detail}); log in "
            "to a session that runs `systemd --user` (or run `loginctl enable-linger "
            f"$USER`), then try again. {unit}"
        )

    def _fail(self, what: str, result: CommandResult) -> ServiceError:
        detail = " ".join(result.output.split()) or f"exit status {result.returncode}"
        return ServiceError(f"systemctl --user {what} failed: {detail}")

    def install(self, spec: ServiceSpec) -> list[str]:
        """Write the unit, reload systemd, enable and start it. When systemd cannot be asked
        or refuses, the unit file is put back as it was (removed when there was none), so
        that ``status`` never says installed after a failed install (issue 19 item 9)."""
        text = build_unit(spec)
        parse_unit(text)  # a unit we cannot read back is a bug; fail before writing
        previous = self.path.read_text(encoding="utf-8") if self.path.is_file() else None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(text, encoding="utf-8")
        for what in (("daemon-reload",), ("enable", "--now", UNIT)):
            result = self.runner.run(["systemctl", "--user", *what])
            if result.ok and not _no_bus(result):
                continue
            undone = self._put_back(previous)
            if _no_bus(result):  # the message tells the unit file's state as it now is
                raise ServiceError(self._no_bus_message(result))
            if result.returncode == NOT_FOUND:
                raise ServiceError(
                    f"systemctl not found: the background service needs systemd; {undone}"
                )
            raise ServiceError(f"{self._fail(' '.join(what), result)}; {undone}")
        return [f"wrote {self.path}", f"enabled and started {UNIT} (systemctl --user enable --now)"]

    def _put_back(self, previous: str | None) -> str:
        """The unit file as it was before a failed install; says what was done."""
        if previous is None:
            self.path.unlink(missing_ok=True)
            return f"removed {self.path} again: nothing is installed"
        self.path.write_text(previous, encoding="utf-8")
        return f"put the previous {self.path} back"

    def uninstall(self) -> list[str]:
        done: list[str] = []
        result = self._systemctl("disable", "--now", UNIT)
        if result.ok:
            done.append(f"stopped and disabled {UNIT}")
        elif _no_unit(result):
            done.append(f"{UNIT} was not loaded")
        else:
            raise self._fail("disable --now", result)
        if self.path.exists():
            self.path.unlink()
            done.append(f"removed {self.path}")
        reload = self._systemctl("daemon-reload")
        if not reload.ok:
            raise self._fail("daemon-reload", reload)
        return done

    def start(self) -> list[str]:
        if not self.path.exists():
            raise ServiceError(f"not installed ({self.path} missing): run `macbot service install`")
        result = self._systemctl("restart", UNIT)
        if not result.ok:
            raise self._fail("restart", result)
        return [f"(re)started {UNIT} (systemctl --user restart)"]

    def stop(self) -> list[str]:
        result = self._systemctl("stop", UNIT)
        if result.ok:
            return [f"stopped {UNIT} (it starts again at the next login)"]
        if _no_unit(result):
            return [f"{UNIT} is not loaded"]
        raise self._fail("stop", result)

    def status(self) -> ServiceStatus:
        """What systemd says of the unit. Without a user service manager (no session bus:
        a container, an SSH login without lingering) systemd cannot say: the status then
        says so, with whether the unit file exists, instead of failing (issue 11)."""
        installed = self.path.exists()
        result = self.runner.run(["systemctl", "--user", "status", UNIT, "--no-pager", "--lines=0"])
        if _no_bus(result):
            return ServiceStatus(
                self.name,
                installed,
                False,
                "unknown (no user service manager)",
                path=self.path,
                detail=self._no_bus_message(result),
            )
        result = self._check(result)
        # systemctl status: 0 active, 3 not active, 4 no such unit.
        if result.returncode == 4 or "could not be found" in result.output:
            return ServiceStatus.not_loaded(self.name, self.path, result.output)
        if result.returncode not in (0, 3):
            raise self._fail("status", result)
        fields = parse_status(result.stdout)
        state = fields.get("state", "unknown")
        main = fields.get("Main PID", "")
        pid_match = re.match(r"(\d+)", main)
        result_match = re.search(r"\((code=[^)]*)\)", main)
        return ServiceStatus(
            self.name,
            installed,
            "not-found" not in fields.get("Loaded", ""),
            f"{state} ({fields['sub']})" if fields.get("sub") else state,
            pid=int(pid_match.group(1)) if pid_match and state == "active" else None,
            last_exit=result_match.group(1) if result_match else None,
            path=self.path,
        )

    def log_files(self) -> list[Path]:
        return []

    def log_command(self, lines: int, follow: bool) -> list[str]:
        return [
            "journalctl",
            "--user",
            "-u",
            UNIT.removesuffix(".service"),
            "-n",
            str(lines),
            "--no-pager",
            *(["-f"] if follow else []),
        ]
