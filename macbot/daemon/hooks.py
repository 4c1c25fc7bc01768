"""Coding agents' hooks: ``POST /hooks/claude`` (Claude Code's ``http`` hook type)."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from ..core.hooks import claude_speech, parse_input, shorten
from . import parsing
from .state import state

_LOGGER = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__)

MAX_HOOK_BODY = 1 << 20
"""Bytes a hook's JSON may have (1 MiB, over ``server.max_body_bytes``): Claude Code sends the
agent's whole last reply, which may be long; it is cut to ``hooks.claude.max_chars`` here."""


@bp.post("/hooks/claude")
def claude() -> Response:
    """Speak a Claude Code hook event.

    Request: the hook's JSON exactly as Claude Code POSTs it (``hook_event_name``,
    ``session_id``, ``transcript_path``, ``cwd`` and the event's fields: ``Stop`` has
    ``last_assistant_message``, ``Notification`` has ``message`` and ``title``); any content
    type. ``hooks.claude.events`` says which events speak and with which playback policy; the
    text goes through the text front end.

    Answer: ``202`` at once with an empty body (Claude Code reads an empty 2xx as success and
    goes on; synthesis and playback run in the background). ``X-Macbot-Hook`` says what became
    of it: ``queued`` (``X-Macbot-Job``: the playback job, as ``/jobs/{id}``), ``silent``
    (the event does not speak; ``X-Macbot-Reason`` says why) or ``unavailable`` (no sound
    device here). Input that is not a JSON object with ``hook_event_name``: ``400``
    (``invalid_hook_input``), which Claude Code shows and ignores. The body may have up to
    1 MiB (:data:`MAX_HOOK_BODY`), more than other routes: a long reply is cut to
    ``hooks.claude.max_chars`` at a paragraph or sentence end.
    """
    st = state()
    request.max_content_length = max(MAX_HOOK_BODY, st.config.server.max_body_bytes)
    event = parse_input(request.get_data(cache=False))
    hooks = st.config.hooks.claude
    speech = claude_speech(event, hooks)
    headers = {"X-Macbot-Hook-Event": speech.event}
    if speech.text is None:
        return _answer("silent", headers, speech.reason)
    ok, reason = st.player.available()
    if not ok:
        return _answer("unavailable", headers, reason)
    synth = st.synthesizer
    voice = parsing.voice_name(hooks.voice, st.voice_names())
    text = shorten(speech.text, st.config.server.max_text_chars)
    options = synth.default_options().with_overrides(speed=hooks.speed)
    job = st.player.submit(synth.stream(text, voice, options), speech.policy)
    _LOGGER.info("hook %s: job %d (%s, %d chars)", speech.event, job.id, speech.policy, len(text))
    headers["X-Macbot-Job"] = str(job.id)
    return _answer("queued", headers)


def _answer(what: str, headers: dict[str, str], reason: str = "") -> Response:
    headers["X-Macbot-Hook"] = what
    if reason:
        headers["X-Macbot-Reason"] = reason.encode("ascii", "replace").decode("ascii")
    return Response(b"", 202, headers, mimetype="text/plain")
