"""Coding agents: ``macbot hook`` (Claude Code's command hooks) and ``macbot mcp`` (an MCP
server over stdio)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from ..client.http import DaemonClient
from ..config import AppConfig
from ..core.hooks import EVENT_TEXT, claude_speech, parse_input, shorten
from ..errors import DaemonError, DaemonUnavailable, ExitCode
from .common import command

_LOGGER = logging.getLogger(__name__)

HOOK_TIMEOUT = 3.0
"""Seconds ``macbot hook`` waits for the daemon's answer (it answers at once: 202)."""

MAX_INPUT = 4 << 20
"""Bytes of standard input read at most (a reply far longer is cut by the daemon anyway)."""


def register(sub) -> None:
    hook = command(
        sub,
        "hook",
        help="speak a Claude Code hook event read on standard input (a command hook)",
        description="Read the JSON a Claude Code hook gets on standard input and have the\n"
        "daemon speak it (hooks.claude.events chooses the events and their policies).\n"
        "Returns at once and exits 0 whatever the daemon does, so the agent never waits;\n"
        f"input that is not a hook's JSON exits {int(ExitCode.HOOK_INPUT)} (HOOK_INPUT) with "
        "one line.\n\n"
        "in .claude/settings.json:\n"
        '  {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "macbot hook"}]}]}}',
    )
    hook.set_defaults(handler=run_hook)
    mcp = command(
        sub,
        "mcp",
        help="serve MCP over stdio: tools speak, stop, pause, resume, voices",
        description="An MCP server on standard input and output for MCP clients (Claude Code,\n"
        "Claude Desktop, Cursor …). Speaks through the running daemon, or in this process\n"
        "when none answers. Needs the mcp extra: pip install 'macbot-tts[mcp]'.\n\n"
        "examples:\n"
        "  claude mcp add macbot -- macbot mcp",
    )
    mcp.set_defaults(handler=run_mcp)


def run_hook(args: argparse.Namespace, config: AppConfig) -> int:
    raw = sys.stdin.buffer.read(MAX_INPUT)
    event = parse_input(raw)  # HookInputError: exit 13 with one line
    speech = claude_speech(event, config.hooks.claude)
    if speech.text is None:
        _LOGGER.info("hook %s: %s", speech.event, speech.reason)
        return ExitCode.OK
    if len(raw) > config.server.max_body_bytes:  # a reply longer than the daemon takes whole
        field = EVENT_TEXT.get(speech.event)
        if field:
            event[field] = shorten(speech.text, config.hooks.claude.max_chars)
        raw = json.dumps(event).encode("utf-8")
    client = DaemonClient.from_config(config, timeout=HOOK_TIMEOUT)
    try:
        reply = client.request("POST", "/hooks/claude", raw_body=raw)
    except DaemonUnavailable as exc:
        print(f"macbot hook: {exc}; nothing spoken (start one: macbot serve)", file=sys.stderr)
        return ExitCode.OK
    except DaemonError as exc:  # it took the request: it may well be speaking
        _LOGGER.info("hook %s: %s", speech.event, exc)
        return ExitCode.OK
    if reply.status >= 400:
        print(f"macbot hook: the daemon refused the event (HTTP {reply.status})", file=sys.stderr)
        return ExitCode.DAEMON_ERROR  # not 2: Claude Code reads 2 as "block"
    _LOGGER.info("hook %s: %s", speech.event, reply.headers.get("x-macbot-hook"))
    return ExitCode.OK


def run_mcp(args: argparse.Namespace, config: AppConfig) -> int:
    from ..client.mcp_server import serve

    serve(config)
    return ExitCode.OK
