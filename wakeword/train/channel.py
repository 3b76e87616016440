"""Microphone and channel augmentation on log-Mel features: random EQ, rumble, band limits.

Real recordings reach the model through microphones, rooms and codecs that synthetic speech
never passed: measured on the shared "computer" recordings, a median 61 % of their energy lies
below 300 Hz (Kokoro and espeak-ng positives: 43 %), and their highest band is weaker. A filter
multiplies each Mel band's power by a gain, so on cached features it is exact to apply one:
back to power (``exp(x * std + mean) - floor``), times ``10 ** (g / 10)``, back to the
normalised log. Per clip, with probability ``probability``:

- a smooth random EQ: ``g(m) = sum_k a_k cos(k pi m / M)``, ``k = 1..3``, ``a_k`` uniform in
  +-``eq_db`` dB (a tilt plus one or two broad bumps);
- with probability 0.3, rumble: the bands below about 300 Hz raised by up to 15 dB;
- with probability 0.25, a band limit: every band above a cut-off between about 3.4 and
  7 kHz lowered by 20-40 dB (telephone-like and cheap microphones).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["channel_augment", "vocal_tract_warp"]


def channel_augment(mel: Tensor, frontend: object, generator: torch.Generator, *,
                    probability: float = 0.8, eq_db: float = 6.0) -> Tensor:
    """``mel [B, F, M]`` (normalised log-Mel of ``frontend``) with a random channel per clip."""
    b, _, m = mel.shape
    g = torch.zeros(b, m)
    bins = torch.arange(m, dtype=torch.float32)
    amps = (torch.rand(b, 3, generator=generator) * 2 - 1) * eq_db
    for k in range(3):
        g += amps[:, k:k + 1] * torch.cos((k + 1) * math.pi * bins / (m - 1))[None, :]
    low_edge = max(1, round(m * 4 / 32))  # ~300 Hz on the default 32-band 20-8000 Hz scale
    rumble = torch.rand(b, generator=generator) < 0.3
    g[:, :low_edge] += (rumble[:, None] * torch.rand(b, 1, generator=generator) * 15.0)
    limited = torch.rand(b, generator=generator) < 0.25
    cut = (m * 22 / 32 + torch.rand(b, generator=generator) * m * 7 / 32).long()
    drop = 20.0 + 20.0 * torch.rand(b, 1, generator=generator)
    above = bins[None, :] >= cut[:, None]
    g -= (limited[:, None] & above) * drop
    apply = torch.rand(b, generator=generator) < probability
    g = g * apply[:, None]
    mean = float(frontend.log_mean)  # type: ignore[attr-defined]
    std = float(frontend.log_std)  # type: ignore[attr-defined]
    floor = float(frontend.log_floor)  # type: ignore[attr-defined]
    power = (torch.exp(mel * std + mean) - floor).clamp_min(0.0)
    power = power * torch.pow(10.0, g / 10.0)[:, None, :]
    return (torch.log(power + floor) - mean) / std


def _mel(hz: Tensor) -> Tensor:
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def _hz(mel: Tensor) -> Tensor:
    return 700.0 * (torch.pow(10.0, mel / 2595.0) - 1.0)


def vocal_tract_warp(mel: Tensor, frontend: object, generator: torch.Generator, *,
                     probability: float = 0.8, low: float = 0.85, high: float = 1.15) -> Tensor:
    """Vocal tract length perturbation on log-Mel features ``[B, F, M]``: each clip's spectrum
    is stretched along frequency by a factor drawn from ``[low, high]`` (band ``m`` takes the
    value the clip had at ``f_m / alpha``, interpolated between bands), so speakers with longer
    or shorter vocal tracts than the synthetic voices' are simulated. HTK Mel scale, as the
    front end."""
    b, _, m = mel.shape
    f_min = torch.tensor(float(frontend.f_min_hz))  # type: ignore[attr-defined]
    f_max = torch.tensor(float(frontend.f_max_hz))  # type: ignore[attr-defined]
    edges = torch.linspace(float(_mel(f_min)), float(_mel(f_max)), m + 2)
    centres_mel = edges[1:-1]
    alpha = low + (high - low) * torch.rand(b, 1, generator=generator)
    alpha = torch.where(torch.rand(b, 1, generator=generator) < probability, alpha,
                        torch.ones_like(alpha))
    source_hz = _hz(centres_mel)[None, :] / alpha  # [B, M]
    step = edges[1] - edges[0]
    index = ((_mel(source_hz) - centres_mel[0]) / step).clamp(0.0, m - 1.0)
    lo = index.floor().long().clamp(max=m - 2)
    frac = (index - lo).unsqueeze(1)  # [B, 1, M]
    lo_x = mel.gather(2, lo.unsqueeze(1).expand(-1, mel.shape[1], -1))
    hi_x = mel.gather(2, (lo + 1).unsqueeze(1).expand(-1, mel.shape[1], -1))
    return lo_x + frac * (hi_x - lo_x)
