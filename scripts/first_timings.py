"""Seconds from a fresh install's first start to word timings (issue 19's target: within a
minute on the 2-core test machine).

Starts the real daemon (``python -m macbot serve``) on a free port with an empty
``optimized_dir`` and the background optimizer on, then asks ``/speak`` with ``timestamps``
every half second until the answer carries words (by default it first waits, reading
``/info``, until the engine streams through the split; ``--speak-all-along`` speaks all the
time instead, which pauses the optimizer for each request). Prints one JSON line: seconds to a
healthy daemon, to the first words, the engine then, the optimizer's step at that moment, and
the load average. Usage: ``python scripts/first_timings.py`` (wrap it in ``flock`` on a shared
machine).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

TEXT = "Word timings from the first minute."
LIMIT_S = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as resp:
        return json.load(resp)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="macbot-first-"))
    port = free_port()
    config = folder / "macbot.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {"tts": {"optimized_dir": str(folder / "optimized")}},
                "server": {"port": port, "websocket": {"enabled": False}},
                "voice_assistant": {"performance": {"tts_cache_enabled": False}},
            }
        )
    )
    env = {**os.environ, "MACBOT_AUTO_OPTIMIZE": "1"}
    env.pop("MACBOT_URL", None)
    started = time.monotonic()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "macbot", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    result: dict = {"port": port}
    try:
        while time.monotonic() - started < LIMIT_S:
            try:
                if get(base + "/health").get("ready"):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        result["ready_s"] = round(time.monotonic() - started, 1)
        # /info is cheap; a /speak every half second would keep the synthesizer busy, and the
        # daemon pauses its optimizer while it synthesizes (--speak-all-along measures that)
        while "--speak-all-along" not in sys.argv and time.monotonic() - started < LIMIT_S:
            decision = get(base + "/info").get("engine_decision") or {}
            if decision.get("streaming") or str(decision.get("winner")).startswith("split/"):
                break
            time.sleep(0.5)
        while time.monotonic() - started < LIMIT_S:
            answer = post(base + "/speak", {"text": TEXT, "play": False, "timestamps": True})
            if answer.get("words"):
                result["words_s"] = round(time.monotonic() - started, 1)
                result["engine"] = answer.get("engine")
                opt = get(base + "/info")["optimization"]
                result["optimizer"] = f"{opt.get('state')} ({opt.get('step')})"
                break
            time.sleep(0.5)
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    result["load_average"] = os.getloadavg()[0]
    print(json.dumps(result))
    return 0 if "words_s" in result else 1


if __name__ == "__main__":
    sys.exit(main())
