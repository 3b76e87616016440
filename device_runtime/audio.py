"""Audio in: file reading, sample-format conversion, validation and resampling. numpy only.

* WAV (PCM 8/16/24/32-bit) is read with the standard library's ``wave`` module; FLAC, OGG
  and float WAV need the optional ``soundfile`` package (``pip install soundfile``).
* Samples handed to a model are float32 in [-1, 1]: int16 is divided by 32768, raw bytes are
  little-endian int16 (``s16le``), the format of most microphones and of PulseAudio pipes.
* NaN / inf policy: non-finite samples are an :class:`AudioError` naming how many there were
  and where. They are never silently replaced, because a NaN fed to a recurrent model poisons
  its state for good; the fix (``np.nan_to_num``) is in the message. A rejected chunk leaves the
  detector untouched.
* Clipping: float samples outside [-1, 1] are clipped to the range and, like int16 samples at
  full scale, counted and reported with a rate-limited warning (:class:`ClipMeter`).
* Channels: the models take mono. A multi-channel chunk or file is an :class:`AudioError`
  that says how to fix it, unless the caller asks for ``downmix=True`` (channel average).
* Resampling: band-limited polyphase (Kaiser-windowed sinc) in numpy, :func:`resample` for
  whole signals and :class:`Resampler` for streams; both give identical samples.
"""

from __future__ import annotations

import logging
import math
import os
import wave
from typing import Any

import numpy as np

from device_runtime.errors import AudioError

__all__ = [
    "ClipMeter",
    "Resampler",
    "check_finite",
    "float32_to_int16",
    "read_audio",
    "resample",
    "to_float32",
    "to_mono",
    "write_wav",
]

logger = logging.getLogger(__name__)

