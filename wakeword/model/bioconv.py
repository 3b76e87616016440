"""Biological convolution: depthwise 1-D convolution along the Mel axis with connectome kernels.

The convolution is written as a multiply by a constant banded (Toeplitz) matrix per channel:
``out[b, c, o] = sum_i x[b, c, i] * T[c, i, o]`` with ``T[c, i, o] = k[c, i - o + K // 2]``
(zero outside the band), i.e. ``torch.nn.functional.conv1d`` with ``padding=K // 2`` and
``groups=channels``. The matrix form is used everywhere -- training, streaming export and the
exported training-step graph -- because ONNX and LiteRT exporters cannot lower
``aten.convolution_backward`` (see PLATFORM.md) and one code path keeps all three identical.

Frozen kernels are registered as buffers (never parameters), so an optimiser never sees them and
exporters bake them in as constants. With ``trainable=True`` (the "trained kernels" baseline) the
kernel taps are parameters and the band matrices are rebuilt from them at each call.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wakeword.errors import ConfigError

__all__ = ["BioConv", "band_matrices"]


def _band_index(length: int, kernel_size: int) -> tuple[Tensor, Tensor]:
    """``(tap index [n, n], mask [n, n])`` such that ``T = k[..., index] * mask``."""
    i = torch.arange(length)[:, None]
    o = torch.arange(length)[None, :]
    tap = i - o + kernel_size // 2
    mask = (tap >= 0) & (tap < kernel_size)
    return tap.clamp(0, kernel_size - 1), mask.to(torch.float32)


def band_matrices(kernels: Tensor, length: int) -> Tensor:
    """Band matrices ``[..., length, length]`` for kernels ``[..., K]`` ('same' padding).

    Computed as ``kernels @ P`` with the constant 0/1 placement ``P [K, length * length]``
    (``P[j, i * length + o] = 1`` where tap ``j`` sits at ``(i, o)``): the same values as
    ``kernels[..., index] * mask`` (one non-zero term per entry), but a matmul, so exported
    graphs with trained kernels need no gather/scatter.
    """
    kernel_size = kernels.shape[-1]
    index, mask = _band_index(length, kernel_size)
    taps = torch.arange(kernel_size)[:, None, None]
    placement = ((index[None] == taps).to(torch.float32) * mask[None]).to(kernels)
    flat = torch.matmul(kernels.reshape(-1, kernel_size),
                        placement.reshape(kernel_size, length * length))
    return flat.reshape(*kernels.shape[:-1], length, length)


class BioConv(nn.Module):
    """Depthwise frozen convolution along the last axis, optionally scheduled per time step.

    Args:
        kernels: ``[sets, channels, K]``; ``sets > 1`` gives one kernel set per time step
            (chosen by ``step_index`` modulo ``sets``).
        length: the size of the convolved axis (Mel bins).
        trainable: make the taps parameters (baseline); default frozen buffers.
    """

    def __init__(self, kernels: Tensor, length: int, *, trainable: bool = False) -> None:
        super().__init__()
        if kernels.dim() != 3:
            raise ConfigError(f"BioConv kernels must be [sets, channels, K], got {tuple(kernels.shape)}")
        if kernels.shape[-1] > length:
            raise ConfigError(
                f"kernel size {kernels.shape[-1]} exceeds the convolved length {length} (n_mels); "
                "build a kernel bank with a smaller kernel_size or use more Mel bins")
        self.length = length
        self.sets, self.channels, self.kernel_size = (int(d) for d in kernels.shape)
        kernels = kernels.detach().to(torch.float32).clone()
        # Kept as a flag, not read off ``isinstance(self.taps, nn.Parameter)``: under
        # torch.func.functional_call (the exporters) the parameter is swapped for a plain tensor.
        self._trainable = bool(trainable)
        if trainable:
            self.taps = nn.Parameter(kernels)
        else:
            self.register_buffer("taps", kernels)  # provenance: the raw kernels, frozen
            self.register_buffer("bands", band_matrices(kernels, length))

    @property
    def trainable(self) -> bool:
        return self._trainable

    def matrices(self) -> Tensor:
        return band_matrices(self.taps, self.length) if self.trainable else self.bands

    def forward(self, x: Tensor, step_index: Tensor | None = None) -> Tensor:
        """``x [batch, channels, length] -> [batch, channels, length]``.

        ``step_index`` (a ``[1]`` int64 tensor) selects the kernel set when there are several.
        """
        bands = self.matrices()
        if self.sets == 1 or step_index is None:
            band = bands[0]
        else:
            band = bands.index_select(0, torch.remainder(step_index, self.sets)).squeeze(0)
        return torch.matmul(x.unsqueeze(2), band).squeeze(2)

    def macs_per_call(self) -> int:
        """Multiply-accumulates of the equivalent direct convolution (per batch item)."""
        return self.channels * self.length * self.kernel_size
