"""Waveform augmentation (noise at an SNR, room reverb, gain, time shift) and SpecAugment.

Waveform functions use numpy/scipy (single-threaded, fast for one 2-s clip); spec_augment works
on torch tensors.

Every random choice comes from a generator passed in, so a clip augmented twice with equal
seeds is bit-identical.

Example::

    augmenter = Augmenter(noise_bank=NoiseBank(), rir_bank=RirBank(seed=0))
    noisy = augmenter.augment(clip, np.random.default_rng(7))
    masked = spec_augment(features, generator=torch.Generator().manual_seed(0))
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ
from wakeword.data.noise import NoiseBank, rms
from wakeword.errors import ConfigError, DataError, require

if TYPE_CHECKING:
    import torch

__all__ = [
    "Augmenter",
    "RirBank",
    "active_power",
    "apply_gain",
    "apply_rir",
    "mix_at_snr",
    "spec_augment",
    "time_shift",
]

logger = logging.getLogger(__name__)

_FRAME_SAMPLES = 320  # 20 ms at 16 kHz
_ACTIVE_FLOOR_DB = 40.0


def _check_range(name: str, value: tuple[float, float]) -> None:
    if len(value) != 2 or value[0] > value[1]:
        raise ConfigError(f"{name} is {value}; use (low, high) with low <= high")


def active_power(audio: np.ndarray, *, frame_samples: int = _FRAME_SAMPLES,
                 floor_db: float = _ACTIVE_FLOOR_DB) -> float:
    """Mean power over the active 20-ms frames of ``audio``: those within ``floor_db`` dB of
    the loudest frame, so a keyword padded with silence gets the power of the keyword, not of
    the pad. Returns 0.0 for silence."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.size == 0:
        return 0.0
    if audio.size < frame_samples:
        frames = audio.reshape(1, -1)
    else:
        n_frames = audio.size // frame_samples
        frames = audio[: n_frames * frame_samples].reshape(n_frames, frame_samples)
    powers = np.mean(frames**2, axis=1)
    peak = float(powers.max())
    if peak <= 0.0:
        return 0.0
    return float(powers[powers >= peak * 10.0 ** (-floor_db / 10.0)].mean())


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + g * noise`` with ``g`` chosen so that active_power(signal) / power(g * noise)
    is ``snr_db`` dB (see :func:`active_power`). Both arrays must be 1-D and of the same length.
    A silent signal is returned unchanged: it has no level to refer the SNR to."""
    signal = np.asarray(signal, dtype=np.float32)
    noise = np.asarray(noise, dtype=np.float32)
    if signal.shape != noise.shape or signal.ndim != 1:
        raise DataError(f"mix_at_snr: signal {signal.shape} and noise {noise.shape} must be "
                        "1-D arrays of the same length")
    p_signal = active_power(signal)
    p_noise = float(np.mean(np.square(noise, dtype=np.float64)))
    if p_signal <= 0.0 or p_noise <= 0.0:
        return signal.copy()
    gain = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    mixed: np.ndarray = (signal + gain * noise).astype(np.float32)
    return mixed


def apply_gain(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale by ``gain_db`` decibels and clip to [-1, 1]."""
    scaled = np.asarray(audio, dtype=np.float32) * np.float32(10.0 ** (gain_db / 20.0))
    out: np.ndarray = np.clip(scaled, -1.0, 1.0)
    return out


def time_shift(audio: np.ndarray, shift_samples: int) -> np.ndarray:
    """Delay (positive) or advance (negative) ``audio`` by ``shift_samples``, filling with
    zeros and keeping the length."""
    audio = np.asarray(audio, dtype=np.float32)
    out = np.zeros_like(audio)
    n = audio.size
    if shift_samples >= 0:
        if shift_samples < n:
            out[shift_samples:] = audio[: n - shift_samples]
    elif -shift_samples < n:
        out[: n + shift_samples] = audio[-shift_samples:]
    return out


