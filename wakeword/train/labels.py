"""Per-step targets at the keyword's end, and the loss that trains on them.

A step ``t`` has heard the audio up to sample ``(t + 1) * step_samples``. For a positive clip
whose phrase spans samples ``[start, end)``:

- steps that end in ``[end, end + after_end_samples]`` are the **positive window** (1): the
  network must fire on at least one of them (the loss takes the most confident one), so it
  learns to answer just after the keyword, never on its first syllables;
- steps that end before ``start`` are **background** (0);
- steps inside the phrase, and after the positive window, are **ignored** (-1).

Every step of a negative clip is background. The loss (:func:`keyword_end_loss`) is the
binary cross-entropy of the keyword's log-odds: the best step of each positive window, the mean
of all background steps, and the worst (most keyword-like) step of each negative clip, the last
two scaled by ``negative_weight`` (which the step trainer ramps up).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["IGNORE", "keyword_end_loss", "step_targets"]

IGNORE = -1


def step_targets(starts: np.ndarray, ends: np.ndarray, n_steps: int, step_samples: int,
                 after_end_samples: int) -> np.ndarray:
    """``[B, n_steps]`` int8 targets (1 positive window, 0 background, -1 ignored) from each
    clip's phrase ``starts``/``ends`` in samples (-1 for a negative clip)."""
    starts = np.asarray(starts, np.int64)[:, None]
    ends = np.asarray(ends, np.int64)[:, None]
    heard = (np.arange(n_steps, dtype=np.int64)[None, :] + 1) * step_samples
    positive = ends >= 0
    target = np.zeros((starts.shape[0], n_steps), np.int8)
    in_window = positive & (heard >= ends) & (heard <= ends + after_end_samples)
    # a phrase ending after the last step's window start still gets its last step
    last = positive & (heard == heard[:, -1:]) & (ends > heard[:, -1:] - step_samples)
    ignored = positive & (heard >= np.maximum(starts, 0))
    target[ignored] = IGNORE
    target[in_window | last] = 1
    return target


def keyword_end_loss(step_logits: Tensor, targets: Tensor, negative_weight: float = 1.0,
                     background_weight: float = 0.5) -> Tensor:
    """The loss of :mod:`this module <wakeword.train.labels>` for logits ``[B, T, 2]`` and
    targets ``[B, T]`` from :func:`step_targets`."""
    margin = step_logits[..., 1] - step_logits[..., 0]  # keyword log-odds per step
    positive = targets == 1
    background = targets == 0
    has_positive = positive.any(dim=1)
    very_low = torch.finfo(margin.dtype).min
    loss = margin.new_zeros(())
    if bool(has_positive.any()):
        best = torch.where(positive, margin, torch.full_like(margin, very_low)).max(dim=1).values
        loss = loss + torch.nn.functional.softplus(-best[has_positive]).mean()
    if bool(background.any()):
        per_step = torch.nn.functional.softplus(margin)
        loss = loss + negative_weight * background_weight * (
            (per_step * background).sum() / background.sum())
    negative = ~has_positive & background.any(dim=1)
    if bool(negative.any()):
        worst = torch.where(background, margin, torch.full_like(margin, very_low)).max(dim=1).values
        loss = loss + negative_weight * torch.nn.functional.softplus(worst[negative]).mean()
    return loss
