"""One progress-bar helper: off in the library, switched on by the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_ENABLED = False


def set_progress(enabled: bool) -> None:
    """Turn progress bars on or off for this process (the CLI turns them on)."""
    global _ENABLED
    _ENABLED = enabled


def progress(iterable: Iterable[T], *, desc: str, total: int | None = None) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when progress is enabled, else return it unchanged."""
    if not _ENABLED:
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, total=total, dynamic_ncols=True, leave=False)
