"""Serving training clips from the data engine's pools, augmented anew every epoch.

:class:`ClipServer` turns a :class:`~wakeword.data.engine.TrainingData` into fixed-length
clips. Every clip is drawn from its own generator, seeded by (seed, epoch, index): an epoch is
reproducible, and the same positive is placed, warped, reverberated and mixed differently in
every epoch.

- **Positives** and **near misses**: speed/formant warp by resampling (``warp_probability``,
  factors 0.9-1.1), then placed so that the phrase ENDS at a point drawn from
  ``keyword_end_range`` of the clip (the label of a positive is the end of its phrase;
  near misses end in the same place, so "where" never tells the label).
- **Speech**: a random window of recorded or synthetic running speech; utterances whose
  transcript names the phrase are never served.
- **Noise**: a random window of the noise pool.

Then reverb (a simulated room, ``reverb_probability``; synthetic audio only, recordings already
have a room), a background (noise, or other speech for ``speech_background_share`` of them) at
an SNR drawn from ``snr_db_range`` (down to -5 dB), and a peak level drawn from
``peak_db_range``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ
from wakeword.data.augment import active_power, mix_at_snr
from wakeword.data.negatives import contains_phrase
from wakeword.data.placement import random_window
from wakeword.errors import ConfigError

__all__ = ["AugmentConfig", "ClipServer"]

logger = logging.getLogger(__name__)

_WARPS = ((9, 10), (19, 20), (21, 20), (11, 10))  # resampling ratios up/down: 0.9 ... 1.1
_SYNTHETIC = frozenset({"kokoro", "espeak-ng", "kokoro_speech", "espeak_speech"})


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """How clips are served. Saved into checkpoints with the data config."""

    clip_s: float = 2.0
    keyword_end_range: tuple[float, float] = (0.6, 0.98)
    negatives_per_positive: float = 1.5
    near_miss_share: float = 0.25
    speech_share: float = 0.6
    warp_probability: float = 0.5
    reverb_probability: float = 0.5
    background_probability: float = 0.9
    speech_background_share: float = 0.3
    snr_db_range: tuple[float, float] = (-5.0, 20.0)
    peak_db_range: tuple[float, float] = (-35.0, -1.0)

    def __post_init__(self) -> None:
        if not 0.5 <= self.clip_s <= 10.0:
            raise ConfigError(f"augment.clip_s is {self.clip_s}; use seconds in [0.5, 10]")
        for name in ("near_miss_share", "speech_share", "warp_probability",
                     "reverb_probability", "background_probability", "speech_background_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"augment.{name} is {value}; use a value in [0, 1]")
        if self.near_miss_share + self.speech_share > 1.0 + 1e-9:
            raise ConfigError("augment.near_miss_share + speech_share is above 1; the rest of "
                              "the negatives is noise")
        if self.negatives_per_positive <= 0:
            raise ConfigError(f"augment.negatives_per_positive is "
                              f"{self.negatives_per_positive}; use a positive ratio")
        for name, (low, high), bound in (("keyword_end_range", self.keyword_end_range, (0, 1)),
                                         ("snr_db_range", self.snr_db_range, (-20, 80)),
                                         ("peak_db_range", self.peak_db_range, (-80, 0))):
            if not bound[0] <= low <= high <= bound[1]:
                raise ConfigError(f"augment.{name} is {(low, high)}; use low <= high within "
                                  f"{bound}")

    @property
    def clip_samples(self) -> int:
        return round(self.clip_s * SAMPLE_RATE_HZ)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}


class ClipServer:
    """Fixed-length augmented clips from a :class:`TrainingData`, for one ``split``."""

    def __init__(self, data: Any, config: AugmentConfig = AugmentConfig(), *,
                 split: str = "train", seed: int = 0, rir_bank: Any = None) -> None:
        if split not in ("train", "val"):
            raise ConfigError(f"ClipServer split is {split!r}; use 'train' or 'val'")
        self.data = data
        self.config = config
        self.split = split
        self.seed = seed
        self.rirs = list(rir_bank.rirs) if rir_bank is not None else []
        pools = data.pools
        phrase = data.config.norm_phrase
        self.positives = np.flatnonzero(pools["positives"].split == split)
        self.near_miss = np.flatnonzero(pools["near_miss"].split == split)
        speech = pools["speech"]
        named = np.array([bool(t) and (contains_phrase(t, phrase, ignore_spaces=False)
                                       or contains_phrase(t, phrase))
                          for t in speech.text.tolist()], dtype=bool)
        if named.any():
            logger.info("%d speech clips name %r and are never served", int(named.sum()), phrase)
        self.speech = np.flatnonzero((speech.split == split) & ~named)
        self.speech_weights = self._weights(speech, self.speech)
        self.noise = np.flatnonzero(pools["noise"].split == "train")  # noise is not speakers
        self.noise_weights = self._weights(pools["noise"], self.noise)
        self.background_speech = np.flatnonzero((speech.split == "train") & ~named)
        self.background_weights = self._weights(speech, self.background_speech)
        if not self.positives.size:
            raise ConfigError(f"the {split} split has no positives")

    @staticmethod
    def _weights(pool: Any, index: np.ndarray) -> np.ndarray:
        lengths = pool.lengths[index].astype(np.float64)
        return lengths / lengths.sum() if lengths.size else lengths

    # ------------------------------------------------------------------------ epoch plan

    def __len__(self) -> int:
        return self.positives.size + self.n_negatives

    @property
    def n_negatives(self) -> int:
        return round(self.config.negatives_per_positive * self.positives.size)

    def plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """``(kinds, items)`` of every clip of ``epoch`` in serving order: kind 0 positive,
        1 near miss, 2 speech, 3 noise; item = index in its pool."""
        cfg = self.config
        rng = np.random.default_rng([self.seed, 0xE90C, epoch])
        n_neg = self.n_negatives
        n_near = round(n_neg * cfg.near_miss_share) if self.near_miss.size else 0
        n_speech = round(n_neg * cfg.speech_share) if self.speech.size else 0
        n_noise = n_neg - n_near - n_speech
        kinds = np.concatenate([np.zeros(self.positives.size, np.int64),
                                np.full(n_near, 1), np.full(n_speech, 2), np.full(n_noise, 3)])
        items = np.concatenate([
            self.positives,
            rng.choice(self.near_miss, n_near) if n_near else np.zeros(0, np.int64),
            rng.choice(self.speech, n_speech, p=self.speech_weights) if n_speech
            else np.zeros(0, np.int64),
            rng.choice(self.noise, n_noise, p=self.noise_weights) if n_noise and self.noise.size
            else np.full(n_noise, -1),
        ]).astype(np.int64)
        order = rng.permutation(kinds.size)
        return kinds[order], items[order]

    def batches(self, epoch: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]]:
        """``(audio [B, N] float32, labels [B] int64, ends [B] int64)`` for all of ``epoch``;
        ``ends`` is the sample where a positive's phrase ends (-1 for negatives)."""
        kinds, items = self.plan(epoch)
        for start in range(0, kinds.size, batch_size):
            rows = [self.render(epoch, start + j, int(k), int(i)) for j, (k, i) in
                    enumerate(zip(kinds[start:start + batch_size], items[start:start + batch_size]))]
            yield (np.stack([r[0] for r in rows]),
                   np.array([1 if k == 0 else 0 for k in kinds[start:start + batch_size]],
                            dtype=np.int64),
                   np.array([r[1] for r in rows], dtype=np.int64))

    def fixed_set(self, epoch: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One rendering of the whole plan of ``epoch`` (a fixed validation set)."""
        parts = list(self.batches(epoch if epoch >= 0 else 2**31 - 1, 512))
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]))

    # ------------------------------------------------------------------------ rendering

    def render(self, epoch: int, index: int, kind: int, item: int) -> tuple[np.ndarray, int]:
        """One clip and its phrase end (-1 when none), from its own generator."""
        clip, end, _start = self.render_span(epoch, index, kind, item)
        return clip, end

    def render_span(self, epoch: int, index: int, kind: int, item: int
                    ) -> tuple[np.ndarray, int, int]:
        """One clip, its phrase end and the sample where the synthesis carrying the phrase
        begins (an upper bound on how early the phrase can start); -1 and -1 for negatives."""
        cfg = self.config
        n = cfg.clip_samples
        rng = np.random.default_rng([self.seed, epoch & 0x7FFFFFFF, index])
        pools = self.data.pools
        end = start = -1
        synthetic = True
        if kind in (0, 1):
            pool = pools["positives" if kind == 0 else "near_miss"]
            audio, stop = pool.clip(item), int(pool.end[item])
            if rng.random() < cfg.warp_probability:
                audio, stop = self._warp(audio, stop, rng)
            at = round(rng.uniform(*cfg.keyword_end_range) * n)
            clip = _place(audio, stop, at, n)
            end = at if kind == 0 else -1
            start = max(0, at - stop) if kind == 0 else -1
        elif kind == 2:
            pool = pools["speech"]
            synthetic = str(pool.source[item]) in _SYNTHETIC
            clip = random_window(pool.clip(item), n, rng)
        else:
            synthetic = False
            clip = (random_window(pools["noise"].clip(item), n, rng) if item >= 0
                    else np.zeros(n, np.float32))
        if synthetic and self.rirs and rng.random() < cfg.reverb_probability:
            from scipy.signal import fftconvolve

            rir = self.rirs[int(rng.integers(len(self.rirs)))]
            clip = fftconvolve(clip, rir)[:n].astype(np.float32)
        if kind != 3 and rng.random() < cfg.background_probability:
            background = self._background(n, rng)
            if background is not None and active_power(clip) > 1e-10:
                clip = mix_at_snr(clip, background, float(rng.uniform(*cfg.snr_db_range)))
        peak = float(np.abs(clip).max())
        if peak > 1e-6:
            clip = clip * np.float32(10 ** (rng.uniform(*cfg.peak_db_range) / 20) / peak)
        return np.clip(clip, -1.0, 1.0).astype(np.float32), end, start

    def _warp(self, audio: np.ndarray, stop: int, rng: np.random.Generator
              ) -> tuple[np.ndarray, int]:
        from scipy.signal import resample_poly

        up, down = _WARPS[int(rng.integers(len(_WARPS)))]
        warped = resample_poly(audio, up, down).astype(np.float32)
        return warped, min(warped.size, round(stop * up / down))

    def _background(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        pools = self.data.pools
        if self.background_speech.size and rng.random() < self.config.speech_background_share:
            item = int(rng.choice(self.background_speech, p=self.background_weights))
            return random_window(pools["speech"].clip(item), n, rng)
        if self.noise.size:
            item = int(rng.choice(self.noise, p=self.noise_weights))
            return random_window(pools["noise"].clip(item), n, rng)
        return None


def _place(audio: np.ndarray, stop: int, at: int, n: int) -> np.ndarray:
    """``audio`` in ``n`` zeros so that its sample ``stop`` lands at ``at`` (what comes after
    ``stop`` follows, cut at the clip's end; what does not fit before is cut off)."""
    clip = np.zeros(n, np.float32)
    start = at - stop
    a, b = max(0, start), min(n, start + audio.size)
    if b > a:
        clip[a:b] = audio[a - start:b - start]
    return clip
