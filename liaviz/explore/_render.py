"""Latest-value-wins rendering: a slider drag sends many values, but only the newest one that
arrives while a render runs is rendered next; the ones in between are dropped, never queued.

With a ``preview`` function, values that arrive while the user drags get the cheap preview, and
the full ``render`` runs once the values rest (no new one for ``rest_s``): the first response to
a drag costs a preview, not a full render. A preview that returns True was already full quality
(a small model), and is not rendered again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LatestValueRenderer:
    """Run ``render(request)`` for the newest submitted request, one at a time.

    ``threaded=True`` renders on a worker thread, so the kernel keeps receiving slider events
    (and overwriting the pending request) while a render runs. ``threaded=False`` renders inside
    ``submit`` (scripts, tests, and frontends that serialise events anyway), always in full.
    ``on_error`` gets any exception a render raises; the worker keeps going. ``on_busy(bool)``
    is told when the worker starts and stops (a busy indicator).
    """

    def __init__(
        self,
        render: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        threaded: bool = True,
        preview: Callable[[Any], None] | None = None,
        rest_s: float = 0.25,
        on_busy: Callable[[bool], None] | None = None,
    ) -> None:
        self._render = render
        self._preview = preview
        self._on_error = on_error
        self._on_busy = on_busy
        self.threaded = threaded
        self.rest_s = rest_s
        self._cond = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._pending: Any = None
        self._has_pending = False
        self._final = False  # the pending request skips the preview (a button, not a drag)
        self._worker: threading.Thread | None = None
        self.submitted = 0  # requests received
        self.rendered = 0  # renders run, previews included (fewer than submitted when superseded)
        self.full_renders = 0  # full-quality renders run
        self.previews = 0  # previews run

    def submit(self, request: Any, final: bool = False) -> None:
        """Render ``request`` (newest wins). ``final``: skip the preview (one full render)."""
        with self._cond:
            self.submitted += 1
            self._pending, self._has_pending, self._final = request, True, final
            start = self.threaded and self._worker is None
            if start:
                self._idle.clear()
                self._busy(True)
                self._worker = threading.Thread(
                    target=self._loop, name="liaviz-render", daemon=True
                )
                self._worker.start()
            self._cond.notify_all()
        if not self.threaded:
            self._drain()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted request is rendered in full or superseded. False on
        timeout."""
        return self._idle.wait(timeout)

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def _busy(self, busy: bool) -> None:
        if self._on_busy is not None:
            try:
                self._on_busy(busy)
            except Exception as e:
                self._on_error(e)

    def _take(self, block_s: float = 0.0) -> tuple[bool, Any, bool]:
        """The pending request, waiting up to ``block_s`` for one; (False, ...) when none."""
        with self._cond:
            if not self._has_pending and block_s > 0:
                self._cond.wait(block_s)
            if not self._has_pending:
                return False, None, False
            request, final = self._pending, self._final
            self._pending, self._has_pending, self._final = None, False, False
            return True, request, final

    def _run(self, fn: Callable[[Any], Any], request: Any) -> bool:
        """Run a render; True when it was a preview that came out in full quality anyway."""
        try:
            result = fn(request)
            return fn is self._preview and result is True
        except Exception as e:  # shown in the widget; the explorer stays usable
            self._on_error(e)
            return False
        finally:
            self.rendered += 1
            if fn is self._render:
                self.full_renders += 1
            else:
                self.previews += 1

    def _drain(self) -> None:
        while True:
            ok, request, _ = self._take()
            if not ok:
                return
            self._run(self._render, request)

    def _stop(self) -> bool:
        """End the worker unless a request came in meanwhile (then False: keep going)."""
        with self._cond:
            if self._has_pending:
                return False
            self._worker = None
            self._busy(False)
            self._idle.set()
            return True

    def _loop(self) -> None:
        while True:
            ok, request, final = self._take()
            if not ok:
                if self._stop():
                    return
                continue
            if final or self._preview is None:
                self._run(self._render, request)
                continue
            done = self._run(self._preview, request)
            # values still coming (a drag): preview the newest; resting: render it in full
            while True:
                ok, newer, final = self._take(self.rest_s)
                if not ok:
                    if not done:
                        self._run(self._render, request)
                    break
                request = newer
                done = self._run(self._render if final else self._preview, request)
                if final:
                    break
