"""Phrase in, trained checkpoint out: data recipe -> dataset -> model -> trainer."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wakeword.features.mel import FrontendConfig
from wakeword.model.config import NetworkConfig
from wakeword.model.summary import summarize
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.train.checkpoint import KernelSource
from wakeword.train.trainer import TrainConfig, Trainer, TrainResult

__all__ = ["TrainRun", "train_phrase"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainRun:
    result: TrainResult
    data_seconds: float
    train_seconds: float
    n_train: int
    n_val: int
    summary: dict[str, Any]
    kinds: dict[str, int]


def train_phrase(data_config: Any, network: NetworkConfig, train: TrainConfig, out_dir: Path, *,
                 kernels: KernelSource, cache_dir: Path, frontend: FrontendConfig | None = None,
                 resume: bool = False, augment: Any = None) -> TrainRun:
    """Synthesise (or reuse cached) data for ``data_config.phrase`` and train a model on it.

    ``data_config`` is a :class:`wakeword.data.engine.BuildConfig` (the data engine: pools
    built once per machine, clips augmented anew every epoch, validation on held-out speakers
    and syntheses; ``augment`` sets the serving) or, for the earlier recipe, a
    :class:`wakeword.data.dataset.DataConfig` (a fixed set of clips augmented once).
    """
    from wakeword.data.engine import BuildConfig

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if isinstance(data_config, BuildConfig):
        from wakeword.data.augment import RirBank
        from wakeword.data.engine import build
        from wakeword.data.serve import AugmentConfig, ClipServer

        augment = augment or AugmentConfig()
        data = build(data_config, cache_dir)
        rirs = RirBank(seed=data_config.seed, n_rooms=48, cache_dir=data.cache_dir)
        train_server = ClipServer(data, augment, split="train", seed=train.seed, rir_bank=rirs)
        val_server = ClipServer(data, augment, split="val", seed=data_config.seed + 7919,
                                rir_bank=rirs)
        val_audio, val_labels, _ = val_server.fixed_set()
        train_audio: Any = train_server
        train_labels = np.zeros(0, np.int64)
        kinds = {"positives": int(train_server.positives.size),
                 "negatives_per_epoch": int(train_server.n_negatives),
                 "val_positives": int(val_labels.sum()),
                 "val_negatives": int((val_labels == 0).sum())}
        n_train, n_val = len(train_server), len(val_labels)
        data_dict = {**data_config.to_dict(), "augment": augment.to_dict()}
        data_stats = data.stats()
    else:
        from wakeword.data.dataset import build_dataset

        clips = build_dataset(data_config, cache_dir)
        train_set, val_set = clips.split(train.val_fraction, train.seed)
        train_audio, train_labels = train_set.audio, train_set.labels
        val_audio, val_labels = val_set.audio, val_set.labels
        kinds = {str(k): int(v)
                 for k, v in zip(*np.unique(np.asarray(clips.kinds), return_counts=True))}
        n_train, n_val = len(train_set.labels), len(val_set.labels)
        data_dict = data_config.to_dict()
        data_stats = {}
    data_s = time.time() - t0
    log.info("dataset: %s; %.1f s", kinds, data_s)
    import torch

    torch.manual_seed(train.seed)  # the trained layers' initialisation follows the train seed
    model = WakeWordModel(frontend or FrontendConfig(), network, kernels.kernels, kernels.path)
    t1 = time.time()
    if train.steps > 0:
        if not isinstance(data_config, BuildConfig):
            from wakeword.errors import ConfigError

            raise ConfigError("train.steps > 0 (the step recipe) needs the data engine "
                              "(a BuildConfig), not the earlier DataConfig")
        from wakeword.train.feature_bank import build_feature_bank
        from wakeword.train.selection import HeldOut
        from wakeword.train.steps import StepTrainer

        # the bank is rendered by a server with a fixed seed: seeds of a recipe share it
        bank_server = ClipServer(data, augment, split="train", seed=data_config.seed,
                                 rir_bank=rirs)
        bank = build_feature_bank(bank_server, model, data.cache_dir,
                                  epochs=tuple(range(train.bank_epochs)))
        held_out = HeldOut(data, model, val_server, seed=data_config.seed)
        kinds.update({"bank_clips": len(bank), "bank_positives": int(bank.labels.sum()),
                      "held_out": held_out.describe()})
        data_s = time.time() - t0
        t1 = time.time()
        result = StepTrainer(model, kernels, train, bank, held_out,
                             data_config=data_dict).fit(out_dir, resume=resume)
    else:
        trainer = Trainer(model, kernels, train, data_config=data_dict)
        result = trainer.fit(train_audio, train_labels, val_audio, val_labels, out_dir,
                             resume=resume)
    train_s = time.time() - t1
    summary = summarize(model, "trained").to_dict()
    report = {"phrase": list(network.keywords), "data_seconds": data_s, "train_seconds": train_s,
              "n_train": int(n_train), "n_val": int(n_val), "kinds": kinds,
              "data": data_config.to_dict(), "data_stats": data_stats, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "val": result.metrics.get("val", {}), "threshold": result.metrics.get("threshold"),
              "model": summary, "kernel_fingerprint": kernels.fingerprint}
    (out_dir / "run.json").write_text(json.dumps(report, indent=2, default=float))
    return TrainRun(result=result, data_seconds=data_s, train_seconds=train_s,
                    n_train=n_train, n_val=n_val, summary=summary, kinds=kinds)
