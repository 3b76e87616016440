"""Pools: many variable-length clips packed into one file, the unit the data engine caches.

A :class:`Pool` holds int16 audio at 16 kHz concatenated, the offsets of each clip, and per
clip: ``source`` (what produced it: ``kokoro``, ``espeak-ng``, ``real_speech``, ``noise``...),
``detail`` (voice or file), ``text`` (what is said, "" if unknown), ``speaker``, ``split``
(``train`` or ``val``: val speakers are never trained on) and ``end`` (the sample where the
spoken phrase ends inside the clip; -1 when it does not apply).

:func:`cached_pool` loads a pool by key or builds and stores it. Files are written atomically
and carry a digest of their audio: a damaged file is reported, deleted and rebuilt, never used.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ
from wakeword.errors import DataError
from wakeword.eval.atomic import write_bytes_atomic

__all__ = ["Pool", "PoolBuilder", "cached_pool", "write_atomic"]

logger = logging.getLogger(__name__)

POOL_FORMAT = 1
_FIELDS = ("source", "detail", "text", "speaker", "split")


@dataclass(frozen=True, eq=False)
class Pool:
    """Packed clips; see the module docstring. Build with :class:`PoolBuilder`."""

    audio: np.ndarray  # int16 [total samples]
    offsets: np.ndarray  # int64 [n + 1]
    end: np.ndarray  # int64 [n]
    source: np.ndarray  # str [n]
    detail: np.ndarray
    text: np.ndarray
    speaker: np.ndarray
    split: np.ndarray

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    def clip(self, index: int) -> np.ndarray:
        """Clip ``index`` as float32 in [-1, 1]."""
        a, b = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.audio[a:b].astype(np.float32) / np.float32(32768.0)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def seconds(self, mask: np.ndarray | None = None) -> float:
        lengths = self.lengths if mask is None else self.lengths[mask]
        return float(lengths.sum()) / SAMPLE_RATE_HZ

    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(self.audio.tobytes())
        h.update(self.offsets.tobytes())
        h.update(self.end.tobytes())
        for name in _FIELDS:
            h.update("\x00".join(getattr(self, name).tolist()).encode("utf-8"))
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, audio=self.audio, offsets=self.offsets, end=self.end,
                 **{name: getattr(self, name) for name in _FIELDS},
                 meta=np.array(json.dumps({"format": POOL_FORMAT, "digest": self.digest()})))
        return buffer.getvalue()

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Pool:
        """Read and verify a pool file; :class:`DataError` if it is damaged."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                pool = cls(audio=data["audio"], offsets=data["offsets"], end=data["end"],
                           **{name: data[name] for name in _FIELDS})
        except (OSError, ValueError, KeyError, EOFError, json.JSONDecodeError,
                zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: damaged pool file ({exc})") from exc
        if meta.get("format") != POOL_FORMAT:
            raise DataError(f"{path}: pool format {meta.get('format')}, expected {POOL_FORMAT}")
        n = len(pool)
        if (pool.audio.dtype != np.int16 or pool.offsets[0] != 0
                or pool.offsets[-1] != pool.audio.size or np.any(np.diff(pool.offsets) < 0)
                or any(getattr(pool, f).shape != (n,) for f in ("end", *_FIELDS))):
            raise DataError(f"{path}: pool arrays do not line up")
        if meta.get("digest") != pool.digest():
            raise DataError(f"{path}: pool content does not match its digest")
        return pool

    def select(self, mask: np.ndarray) -> Pool:
        """The clips where ``mask`` is true (copies their audio)."""
        idx = np.flatnonzero(mask)
        lengths = self.lengths[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        audio = np.empty(int(offsets[-1]), dtype=np.int16)
        for k, i in enumerate(idx):
            audio[offsets[k]:offsets[k + 1]] = self.audio[self.offsets[i]:self.offsets[i + 1]]
        return Pool(audio=audio, offsets=offsets, end=self.end[idx],
                    **{name: getattr(self, name)[idx] for name in _FIELDS})

    @staticmethod
    def concat(pools: list[Pool]) -> Pool:
        pools = [p for p in pools if len(p)]
        if not pools:
            return PoolBuilder().build()
        offsets = [np.zeros(1, np.int64)]
        base = 0
        for p in pools:
            offsets.append(p.offsets[1:] + base)
            base += int(p.audio.size)
        return Pool(audio=np.concatenate([p.audio for p in pools]),
                    offsets=np.concatenate(offsets).astype(np.int64),
                    end=np.concatenate([p.end for p in pools]),
                    **{name: np.concatenate([getattr(p, name) for p in pools]).astype(str)
                       for name in _FIELDS})


class PoolBuilder:
    """Collects clips, then :meth:`build` packs them."""

    def __init__(self) -> None:
        self._audio: list[np.ndarray] = []
        self._rows: list[tuple[int, str, str, str, str, str]] = []

    def add(self, audio: np.ndarray, *, source: str, detail: str = "", text: str = "",
            speaker: str = "", split: str = "train", end: int = -1) -> None:
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1 or samples.size == 0:
            raise DataError(f"pool clip from {source}:{detail} is empty or not mono")
        if not np.all(np.isfinite(samples)):
            raise DataError(f"pool clip from {source}:{detail} has NaN or infinite samples")
        self._audio.append(np.round(np.clip(samples, -1.0, 32767 / 32768) * 32768)
                           .astype(np.int16))
        self._rows.append((int(end), source, detail, text, speaker, split))

    def __len__(self) -> int:
        return len(self._rows)

    def build(self) -> Pool:
        lengths = [a.size for a in self._audio]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        audio = np.concatenate(self._audio) if self._audio else np.zeros(0, np.int16)
        cols = list(zip(*self._rows)) if self._rows else [()] * 6
        return Pool(audio=audio, offsets=offsets, end=np.array(cols[0], dtype=np.int64),
                    **{name: np.array(cols[i + 1], dtype=str) for i, name in enumerate(_FIELDS)})


def cache_write_error(path: Path, exc: OSError) -> DataError:
    """The error for a failed cache write: a full disk names the folder and says the build
    resumes; anything else names the file and the permissions."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataError(
            f"{path.parent}: the disk is full ({exc.strerror}); free some space or move the "
            "cache with WAKEWORD_CACHE_DIR / --cache-dir, then run the build again: what "
            "was cached so far is kept and the build resumes")
    return DataError(f"{path}: cannot write ({exc}); check the folder's permissions")


def write_atomic(path: Path, data: bytes) -> None:
    """:func:`~wakeword.eval.atomic.write_bytes_atomic` (parents created), with a
    :class:`DataError` from :func:`cache_write_error` when it fails; what was there stays."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data)
    except OSError as exc:
        raise cache_write_error(path, exc) from exc


def pool_key(recipe: dict[str, object]) -> str:
    payload = json.dumps({**recipe, "pool_format": POOL_FORMAT}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def cached_pool(cache_dir: Path, name: str, recipe: dict[str, object],
                make: Callable[[], Pool]) -> tuple[Pool, bool, Path]:
    """``(pool, was_cached, path)``: the pool stored for ``recipe`` under
    ``cache_dir/pools/NAME-KEY.npz``, or ``make()`` stored there. A damaged file is rebuilt."""
    path = Path(cache_dir) / "pools" / f"{name}-{pool_key(recipe)}.npz"
    if path.is_file():
        try:
            return Pool.load(path), True, path
        except DataError as exc:
            logger.warning("%s; deleting it and building it again", exc)
            path.unlink(missing_ok=True)
    pool = make()
    write_atomic(path, pool.to_bytes())
    write_atomic(path.with_suffix(".json"), json.dumps(recipe, indent=1, sort_keys=True,
                                                       default=str).encode())
    return pool, False, path
