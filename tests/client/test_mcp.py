"""``macbot mcp`` (issue 19): the real server as a subprocess, driven by the official MCP SDK's
own stdio client, as an MCP client (Claude Code, Claude Desktop) starts and calls it."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

TOOLS = {"speak", "stop", "pause", "resume", "voices"}


def session_run(url: str, calls: list[tuple[str, dict[str, Any]]]) -> tuple[set[str], list]:
    """Start ``macbot mcp`` with the daemon at ``url``, list its tools and make ``calls``."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "macbot", "mcp"],
        env={**os.environ, "MACBOT_URL": url},
    )

    async def main():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {tool.name for tool in (await session.list_tools()).tools}
            results = [await session.call_tool(name, args) for name, args in calls]
            return tools, results

    return anyio.run(main)


def is_error(result) -> bool:
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


def payload(result) -> dict:
    """The tool's dict, from its text content (SDK 1.x and 2.x alike)."""
    return json.loads(result.content[0].text)


def test_tools_speak_through_the_running_daemon(live_server):
    calls = [
        ("voices", {}),
        ("speak", {"text": "Build **finished**: 3 tests passed.", "wait": True}),
        ("pause", {}),
        ("resume", {}),
        ("stop", {}),
    ]
    tools, (voices, spoken, paused, resumed, stopped) = session_run(live_server.url, calls)
    assert tools == TOOLS
    assert not any(is_error(r) for r in (voices, spoken, paused, resumed, stopped))
    assert "en_US-joe-medium" in {v["name"] for v in payload(voices)["voices"]}
    said = payload(spoken)
    assert said["spoken_by"] == "daemon" and said["state"] == "done"
    played = sum(len(s) for s, _ in live_server.output.played)
    expected = live_server.synth.synthesize("Build **finished**: 3 tests passed.")
    assert played == len(expected.samples)
    assert payload(paused)["paused"] is True and payload(resumed)["paused"] is False
    assert payload(stopped)["stopped"] == 0


def test_speak_errors_come_back_as_tool_errors(live_server):
    _, (bad_voice, bad_speed) = session_run(
        live_server.url,
        [("speak", {"text": "Hi.", "voice": "nobody"}), ("speak", {"text": "Hi.", "speed": 9})],
    )
    assert is_error(bad_voice) and "nobody" in bad_voice.content[0].text
    assert is_error(bad_speed) and "speed" in bad_speed.content[0].text
    assert live_server.output.played == []


def test_without_a_daemon_it_speaks_in_process():
    """No daemon answers: the tools run in this process; this machine has no sound card, so
    speak says why (the voice list works)."""
    started = time.monotonic()
    _, (voices, spoken) = session_run(
        "http://127.0.0.1:9", [("voices", {}), ("speak", {"text": "Hello."})]
    )
    assert not is_error(voices) and payload(voices)["default"] == "en_US-joe-medium"
    assert is_error(spoken) and "cannot play" in spoken.content[0].text
    assert time.monotonic() - started < 120


def test_missing_extra_names_it(monkeypatch):
    from macbot.client import mcp_server
    from macbot.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "mcp", None)
    monkeypatch.setitem(sys.modules, "mcp.server.mcpserver", None)
    monkeypatch.setitem(sys.modules, "mcp.server.fastmcp", None)
    with pytest.raises(MissingExtraError, match=r"macbot-tts\[mcp\]"):
        mcp_server.server_class()
