"""The whole model: log-Mel front end + keyword network, with clip and streaming entry points.

Streaming state, in order (this is the order the exported graphs use):
``overlap [B, n_fft - hop]`` (audio kept for the next frame), ``history [B, W - S, n_mels]``
(Mel frames kept for the next window), then the network's state (hidden state, step counter).
One streaming call consumes one chunk of ``stride_frames * hop_samples`` samples (80 ms by
default) and makes exactly one network step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from wakeword.errors import ConfigError
from wakeword.features.mel import FrontendConfig, LogMel
from wakeword.model.config import NetworkConfig
from wakeword.model.network import build_network, clip_logits

__all__ = ["WakeWordModel"]


class WakeWordModel(nn.Module):
    """Front end + network. ``forward(audio)`` scores clips; ``stream_step`` scores one chunk."""

    def __init__(self, frontend: FrontendConfig, network: NetworkConfig,
                 kernels: np.ndarray, path: np.ndarray) -> None:
        super().__init__()
        if frontend.n_mels != network.n_mels:
            raise ConfigError(f"frontend.n_mels ({frontend.n_mels}) differs from network.n_mels "
                              f"({network.n_mels}); set both to the same value")
        self.frontend_config = frontend
        self.network_config = network
        self.frontend = LogMel(frontend)
        self.network = build_network(network, kernels, path, frontend.silence_value)

    # -- clips ------------------------------------------------------------------------------
    @property
    def chunk_samples(self) -> int:
        return self.network_config.stride_frames * self.frontend_config.hop_samples

    @property
    def step_s(self) -> float:
        return self.chunk_samples / self.frontend_config.sample_rate_hz

    def features(self, audio: Tensor) -> Tensor:
        return self.frontend(audio)

    def forward(self, audio: Tensor) -> Tensor:
        """Per-step logits ``[B, steps, n_classes]`` for audio ``[B, samples]``.

        ``steps = samples // chunk_samples``; a trailing partial chunk is ignored, exactly as a
        stream that has not yet received the rest of it.
        """
        if audio.dim() != 2:
            raise ConfigError(f"audio must be [batch, samples], got {tuple(audio.shape)}")
        if audio.shape[1] < self.chunk_samples:
            raise ConfigError(
                f"the clip has {audio.shape[1]} samples but one step needs {self.chunk_samples} "
                f"({1000 * self.step_s:.0f} ms); pad or lengthen it")
        usable = audio.shape[1] - audio.shape[1] % self.chunk_samples
        return self.network(self.frontend(audio[:, :usable]))

    def clip_logits(self, audio: Tensor) -> Tensor:
        return clip_logits(self.forward(audio), self.network_config.clip_pooling)

    # -- streaming --------------------------------------------------------------------------
    def initial_stream_state(self, batch: int = 1) -> tuple[Tensor, ...]:
        overlap = torch.zeros(batch, self.frontend_config.overlap_samples)
        history = self.network.initial_history(batch)
        return (overlap, history, *self.network.initial_state(batch))

    def stream_step(self, chunk: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        """One chunk ``[B, chunk_samples]`` -> ``(probabilities [B, n_classes], *next_state)``."""
        overlap, history, *net_state = state
        frames, overlap = self.frontend.stream(chunk, overlap)
        window = torch.cat([history, frames], dim=1)
        logits, net_state_out = self.network.step(window, tuple(net_state))
        history = window[:, window.shape[1] - self.network_config.history_frames :]
        return (torch.softmax(logits, dim=-1), overlap, history, *net_state_out)

    def stream(self, audio: Tensor) -> Tensor:
        """Probabilities ``[B, steps, n_classes]`` by calling :meth:`stream_step` chunk by chunk."""
        state = self.initial_stream_state(audio.shape[0])
        outputs = []
        for start in range(0, audio.shape[1] - self.chunk_samples + 1, self.chunk_samples):
            probs, *state = self.stream_step(audio[:, start : start + self.chunk_samples], *state)
            outputs.append(probs)
        return torch.stack(outputs, dim=1)

    # -- bookkeeping --------------------------------------------------------------------------
    def trained_parameters(self) -> dict[str, nn.Parameter]:
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def frozen_kernels(self) -> dict[str, Tensor]:
        return {n: b for n, b in self.named_buffers() if n.endswith(".taps")}

    def describe(self) -> dict[str, Any]:
        return {"frontend": self.frontend_config.to_dict(), "network": self.network_config.to_dict()}
