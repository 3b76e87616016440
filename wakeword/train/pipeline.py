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
                 resume: bool = False) -> TrainRun:
    """Synthesise (or reuse cached) data for ``data_config.phrase`` and train a model on it."""
    from wakeword.data.dataset import build_dataset

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    clips = build_dataset(data_config, cache_dir)
    data_s = time.time() - t0
    train_set, val_set = clips.split(train.val_fraction, train.seed)
    kinds = {str(k): int(v) for k, v in zip(*np.unique(np.asarray(clips.kinds), return_counts=True))}
    log.info("dataset: %d clips (%s); %.1f s", len(clips.labels), kinds, data_s)
    import torch

    torch.manual_seed(train.seed)  # the trained layers' initialisation follows the train seed
    model = WakeWordModel(frontend or FrontendConfig(), network, kernels.kernels, kernels.path)
    trainer = Trainer(model, kernels, train, data_config=data_config.to_dict())
    t1 = time.time()
    result = trainer.fit(train_set.audio, train_set.labels, val_set.audio, val_set.labels,
                         out_dir, resume=resume)
    train_s = time.time() - t1
    summary = summarize(model, "trained").to_dict()
    report = {"phrase": list(network.keywords), "data_seconds": data_s, "train_seconds": train_s,
              "n_train": int(len(train_set.labels)), "n_val": int(len(val_set.labels)),
              "kinds": kinds, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
              "val": result.metrics.get("val", {}), "threshold": result.metrics.get("threshold"),
              "model": summary, "kernel_fingerprint": kernels.fingerprint}
    (out_dir / "run.json").write_text(json.dumps(report, indent=2, default=float))
    return TrainRun(result=result, data_seconds=data_s, train_seconds=train_s,
                    n_train=len(train_set.labels), n_val=len(val_set.labels), summary=summary,
                    kinds=kinds)
