"""Background noise: generated coloured noise and segments of recorded noise.

Example::

    bank = NoiseBank.from_folder("../shared/data/noise")     # or NoiseBank() for generated only
    noise = bank.sample(32000, np.random.default_rng(0))     # 2 s at 16 kHz, RMS 0.1
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ, load_folder
from wakeword.errors import ConfigError

__all__ = ["NOISE_COLORS", "NoiseBank", "coloured_noise", "rms"]

logger = logging.getLogger(__name__)

NOISE_COLORS = ("white", "pink", "brown")
DEFAULT_RMS = 0.1  # -20 dBFS: peaks of Gaussian noise stay inside [-1, 1]
# Spectral exponent of each colour: power ~ 1 / f**exponent.
_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}


def rms(audio: np.ndarray) -> float:
    """Root-mean-square level of ``audio`` (0.0 for an empty array)."""
    if audio.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))


def coloured_noise(color: str, n_samples: int, rng: np.random.Generator, *,
                   level_rms: float = DEFAULT_RMS) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) Gaussian noise, float32, RMS ``level_rms``, clipped
    to [-1, 1]. The spectrum is shaped in the frequency domain; the DC bin is zeroed."""
    if color not in _EXPONENTS:
        raise ConfigError(f"noise colour is {color!r}; use one of {list(NOISE_COLORS)}")
    if n_samples <= 0:
        raise ConfigError(f"coloured_noise: n_samples is {n_samples}; use a positive count")
    white = rng.standard_normal(n_samples)
    exponent = _EXPONENTS[color]
    if exponent == 0.0:
        shaped = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n_samples)
        scale = np.zeros_like(freqs)
        scale[1:] = freqs[1:] ** (-exponent / 2.0)
        shaped = np.fft.irfft(spectrum * scale, n=n_samples)
    level = rms(shaped)
    if level == 0.0:
        return np.zeros(n_samples, dtype=np.float32)
    return np.clip(shaped * (level_rms / level), -1.0, 1.0).astype(np.float32)


class NoiseBank:
    """Draws noise segments: recorded noise (when given) or generated white/pink/brown noise.

    ``recording_probability`` is the chance of drawing from the recordings when there are any.
    Each draw is a random segment (wrapped around if the recording is short), RMS-normalised to
    ``level_rms``; the level is set later (e.g. by the SNR of a mix).
    """

    def __init__(self, recordings: Sequence[np.ndarray] = (), *,
                 recording_probability: float = 0.6,
                 colors: Sequence[str] = NOISE_COLORS) -> None:
        if not 0.0 <= recording_probability <= 1.0:
            raise ConfigError(f"NoiseBank: recording_probability is {recording_probability}; "
                              "use a value in [0, 1]")
        unknown = [c for c in colors if c not in _EXPONENTS]
        if unknown or not colors:
            raise ConfigError(f"NoiseBank: colors are {list(colors)}; use some of "
                              f"{list(NOISE_COLORS)}")
        self.recordings = [np.asarray(r, dtype=np.float32) for r in recordings
                           if rms(np.asarray(r)) > 1e-6]
        self.recording_probability = recording_probability
        self.colors = tuple(colors)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike[str] | None, *,
                    recording_probability: float = 0.6,
                    colors: Sequence[str] = NOISE_COLORS) -> NoiseBank:
        """Recordings from ``folder`` (every WAV/FLAC/OGG in it), or generated noise only
        when ``folder`` is None."""
        recordings: list[np.ndarray] = []
        if folder is not None:
            recordings, paths = load_folder(Path(folder), SAMPLE_RATE_HZ)
            logger.info("noise bank: %d recordings from %s", len(paths), folder)
        return cls(recordings, recording_probability=recording_probability, colors=colors)

    def sample(self, n_samples: int, rng: np.random.Generator, *,
               level_rms: float = DEFAULT_RMS) -> np.ndarray:
        """A float32 noise segment of ``n_samples`` samples with RMS ``level_rms``."""
        if self.recordings and rng.random() < self.recording_probability:
            recording = self.recordings[int(rng.integers(len(self.recordings)))]
            start = int(rng.integers(len(recording)))
            indices = (start + np.arange(n_samples)) % len(recording)
            segment = recording[indices].astype(np.float64)
            segment -= segment.mean()
            level = rms(segment)
            if level > 1e-8:
                return np.clip(segment * (level_rms / level), -1.0, 1.0).astype(np.float32)
        color = self.colors[int(rng.integers(len(self.colors)))]
        return coloured_noise(color, n_samples, rng, level_rms=level_rms)
