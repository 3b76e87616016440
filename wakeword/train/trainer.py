"""Training engine: trains only the trained layers, keeps the connectome kernels frozen.

Clips are fixed-length audio with a label (0 background, k for keyword k). Features are computed
once per run by the model's own front end (the same ops the exported graphs run), optional
SpecAugment masks (``wakeword.data.augment.spec_augment``) are drawn per clip, and the loss is the cross-entropy of the clip logits: the logits of
the step where a keyword is most likely (``clip_pooling='max'``). Negatives are weighted by
``false_accept_weight`` to trade false accepts against misses. Adam or RMSprop, L1 and L2
penalties on the trained weights, dropout in the network, early stopping on validation loss.
Checkpoints (``best.pt``, ``last.pt``) are written atomically with every configuration; a run
resumes from ``last.pt``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from wakeword.data.augment import spec_augment
from wakeword.errors import ConfigError, DataError, WakewordError
from wakeword.model.network import clip_logits, negative_step_loss
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.progress import progress
from wakeword.train.checkpoint import KernelSource, load_checkpoint, save_checkpoint

__all__ = ["TrainConfig", "TrainResult", "Trainer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-2
    optimizer: str = "adam"
    l2: float = 0.0
    l1: float = 0.0
    false_accept_weight: float = 1.0
    negative_step_weight: float = 1.0
    negative_step_start: int = 4
    patience: int = 8
    val_fraction: float = 0.15
    spec_augment: bool = False
    freq_mask_bins: int = 4
    time_mask_frames: int = 10
    seed: int = 0
    # The step recipe (wakeword.train.steps; used when steps > 0): keyword-end labels, a
    # feature bank, warm-up + cosine decay, a negative weight ramp, mined hard negatives and
    # selection by recall at a false-accept rate on held-out running speech.
    steps: int = 0
    warmup_steps: int = 500
    eval_every: int = 500
    positive_fraction: float = 0.3
    negative_weight_start: float = 1.0
    negative_weight_end: float = 10.0
    after_end_ms: float = 200.0
    hard_negative_share: float = 0.25
    mine_every: int = 1000
    bank_epochs: int = 3
    target_fa_per_hour: float = 0.5
    channel_augment: float = 0.0
    vtlp: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "rmsprop"):
            raise ConfigError(f"train.optimizer is {self.optimizer!r}; use 'adam' or 'rmsprop'")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("train.epochs and train.batch_size must be >= 1")
        if not 0.0 < self.val_fraction < 0.9:
            raise ConfigError(f"train.val_fraction is {self.val_fraction}; use e.g. 0.15")
        if self.negative_step_weight < 0:
            raise ConfigError(f"train.negative_step_weight is {self.negative_step_weight}; use 0 "
                              "(off) or a positive weight")
        if self.negative_step_start < 0:
            raise ConfigError(f"train.negative_step_start is {self.negative_step_start}; use 0 "
                              "(from the first epoch) or a later epoch")
        if self.steps < 0 or self.warmup_steps < 0 or self.eval_every < 1 or self.mine_every < 1:
            raise ConfigError("train.steps, warmup_steps must be >= 0 and eval_every, "
                              "mine_every >= 1")
        if not 0.0 < self.positive_fraction < 1.0 or not 0.0 <= self.hard_negative_share < 1.0:
            raise ConfigError("train.positive_fraction must lie in (0, 1) and "
                              "hard_negative_share in [0, 1)")
        if not 0.0 <= self.vtlp <= 1.0:
            raise ConfigError(f"train.vtlp is {self.vtlp}; use a probability in [0, 1]")
        if not 0.0 <= self.channel_augment <= 1.0:
            raise ConfigError(f"train.channel_augment is {self.channel_augment}; use a "
                              "probability in [0, 1]")
        if self.bank_epochs < 1 or self.target_fa_per_hour <= 0 or self.after_end_ms < 0:
            raise ConfigError("train.bank_epochs must be >= 1, target_fa_per_hour > 0 and "
                              "after_end_ms >= 0")
        if self.learning_rate <= 0 or self.false_accept_weight <= 0:
            raise ConfigError("train.learning_rate and false_accept_weight must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"train config: unknown key(s) {unknown}")
        return cls(**data)


def optimizer_step(loss: Tensor, optimizer: Any, params: list[Any], where: str) -> None:
    """One guarded update: a non-finite loss is an error naming ``where``; gradients clipped
    to norm 5."""
    if not torch.isfinite(loss):
        raise WakewordError(f"the training loss became {float(loss)} at {where}; "
                            "lower --learning-rate")
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 5.0)
    optimizer.step()


def check_frozen(model: WakeWordModel, before: dict[str, Tensor]) -> None:
    """Raise if a frozen connectome kernel changed since ``before`` (a copy taken at start)."""
    for name, value in model.frozen_kernels().items():
        if not torch.equal(value, before[name]):
            raise WakewordError(f"frozen kernel {name} changed during training; this is a bug")


@dataclass(frozen=True, kw_only=True)
class TrainResult:
    best_checkpoint: Path
    last_checkpoint: Path
    epochs_run: int
    best_epoch: int
    metrics: dict[str, Any]
    seconds: float


class Trainer:
    """``Trainer(model, kernels, config).fit(train_audio, train_labels, val_audio, val_labels, out)``."""

    def __init__(self, model: WakeWordModel, kernels: KernelSource, config: TrainConfig,
                 *, data_config: dict[str, Any] | None = None) -> None:
        self.model = model
        self.kernels = kernels
        self.config = config
        self.data_config = data_config or {}

    def _features(self, audio: np.ndarray) -> Tensor:
        feats = []
        with torch.no_grad():
            for start in range(0, len(audio), 256):
                batch = torch.as_tensor(audio[start : start + 256], dtype=torch.float32)
                feats.append(self.model.features(batch))
        return torch.cat(feats)

    def _loss(self, mel: Tensor, labels: Tensor, epoch: int | None = None) -> Tensor:
        """The training loss; ``epoch`` (training only) leaves the every-step term out before
        ``negative_step_start``. Validation always uses the full loss, so it is comparable
        across epochs."""
        cfg = self.config
        step_logits = self.model.network(mel)
        logits = clip_logits(step_logits, self.model.network_config.clip_pooling)
        n_classes = logits.shape[-1]
        weight = torch.ones(n_classes)
        weight[0] = cfg.false_accept_weight
        loss = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
        if cfg.negative_step_weight > 0 and (epoch is None or epoch >= cfg.negative_step_start):
            # every step of a negative clip is background, not only its most keyword-like one
            loss = loss + cfg.negative_step_weight * negative_step_loss(step_logits, labels)
        if cfg.l1 > 0:
            loss = loss + cfg.l1 * sum(p.abs().sum() for p in self.model.trained_parameters().values())
        return loss

    @torch.no_grad()
    def evaluate(self, mel: Tensor, labels: Tensor) -> dict[str, float]:
        self.model.eval()
        losses, scores = [], []
        for start in range(0, len(mel), 256):
            m, y = mel[start : start + 256], labels[start : start + 256]
            step_logits = self.model.network(m)
            losses.append(float(self._loss(m, y)) * len(m))
            probs = torch.softmax(step_logits, -1)[..., 1:].max(-1).values.max(-1).values
            scores.append(probs)
        score = torch.cat(scores).numpy()
        y = labels.numpy()
        pos, neg = score[y > 0], score[y == 0]
        auc = float((pos[:, None] > neg[None, :]).mean()) if len(pos) and len(neg) else float("nan")
        out = {"loss": sum(losses) / len(mel), "auc": auc,
               "frr_at_0.5": float(np.mean(pos < 0.5)) if len(pos) else float("nan"),
               "far_at_0.5": float(np.mean(neg >= 0.5)) if len(neg) else float("nan")}
        # the threshold that accepts at most 1 % of validation negative clips
        if len(neg):
            thr = float(np.quantile(neg, 0.99))
            out["threshold_1pct_fa"] = min(max(thr, 0.05), 0.99)
            out["frr_at_threshold"] = float(np.mean(pos < out["threshold_1pct_fa"])) if len(pos) else float("nan")
        return out

    def fit(self, train_audio: np.ndarray, train_labels: np.ndarray, val_audio: np.ndarray,
            val_labels: np.ndarray, out_dir: str | Path, *, resume: bool = False) -> TrainResult:
        cfg = self.config
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        # A clip server (wakeword.data.serve.ClipServer) renders new augmented clips every
        # epoch; plain arrays are featurised once.
        streaming = hasattr(train_audio, "batches")
        checks = [("validation", val_audio, val_labels)]
        if not streaming:
            checks.insert(0, ("train", train_audio, train_labels))
        for name, audio, labels in checks:
            if len(audio) == 0 or len(audio) != len(labels):
                raise DataError(f"the {name} set has {len(audio)} clips and {len(labels)} labels; "
                                "it needs at least one clip with a label each")
            if not np.isfinite(audio).all():
                raise DataError(f"the {name} set contains NaN or infinite samples; check the input "
                                "audio files")
        if not streaming and len(np.unique(train_labels)) < 2:
            raise DataError("the training set has only one class; it needs positives and negatives")
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        frozen_before = {k: v.clone() for k, v in self.model.frozen_kernels().items()}
        log.info("computing log-Mel features for %d + %d clips", len(train_audio), len(val_audio))
        val_mel = self._features(val_audio)
        if not streaming:
            train_mel = self._features(train_audio)
            y_train = torch.as_tensor(train_labels, dtype=torch.int64)
        y_val = torch.as_tensor(val_labels, dtype=torch.int64)
        params = list(self.model.trained_parameters().values())
        opt_cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.RMSprop
        optimizer = opt_cls(params, lr=cfg.learning_rate, weight_decay=cfg.l2)
        step_epoch = max(1, cfg.epochs * 2 // 3)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step_epoch, gamma=0.3)
        start_epoch, best_loss, best_epoch, history = 0, float("inf"), -1, []
        last_path, best_path = out / "last.pt", out / "best.pt"
        if resume and last_path.is_file():
            payload = load_checkpoint(last_path)
            self.model.load_state_dict(payload["state_dict"])
            optimizer.load_state_dict(payload["optimizer"]["optimizer"])
            scheduler.load_state_dict(payload["optimizer"]["scheduler"])
            gen.set_state(payload["optimizer"]["generator"])
            start_epoch = payload["epoch"] + 1
            best_loss = payload["extra"].get("best_loss", best_loss)
            best_epoch = payload["extra"].get("best_epoch", best_epoch)
            history = payload["metrics"].get("history", [])
            log.info("resuming from %s at epoch %d", last_path, start_epoch)
        t0 = time.time()
        fill = self.model.frontend_config.silence_value
        epoch = start_epoch - 1
        for epoch in progress(range(start_epoch, cfg.epochs), desc="training", total=cfg.epochs - start_epoch):
            self.model.train()
            total, n_seen = 0.0, 0
            for mel, y_batch in self._epoch_batches(epoch, train_audio if streaming else None,
                                                    None if streaming else (train_mel, y_train),
                                                    gen):
                if cfg.spec_augment:
                    mel = spec_augment(mel, generator=gen, n_freq_masks=1,
                                       freq_mask_width=(0, cfg.freq_mask_bins), n_time_masks=1,
                                       time_mask_width=(0, cfg.time_mask_frames), mask_value=fill)
                loss = self._loss(mel, y_batch, epoch)
                optimizer_step(loss, optimizer, params, f"epoch {epoch}")
                total += float(loss.detach()) * len(y_batch)
                n_seen += len(y_batch)
            scheduler.step()
            val = self.evaluate(val_mel, y_val)
            row = {"epoch": epoch, "train_loss": total / max(1, n_seen),
                   **{f"val_{k}": v for k, v in val.items()}}
            history.append(row)
            log.info("epoch %d: train %.4f val %.4f auc %.4f frr@0.5 %.3f far@0.5 %.3f", epoch,
                     row["train_loss"], val["loss"], val["auc"], val["frr_at_0.5"], val["far_at_0.5"])
            improved = val["loss"] < best_loss
            if improved:
                best_loss, best_epoch = val["loss"], epoch
                self._save(best_path, epoch, history, optimizer, scheduler, gen, best_loss,
                           best_epoch, val)
            self._save(last_path, epoch, history, optimizer, scheduler, gen, best_loss,
                       best_epoch, val)
            # no early stop before the learning-rate step: the noisy high-rate phase often has
            # its best validation loss early, and the step is where most of the gain comes
            if epoch >= step_epoch and epoch - max(best_epoch, step_epoch) >= cfg.patience:
                log.info("early stop at epoch %d (best %d)", epoch, best_epoch)
                break
        check_frozen(self.model, frozen_before)
        best = load_checkpoint(best_path)
        self.model.load_state_dict(best["state_dict"])
        self.model.eval()
        metrics = best["metrics"]
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
        return TrainResult(best_checkpoint=best_path, last_checkpoint=last_path,
                           epochs_run=epoch + 1, best_epoch=best_epoch, metrics=metrics,
                           seconds=time.time() - t0)

    def _epoch_batches(self, epoch: int, server: Any, arrays: tuple[Tensor, Tensor] | None,
                       gen: torch.Generator) -> Any:
        """``(mel, labels)`` batches of one epoch: rendered by the clip server (new
        augmentation every epoch) or drawn with replacement from precomputed features
        (measured to train faster here than epoch shuffles)."""
        if server is not None:
            n_batches = -(-len(server) // self.config.batch_size)
            for audio, labels, _ends in progress(server.batches(epoch, self.config.batch_size),
                                                 desc=f"epoch {epoch}", total=n_batches):
                yield self._features(audio), torch.as_tensor(labels, dtype=torch.int64)
            return
        assert arrays is not None
        train_mel, y_train = arrays
        order = torch.randint(0, len(train_mel), (len(train_mel),), generator=gen)
        for start in range(0, len(order), self.config.batch_size):
            idx = order[start : start + self.config.batch_size]
            yield train_mel[idx], y_train[idx]

    def _save(self, path: Path, epoch: int, history: list[dict[str, Any]], optimizer: Any,
              scheduler: Any, gen: torch.Generator, best_loss: float, best_epoch: int,
              val: dict[str, float]) -> None:
        metrics = {"history": history, "val": val, "best_epoch": best_epoch,
                   "threshold": val.get("threshold_1pct_fa", 0.5)}
        save_checkpoint(
            path, self.model, kernels=self.kernels, data_config=self.data_config,
            train_config=self.config.to_dict(), metrics=metrics, epoch=epoch,
            optimizer_state={"optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(), "generator": gen.get_state()},
            extra={"best_loss": best_loss, "best_epoch": best_epoch})
