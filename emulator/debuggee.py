"""The worker's side of ``serve --debug-port``: debugpy in the execution environment.

Loaded by :mod:`emulator.worker` (by path: like the worker, it imports nothing of the
project) when the runner starts a worker under a debugger. debugpy listens on the
given address in this process (its in-process adapter, so the port closes when the
worker ends and a new worker can take it); any DAP client attaches there.

While an invocation runs, a thread the debugger never stops watches whether any
thread is stopped in the debugger (at a breakpoint, a step, a pause) and writes
``{"debugger": "stopped"}`` or ``{"debugger": "running"}`` on the results stream, so
that the runner suspends the invocation's timeout while it is stopped. The context's
``get_remaining_time_in_millis()`` is moved on by the time spent stopped as well.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

WATCH_SECONDS = 0.05


def _stopped() -> bool:
    """Whether any thread waits in the debugger (pydevd marks it ``is_in_wait_loop``)."""
    for thread in threading.enumerate():
        info = getattr(thread, "additional_info", None)
        if info is not None and getattr(info, "is_in_wait_loop", False):
            return True
    return False


class Debuggee:
    """debugpy listening in this process, and the invocation watch (see the module's doc)."""

    def __init__(self, results: IO[str], address: str, debugpy_dir: str) -> None:
        self._results = results
        self._lock = threading.Lock()
        self._context: Any = None
        self._stopped_at: float | None = None
        host, _, port = address.rpartition(":")
        sys.path.append(debugpy_dir)  # after the function's code and the standard library
        import debugpy

        debugpy.listen((host, int(port)), in_process_debug_adapter=True)
        watch = threading.Thread(target=self._watch, name="ws-emulator-debug-watch", daemon=True)
        # pydevd neither traces nor suspends its own threads, so marked: the debugger never
        # stops it (on 3.12 and later, with sys.monitoring, disabling tracing in the thread
        # itself isn't enough: a breakpoint suspended it too, and the timeout ran on).
        watch.pydev_do_not_trace = True  # type: ignore[attr-defined]
        watch.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
        watch.start()

    def write(self, line: str) -> None:
        """A line on the results stream, whole, whichever thread writes it."""
        with self._lock:
            self._results.write(line + "\n")
            self._results.flush()

    def begin(self, context: Any) -> None:
        with self._lock:
            self._context = context
            self._stopped_at = None
        remaining = context.get_remaining_time_in_millis

        def remaining_after_stops() -> int:
            # The handler runs, so it isn't stopped, whether or not the watch noticed yet.
            with self._lock:
                self._resumed()
            return int(remaining())

        context.get_remaining_time_in_millis = remaining_after_stops

    def end(self) -> None:
        """The invocation is over: no line about it may follow its result."""
        with self._lock:
            self._context = None
            self._stopped_at = None

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            stopped = _stopped()
            with self._lock:
                if self._context is None:
                    continue
                if stopped and self._stopped_at is None:
                    self._stopped_at = time.monotonic()
                    self._results.write(json.dumps({"debugger": "stopped"}) + "\n")
                    self._results.flush()
                elif not stopped:
                    self._resumed()

    def _resumed(self) -> None:
        """Running again (under the lock): the deadline moves on by the time stopped."""
        if self._stopped_at is None or self._context is None:
            return
        paused_ms = int((time.monotonic() - self._stopped_at) * 1000)
        self._context._deadline_ms += paused_ms
        self._stopped_at = None
        self._results.write(json.dumps({"debugger": "running"}) + "\n")
        self._results.flush()
