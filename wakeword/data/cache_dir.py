"""Where the data engine keeps what it synthesises and builds.

Order of precedence: an explicit folder (``--cache-dir``), then ``$WAKEWORD_CACHE_DIR``, then
``$XDG_CACHE_HOME/wakeword``, then ``~/.cache/wakeword``. Everything in it is rebuildable: it
can be moved (point ``WAKEWORD_CACHE_DIR`` at the new place) or deleted (``wakeword data
clear``) at any time.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CACHE_ENV", "resolve_cache_dir"]

CACHE_ENV = "WAKEWORD_CACHE_DIR"


def resolve_cache_dir(folder: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder (not created): ``folder``, else ``$WAKEWORD_CACHE_DIR``, else the
    user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``) + ``/wakeword``."""
    if folder is not None:
        return Path(folder).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "wakeword"
