"""Latest-value-wins rendering: a slider drag sends many values, but only the newest one that
arrives while a render runs is rendered next; the ones in between are dropped, never queued."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LatestValueRenderer:
    """Run ``render(request)`` for the newest submitted request, one at a time.

    ``threaded=True`` renders on a worker thread, so the kernel keeps receiving slider events
    (and overwriting the pending request) while a render runs. ``threaded=False`` renders inside
    ``submit`` (scripts, tests, and frontends that serialise events anyway). ``on_error`` gets
    any exception a render raises; the worker keeps going.
    """

    def __init__(
        self,
        render: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        threaded: bool = True,
    ) -> None:
        self._render = render
        self._on_error = on_error
        self.threaded = threaded
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending: Any = None
        self._has_pending = False
        self._worker: threading.Thread | None = None
        self.submitted = 0  # requests received
        self.rendered = 0  # renders run (fewer than submitted when values were superseded)

    def submit(self, request: Any) -> None:
        with self._lock:
            self.submitted += 1
            self._pending, self._has_pending = request, True
            if not self.threaded:
                start = False
            elif self._worker is None:
                self._idle.clear()
                self._worker = threading.Thread(
                    target=self._loop, name="liaviz-render", daemon=True
                )
                start = True
            else:
                start = False  # the running worker picks the new value up when it finishes
        if not self.threaded:
            self._drain()
        elif start:
            self._worker.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted request is rendered or superseded. False on timeout."""
        return self._idle.wait(timeout)

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def _take(self) -> tuple[bool, Any]:
        with self._lock:
            if not self._has_pending:
                self._worker = None
                self._idle.set()
                return False, None
            request, self._pending, self._has_pending = self._pending, None, False
            return True, request

    def _run(self, request: Any) -> None:
        try:
            self._render(request)
        except Exception as e:  # shown in the widget; the explorer stays usable
            self._on_error(e)
        finally:
            self.rendered += 1

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._has_pending:
                    return
                request, self._pending, self._has_pending = self._pending, None, False
            self._run(request)

    def _loop(self) -> None:
        while True:
            ok, request = self._take()
            if not ok:
                return
            self._run(request)
