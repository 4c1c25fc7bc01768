"""The daemon optimizes itself: ``macbot optimize --background`` as a child process.

Graph editing and quantization never enter the daemon's process (nor its memory): the daemon
starts ``python -m macbot optimize --background`` for each loaded voice whose results in
``optimized_dir`` are missing or stale (:func:`macbot.core.optimization.check`), one voice at
a time. The child runs really in the background (:mod:`macbot.core.background`: its own
session at autogroup nice 19, ``SCHED_IDLE`` and idle I/O on Linux, background QoS on macOS)
with one onnxruntime thread, dies with the daemon (even while stopped), reads the daemon's
config from its standard input (no file left behind) and prints its state as JSON lines; the
supervisor keeps the latest for ``/info`` and the menu bar.

Heavy work runs on AC power only, as Spotlight and Time Machine do: on battery a run waits to
start, or is stopped until the machine is plugged in again, and ``/info`` says why.

While the synthesizer is busy (any request being synthesized) the child is stopped with
SIGSTOP and continued with SIGCONT when it is idle again, so a sentence spoken during an
optimization takes about its idle time. When the child finishes, the voice's engine chain runs
again and the new engine is swapped in live (:meth:`Synthesizer.reload_engine`): requests in
flight finish on the old engine, none is dropped.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from ..config import AppConfig, auto_optimize
from ..core.background import PowerState, host
from ..core.optimization import EVENT, OptimizationState, check
from ..core.selection import EngineChain
from ..core.synthesizer import Synthesizer
from ..core.voices import VoiceInfo

_LOGGER = logging.getLogger(__name__)

STDERR_LINES = 40
"""Last lines of the child's stderr kept for the reason of a failure."""

POWER_POLL_S = 30.0
"""How often the power source is read while a run waits or runs."""

PARENT_ENV = "MACBOT_OPTIMIZER_PARENT"
"""The daemon's pid for the child (``macbot.cli.optimize`` reads it)."""


