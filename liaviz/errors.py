"""Errors a user can fix (bad file, bad argument). The CLI prints them as one line, exit code 2.

SIGTERM (what ``timeout``, schedulers and ``docker stop`` send) is turned into ``Terminated``, a
``KeyboardInterrupt``, inside ``sigterm_as_interrupt``: the same ``finally`` blocks and atomic
writers that clean up after Ctrl-C then clean up after it too.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class UserError(Exception):
    """Base class for problems with the user's input rather than bugs in liaviz."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message, for one-line errors that wrap a library's
    (PIL, PyAV, torch, safetensors) failure; the exception's type name if it says nothing.
    OSError-like errors (PyAV's "[Errno N] reason: 'path'") give just their reason."""
    if getattr(e, "strerror", None):
        return str(e.strerror)
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class InputError(UserError, ValueError):
    """A source, driving clip or edit in a form or shape the model cannot take."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def interrupt_exit_code(e: KeyboardInterrupt) -> int:
    """The shell's code for a process ended by the signal: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + (signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)


def interrupt_word(e: KeyboardInterrupt) -> str:
    return "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread (elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