INT16_SCALE = 32768.0
SOUNDFILE_SUFFIXES = (".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".au", ".caf")


# -- conversion and validation ------------------------------------------------------------------
def to_mono(samples: np.ndarray, *, downmix: bool = False, where: str = "audio") -> np.ndarray:
    """Return a 1-D view of ``samples``; ``[n, 1]`` and ``[1, n]`` are accepted as mono.

    A 2-D array with more than one channel is taken as ``[frames, channels]`` when it has
    more rows than columns, else as ``[channels, frames]``. It raises :class:`AudioError`
    unless ``downmix`` is true, in which case the channels are averaged.
    """
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise AudioError(f"{where}: expected a 1-D array of mono samples, got shape "
                         f"{samples.shape}; pass a 1-D array (or [frames, 1])")
    if samples.shape[1] == 1:
        column: np.ndarray = samples[:, 0]
        return column
    if samples.shape[0] == 1:
        row: np.ndarray = samples[0]
        return row
    channel_axis = 1 if samples.shape[0] >= samples.shape[1] else 0
    channels = samples.shape[channel_axis]
    if not downmix:
        raise AudioError(
            f"{where}: has {channels} channels (shape {samples.shape}) but the model takes "
            "mono audio; pass one channel (e.g. x[:, 0]) or average them with downmix=True "
            "(CLI: --downmix), or convert the file with `sox in.wav -c 1 out.wav`")
    mixed: np.ndarray = samples.mean(axis=channel_axis)
    return mixed


def check_finite(samples: np.ndarray, *, where: str = "audio") -> None:
    """Raise :class:`AudioError` if ``samples`` holds NaN or infinite values (float only)."""
    if samples.dtype.kind != "f" or samples.size == 0:
        return
    if np.isfinite(samples).all():  # fast path: one pass, no index array
        return
    bad = ~np.isfinite(samples)
    count = int(bad.sum())
    first = int(np.flatnonzero(bad)[0])
    raise AudioError(
        f"{where}: {count} of {samples.size} samples are NaN or infinite (first at sample "
        f"{first}); the detector rejects such chunks and keeps its state. Fix the source, or "
        "replace them explicitly with np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)")


def to_float32(chunk: Any, *, where: str = "chunk", downmix: bool = False) -> np.ndarray:
    """Convert a chunk of audio to 1-D float32 samples in [-1, 1] (no clipping, no copy if
    it already is float32 mono).

    Accepts raw little-endian int16 bytes (``bytes``, ``bytearray``, ``memoryview``), or an
    array of int16, int32 (full scale 2**31), float32 or float64 samples. Raises
    :class:`AudioError` for other types, odd byte counts, several channels (see
    :func:`to_mono`) and NaN / inf samples.
    """
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        raw = memoryview(chunk).cast("B")
        if len(raw) % 2:
            raise AudioError(f"{where}: {len(raw)} bytes is not a whole number of s16le "
                             "samples (2 bytes each); pass complete samples")
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / INT16_SCALE
    if not isinstance(chunk, np.ndarray):
        if isinstance(chunk, (list, tuple)):
            chunk = np.asarray(chunk, dtype=np.float32)
        else:
            raise AudioError(f"{where}: expected a numpy array or s16le bytes, got "
                             f"{type(chunk).__name__}")
    samples = to_mono(chunk, downmix=downmix, where=where)
    kind, size = samples.dtype.kind, samples.dtype.itemsize
    if kind == "i" and size == 2:
        return samples.astype(np.float32) / INT16_SCALE
    if kind == "i" and size == 4:
        return (samples.astype(np.float64) / 2.0**31).astype(np.float32)
    if kind == "f":
        out = samples if samples.dtype == np.float32 else samples.astype(np.float32)
        check_finite(out, where=where)
        return out
    raise AudioError(f"{where}: samples of dtype {samples.dtype} are not supported; use int16, "
                     "int32, float32 or float64 (or raw s16le bytes)")


def float32_to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16 (clipped, rounded)."""
    return np.clip(np.round(np.asarray(samples) * INT16_SCALE), -32768, 32767).astype(np.int16)


class ClipMeter:
    """Counts clipped samples and logs a warning at most once per ``every_s`` of audio.

    Float samples beyond [-1, 1] are clipped into range; samples at full scale
    (``abs(x) >= 32767/32768``) count as clipped.
    """

    FULL_SCALE = 32767.0 / INT16_SCALE

    def __init__(self, sample_rate_hz: int, every_s: float = 10.0) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.every_samples = int(every_s * sample_rate_hz)
        self.reset()

    def reset(self) -> None:
        self.clipped_samples = 0
        self._seen = 0
        self._last_warned_at: int | None = None
        self._since_warning = 0

    def check(self, samples: np.ndarray, *, where: str = "audio") -> np.ndarray:
        """Return ``samples`` clipped to [-1, 1], counting and reporting clipped samples."""
        start = self._seen
        self._seen += samples.size
        peak = float(np.max(np.abs(samples))) if samples.size else 0.0
        if peak < self.FULL_SCALE:
            return samples
        clipped = int(np.count_nonzero(np.abs(samples) >= self.FULL_SCALE))
        self.clipped_samples += clipped
        self._since_warning += clipped
        if self._last_warned_at is None or start - self._last_warned_at >= self.every_samples:
            logger.warning(
                "%s: %d samples at or beyond full scale (clipping) around %.1f s; the input "
                "level is too high: lower the microphone gain", where, self._since_warning,
                start / self.sample_rate_hz)
            self._last_warned_at = start
            self._since_warning = 0
        if peak > 1.0:
            clipped_samples: np.ndarray = np.clip(samples, -1.0, 1.0)
            return clipped_samples
        return samples


# -- resampling ----------------------------------------------------------------------------------
class Resampler:
    """Band-limited polyphase resampler for streams; exact same output as :func:`resample`.

    ``process(x)`` returns every output sample whose filter support is already available (the
    filter is centred, so output lags input by about ``zero_crossings`` input samples);
    ``flush()`` returns the rest as if zeros followed. Across any split of the input,
    ``concat(process(a), process(b), flush())`` equals ``resample(concat(a, b))``; the output
    length is ``ceil(n_in * to / from)``.
    """

    def __init__(self, from_hz: int, to_hz: int, *, zero_crossings: int = 16,
                 rolloff: float = 0.95, kaiser_beta: float = 8.6) -> None:
        if from_hz <= 0 or to_hz <= 0:
            raise AudioError(f"sample rates must be positive, got {from_hz} -> {to_hz} Hz")
        g = math.gcd(int(from_hz), int(to_hz))
        self.from_hz, self.to_hz = int(from_hz), int(to_hz)
        self.up, self.down = self.to_hz // g, self.from_hz // g
        up, down = self.up, self.down
        self.half = zero_crossings * max(up, down)
        cutoff = rolloff * 0.5 / max(up, down)  # cycles per sample at the up-sampled rate
        k = np.arange(-self.half, self.half + 1, dtype=np.float64)
        proto = 2 * cutoff * np.sinc(2 * cutoff * k) * np.kaiser(k.size, kaiser_beta) * up
        self.taps = -(-(2 * self.half + 1) // up) + 1  # input samples per output sample
        padded = np.zeros(self.taps * up, dtype=np.float64)
        padded[: proto.size] = proto
        # bank[r, j] multiplies x[i_hi - j] for an output whose phase is r
        self._bank = padded.reshape(self.taps, up).T.astype(np.float32).copy()
        self.reset()

    def reset(self) -> None:
        self._hist = np.zeros(self.taps, dtype=np.float32)  # x[n_in - taps .. n_in - 1]
        self._n_in = 0
        self._n_out = 0

    def _produce(self, stop_out: int) -> np.ndarray:
        """Outputs ``self._n_out .. stop_out - 1`` from the history buffer."""
        n = np.arange(self._n_out, stop_out, dtype=np.int64)
        if n.size == 0:
            return np.zeros(0, dtype=np.float32)
        t = n * self.down + self.half
        i_hi = t // self.up
        phase = t % self.up
        base = self._n_in - self._hist.size  # absolute index of _hist[0]
        windows = np.lib.stride_tricks.sliding_window_view(self._hist, self.taps)
        rows = windows[i_hi - (self.taps - 1) - base][:, ::-1]  # rows[k, j] = x[i_hi - j]
        out: np.ndarray = np.einsum("nj,nj->n", rows, self._bank[phase]).astype(np.float32)
        self._n_out = stop_out
        return out

    def process(self, samples: np.ndarray, max_block: int = 16000) -> np.ndarray:
        """Feed float samples; return the outputs that are now determined."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        pieces = []
        for start in range(0, samples.size, max_block):
            block = samples[start:start + max_block]
            self._hist = np.concatenate([self._hist[-self.taps:], block])
            self._n_in += block.size
            # output n is ready when i_hi(n) <= n_in - 1
            stop = ((self._n_in - 1) * self.up - self.half) // self.down + 1
            stop = max(stop, self._n_out)
            pieces.append(self._produce(stop))
        if not pieces:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(pieces)

    def flush(self) -> np.ndarray:
        """Return the remaining outputs as if the input continued with zeros; then reset."""
        total = -(-self._n_in * self.up // self.down)
        pieces = []
        while self._n_out < total:
            pad = min(self.taps + 1, 16000)
            self._hist = np.concatenate([self._hist[-self.taps:], np.zeros(pad, np.float32)])
            self._n_in += pad
            stop = ((self._n_in - 1) * self.up - self.half) // self.down + 1
            pieces.append(self._produce(min(total, max(stop, self._n_out))))
        self.reset()
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def resample(samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Band-limited resampling of a whole 1-D signal from ``from_hz`` to ``to_hz``.

    Output length is ``ceil(len(samples) * to_hz / from_hz)``; same rate returns a float32 copy.
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if from_hz == to_hz:
        return samples.copy()
    r = Resampler(from_hz, to_hz)
    return np.concatenate([r.process(samples), r.flush()])


# -- files ---------------------------------------------------------------------------------------
def read_audio(path: str | os.PathLike[str], sample_rate_hz: int = 16000, *,
               downmix: bool = False, max_s: float | None = None) -> np.ndarray:
    """Read an audio file as 1-D float32 mono samples at ``sample_rate_hz``.

    WAV is read with the standard library; other formats (FLAC, OGG, float WAV) need the
    optional ``soundfile`` package. Audio at another rate is resampled (logged at INFO).
    Several channels raise :class:`AudioError` unless ``downmix`` averages them; header rates
    outside 4-384 kHz, and files longer than ``max_s`` seconds, are an :class:`AudioError`.
    The file is decoded block by block (:func:`device_runtime.audio_file.iter_audio`, which
    long files should use directly: its memory does not grow with the file).

    Example::

        >>> x = read_audio("hello.wav")            # doctest: +SKIP
        >>> x.dtype, x.ndim
        (dtype('float32'), 1)
    """
    from device_runtime.audio_file import read_audio as read_blocks

    return read_blocks(path, sample_rate_hz, downmix=downmix, max_s=max_s)


def write_wav(path: str | os.PathLike[str], samples: np.ndarray, sample_rate_hz: int) -> None:
    """Write mono float samples in [-1, 1] (or int16) as 16-bit PCM WAV."""
    data = samples if samples.dtype == np.int16 else float32_to_int16(samples)
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(int(sample_rate_hz))
        wf.writeframes(data.astype("<i2").tobytes())
