"""The training engine: learns a separable toy task, keeps kernels frozen, checkpoints, resumes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wakeword.errors import CheckpointError, DataError
from wakeword.features.mel import FrontendConfig
from wakeword.model import NetworkConfig, WakeWordModel
from wakeword.train.checkpoint import KernelSource, load_checkpoint, load_model, save_checkpoint
from wakeword.train.checkpoint_format import write_payload
from wakeword.train.trainer import TrainConfig, Trainer


def _bank():
    rng = np.random.default_rng(3)
    k = rng.normal(size=(64, 9)).astype(np.float32)
    return k / np.linalg.norm(k, axis=1, keepdims=True), np.arange(8)


def _clips(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positives carry a loud 1 kHz burst near the end; negatives are quiet noise."""
    rng = np.random.default_rng(seed)
    audio = (rng.normal(size=(2 * n, 12800)) * 0.01).astype(np.float32)
    t = np.arange(4000) / 16000
    for i in range(n):
        start = rng.integers(6000, 8800)
        audio[i, start:start + 4000] += 0.4 * np.sin(2 * np.pi * 1000 * t)
    labels = np.r_[np.ones(n), np.zeros(n)].astype(np.int64)
    return audio, labels


def _fit(tmp_path, negative_step_weight: float):
    kernels, path = _bank()
    torch.manual_seed(0)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, path)
    frozen = {k: v.clone() for k, v in model.frozen_kernels().items()}
    audio, labels = _clips(48, 0)
    val_audio, val_labels = _clips(16, 1)
    trainer = Trainer(model, KernelSource(kernels=kernels, path=path),
                      TrainConfig(epochs=12, batch_size=16, patience=20,
                                  negative_step_weight=negative_step_weight))
    result = trainer.fit(audio, labels, val_audio, val_labels, tmp_path)
    return model, frozen, result, tmp_path


@pytest.fixture
def trained(tmp_path):
    """The clip loss alone: the mechanics tests (checkpoints, resume) need a model that learns."""
    return _fit(tmp_path, 0.0)


def _check_learned(model, frozen, result):
    history = result.metrics["history"]
    assert history[-1]["val_auc"] > 0.9, history[-1]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    for name, value in model.frozen_kernels().items():
        assert torch.equal(value, frozen[name]), name


def test_training_learns_a_separable_task_and_keeps_kernels_frozen(trained):
    model, frozen, result, _ = trained
    _check_learned(model, frozen, result)


def test_training_with_the_every_step_negative_loss_learns_the_toy_task(tmp_path):
    """The every-step loss on negatives starts after a clip-loss warm-up (default epoch 4).
    Switched on from epoch 0 it drove this task to a validation AUC below 0.5: every step of
    every clip pushed to background before the network had found the keyword at all."""
    model, frozen, result, _ = _fit(tmp_path, 1.0)
    assert TrainConfig().negative_step_start > 0
    _check_learned(model, frozen, result)
    saved = load_checkpoint(result.best_checkpoint)["train"]
    assert saved["negative_step_weight"] == 1.0 and saved["negative_step_start"] == 4


def test_checkpoint_holds_every_config_and_rebuilds_the_model(trained):
    model, _, result, _ = trained
    payload = load_checkpoint(result.best_checkpoint)
    for key in ("frontend", "network", "kernels", "train", "metrics", "schema_version"):
        assert key in payload
    assert payload["train"]["epochs"] == 12
    rebuilt = load_model(result.best_checkpoint)
    audio = torch.as_tensor(_clips(2, 5)[0])
    with torch.no_grad():
        assert torch.allclose(rebuilt(audio), model.eval()(audio), atol=1e-6)


def test_resume_continues_from_the_last_checkpoint(trained, tmp_path):
    model, _, result, out = trained
    payload = load_checkpoint(result.last_checkpoint)
    kernels, path = _bank()
    fresh = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, path)
    trainer = Trainer(fresh, KernelSource(kernels=kernels, path=path),
                      TrainConfig(epochs=14, batch_size=16, patience=20))
    audio, labels = _clips(48, 0)
    val_audio, val_labels = _clips(16, 1)
    resumed = trainer.fit(audio, labels, val_audio, val_labels, out, resume=True)
    epochs = [row["epoch"] for row in load_checkpoint(resumed.last_checkpoint)["metrics"]["history"]]
    assert epochs[0] == 0 and epochs[-1] == 13 and payload["epoch"] == 11


def test_bad_training_data_is_rejected_with_the_reason(tmp_path):
    kernels, path = _bank()
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, path)
    trainer = Trainer(model, KernelSource(kernels=kernels, path=path), TrainConfig(epochs=1))
    audio, labels = _clips(4, 0)
    bad = audio.copy()
    bad[0, 10] = np.nan
    with pytest.raises(DataError, match="NaN"):
        trainer.fit(bad, labels, audio, labels, tmp_path)
    with pytest.raises(DataError, match="only one class"):
        trainer.fit(audio, np.zeros_like(labels), audio, labels, tmp_path)


def test_corrupt_or_foreign_checkpoints_name_the_problem(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: cannot be read"):
        load_checkpoint(junk)
    kernels, path = _bank()
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, path)
    ckpt = save_checkpoint(tmp_path / "m.pt", model, kernels=KernelSource(kernels=kernels, path=path))
    payload = load_checkpoint(ckpt)
    payload["schema_version"] = 99
    write_payload(ckpt, payload)
    with pytest.raises(CheckpointError, match="schema_version is 99"):
        load_checkpoint(ckpt)


def test_spec_augment_training_keeps_kernels_frozen(tmp_path):
    kernels, path = _bank()
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, path)
    frozen = {k: v.clone() for k, v in model.frozen_kernels().items()}
    audio, labels = _clips(8, 2)
    trainer = Trainer(model, KernelSource(kernels=kernels, path=path),
                      TrainConfig(epochs=2, batch_size=8, spec_augment=True))
    result = trainer.fit(audio, labels, audio, labels, tmp_path)
    assert result.epochs_run == 2
    for name, value in model.frozen_kernels().items():
        assert torch.equal(value, frozen[name]), name
