"""Real recorded speech from Debian packages, as negatives for training and calibration.

Synthetic speech alone teaches a model little about real voices: the false accepts of good
open-source models on real speech are short isolated words and near-rhymes. Two Debian packages
hold many short real recordings under free licences:

* ``klettres-data`` (GPL-2.0+): spoken letters and syllables, about 1,800 clips in 20+ languages
  and many speakers, ``/usr/share/klettres/<language>/<alpha|syllab>/``;
* ``hedgewars-data`` (GPL-2.0 / CC BY-SA, see the package's copyright file): about 1,000 game
  voice lines in 20+ voices, ``/usr/share/games/hedgewars/Data/Sounds/voices/<voice>/``.

The folders are split by speaker folder, not by clip: every fourth folder (sorted by path) is
held out for threshold calibration, the rest is for training, so a calibrated threshold is
chosen on voices the model never heard. The benchmarks' negatives use neither package.
"""

from __future__ import annotations

import logging
from pathlib import Path

from wakeword.errors import DataError

__all__ = ["PACKAGES", "available", "recorded_speech_folders"]

logger = logging.getLogger(__name__)

#: Debian package -> folder whose sub-folders hold the recordings
PACKAGES: dict[str, str] = {
    "klettres-data": "/usr/share/klettres",
    "hedgewars-data": "/usr/share/games/hedgewars/Data/Sounds/voices",
}
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SPLITS = ("train", "calibration")
HOLD_OUT_EVERY = 4


def _leaf_folders(root: Path) -> list[Path]:
    folders = {p.parent for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES}
    return sorted(folders)


def available() -> bool:
    """Whether any of the recorded-speech packages is installed."""
    return any(Path(root).is_dir() and _leaf_folders(Path(root)) for root in PACKAGES.values())


def recorded_speech_folders(split: str = "train", *, roots: dict[str, str] | None = None
                            ) -> list[Path]:
    """Folders of recorded speech for ``split`` (``train`` or ``calibration``).

    Raises :class:`DataError` naming the packages to install when none of them is present.
    """
    if split not in SPLITS:
        raise DataError(f"recorded speech split {split!r} is unknown; use one of {list(SPLITS)}")
    roots = PACKAGES if roots is None else roots
    chosen: list[Path] = []
    missing: list[str] = []
    for package, root in roots.items():
        folders = _leaf_folders(Path(root)) if Path(root).is_dir() else []
        if not folders:
            missing.append(package)
            continue
        for index, folder in enumerate(folders):
            held_out = index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1
            if held_out == (split == "calibration"):
                chosen.append(folder)
    if not chosen:
        raise DataError(
            f"no recorded speech found ({', '.join(f'{p} in {roots[p]}' for p in roots)}); "
            f"install it with `sudo apt-get install {' '.join(roots)}` or turn "
            "data.recorded_speech off (wakeword train --no-recorded-speech)")
    if missing:
        logger.warning("recorded speech: %s not installed; using the others only "
                       "(sudo apt-get install %s)", ", ".join(missing), " ".join(missing))
    return chosen
