"""Progress bars: a tqdm bar, or a silent stand-in with the same methods, so long loops report
progress when a person watches and stay quiet in scripts and tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class _NoBar:
    """tqdm's interface, silent: iteration passes through, the rest does nothing."""

    def __init__(self, iterable: Iterable | None) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator:
        return iter(self._iterable if self._iterable is not None else ())

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def update(self, n: float = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(
    iterable: Iterable | None = None,
    *,
    enabled: bool = True,
    total: float | None = None,
    desc: str = "",
    unit: str = "frame",
):
    """A tqdm progress bar over ``iterable`` (or updated by hand), or, when not ``enabled``, an
    object with the same ``update``/``set_postfix``/``close``/iteration that shows nothing."""
    if not enabled:
        return _NoBar(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True)
