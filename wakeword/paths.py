"""Where the repository's shipped files live, and where optional shared data may be."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_KERNEL_BANK = MODELS_DIR / "kernels" / "flywire_auditory.npz"


def shared_dir() -> Path | None:
    """The ``shared`` data folder beside the repository (or ``$WAKEWORD_SHARED``), if present."""
    env = os.environ.get("WAKEWORD_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared")
    for path in candidates:
        if path.is_dir():
            return path
    return None


def flywire_dir() -> Path | None:
    """The FlyWire auditory connectome folder, if the shared data is present."""
    base = shared_dir()
    if base is None:
        return None
    path = base / "data" / "connectome" / "flywire_auditory"
    return path if path.is_dir() else None
