"""The step recipe: tens of thousands of cheap steps on a feature bank, selected on held-out data.

One training step draws a batch from the :class:`~wakeword.train.feature_bank.FeatureBank`
(``positive_fraction`` positives; of the negatives, ``hard_negative_share`` from the mined hard
set, the rest uniform), applies vocal tract length perturbation (``vtlp``) and a random
microphone channel (``channel_augment``, both :mod:`wakeword.train.channel`) and SpecAugment when asked, and takes an Adam step on
:func:`~wakeword.train.labels.keyword_end_loss`. The learning rate warms up linearly over
``warmup_steps`` and then follows a cosine to 2 % of its peak; the negative weight ramps
linearly from ``negative_weight_start`` to ``negative_weight_end`` over the first 60 % of the
steps. Every ``mine_every`` steps a random sample of the bank's negatives is scored and the
highest-scoring tenth becomes the hard set. Every ``eval_every`` steps the model is scored on
:class:`~wakeword.train.selection.HeldOut` (held-out speakers and syntheses, never a benchmark
set): ``best.pt`` keeps the checkpoint with the highest recall at ``target_fa_per_hour`` false
accepts per hour, and its threshold becomes the model's. ``last.pt`` holds everything needed to
resume (weights, optimiser, step, random states, hard set).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wakeword.data.augment import spec_augment
from wakeword.errors import WakewordError
from wakeword.progress import progress
from wakeword.train.channel import channel_augment, vocal_tract_warp
from wakeword.train.checkpoint import load_checkpoint, save_checkpoint
from wakeword.train.labels import keyword_end_loss, step_targets
from wakeword.train.trainer import TrainConfig, TrainResult, check_frozen, optimizer_step

__all__ = ["StepTrainer", "learning_rate_at", "negative_weight_at"]

log = logging.getLogger(__name__)


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up to ``learning_rate``, then a cosine decay to 2 % of it at ``steps``."""
    peak = config.learning_rate
    if step < config.warmup_steps:
        return peak * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    progress_ = min(1.0, (step - config.warmup_steps) / span)
    return peak * (0.02 + 0.98 * 0.5 * (1.0 + math.cos(math.pi * progress_)))


def negative_weight_at(step: int, config: TrainConfig) -> float:
    ramp = max(1, int(0.6 * config.steps))
    share = min(1.0, step / ramp)
    return config.negative_weight_start + share * (config.negative_weight_end
                                                   - config.negative_weight_start)


