"""Size and cost of a model configuration: trained/frozen parameters and multiply-accumulates."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from wakeword.features.mel import FrontendConfig
from wakeword.model.config import NetworkConfig
from wakeword.model.wakeword_model import WakeWordModel

__all__ = ["PRESETS", "ModelSummary", "summarize"]

# Named configurations used by the baselines and benchmarks (same trained-parameter budget).
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "random-kernels": {"kernel_source": "random"},
    "trained-kernels": {"kernel_source": "trained"},
    "gru": {"architecture": "gru"},
    "fig4a": {"architecture": "fig4a"},
    "fig3": {"architecture": "fig3"},
    "schedule": {"kernel_schedule": True},
    # The step recipe's network (issue 13): 24 channels of least-alike connectome kernels, a
    # 240 ms window, a 420 that mixes 5 neighbouring Mel bins, a gated 440 (6,794 trained).
    "fig4b-gated": {"channels": 24, "window_frames": 24, "input_taps": 5, "gated": True,
                    "kernel_selection": "diverse"},
    # A conventional streaming reference of the same trained budget (7,006): a GRU.
    "gru-reference": {"architecture": "gru", "gru_hidden": 34},
}


@dataclass(frozen=True, kw_only=True)
class ModelSummary:
    name: str
    architecture: str
    kernel_source: str
    trained_parameters: int
    frozen_parameters: int
    network_macs_per_step: int
    network_macs_per_step_as_run: int
    steps_per_second: float
    network_macs_per_second: float
    frontend_macs_per_second: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(model: WakeWordModel, name: str = "model") -> ModelSummary:
    fe = model.frontend_config
    net = model.network
    trained = sum(p.numel() for p in model.trained_parameters().values())
    frozen = sum(b.numel() for b in model.frozen_kernels().values())
    steps = 1.0 / model.step_s
    frames_per_s = fe.sample_rate_hz / fe.hop_samples
    # DFT as a strided conv (2 * n_bins x n_fft per frame) + power + Mel matrix.
    frontend_macs = frames_per_s * (2 * fe.n_bins * fe.n_fft + 2 * fe.n_bins + fe.n_bins * fe.n_mels)
    per_step = net.macs_per_step()
    return ModelSummary(
        name=name,
        architecture=model.network_config.architecture,
        kernel_source=model.network_config.kernel_source,
        trained_parameters=int(trained),
        frozen_parameters=int(frozen),
        network_macs_per_step=int(per_step),
        network_macs_per_step_as_run=int(net.macs_per_step_as_exported()),
        steps_per_second=steps,
        network_macs_per_second=per_step * steps,
        frontend_macs_per_second=frontend_macs,
    )


def build_preset(name: str, kernels: np.ndarray, path: np.ndarray,
                 base: NetworkConfig | None = None) -> WakeWordModel:
    base_dict = (base or NetworkConfig()).to_dict()
    base_dict.update(PRESETS[name])
    return WakeWordModel(FrontendConfig(), NetworkConfig.from_dict(base_dict), kernels, path)
