"""``macbot mcp``: an MCP server over stdio, so MCP clients (Claude Code, Claude Desktop,
Cursor …) can speak. Built on the official ``mcp`` SDK (the ``mcp`` extra, imported only here).

Tools: ``speak(text, voice?, speed?, wait?)``, ``stop``, ``pause``, ``resume``, ``voices``.
Each call goes through the running daemon when one answers (its queue, cache and sound
device, shared with every other client) and otherwise speaks in this process, with a voice
loaded on first use. Failures come back as tool errors with the one-line message the command
line would print.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any

from ..config import AppConfig
from ..core.playback import Player, SoundDeviceOutput
from ..core.synthesizer import Synthesizer
from ..core.voices import list_voices
from ..errors import DaemonUnavailable, MacbotError, MissingExtraError, NoAudioDeviceError
from .http import DaemonClient

_LOGGER = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Speaks text aloud on this computer with a local voice (MacBot TTS). Call `speak` with "
    "what you want the user to hear: markdown, numbers, URLs and code are read as a person "
    "would. `wait: true` returns once the words have played. `stop` ends the speech at once, "
    "`pause` and `resume` hold and continue it, `voices` lists the voices for `voice`."
)


class Speaker:
    """The five operations, through the daemon when one answers, else in this process."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.client = DaemonClient.from_config(config, timeout=30.0)
        self._lock = threading.Lock()
        self._synth: Synthesizer | None = None
        self._player: Player | None = None

    # -- the tools -----------------------------------------------------------------------------

    def speak(
        self,
        text: str,
        voice: str | None = None,
        speed: float | None = None,
        wait: bool = False,
    ) -> dict[str, Any]:
        if self._daemon():
            result = self.client.speak(text, voice, speed, play=True)
            if result.info.get("played") is False:
                raise NoAudioDeviceError(
                    f"the daemon at {self.client.url} cannot play: "
                    f"{result.info.get('message', 'playback unavailable')}"
                )
            out = {"spoken_by": "daemon", "job_id": result.job_id, **_pick(result.info)}
            if wait and result.job_id is not None:
                out["state"] = self.client.follow_job(result.job_id, lambda _state: None, 0.1)
            return out
        synth, player = self._local()
        ok, reason = player.available()
        if not ok:
            raise NoAudioDeviceError(f"no daemon answers and this process cannot play: {reason}")
        options = synth.default_options().with_overrides(speed=speed)
        engine = synth.engine(voice)
        job = player.submit(synth.stream(text, voice, options))
        out = {
            "spoken_by": "in-process",
            "job_id": str(job.id),
            "status": "queued",
            "voice": engine.voice.name,
            "engine": engine.engine_type,
        }
        if wait:
            job.done.wait()
            if job.error is not None:
                raise job.error
            out["state"] = job.state
        return out

    def stop(self) -> dict[str, Any]:
        return self.client.interrupt() if self._daemon() else self._local()[1].interrupt()

    def pause(self) -> dict[str, Any]:
        return self.client.pause() if self._daemon() else self._local()[1].pause()

    def resume(self) -> dict[str, Any]:
        return self.client.resume() if self._daemon() else self._local()[1].resume()

    def voices(self) -> dict[str, Any]:
        if self._daemon():
            return self.client.voices()
        synth = self._local()[0]
        return {
            "default": synth.default_voice.name,
            "voices": [v.describe() for v in list_voices(self.config.tts.voices_dir)],
        }

    # -- where -----------------------------------------------------------------------------------

    def _daemon(self) -> bool:
        try:
            return self.client.ready(wait=0.0, timeout=1.0)
        except DaemonUnavailable:
            return False

    def _local(self) -> tuple[Synthesizer, Player]:
        """The in-process synthesizer and player, made on first use."""
        with self._lock:
            if self._synth is None:
                _LOGGER.info("no daemon at %s: speaking in this process", self.client.url)
                self._synth = Synthesizer(self.config)
                device = self.config.voice_assistant.audio.output_device
                self._player = Player(SoundDeviceOutput(device))
            return self._synth, self._player

    def close(self) -> None:
        if self._player is not None:
            self._player.close()
        if self._synth is not None:
            self._synth.close()


def _pick(info: dict[str, Any]) -> dict[str, Any]:
    return {k: info[k] for k in ("status", "voice", "engine", "policy") if k in info}


def server_class() -> Callable[..., Any]:
    """The SDK's high-level server: ``MCPServer`` (mcp 2), ``FastMCP`` (mcp 1)."""
    try:
        from mcp.server.mcpserver import MCPServer

        return MCPServer
    except ImportError:
        pass
    try:
        from mcp.server.fastmcp import FastMCP
    except ImportError as exc:
        raise MissingExtraError(
            "the MCP server needs the mcp package: pip install 'macbot-tts[mcp]'"
        ) from exc
    return FastMCP


def tool_error_class() -> type[Exception]:
    """The SDK's error whose message reaches the client (others are masked as crashes)."""
    try:
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        from mcp.server.fastmcp.exceptions import ToolError
    return ToolError


def build_server(speaker: Speaker) -> Any:
    """The MCP server with the five tools, each run on a worker thread (speaking may wait);
    a :class:`~macbot.errors.MacbotError` reaches the client as a tool error with its line."""
    import anyio

    server = server_class()("macbot-tts", instructions=INSTRUCTIONS)
    tool_error = tool_error_class()

    async def run(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        try:
            return await anyio.to_thread.run_sync(functools.partial(fn, *args))
        except MacbotError as exc:
            hint = f" (hint: {exc.hint})" if exc.hint else ""
            raise tool_error(f"{exc}{hint}") from exc

    @server.tool()
    async def speak(
        text: str, voice: str | None = None, speed: float | None = None, wait: bool = False
    ) -> dict[str, Any]:
        """Speak `text` aloud (markdown is fine). `voice`: a name from `voices` (default: the
        configured voice); `speed`: 0.25 to 4 (default 1); `wait`: return once it has played
        (default: at once, while it plays)."""
        return await run(speaker.speak, text, voice, speed, wait)

    @server.tool()
    async def stop() -> dict[str, Any]:
        """Stop speaking now and drop what is queued."""
        return await run(speaker.stop)

    @server.tool()
    async def pause() -> dict[str, Any]:
        """Hold the speech where it is, until `resume`."""
        return await run(speaker.pause)

    @server.tool()
    async def resume() -> dict[str, Any]:
        """Go on speaking from where `pause` held."""
        return await run(speaker.resume)

    @server.tool()
    async def voices() -> dict[str, Any]:
        """The voices `speak` takes, and the default."""
        return await run(speaker.voices)

    return server


def serve(config: AppConfig) -> None:
    """Run the MCP server on standard input and output until the client closes it."""
    server_class()  # a missing extra fails here, before anything starts
    speaker = Speaker(config)
    try:
        build_server(speaker).run()
    finally:
        speaker.close()
