"""Log-Mel front end built from plain tensor ops, so one module serves training and export.

The short-time Fourier transform is a strided ``conv1d`` whose weights are a constant,
Hann-windowed DFT basis (cosine and sine rows); the Mel filterbank is a constant matrix
(``torchaudio.functional.melscale_fbanks``, HTK scale, no area normalisation, as in
``torchaudio.transforms.MelSpectrogram``'s defaults). No FFT op, no framing op: conv1d, mul, add,
matmul and log are available in every ONNX and TFLite runtime.

Defaults (``FrontendConfig``): 16 kHz audio, 25 ms window (``n_fft = 400``), 10 ms hop
(``hop_samples = 160``), 32 Mel bins from 20 Hz to 8 kHz, ``log(power + 1e-6)`` then a fixed
affine normalisation ``(x - log_mean) / log_std`` (-10 and 5, measured on real recordings so speech features have mean ~0 and std ~1).
Thirty-two bins (not 40) keep the bio-convolution along the Mel axis and the read-out small;
the frozen kernels slide along this frequency axis.

Frames are not centred (``center=False``): frame ``t`` covers samples
``[t * hop, t * hop + n_fft)``. A streaming caller keeps the last ``n_fft - hop`` samples of the
previous chunk and prepends them; ``LogMel.forward`` on a whole clip prepends the same number of
zeros, so clip and streaming features agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torchaudio
from torch import Tensor, nn

from wakeword.errors import ConfigError

__all__ = ["FrontendConfig", "LogMel", "log_mel"]


@dataclass(frozen=True, kw_only=True)
class FrontendConfig:
    """Log-Mel front-end settings (saved into checkpoints and model manifests)."""

    sample_rate_hz: int = 16000
    n_fft: int = 400
    hop_samples: int = 160
    n_mels: int = 32
    f_min_hz: float = 20.0
    f_max_hz: float = 8000.0
    log_floor: float = 1e-6
    log_mean: float = -10.0
    log_std: float = 5.0

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0:
            raise ConfigError(f"frontend.sample_rate_hz is {self.sample_rate_hz}; use 16000")
        if not 0 < self.hop_samples <= self.n_fft:
            raise ConfigError(
                f"frontend.hop_samples is {self.hop_samples} but must be in (0, n_fft="
                f"{self.n_fft}]; use 160 (10 ms) with n_fft 400 (25 ms)")
        if not 0 <= self.f_min_hz < self.f_max_hz <= self.sample_rate_hz / 2:
            raise ConfigError(
                f"frontend f_min_hz={self.f_min_hz}, f_max_hz={self.f_max_hz} must satisfy "
                f"0 <= f_min < f_max <= {self.sample_rate_hz / 2} (Nyquist)")
        if self.n_mels < 4:
            raise ConfigError(f"frontend.n_mels is {self.n_mels}; use at least 4 (default 32)")
        if self.log_std <= 0 or self.log_floor <= 0:
            raise ConfigError("frontend.log_std and log_floor must be positive")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def overlap_samples(self) -> int:
        """Samples of the previous chunk a streaming caller must keep: ``n_fft - hop``."""
        return self.n_fft - self.hop_samples

    @property
    def hop_ms(self) -> float:
        return 1000.0 * self.hop_samples / self.sample_rate_hz

    @property
    def silence_value(self) -> float:
        """The normalised feature value of digital silence (used to pad window history)."""
        return (math.log(self.log_floor) - self.log_mean) / self.log_std

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrontendConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"frontend config: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**data)


def _dft_basis(config: FrontendConfig) -> Tensor:
    """[2 * n_bins, 1, n_fft] conv1d weight: Hann-windowed cosine rows then sine rows."""
    n = torch.arange(config.n_fft, dtype=torch.float64)
    k = torch.arange(config.n_bins, dtype=torch.float64)
    angle = 2.0 * math.pi * k[:, None] * n[None, :] / config.n_fft
    window = torch.hann_window(config.n_fft, periodic=True, dtype=torch.float64)
    basis = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=0) * window[None, :]
    return basis.to(torch.float32).unsqueeze(1)


def _mel_matrix(config: FrontendConfig) -> Tensor:
    """[n_bins, n_mels] Mel filterbank, identical to torchaudio's MelSpectrogram default."""
    return torchaudio.functional.melscale_fbanks(
        n_freqs=config.n_bins,
        f_min=config.f_min_hz,
        f_max=config.f_max_hz,
        n_mels=config.n_mels,
        sample_rate=config.sample_rate_hz,
        norm=None,
        mel_scale="htk",
    ).to(torch.float32)


def log_mel(audio: Tensor, dft_basis: Tensor, mel_matrix: Tensor, config: FrontendConfig) -> Tensor:
    """Normalised log-Mel features of already-padded audio.

    Args:
        audio: ``[batch, samples]`` float32 in [-1, 1]; frames are not centred.
        dft_basis: ``[2 * n_bins, 1, n_fft]`` from the module's buffer.
        mel_matrix: ``[n_bins, n_mels]``.
    Returns:
        ``[batch, frames, n_mels]`` with ``frames = 1 + (samples - n_fft) // hop``.
    """
    spec = nn.functional.conv1d(audio.unsqueeze(1), dft_basis, stride=config.hop_samples)
    real, imag = spec[:, : config.n_bins], spec[:, config.n_bins :]
    power = real * real + imag * imag  # [batch, n_bins, frames]
    mel = torch.matmul(power.transpose(1, 2), mel_matrix)  # [batch, frames, n_mels]
    return (torch.log(mel + config.log_floor) - config.log_mean) / config.log_std


class LogMel(nn.Module):
    """Normalised log-Mel features; constants are buffers (never parameters)."""

    def __init__(self, config: FrontendConfig | None = None) -> None:
        super().__init__()
        self.config = config or FrontendConfig()
        self.register_buffer("dft_basis", _dft_basis(self.config), persistent=False)
        self.register_buffer("mel_matrix", _mel_matrix(self.config), persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        """Features of whole clips ``[batch, samples]`` -> ``[batch, samples // hop, n_mels]``.

        The clip is preceded by ``n_fft - hop`` zeros, the state a fresh stream starts from, so
        this equals streaming the clip chunk by chunk with :meth:`stream`.
        """
        if audio.dim() != 2:
            raise ConfigError(f"LogMel expects audio of shape [batch, samples], got {tuple(audio.shape)}")
        pad = audio.new_zeros(audio.shape[0], self.config.overlap_samples)
        return self.raw(torch.cat([pad, audio], dim=1))

    def raw(self, padded_audio: Tensor) -> Tensor:
        """Features of audio that already carries its left context (no padding added)."""
        return log_mel(padded_audio, self.dft_basis, self.mel_matrix, self.config)

    def stream(self, chunk: Tensor, overlap: Tensor) -> tuple[Tensor, Tensor]:
        """One streaming chunk: ``(features [batch, chunk // hop, n_mels], next overlap)``."""
        joined = torch.cat([overlap, chunk], dim=1)
        return self.raw(joined), joined[:, joined.shape[1] - self.config.overlap_samples :]