class OptimizationSupervisor:
    """Runs and watches the background optimizer for the voices of one synthesizer.

    ``extra_args``: appended to the child's command line (tests make the run small with
    ``--sentences``, ``--rounds``, ``--recipes``). ``python``: the interpreter to run.
    ``power``: reads AC or battery (default: this system's); ``power_poll_s``: how often.
    """

    def __init__(
        self,
        config: AppConfig,
        synthesizer: Synthesizer,
        extra_args: Sequence[str] = (),
        python: str = sys.executable,
        power: Callable[[], PowerState] | None = None,
        power_poll_s: float = POWER_POLL_S,
    ) -> None:
        self.config = config
        self.synth = synthesizer
        self.extra_args = list(extra_args)
        self.python = python
        self.power = power or host().power
        self.power_poll_s = power_poll_s
        self._busy = False
        self._on_battery: str | None = None
        """Why the child waits for power (``None``: on AC)."""
        self.enabled, self.why = auto_optimize(config)
        self._states: dict[str, OptimizationState] = {}
        self._queue: collections.deque[VoiceInfo] = collections.deque()
        self._wake = threading.Condition()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._stopped_child = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self.started = False
        self.history: list[tuple[str, str, str | None]] = []
        """(voice, state, step) each time one of them changed, in order."""
        self.swaps: list[str] = []
        """Voices whose split was swapped in as soon as the child made it, in order."""

    @property
    def child(self) -> subprocess.Popen | None:
        """The running ``macbot optimize --background`` process, if any."""
        with self._lock:
            return self._proc

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Check the default voice now and every voice loaded later; optimize those that need
        it, one at a time, in a background thread. Does nothing when switched off."""
        if self.started:
            return
        self.started = True
        if not self.enabled:
            _LOGGER.info("background optimization off: %s", self.why)
            return
        self._unsubscribe = [
            self.synth.activity.subscribe(self._on_activity),
            self.synth.subscribe_loads(self.submit),
        ]
        self._thread = threading.Thread(target=self._work, name="macbot-optimizer", daemon=True)
        self._thread.start()
        self.submit(self.synth.default_voice)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the child (if one runs) and the thread."""
        self._stop.set()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        with self._wake:
            self._wake.notify_all()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            _signal(proc, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def submit(self, voice: VoiceInfo) -> None:
        """Queue ``voice`` for a check (and a run when needed), once."""
        with self._wake:
            if voice.name in self._states or self._stop.is_set():
                return
            if voice.family not in ("piper", "kokoro"):  # each family has its pipeline
                reason = f"the {voice.family} family has no self-optimization here yet"
                self._states[voice.name] = OptimizationState(voice=voice.name, reason=reason)
                return
            state = OptimizationState(voice=voice.name, reason="queued")
            self._states[voice.name] = state
            self._queue.append(voice)
            self._wake.notify_all()

    # -- what /info shows ------------------------------------------------------------------

    def snapshot(self, voice: str | None = None) -> dict[str, Any]:
        """``/info``'s ``optimization``: the default voice's state, with every other voice's
        summary under ``voices``."""
        name = voice or self.synth.default_voice.name
        with self._lock:
            state = self._states.get(name)
            data = state.to_dict() if state is not None else None
            others = [s.summary() for n, s in self._states.items() if n != name]
        if data is None:  # read outside the lock: pausing the child must never wait on disk
            data = self._stored(name)
        data["auto"] = self.enabled
        if not self.enabled:
            data["reason"] = f"{self.why}; {data['reason']}" if data.get("reason") else self.why
        data["voices"] = others
        return data

    def _stored(self, name: str) -> dict[str, Any]:
        """The state from ``optimize.json`` for a voice this supervisor has not handled."""
        try:
            voice = self.synth.resolve(name)
            why, record = check(EngineChain(self.config, self.synth.plan.session), voice)
        except Exception as exc:  # /info must answer even if the record cannot be read
            _LOGGER.debug("no stored optimization state for %s: %s", name, exc)
            why, record = None, None
        state = OptimizationState.from_dict(record) if record else OptimizationState(voice=name)
        if record is None:
            state.reason = "not run in this process" + (f" ({why})" if why else "")
        elif why is not None:
            state.reason = f"stored results are stale: {why}"
        return state.to_dict()

    # -- pausing -----------------------------------------------------------------------------

    def _on_activity(self, busy: bool) -> None:
        """SIGSTOP the child while the synthesizer is busy, SIGCONT when it is idle."""
        with self._lock:
            self._busy = busy
            self._apply_pause()

    def _apply_pause(self) -> None:
        """Stop the child while the synthesizer is busy or the machine is on battery, continue
        it otherwise (called with ``_lock`` held)."""
        stop = self._busy or self._on_battery is not None
        proc = self._proc
        if proc is None or proc.poll() is not None or stop == self._stopped_child:
            return
        _signal(proc, signal.SIGSTOP if stop else signal.SIGCONT)
        self._stopped_child = stop
        for state in self._states.values():
            if state.state == "running":
                state.paused = stop

    # -- power -------------------------------------------------------------------------------

    def _read_power(self) -> str | None:
        """Why heavy work waits now (on battery), or ``None`` on AC."""
        try:
            power = self.power()
        except Exception as exc:  # an unreadable power source must not stop optimization
            _LOGGER.debug("power source unknown, assuming AC: %s", exc)
            return None
        return f"waiting for AC power: {power.detail}" if power.on_battery else None

    def _wait_for_power(self, voice: VoiceInfo) -> bool:
        """Block while on battery, ``/info`` saying why; ``False`` when stopped meanwhile."""
        while not self._stop.is_set():
            why = self._read_power()
            if why is None:
                return True
            self._set(voice.name, state="idle", reason=why)
            _LOGGER.info("optimization of %s %s", voice.name, why)
            with self._wake:
                self._wake.wait(self.power_poll_s)
        return False

    def _watch_power(self, proc: subprocess.Popen, voice: str) -> None:
        """While the child runs: stop it on battery (``/info`` saying why), continue on AC."""
        while proc.poll() is None and not self._stop.is_set():
            why = self._read_power()
            with self._lock:
                changed = why != self._on_battery
                self._on_battery = why
                self._apply_pause()
                state = self._states.get(voice)
                if changed and state is not None and state.state == "running":
                    state.reason = why or "on AC power again"
            if changed:
                _LOGGER.info("optimization of %s: %s", voice, why or "on AC power again")
            with self._wake:
                self._wake.wait(self.power_poll_s)

    # -- the worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                while not self._queue and not self._stop.is_set():
                    self._wake.wait()
                if self._stop.is_set():
                    return
                voice = self._queue.popleft()
            try:
                self._handle(voice)
            except Exception as exc:  # one voice's failure must not end optimization for all
                _LOGGER.exception("background optimization of %s failed", voice.name)
                self._set(voice.name, state="failed", reason=f"supervisor error: {exc}")

    def _handle(self, voice: VoiceInfo) -> None:
        chain = EngineChain(self.config, self.synth.plan.session)
        why, record = check(chain, voice)
        if why is None and record is not None:
            state = OptimizationState.from_dict(record)
            done = state.state == "done"
            state.reason = (
                f"up to date (finished {state.finished_at}): {state.reason}"
                if done
                else f"the last run failed; not retried yet: {state.reason}"
            )
            self._replace(state)
            _LOGGER.info("optimization of %s: %s", voice.name, state.reason)
            return
        if not self._wait_for_power(voice):
            return
        _LOGGER.info("optimizing %s in the background: %s", voice.name, why)
        self._set(voice.name, state="running", reason=why or "", started_at=None)
        started = time.monotonic()
        final = self._run_child(voice)
        if self._stop.is_set():
            return
        if final is None or final.state != "done":
            reason = final.reason if final is not None else "the optimizer stopped early"
            self._set(voice.name, state="failed", step=None, reason=reason, paused=False)
            _LOGGER.error("background optimization of %s failed: %s", voice.name, reason)
            return
        _LOGGER.info(
            "optimization of %s done in %.0fs: chose %s",
            voice.name,
            time.monotonic() - started,
            final.reason,
        )
        if voice.name in self.synth.loaded_voices():
            self.synth.reload_engine(voice.name)

    def _run_child(self, voice: VoiceInfo) -> OptimizationState | None:
        """Run ``macbot optimize --background`` for ``voice``; the last state it printed."""
        # -X faulthandler: a crash in native code (onnxruntime, onnx) leaves its Python stack
        # on stderr, which is logged below
        command = [self.python, "-X", "faulthandler", "-m", "macbot", "--config", "-", "optimize"]
        command += ["--background", *self._voice_args(voice), *self.extra_args]
        last: OptimizationState | None = None
        tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        proc: subprocess.Popen | None = None
        try:
            # its own session: the terminal's Ctrl-C is the daemon's to handle, and on Linux
            # the session is the autogroup that the child sets to nice 19. PR_SET_PDEATHSIG
            # fires when the forking thread ends: this thread, which waits for the child.
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.PIPE,
                text=True,
                start_new_session=True,
                env={**os.environ, PARENT_ENV: str(os.getpid())},
            )
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):  # it died at once: its stderr says why
                proc.stdin.write(self._config_text())
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            with self._lock:
                self._proc, self._stopped_child, self._on_battery = proc, False, None
                self._busy = self.synth.activity.busy
                self._apply_pause()
            errors = threading.Thread(
                target=self._read_stderr, args=(proc, tail), name="macbot-optimizer-log"
            )
            errors.start()
            threading.Thread(
                target=self._watch_power,
                args=(proc, voice.name),
                name="macbot-optimizer-power",
                daemon=True,
            ).start()
            assert proc.stdout is not None
            for line in proc.stdout:
                state = _parse(line)
                if state is None:
                    continue
                if _split_done(state) and not _split_done(last):
                    self._swap_in_split(voice)
                last = state
                with self._lock:
                    state.paused = self._stopped_child
                self._replace(state)
            proc.wait()
            errors.join(timeout=5)
        finally:
            with self._lock:
                self._proc = None
            with self._wake:
                self._wake.notify_all()  # the power watcher ends with the child
            if proc is not None:
                for pipe in (proc.stdout, proc.stderr):
                    if pipe is not None:
                        pipe.close()
        if proc.returncode != 0 and tail:
            _LOGGER.warning(
                "the optimizer of %s exited with status %s; its last lines:\n%s",
                voice.name,
                proc.returncode,
                "\n".join(tail),
            )
        if proc.returncode != 0 and (last is None or last.state != "failed"):
            detail = tail[-1] if tail else f"exit status {proc.returncode}"
            fatal = [i for i, line in enumerate(tail) if line.startswith("Fatal Python error")]
            if fatal:  # a native crash: what glibc or the runtime said, not the stack's end
                detail = "; ".join(list(tail)[max(fatal[0] - 1, 0) : fatal[0] + 1])
            last = last or OptimizationState(voice=voice.name)
            last.state, last.reason = "failed", f"the optimizer exited: {detail}"
        return last

    def _swap_in_split(self, voice: VoiceInfo) -> None:
        """The split is made (the pipeline's first step, seconds in): swap it in now rather than
        when the whole run ends, so that word timings (its phoneme durations) and streaming
        inside sentences work from the first minute. The chain finds no tuned variant yet and
        runs the original through the split, exactly (issue 19 item 4). In its own thread: the
        child's state lines keep being read meanwhile."""
        decision = self.synth.decisions.get(voice.name)
        if decision is None or self._stop.is_set():
            return  # not loaded: nothing to swap
        if decision.streaming is not None or str(decision.winner).startswith("split/"):
            return  # already streaming through this voice's split
        self.swaps.append(voice.name)

        def swap() -> None:
            try:
                self.synth.reload_engine(voice.name)
            except Exception:  # the old engine keeps serving; the end of the run swaps again
                _LOGGER.exception("swapping in the split of %s failed", voice.name)

        threading.Thread(target=swap, name="macbot-optimizer-split", daemon=True).start()

    def _read_stderr(self, proc: subprocess.Popen, tail: collections.deque[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip()
            if line:
                tail.append(line)
                _LOGGER.debug("optimizer: %s", line)

    def _voice_args(self, voice: VoiceInfo) -> list[str]:
        if voice.name == self.synth.default_voice.name:
            return []
        return ["--voice", str(voice.model_path)]

    def _config_text(self) -> str:
        """The daemon's effective config for the child's standard input (the token left out)."""
        data = self.config.to_dict()
        data["server"]["auth_token"] = None
        return yaml.safe_dump(data)

    # -- state -------------------------------------------------------------------------------

    def _replace(self, state: OptimizationState) -> None:
        with self._lock:
            old = self._states.get(state.voice)
            self._states[state.voice] = state
            if old is None or (old.state, old.step) != (state.state, state.step):
                self.history.append((state.voice, state.state, state.step))

    def _set(self, voice: str, **changes: Any) -> None:
        with self._lock:
            state = self._states.setdefault(voice, OptimizationState(voice=voice))
            before = (state.state, state.step)
            for key, value in changes.items():
                setattr(state, key, value)
            if (state.state, state.step) != before:
                self.history.append((voice, state.state, state.step))


def _signal(proc: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it just ended: nothing to pause or resume
        os.kill(proc.pid, signum)


def _split_done(state: OptimizationState | None) -> bool:
    """The child reported its split step done (made or reused: the chain can stream with it)."""
    return state is not None and any(s.name == "split" and s.state == "done" for s in state.steps)


def _parse(line: str) -> OptimizationState | None:
    try:
        data = json.loads(line)
    except ValueError:
        _LOGGER.debug("optimizer printed a non-JSON line: %s", line.strip()[:200])
        return None
    if not isinstance(data, dict) or data.get("event") != EVENT:
        return None
    return OptimizationState.from_dict(data.get("state") or {})