class StepTrainer:
    """``StepTrainer(model, kernels, config, bank, held_out).fit(out_dir)``."""

    def __init__(self, model: Any, kernels: Any, config: TrainConfig, bank: Any, held_out: Any,
                 *, data_config: dict[str, Any] | None = None) -> None:
        if config.steps < 1:
            raise WakewordError("StepTrainer needs train.steps >= 1")
        self.model = model
        self.kernels = kernels
        self.config = config
        self.bank = bank
        self.held_out = held_out
        self.data_config = data_config or {}
        self.positives = np.flatnonzero(bank.labels == 1)
        self.negatives = np.flatnonzero(bank.labels == 0)
        if not self.positives.size or not self.negatives.size:
            raise WakewordError("the feature bank needs positives and negatives")
        self.step_samples = model.chunk_samples
        self.after_end = round(config.after_end_ms * model.frontend_config.sample_rate_hz / 1000)

    # -- batches -------------------------------------------------------------------------
    def _batch(self, rng: np.random.Generator, hard: np.ndarray) -> tuple[torch.Tensor,
                                                                           torch.Tensor]:
        cfg = self.config
        n_pos = max(1, round(cfg.batch_size * cfg.positive_fraction))
        n_neg = cfg.batch_size - n_pos
        n_hard = round(n_neg * cfg.hard_negative_share) if hard.size else 0
        index = np.concatenate([rng.choice(self.positives, n_pos),
                                rng.choice(self.negatives, n_neg - n_hard),
                                rng.choice(hard, n_hard) if n_hard else np.zeros(0, np.int64)])
        index.sort()  # memory-mapped reads in file order
        mel = torch.from_numpy(np.asarray(self.bank.mel[index], dtype=np.float32))
        n_steps = mel.shape[1] // self.model.network_config.stride_frames
        targets = step_targets(self.bank.starts[index], self.bank.ends[index], n_steps,
                               self.step_samples, self.after_end)
        return mel, torch.from_numpy(targets.astype(np.int64))

    def _mine(self, rng: np.random.Generator, sample: int = 4096) -> np.ndarray:
        """The highest-scoring tenth of a random sample of the bank's negatives."""
        index = np.sort(rng.choice(self.negatives, min(sample, self.negatives.size),
                                   replace=False))
        net = self.model.network
        net.eval()
        peaks = []
        with torch.no_grad():
            for i in range(0, index.size, 512):
                mel = torch.from_numpy(np.asarray(self.bank.mel[index[i:i + 512]], np.float32))
                logits = net(mel)
                peaks.append((logits[..., 1] - logits[..., 0]).max(dim=1).values.numpy())
        net.train()
        peak = np.concatenate(peaks)
        keep = max(1, index.size // 10)
        return index[np.argsort(peak)[-keep:]]

    # -- the loop ------------------------------------------------------------------------
    def fit(self, out_dir: str | Path, *, resume: bool = False) -> TrainResult:
        cfg = self.config
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        last_path, best_path = out / "last.pt", out / "best.pt"
        params = list(self.model.trained_parameters().values())
        optimizer = torch.optim.Adam(params, lr=cfg.learning_rate, weight_decay=cfg.l2)
        frozen_before = {k: v.clone() for k, v in self.model.frozen_kernels().items()}
        rng = np.random.default_rng([cfg.seed, 0x57E9])
        gen = torch.Generator().manual_seed(cfg.seed)
        start, best, history = 0, {"recall": -1.0}, []
        hard = np.zeros(0, np.int64)
        if resume and last_path.is_file():
            payload = load_checkpoint(last_path)
            self.model.load_state_dict(payload["state_dict"])
            state = payload["optimizer"]
            optimizer.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            rng.bit_generator.state = json.loads(state["numpy_rng"])
            hard = np.asarray(state["hard"], np.int64)
            start = payload["epoch"] + 1
            best = payload["extra"].get("best", best)
            history = payload["metrics"].get("history", [])
            log.info("resuming from %s at step %d", last_path, start)
        fill = self.model.frontend_config.silence_value
        t0 = time.time()
        self.model.train()
        running = 0.0
        for step in progress(range(start, cfg.steps), desc="training", total=cfg.steps - start):
            if step % cfg.mine_every == 0 and step > 0 and cfg.hard_negative_share > 0:
                hard = self._mine(rng)
            lr = learning_rate_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            mel, targets = self._batch(rng, hard)
            if cfg.vtlp > 0:
                mel = vocal_tract_warp(mel, self.model.frontend_config, gen,
                                       probability=cfg.vtlp)
            if cfg.channel_augment > 0:
                mel = channel_augment(mel, self.model.frontend_config, gen,
                                      probability=cfg.channel_augment)
            if cfg.spec_augment:
                mel = spec_augment(mel, generator=gen, n_freq_masks=1,
                                   freq_mask_width=(0, cfg.freq_mask_bins), n_time_masks=1,
                                   time_mask_width=(0, cfg.time_mask_frames), mask_value=fill)
            loss = keyword_end_loss(self.model.network(mel), targets,
                                    negative_weight_at(step, cfg))
            optimizer_step(loss, optimizer, params, f"step {step}")
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step > start else value
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
                val = self.held_out.evaluate(self.model.network, cfg.target_fa_per_hour)
                row = {"step": step, "train_loss": running, "lr": lr,
                       "negative_weight": negative_weight_at(step, cfg),
                       **{f"val_{k}": v for k, v in val.items()}}
                history.append(row)
                log.info("step %d: loss %.4f, held-out recall %.3f at %.2f FA/h (threshold "
                         "%.3f)", step + 1, running, val["recall"], val["fa_per_hour"],
                         val["threshold"])
                if val["recall"] > best["recall"]:
                    best = {**val, "step": step}
                    self._save(best_path, step, history, optimizer, gen, rng, hard, best, val)
                self._save(last_path, step, history, optimizer, gen, rng, hard, best, val)
        check_frozen(self.model, frozen_before)
        if not best_path.is_file():
            raise WakewordError(f"{out}: no checkpoint was selected; train with more steps "
                                f"than eval_every ({cfg.eval_every})")
        payload = load_checkpoint(best_path)
        self.model.load_state_dict(payload["state_dict"])
        self.model.eval()
        metrics = payload["metrics"]
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
        return TrainResult(best_checkpoint=best_path, last_checkpoint=last_path,
                           epochs_run=cfg.steps, best_epoch=int(best.get("step", -1)),
                           metrics=metrics, seconds=time.time() - t0)

    def _save(self, path: Path, step: int, history: list[dict[str, Any]], optimizer: Any,
              gen: torch.Generator, rng: np.random.Generator, hard: np.ndarray,
              best: dict[str, Any], val: dict[str, float]) -> None:
        metrics = {"history": history, "val": val, "best_step": best.get("step", -1),
                   "threshold": val["threshold"], "selection": {
                       **self.held_out.describe(), "measure": "recall at target_fa_per_hour "
                       "on held-out running speech (val split of the data engine)"}}
        save_checkpoint(
            path, self.model, kernels=self.kernels, data_config=self.data_config,
            train_config=self.config.to_dict(), metrics=metrics, epoch=step,
            optimizer_state={"optimizer": optimizer.state_dict(), "generator": gen.get_state(),
                             "numpy_rng": json.dumps(rng.bit_generator.state),
                             "hard": hard.astype(np.int64)},
            extra={"best": best})
