"""A bank of augmented training clips as log-Mel features, rendered once and cached on disk.

The step-based recipe (:mod:`wakeword.train.steps`) draws tens of thousands of batches. Rendering
and featurising every clip anew would cost more than the training step itself, so the clip
server's renderings of ``epochs`` epochs (each epoch a new placement, warp, room, background and
level for every clip) are featurised once by the model's own front end and kept as float16
``[N, frames, n_mels]`` in the cache folder, with each clip's label, kind and the samples where
its phrase starts and ends. The bank is keyed by everything that changes it (the pools' digests,
the augmentation, the serving seed, the epochs and the front end), so seeds and variants of a
recipe share one bank.

Rendering runs in worker processes (``fork``: the pools are shared, not copied); the features
are computed in the calling process. A build resumes where it stopped: finished chunks are
recorded next to a partial memory-mapped file, and the bank is moved into place atomically at
the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wakeword.errors import DataError
from wakeword.progress import progress

__all__ = ["FeatureBank", "build_feature_bank"]

log = logging.getLogger(__name__)

_CHUNK = 256
_SERVER: Any = None  # the clip server shared with forked workers


@dataclass(frozen=True)
class FeatureBank:
    """Clips as features: ``mel [N, F, M]`` float16 (memory-mapped), ``labels`` (1 positive),
    ``kinds`` (0 positive, 1 near miss, 2 speech, 3 noise), ``starts``/``ends`` (samples; -1 for
    negatives)."""

    mel: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    folder: Path

    def __len__(self) -> int:
        return int(self.labels.size)

    @classmethod
    def load(cls, folder: Path) -> FeatureBank:
        meta = np.load(folder / "meta.npz")
        mel = np.load(folder / "mel.npy", mmap_mode="r")
        if mel.shape[0] != meta["labels"].size:
            raise DataError(f"{folder}: the feature bank is damaged (mel.npy has {mel.shape[0]} "
                            f"clips, meta.npz {meta['labels'].size}); delete the folder and "
                            "train again to rebuild it")
        return cls(mel=mel, labels=meta["labels"], kinds=meta["kinds"], starts=meta["starts"],
                   ends=meta["ends"], folder=folder)


def bank_key(server: Any, frontend: Any, epochs: tuple[int, ...]) -> str:
    pools = server.data.pools
    recipe = {"pools": {name: pool.digest() for name, pool in sorted(pools.items())},
              "augment": server.config.to_dict(), "split": server.split, "seed": server.seed,
              "rirs": len(server.rirs), "epochs": list(epochs), "frontend": frontend.to_dict(),
              "format": 1}
    text = json.dumps(recipe, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def _render_chunk(task: tuple[int, int, np.ndarray, np.ndarray]) -> tuple[int, np.ndarray, np.ndarray,
                                                                          np.ndarray, np.ndarray]:
    epoch, first, kinds, items = task
    rows = [_SERVER.render_span(epoch, first + j, int(k), int(i))
            for j, (k, i) in enumerate(zip(kinds, items))]
    audio = np.stack([r[0] for r in rows])
    return (first, (audio * 32767).astype(np.int16), np.array([r[1] for r in rows], np.int64),
            np.array([r[2] for r in rows], np.int64), kinds)


def build_feature_bank(server: Any, model: Any, cache_dir: Path, *, epochs: tuple[int, ...],
                       workers: int = 2) -> FeatureBank:
    """The bank of ``server``'s renderings of ``epochs``, featurised by ``model.features``;
    built (resumably) on first use, then loaded from ``cache_dir/features/<key>``."""
    import torch

    global _SERVER
    frontend = model.frontend_config
    key = bank_key(server, frontend, epochs)
    folder = Path(cache_dir) / "features" / key
    if (folder / "meta.npz").is_file():
        log.info("feature bank %s (cached)", folder)
        return FeatureBank.load(folder)
    partial = folder.with_name(key + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    plans = [server.plan(e) for e in epochs]
    n = sum(k.size for k, _ in plans)
    frames = server.config.clip_samples // frontend.hop_samples
    shape = (n, frames, frontend.n_mels)
    mel_path = partial / "mel.npy"
    if mel_path.is_file():
        mel = np.lib.format.open_memmap(mel_path, mode="r+")
        if mel.shape != shape:
            raise DataError(f"{mel_path}: a partial feature bank of shape {mel.shape}, expected "
                            f"{shape}; delete {partial} and train again")
    else:
        mel = np.lib.format.open_memmap(mel_path, mode="w+", dtype=np.float16, shape=shape)
    meta = {name: np.full(n, -1, np.int64) for name in ("labels", "kinds", "starts", "ends")}
    done_path = partial / "done.npz"
    done = np.zeros(-(-n // _CHUNK), bool)
    if done_path.is_file():
        saved = np.load(done_path)
        done = saved["done"]
        for name in meta:
            meta[name] = saved[name]
    tasks: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    offset = 0
    for epoch, (kinds, items) in zip(epochs, plans):
        for first in range(0, kinds.size, _CHUNK):
            index = (offset + first) // _CHUNK
            if not done[index]:
                tasks.append((epoch, first, kinds[first:first + _CHUNK],
                              items[first:first + _CHUNK]))
        offset += kinds.size
    offsets = {}
    running = 0
    for epoch, (kinds, _) in zip(epochs, plans):
        offsets[epoch] = running
        running += kinds.size
    log.info("rendering %d clips into the feature bank %s", sum(t[2].size for t in tasks), folder)
    _SERVER = server
    try:
        for first, audio, ends, starts, kinds, epoch in _rendered(tasks, workers):
            at = offsets[epoch] + first
            with torch.no_grad():
                feats = model.features(torch.from_numpy(audio.astype(np.float32) / 32767.0))
            mel[at:at + len(audio)] = feats[:, :frames].numpy().astype(np.float16)
            meta["labels"][at:at + len(audio)] = (kinds == 0).astype(np.int64)
            meta["kinds"][at:at + len(audio)] = kinds
            meta["starts"][at:at + len(audio)] = starts
            meta["ends"][at:at + len(audio)] = ends
            done[at // _CHUNK] = True
            if done.sum() % 20 == 0 or done.all():
                mel.flush()
                _save_npz(done_path, done=done, **meta)
    finally:
        _SERVER = None
        mel.flush()
        _save_npz(done_path, done=done, **meta)
    del mel
    _save_npz(partial / "meta.npz", **meta)
    done_path.unlink()
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(partial, folder)
    return FeatureBank.load(folder)


def _rendered(tasks: list[tuple[int, int, np.ndarray, np.ndarray]], workers: int
              ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]]:
    epochs = [t[0] for t in tasks]
    if workers <= 1 or len(tasks) < 2:
        for task, epoch in zip(progress(tasks, desc="feature bank", total=len(tasks)), epochs):
            yield (*_render_chunk(task), epoch)
        return
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        results = pool.imap(_render_chunk, tasks, chunksize=1)
        for result, epoch in zip(progress(results, desc="feature bank", total=len(tasks)), epochs):
            yield (*result, epoch)


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
