"""Coding agents' hooks: what a Claude Code hook event says, and with which playback policy.

Claude Code sends the same JSON to a command hook (on standard input) and to an HTTP hook
(``POST`` body): ``session_id``, ``transcript_path``, ``cwd``, ``hook_event_name`` and the
event's own fields: ``Stop`` and ``SubagentStop`` carry ``last_assistant_message``,
``Notification`` carries ``message``, ``title`` and ``notification_type``,
``UserPromptSubmit`` carries ``prompt``, tool events ``tool_name`` and ``tool_input``.
``hooks.claude.events`` (:class:`~macbot.config.ClaudeHookEvents`) says which events speak;
this module turns one event into a :class:`HookSpeech`. The text goes through the text front
end like any other: a code-heavy reply is read as a person would read it (code blocks become
a short note, markdown is not spelled out).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from ..config import ClaudeHooksConfig
from ..errors import HookInputError

EVENT_TEXT = {
    "Stop": "last_assistant_message",
    "SubagentStop": "last_assistant_message",
    "Notification": "message",
    "UserPromptSubmit": "prompt",
}
"""The field whose text an event says by itself."""

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PARAGRAPH_END = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"[.!?…](?=\s)")


@dataclass(frozen=True)
class HookSpeech:
    """What one hook event says: ``text`` (``None``: nothing, ``reason`` says why), with
    ``policy``."""

    event: str
    text: str | None
    policy: str = "queue"
    reason: str = ""


def parse_input(raw: bytes | str) -> dict[str, Any]:
    """The hook's JSON object, or a :class:`HookInputError` saying what is wrong with it."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HookInputError(f"hook input is not UTF-8 (byte {exc.start})") from exc
    if not raw.strip():
        raise HookInputError(
            "no hook input: expected the hook's JSON (Claude Code sends it on standard input)"
        )
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise HookInputError(f"hook input is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise HookInputError(f"hook input must be a JSON object, got {type(event).__name__}")
    name = event.get("hook_event_name")
    if not isinstance(name, str) or not name.strip():
        raise HookInputError("hook input has no 'hook_event_name' string", param="hook_event_name")
    return event


def claude_speech(event: dict[str, Any], config: ClaudeHooksConfig) -> HookSpeech:
    """What ``event`` (a parsed Claude Code hook input) says under ``config``."""
    name = str(event["hook_event_name"])
    if not config.enabled:
        return HookSpeech(name, None, reason="hooks.claude.enabled is false")
    known = {f.name for f in dataclasses.fields(config.events)}
    setting = getattr(config.events, name) if name in known else None
    if setting is None or not setting.speak:
        return HookSpeech(name, None, reason=f"hooks.claude.events.{name} is silent")
    if setting.text is not None:
        text = _FIELD.sub(lambda m: _field(event, m), setting.text)
    else:
        own = event.get(EVENT_TEXT.get(name, ""))
        if name == "Notification" and not (isinstance(own, str) and own.strip()):
            own = event.get("title")
        text = own if isinstance(own, str) else ""
    text = shorten(text.strip(), config.max_chars)
    if not text:
        return HookSpeech(name, None, setting.policy, f"{name} has no text to speak")
    return HookSpeech(name, text, setting.policy)


def shorten(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start up to the last
    paragraph end before the limit, or the last sentence end, or the last space."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for pattern in (_PARAGRAPH_END, _SENTENCE_END):
        ends = [m.end() for m in pattern.finditer(head)]
        if ends and ends[-1] > limit // 3:
            return head[: ends[-1]].rstrip()
    cut = head.rfind(" ")
    return head[: cut if cut > 0 else limit].rstrip()


def _field(event: dict[str, Any], match: re.Match[str]) -> str:
    value = event.get(match.group(1))
    return str(value) if isinstance(value, (str, int, float)) else match.group(0)
