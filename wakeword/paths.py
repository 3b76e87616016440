"""Where the shipped files live, and where optional shared data may be.

The shipped models and the default kernel bank are in ``models/`` in a clone (or an editable
install) and in ``device_runtime/models`` inside an installed wheel (setup.py packs them there
from ``models/``); :data:`MODELS_DIR` is whichever exists, as in
:data:`device_runtime.detector.MODELS_DIR`.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGED_MODELS_DIR = REPO_ROOT / "device_runtime" / "models"
MODELS_DIR = PACKAGED_MODELS_DIR if PACKAGED_MODELS_DIR.is_dir() else REPO_ROOT / "models"
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
