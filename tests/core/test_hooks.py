"""What a Claude Code hook event says (issue 19): the event's own text, templates, limits."""

from __future__ import annotations

import pytest

from macbot.config import config_from_dict
from macbot.core.hooks import claude_speech, parse_input, shorten
from macbot.errors import ExitCode, HookInputError


def hooks(**claude):
    return config_from_dict({"hooks": {"claude": claude}}).hooks.claude


def test_stop_says_the_reply_and_notification_its_message_or_title():
    config = hooks()
    stop = claude_speech({"hook_event_name": "Stop", "last_assistant_message": " Done. "}, config)
    assert (stop.text, stop.policy) == ("Done.", "replace")
    note = claude_speech({"hook_event_name": "Notification", "title": "Claude Code"}, config)
    assert (note.text, note.policy) == ("Claude Code", "queue")


def test_templates_fill_fields_and_leave_unknown_ones():
    config = hooks(events={"PreToolUse": {"text": "Running {tool_name} in {cwd} {nope}"}})
    said = claude_speech(
        {"hook_event_name": "PreToolUse", "tool_name": "Bash", "cwd": "/app", "tool_input": {}},
        config,
    )
    assert said.text == "Running Bash in /app {nope}"


def test_silent_events_say_why():
    assert "silent" in claude_speech({"hook_event_name": "PreToolUse"}, hooks()).reason
    off = claude_speech(
        {"hook_event_name": "Stop", "last_assistant_message": "x"}, hooks(enabled=False)
    )
    assert off.text is None and "enabled" in off.reason
    empty = claude_speech({"hook_event_name": "Stop", "last_assistant_message": 5}, hooks())
    assert empty.text is None and "no text" in empty.reason


def test_long_replies_are_cut_at_a_paragraph_or_sentence_end():
    reply = "First paragraph here.\n\nSecond one is longer. It goes on. And on and on."
    assert shorten(reply, 40) == "First paragraph here."
    assert shorten("One two three. Four five six seven.", 24) == "One two three."
    assert shorten("One. Two three four five six.", 20) == "One. Two three four"  # not tiny
    assert shorten("word " * 20, 23).endswith("word") and len(shorten("word " * 20, 23)) <= 23
    config = hooks(max_chars=30)
    said = claude_speech({"hook_event_name": "Stop", "last_assistant_message": reply}, config)
    assert said.text == "First paragraph here."


@pytest.mark.parametrize("raw", [b"", b"\xff", b"nope", b"[]", b'{"hook_event_name": ""}'])
def test_bad_input_is_a_hook_input_error_exiting_13(raw):
    with pytest.raises(HookInputError) as info:
        parse_input(raw)
    assert info.value.exit_code == ExitCode.HOOK_INPUT == 13