def apply_rir(audio: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with a room impulse response, keeping the length and the active level.

    The RIR's direct path should be at index 0 (as from :class:`RirBank`), so the speech is not
    delayed. The FFT convolution is ``scipy.signal.fftconvolve`` (same result as
    ``torchaudio.functional.fftconvolve`` to float rounding): measured on this project's 2-core
    machine, torch's took 17-50 ms per 2-s clip and scipy's about 1 ms.
    """
    signal = require("scipy.signal", "train")
    audio = np.asarray(audio, dtype=np.float32)
    rir = np.asarray(rir, dtype=np.float32)
    if audio.ndim != 1 or rir.ndim != 1 or rir.size == 0:
        raise DataError(f"apply_rir: expected 1-D audio and a non-empty 1-D RIR, got "
                        f"{audio.shape} and {rir.shape}")
    out = signal.fftconvolve(audio, rir, mode="full")[: audio.size].astype(np.float32)
    dry_power, wet_power = active_power(audio), active_power(out)
    if wet_power > 0.0:
        out *= np.float32(np.sqrt(dry_power / wet_power))
    clipped: np.ndarray = np.clip(out, -1.0, 1.0)
    return clipped


class RirBank:
    """Room impulse responses of random shoebox rooms, simulated with pyroomacoustics.

    ``n_rooms`` rooms (3-10 m x 3-8 m x 2.4-4 m, RT60 drawn from ``rt60_range_s``, source and
    microphone 0.5-4 m apart) are simulated once, on first use, from ``seed``; each RIR starts
    at its direct path and is cut to ``max_length_s``. With ``cache_dir`` the bank is stored
    there as ``.npz`` and reloaded by later runs with the same settings.
    """

    def __init__(self, *, seed: int, n_rooms: int = 24, rt60_range_s: tuple[float, float] = (
            0.15, 0.8), max_length_s: float = 0.6, sample_rate_hz: int = SAMPLE_RATE_HZ,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        if n_rooms < 1:
            raise ConfigError(f"RirBank: n_rooms is {n_rooms}; use 1 or more")
        _check_range("RirBank rt60_range_s", rt60_range_s)
        if rt60_range_s[0] <= 0.0 or max_length_s <= 0.0:
            raise ConfigError("RirBank: rt60_range_s and max_length_s must be positive")
        self.seed = seed
        self.n_rooms = n_rooms
        self.rt60_range_s = (float(rt60_range_s[0]), float(rt60_range_s[1]))
        self.max_length_s = max_length_s
        self.sample_rate_hz = sample_rate_hz
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._rirs: list[np.ndarray] | None = None

    def _cache_path(self) -> Path | None:
        if self.cache_dir is None:
            return None
        settings = json.dumps([2, self.seed, self.n_rooms, self.rt60_range_s,
                               self.max_length_s, self.sample_rate_hz])
        digest = hashlib.sha256(settings.encode()).hexdigest()[:16]
        return self.cache_dir / "rirs" / f"rirs-{digest}.npz"

    @property
    def rirs(self) -> list[np.ndarray]:
        """The impulse responses (simulated or loaded on first access)."""
        if self._rirs is None:
            path = self._cache_path()
            if path is not None and path.is_file():
                with np.load(path) as data:
                    self._rirs = [data[f"arr_{i}"] for i in range(self.n_rooms)]
            else:
                self._rirs = self._simulate()
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
                    np.savez(tmp, *self._rirs)
                    os.replace(tmp, path)
        return self._rirs

    def _simulate(self) -> list[np.ndarray]:
        pra = require("pyroomacoustics", "train")
        rng = np.random.default_rng([self.seed, 0x5215])
        max_samples = round(self.max_length_s * self.sample_rate_hz)
        rirs = []
        for _ in range(self.n_rooms):
            dims = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 4.0])
            rt60 = rng.uniform(*self.rt60_range_s)
            try:
                absorption, max_order = pra.inverse_sabine(rt60, dims)
            except ValueError:  # RT60 too long for this room: use the most reverberant walls
                absorption, max_order = 0.05, 40
            room = pra.ShoeBox(dims, fs=self.sample_rate_hz,
                               materials=pra.Material(float(absorption)),
                               max_order=int(min(max_order, 40)))
            mic = rng.uniform([0.5, 0.5, 0.8], dims - 0.5)
            for _attempt in range(50):
                source = rng.uniform([0.5, 0.5, 1.0], dims - 0.5)
                if 0.5 <= np.linalg.norm(source - mic) <= 4.0:
                    break
            room.add_source(source)
            room.add_microphone(mic)
            room.compute_rir()
            rir = np.asarray(room.rir[0][0], dtype=np.float64)
            start = max(0, int(np.argmax(np.abs(rir))) - 2)
            rir = rir[start: start + max_samples]
            rirs.append((rir / np.abs(rir).max()).astype(np.float32))
        logger.debug("simulated %d room impulse responses", len(rirs))
        return rirs

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One of the bank's impulse responses, chosen by ``rng``."""
        rirs = self.rirs
        return rirs[int(rng.integers(len(rirs)))]


class Augmenter:
    """Reverb, additive noise and level for one clip (in that order), all drawn from ``rng``.

    - reverb with probability ``reverb_probability`` (an RIR from ``rir_bank``);
    - noise from ``noise_bank`` with probability ``noise_probability``, at an SNR drawn
      uniformly from ``snr_db_range`` (silent clips get noise at -60..-30 dBFS instead);
    - the result is scaled so its peak is at a level drawn from ``peak_db_range`` (dBFS).
    """

    def __init__(self, *, noise_bank: NoiseBank, rir_bank: RirBank | None,
                 snr_db_range: tuple[float, float] = (0.0, 25.0),
                 noise_probability: float = 0.85, reverb_probability: float = 0.5,
                 peak_db_range: tuple[float, float] = (-30.0, -1.0)) -> None:
        _check_range("Augmenter snr_db_range", snr_db_range)
        _check_range("Augmenter peak_db_range", peak_db_range)
        for name, p in (("noise_probability", noise_probability),
                        ("reverb_probability", reverb_probability)):
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"Augmenter {name} is {p}; use a value in [0, 1]")
        if reverb_probability > 0.0 and rir_bank is None:
            raise ConfigError("Augmenter: reverb_probability > 0 needs a rir_bank")
        if peak_db_range[1] > 0.0:
            raise ConfigError(f"Augmenter peak_db_range is {peak_db_range}; peaks are in dBFS "
                              "and must be <= 0")
        self.noise_bank = noise_bank
        self.rir_bank = rir_bank
        self.snr_db_range = snr_db_range
        self.noise_probability = noise_probability
        self.reverb_probability = reverb_probability
        self.peak_db_range = peak_db_range

    def augment(self, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A new float32 array of the same length, in [-1, 1]."""
        out = np.asarray(audio, dtype=np.float32).copy()
        if self.rir_bank is not None and rng.random() < self.reverb_probability:
            out = apply_rir(out, self.rir_bank.sample(rng))
        if rng.random() < self.noise_probability:
            noise = self.noise_bank.sample(out.size, rng)
            if active_power(out) > 1e-10:
                out = mix_at_snr(out, noise, float(rng.uniform(*self.snr_db_range)))
            else:
                level = 10.0 ** (rng.uniform(-60.0, -30.0) / 20.0) / max(rms(noise), 1e-8)
                out = (out + noise * np.float32(level)).astype(np.float32)
        peak = float(np.abs(out).max()) if out.size else 0.0
        if peak > 1e-6:
            target = 10.0 ** (rng.uniform(*self.peak_db_range) / 20.0)
            out = out * np.float32(target / peak)
        return np.clip(out, -1.0, 1.0).astype(np.float32)


def spec_augment(features: torch.Tensor, *, generator: torch.Generator,
                 n_freq_masks: int = 2, freq_mask_width: tuple[int, int] = (0, 6),
                 n_time_masks: int = 2, time_mask_width: tuple[int, int] = (0, 10),
                 mask_value: float = 0.0, time_dim: int = -2,
                 freq_dim: int = -1) -> torch.Tensor:
    """SpecAugment frequency and time masks on log-Mel features, drawn per example.

    ``features`` has shape ``[..., frames, n_mels]`` (``wakeword.features``' layout; use
    ``time_dim``/``freq_dim`` for others). Each example (every index of the leading dims) gets
    ``n_freq_masks`` bands of a width drawn uniformly from ``freq_mask_width`` (inclusive) Mel
    bins and ``n_time_masks`` bands of ``time_mask_width`` frames, set to ``mask_value`` (0.0 is
    the mean of normalised features). Masks may overlap. Random numbers come from ``generator``
    (a CPU ``torch.Generator``); returns a new tensor, the input is unchanged.

    Same idea as ``torchaudio.transforms.FrequencyMasking`` / ``TimeMasking`` with
    ``iid_masks=True``, but seeded by an argument instead of torch's global generator.
    """
    th = require("torch", "train")
    if features.dim() < 2:
        raise DataError(f"spec_augment: features must be at least 2-D [frames, n_mels], got "
                        f"shape {tuple(features.shape)}")
    for name, width in (("freq_mask_width", freq_mask_width),
                        ("time_mask_width", time_mask_width)):
        if len(width) != 2 or not 0 <= width[0] <= width[1]:
            raise ConfigError(f"spec_augment {name} is {width}; use (min, max) with "
                              "0 <= min <= max")
    if n_freq_masks < 0 or n_time_masks < 0:
        raise ConfigError("spec_augment: n_freq_masks and n_time_masks must be >= 0")
    moved = features.movedim((time_dim, freq_dim), (-2, -1))
    n_frames, n_mels = moved.shape[-2], moved.shape[-1]
    batch = moved.reshape(-1, n_frames, n_mels)
    n_examples = batch.shape[0]

    def band_mask(n_masks: int, width: tuple[int, int], size: int) -> torch.Tensor:
        if n_masks == 0 or size == 0:
            empty: torch.Tensor = th.zeros(n_examples, size, dtype=th.bool)
            return empty
        high = min(width[1], size)
        low = min(width[0], high)
        widths = th.randint(low, high + 1, (n_examples, n_masks), generator=generator)
        starts = (th.rand((n_examples, n_masks), generator=generator)
                  * (size - widths + 1)).long()
        index = th.arange(size).view(1, 1, size)
        inside = (index >= starts.unsqueeze(-1)) & (index < (starts + widths).unsqueeze(-1))
        any_mask: torch.Tensor = inside.any(dim=1)
        return any_mask

    freq = band_mask(n_freq_masks, freq_mask_width, n_mels).to(features.device)
    time = band_mask(n_time_masks, time_mask_width, n_frames).to(features.device)
    mask = freq.unsqueeze(1) | time.unsqueeze(2)
    out = batch.masked_fill(mask, mask_value)
    return out.reshape(moved.shape).movedim((-2, -1), (time_dim, freq_dim))
