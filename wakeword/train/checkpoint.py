"""Checkpoints: the model's weights plus every configuration needed to rebuild and re-export it.

A checkpoint (a plain dict, written atomically in the data-only format of
:mod:`wakeword.train.checkpoint_format`: JSON plus ``.npy`` arrays, never a pickle) holds
``schema_version``, the front-end, network, data and training configs, the kernel bank's
kernels, path, fingerprint, recipe and attribution (so it is self-contained and its kernels can
be checked against the bank), the state dict, optimiser state, epoch and metrics. Loading one
runs no code from the file; pickled checkpoints of older versions are converted once with
``wakeword convert-checkpoint`` (see :func:`~wakeword.train.checkpoint_format.convert_pickled`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wakeword import __version__
from wakeword.errors import CheckpointError
from wakeword.features.mel import FrontendConfig
from wakeword.model.config import NetworkConfig
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.train.checkpoint_format import read_payload, write_payload

__all__ = [
    "CHECKPOINT_SCHEMA",
    "KernelSource",
    "load_checkpoint",
    "load_model",
    "load_scorer",
    "save_checkpoint",
]

CHECKPOINT_SCHEMA = 1


@dataclass(frozen=True, kw_only=True)
class KernelSource:
    """The kernels a model was built from, with their provenance."""

    kernels: np.ndarray
    path: np.ndarray
    fingerprint: str = ""
    recipe: dict[str, Any] = field(default_factory=dict)
    attribution: str = ""
    neuron_ids: np.ndarray | None = None

    @classmethod
    def from_bank(cls, bank: Any) -> KernelSource:
        return cls(kernels=np.asarray(bank.kernels, np.float32), path=np.asarray(bank.path),
                   fingerprint=bank.fingerprint(), recipe=bank.recipe.to_dict(),
                   attribution=bank.attribution, neuron_ids=np.asarray(bank.neuron_ids))

    def to_dict(self) -> dict[str, Any]:
        return {"kernels": self.kernels, "path": self.path, "fingerprint": self.fingerprint,
                "recipe": self.recipe, "attribution": self.attribution,
                "neuron_ids": self.neuron_ids}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KernelSource:
        return cls(**data)


def save_checkpoint(path: str | os.PathLike[str], model: WakeWordModel, *, kernels: KernelSource,
                    data_config: dict[str, Any] | None = None,
                    train_config: dict[str, Any] | None = None,
                    metrics: dict[str, Any] | None = None,
                    optimizer_state: dict[str, Any] | None = None, epoch: int = 0,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename).

    The configs, metrics, optimiser state and ``extra`` must be plain data (numbers, strings,
    lists, tuples, dicts), numpy arrays or tensors; anything else is a :class:`CheckpointError`.
    """
    payload = {
        "schema_version": CHECKPOINT_SCHEMA,
        "wakeword_version": __version__,
        "frontend": model.frontend_config.to_dict(),
        "network": model.network_config.to_dict(),
        "kernels": kernels.to_dict(),
        "data": data_config or {},
        "train": train_config or {},
        "state_dict": model.state_dict(),
        "optimizer": optimizer_state,
        "epoch": epoch,
        "metrics": metrics or {},
        "extra": extra or {},
    }
    return write_payload(path, payload)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a checkpoint dict; errors name the file and the fix.

    Only data is read (no unpickling); a pickled checkpoint of an older wakeword is a
    :class:`CheckpointError` that says how to convert it.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint; pass the .pt file written by "
                              "`wakeword train` (e.g. runs/computer/best.pt)")
    payload = read_payload(path)
    if "schema_version" not in payload:
        raise CheckpointError(f"{path}: not a wakeword checkpoint (no schema_version)")
    if payload["schema_version"] != CHECKPOINT_SCHEMA:
        raise CheckpointError(
            f"{path}: schema_version is {payload['schema_version']!r} but this wakeword reads "
            f"{CHECKPOINT_SCHEMA}; use the wakeword version that wrote it "
            f"({payload.get('wakeword_version', 'unknown')}) or retrain")
    return payload


def model_from_payload(payload: dict[str, Any], where: str = "checkpoint") -> WakeWordModel:
    try:
        frontend = FrontendConfig.from_dict(payload["frontend"])
        network = NetworkConfig.from_dict(payload["network"])
        kernels = KernelSource.from_dict(payload["kernels"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{where}: missing or malformed field {exc}; retrain or re-save "
                              "the checkpoint") from exc
    state = payload.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{where}: state_dict is not a mapping of tensors; retrain or "
                              "re-save the checkpoint")
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not
                 bool(torch.isfinite(v).all()))
    if bad:
        raise CheckpointError(f"{where}: state_dict {bad} hold NaN or infinite values; use an "
                              "earlier checkpoint or retrain")
    try:
        model = WakeWordModel(frontend, network, kernels.kernels, kernels.path)
        model.load_state_dict(state)
    except (RuntimeError, TypeError, ValueError, IndexError) as exc:
        raise CheckpointError(f"{where}: weights do not fit the configured network ({exc})") from exc
    return model.eval()


def load_model(path: str | os.PathLike[str]) -> WakeWordModel:
    """The :class:`WakeWordModel` stored in a checkpoint, in eval mode."""
    return model_from_payload(load_checkpoint(path), str(path))


class TorchScorer:
    """Scores audio with a checkpoint's PyTorch model (the eval Scorer protocol)."""

    def __init__(self, model: WakeWordModel) -> None:
        self.model = model.eval()
        self.keywords = model.network_config.keywords
        self.step_s = model.step_s

    def score(self, audio: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(audio, np.float32))[None]
            if x.shape[1] < self.model.chunk_samples:
                return np.zeros((0, len(self.keywords) + 1), np.float32)
            return torch.softmax(self.model(x), -1)[0].numpy()

    def score_batch(self, clips: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(self.model(torch.as_tensor(clips)), -1).numpy()


def load_scorer(path: str | os.PathLike[str]) -> TorchScorer:
    return TorchScorer(load_model(path))
