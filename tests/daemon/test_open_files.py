"""2,000 idle connections on any protocol, under a hard limit of 1,256 open files (lower than
the daemon asks for), never stop the other protocols from serving, and the flooded listener
serves again once they are gone (issue 21, item 7). A real `macbot serve` in a subprocess with a
lowered RLIMIT_NOFILE; the idle sockets are this process's (its own limit is higher)."""

from __future__ import annotations

import contextlib
import errno
import json
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

OPEN_FILES = 1256
"""What the daemon once set itself on macOS (server.connection_limit + 256): 1,000 HTTP
connections beside the WebSocket's 64 handshakes took every file (CI, 2026-12-03). It now asks
for more and, held below that here, serves fewer HTTP connections."""
IDLE = 2000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _daemon(folder: Path, open_files: int):
    """`macbot serve` with every listener on, under ``open_files``: (process, ports, log)."""
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < IDLE * 2:
        pytest.skip("this process may not open enough sockets for the idle clients")
    ports = {"http": _free_port(), "websocket": _free_port(), "wyoming": _free_port()}
    config = folder / "macbot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {"tts": {"piper": {"noise_scale": 0.0, "noise_w_scale": 0.0}}},
                "server": {
                    "port": ports["http"],
                    "websocket": {"enabled": True, "port": ports["websocket"]},
                    "wyoming": {"enabled": True, "port": ports["wyoming"]},
                },
            }
        ),
        encoding="utf-8",
    )
    log = folder / "daemon.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "macbot", "--config", str(config), "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files)),
        )
    try:
        deadline = time.monotonic() + 90
        while not _serves("http", ports):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield proc, ports, log
    finally:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with _daemon(tmp_path_factory.mktemp("open-files"), OPEN_FILES) as started:
        yield started


def _serves(protocol: str, ports: dict[str, int]) -> bool:
    """One real request on ``protocol`` is answered."""
    port = ports[protocol]
    try:
        if protocol == "http":
            return requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        if protocol == "websocket":
            with connect(f"ws://127.0.0.1:{port}/", open_timeout=5) as conn:
                conn.send(json.dumps({"type": "close"}))
                kinds = []
                while True:
                    try:
                        kinds.append(json.loads(conn.recv(timeout=10))["type"])
                    except ConnectionClosed:
                        return kinds == ["ready", "done"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as wy:
            wy.sendall(b'{"type": "describe"}\n')
            return b'"info"' in wy.recv(65536)
    except (OSError, InvalidHandshake, TimeoutError):
        return False


def _idle_sockets(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that never send a byte (connects left pending past the listen
    queue are fine: they are idle clients too)."""
    held = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        code = s.connect_ex(("127.0.0.1", port))
        assert code in (0, errno.EINPROGRESS), errno.errorcode.get(code)
        held.append(s)
    return held


def _open_files(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _diagnosis(proc: subprocess.Popen, log: Path) -> str:
    lines = [line for line in log.read_text().splitlines() if "websocket.protocol" not in line]
    tail = "\n".join(lines[-30:])
    return (
        f"daemon: {_open_files(proc.pid)} open files of {OPEN_FILES}, "
        f"{_threads(proc.pid)} threads; its log ends:\n{tail}"
    )


def _wait_at_rest(proc: subprocess.Popen, log: Path) -> None:
    """Until the last test's connections are gone. After a flood, clients the kernel had left
    half-open (the listen queue full) can reach the WebSocket seconds after they closed and
    hold its handshake slots until they are found gone: an aftermath of that flood, not of
    the next one (at rest the daemon runs about 20 threads; each handshake adds two)."""
    deadline = time.monotonic() + 30
    while _threads(proc.pid) > 40:
        assert time.monotonic() < deadline, _diagnosis(proc, log)
        time.sleep(0.2)


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return -1


@pytest.mark.parametrize("flooded", ["wyoming", "websocket", "http"])
def test_idle_connections_on_one_protocol_never_stop_the_others(daemon, flooded):
    proc, ports, log = daemon
    _wait_at_rest(proc, log)
    held = _idle_sockets(ports[flooded], IDLE)
    try:
        time.sleep(2)  # the daemon accepts what it will
        threads = _threads(proc.pid)
        others = [p for p in ports if p != flooded]
        served = {p: _serves(p, ports) for p in others}
        assert served == dict.fromkeys(others, True), _diagnosis(proc, log)
        assert proc.poll() is None
    finally:
        for s in held:
            s.close()
    # the flooded listener serves again (the WebSocket's accept loop ended at EMFILE before)
    deadline = time.monotonic() + 60
    while not _serves(flooded, ports):
        assert time.monotonic() < deadline, f"{flooded} never served again:\n{log.read_text()}"
        time.sleep(0.5)
    failed = log.read_text().count("accept() failed")
    print(f"{flooded}: {IDLE} idle, daemon threads {threads}, accept() lines so far {failed}")
    if flooded == "websocket":
        assert threads < 200  # 200 sessions ran on 698 threads before (sessions are capped)
    # resource errors are logged, not once per failed accept() (1.87 million lines before)
    assert log.read_text().count("accept() failed") < 50


def test_every_listener_full_at_once_leaves_files_to_spare(daemon):
    """Each listener's connections are counted in the open files the daemon asks for, and
    HTTP, the one with most, gets fewer where the hard limit is lower. CI found 1,000 HTTP
    connections beside 64 WebSocket handshakes (4 files each) at 1,254 of 1,256 files: the
    WebSocket's accept() failed, 1.4 s after its own flood ended."""
    proc, ports, log = daemon
    _wait_at_rest(proc, log)
    before = log.read_text().count("Too many open files")
    held = [s for port in ports.values() for s in _idle_sockets(port, IDLE)]
    try:
        peak = 0
        for _ in range(20):  # the listeners fill, and handshakes time out and are replaced
            time.sleep(0.5)
            peak = max(peak, _open_files(proc.pid))
        assert proc.poll() is None
    finally:
        for s in held:
            s.close()
    print(f"all three listeners full: {peak} open files of {OPEN_FILES}")
    assert peak < OPEN_FILES - 64, _diagnosis(proc, log)
    assert log.read_text().count("Too many open files") == before, _diagnosis(proc, log)
    assert f"open files are limited to {OPEN_FILES}: serving" in log.read_text()
    for protocol in ports:
        deadline = time.monotonic() + 60
        while not _serves(protocol, ports):
            assert time.monotonic() < deadline, f"{protocol} never served again"
            time.sleep(0.5)


def test_listeners_accept_again_after_the_open_files_ran_out(tmp_path):
    """issue 21 item 7: after EMFILE the WebSocket's accept loop had ended for good, and
    waitress logged accept()'s error 1.87 million times. Here every file runs out (200: the
    WebSocket's 64 handshakes alone would take 256)."""
    with _daemon(tmp_path, 200) as (proc, ports, log):
        held = _idle_sockets(ports["websocket"], IDLE)
        try:
            time.sleep(2)
            for protocol in ("http", "wyoming"):  # their accept() fails too now
                _serves(protocol, ports)
            time.sleep(1)
        finally:
            for s in held:
                s.close()
        for protocol in ports:
            deadline = time.monotonic() + 60
            while not _serves(protocol, ports):
                assert time.monotonic() < deadline, f"{protocol} never served again"
                time.sleep(0.5)
        assert proc.poll() is None
        failed = log.read_text().count("accept() failed")
    print(f"accept() failed lines: {failed}")
    assert 1 <= failed < 50
