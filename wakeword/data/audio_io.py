"""Reading and writing audio files: float32 mono numpy arrays at 16 kHz in [-1, 1].

Every loader returns the library's one audio format: a 1-D ``float32`` array at
``sample_rate_hz`` (16 kHz by default), stereo mixed down by the channel mean and resampled
with ``torchaudio.functional.resample``. WAV, FLAC and OGG files are read with soundfile.

Long files (hours of negatives) are read in blocks instead: :func:`iter_audio_blocks` decodes
with the device runtime's block reader (:class:`device_runtime.audio_file.AudioFile`: header
rates outside 4-384 kHz refused, a partial last frame dropped with a warning) and resamples
each block with :class:`StreamResampler`, the streaming form of :func:`resample` (same
filter, same samples), so memory does not grow with the file's length.
:func:`count_samples` checks a file the same way without keeping its audio.

Example::

    audio = load_audio("hello.flac")                  # np.ndarray, float32, 16 kHz
    clips, paths = load_folder("recordings/")         # skips corrupt files with one warning
    for block in iter_audio_blocks("one_hour.wav"):   # float32 16 kHz blocks, flat memory
        ...
    save_wav("out/hello.wav", audio)                  # atomic: temp file + os.replace
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from wakeword.errors import DataError, require

if TYPE_CHECKING:
    from device_runtime.audio_file import AudioFile

__all__ = [
    "AUDIO_EXTENSIONS",
    "BLOCK_FRAMES",
    "SAMPLE_RATE_HZ",
    "StreamResampler",
    "count_samples",
    "iter_audio_blocks",
    "list_audio_files",
    "load_audio",
    "load_audio_blocks",
    "load_folder",
    "resample",
    "save_wav",
]

T = TypeVar("T")

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus")
# Container formats soundfile may report for the extensions above. libsndfile also decodes
# MPEG, so a file of random bytes named ``.flac`` can "decode" as noise; checking the format
# turns that into an error instead of a clip of garbage.
_ACCEPTED_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG"})
BLOCK_FRAMES = 32768  # file frames per block read by iter_audio_blocks
_RESAMPLE_BLOCK = 65536  # input samples per StreamResampler pass (bounds its scratch memory)


def resample(audio: np.ndarray, orig_hz: int, target_hz: int) -> np.ndarray:
    """Resample 1-D float audio from ``orig_hz`` to ``target_hz``; returns a new float32 array.

    The filter is torchaudio's (``torchaudio.functional.resample`` defaults: Hann-windowed sinc,
    6 zero crossings, roll-off 0.99), built once per rate pair and applied single-threaded with
    numpy: the output matches torchaudio to ~1e-5, and it never waits on a thread pool (on a busy
    2-core machine torch's made one call of 1 s of audio take 200 ms instead of 3 ms).
    """
    if orig_hz <= 0 or target_hz <= 0:
        raise DataError(
            f"resample: sample rates must be positive, got {orig_hz} -> {target_hz} Hz")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise DataError(f"resample: expected 1-D mono audio, got shape {audio.shape}")
    if orig_hz == target_hz or audio.size == 0:
        return audio.copy()
    divisor = math.gcd(int(orig_hz), int(target_hz))
    orig, new = int(orig_hz) // divisor, int(target_hz) // divisor
    kernel, width = _sinc_kernel(orig, new)
    padded = np.pad(audio, (width, width + orig))
    frames = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[1])[::orig]
    # einsum, not matmul: BLAS threads waking up on a busy machine cost ~20 ms per call.
    out = np.einsum("fk,nk->fn", frames, kernel).reshape(-1)
    return np.ascontiguousarray(out[: math.ceil(new * audio.size / orig)], dtype=np.float32)


class StreamResampler:
    """:func:`resample` for a stream: feed blocks with :meth:`process`, end with :meth:`flush`.

    Same filter as :func:`resample`; ``concat(process(a), process(b), ..., flush())`` equals
    ``resample(concat(a, b, ...))`` (to float rounding) for any split of the input, and holds
    only about one filter length of input between calls. Output lags input by the filter's
    half-width (a few samples at the input rate); :meth:`flush` returns the rest, as if zeros
    followed, and makes the resampler ready for a new stream.
    """

    def __init__(self, orig_hz: int, target_hz: int) -> None:
        if orig_hz <= 0 or target_hz <= 0:
            raise DataError(
                f"resample: sample rates must be positive, got {orig_hz} -> {target_hz} Hz")
        self.orig_hz, self.target_hz = int(orig_hz), int(target_hz)
        divisor = math.gcd(self.orig_hz, self.target_hz)
        self._orig, self._new = self.orig_hz // divisor, self.target_hz // divisor
        self._kernel: np.ndarray | None = None
        self._width = 0
        if self._orig != self._new:
            self._kernel, self._width = _sinc_kernel(self._orig, self._new)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next :meth:`process` starts a new one."""
        # _buf holds the zero-padded signal from the start of the next output frame on
        self._buf = np.zeros(self._width, dtype=np.float32)
        self._n_in = 0
        self._n_out = 0

    def _frames(self) -> np.ndarray:
        """Outputs of every frame whose filter window lies inside the buffer."""
        assert self._kernel is not None
        taps = self._kernel.shape[1]
        if self._buf.size < taps:
            return np.zeros(0, dtype=np.float32)
        n = (self._buf.size - taps) // self._orig + 1
        windows = np.lib.stride_tricks.sliding_window_view(self._buf, taps)[:: self._orig][:n]
        out = np.einsum("fk,nk->fn", windows, self._kernel).reshape(-1)
        self._buf = self._buf[n * self._orig:]
        return out

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feed 1-D float samples; return the output samples they complete."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise DataError(f"resample: expected 1-D mono audio, got shape {samples.shape}")
        self._n_in += samples.size
        if self._kernel is None:
            self._n_out += samples.size
            return samples.copy()
        pieces = []
        for start in range(0, samples.size, _RESAMPLE_BLOCK):
            self._buf = np.concatenate([self._buf, samples[start:start + _RESAMPLE_BLOCK]])
            pieces.append(self._frames())
        out = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        self._n_out += out.size
        return np.ascontiguousarray(out, dtype=np.float32)

    def flush(self) -> np.ndarray:
        """The remaining output samples (``ceil(n_in * target / orig)`` in all); then reset."""
        out = np.zeros(0, dtype=np.float32)
        if self._kernel is not None:
            self._buf = np.concatenate([self._buf, np.zeros(self._width + self._orig,
                                                            dtype=np.float32)])
            total = -(-self._new * self._n_in // self._orig)
            out = self._frames()[: max(0, total - self._n_out)]
        self.reset()
        return np.ascontiguousarray(out, dtype=np.float32)


@functools.lru_cache(maxsize=16)
def _sinc_kernel(orig: int, new: int) -> tuple[np.ndarray, int]:
    """torchaudio's resampling kernel for gcd-reduced rates, as a (new, taps) float32 array."""
    transforms = require("torchaudio.transforms", "train")
    resampler = transforms.Resample(orig, new)
    kernel = resampler.kernel.detach().cpu().numpy()[:, 0, :].astype(np.float32)
    return kernel, int(resampler.width)


def load_audio(path: str | os.PathLike[str], sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Read a WAV/FLAC/OGG file as float32 mono audio at ``sample_rate_hz`` in [-1, 1].

    Raises :class:`DataError` naming the file if it is missing, cannot be decoded, is not a
    WAV/FLAC/OGG file, or holds no samples.
    """
    sf = require("soundfile", "audio")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such audio file; check the path")
    try:
        info = sf.info(str(path))
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError, ValueError, EOFError) as exc:
        raise DataError(
            f"{path}: cannot decode audio ({_one_line(exc)}); re-encode it as WAV or FLAC "
            "(e.g. `sox in.xxx -r 16000 -c 1 out.wav`) or remove it") from exc
    if info.format not in _ACCEPTED_FORMATS:
        raise DataError(
            f"{path}: content is {info.format_info or info.format}, not WAV/FLAC/OGG; "
            "convert it with `sox` or remove it")
    if data.shape[0] == 0:
        raise DataError(f"{path}: the file holds no audio samples; re-record it or remove it")
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    mono = resample(mono, int(file_rate), sample_rate_hz)
    if not np.all(np.isfinite(mono)):
        raise DataError(f"{path}: the audio contains NaN or infinite samples; re-encode it")
    out: np.ndarray = np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)
    return out


def _fix(message: str) -> str:
    """``message`` with a way out appended when it does not already say how to fix the file."""
    if "sox" in message or "pip install" in message:
        return message
    return (f"{message}; re-encode it as 16-bit WAV or FLAC (e.g. `sox in.xxx -r 16000 -c 1 "
            "out.wav`) or remove it")


def _open_blocks(path: Path) -> AudioFile:
    """The runtime's block reader on ``path``, its errors as :class:`DataError`."""
    from device_runtime.audio_file import AudioFile
    from device_runtime.errors import DeviceRuntimeError

    if not path.is_file():
        raise DataError(f"{path}: no such audio file; check the path")
    try:
        audio = AudioFile(path)
    except DeviceRuntimeError as exc:  # AudioError, BackendUnavailableError
        raise DataError(_fix(_one_line(exc))) from exc
    except (OSError, ValueError, EOFError, RuntimeError) as exc:
        raise DataError(_fix(f"{path}: cannot decode audio ({_one_line(exc)})")) from exc
    if audio.container not in _ACCEPTED_FORMATS:
        audio.close()
        raise DataError(f"{path}: content is {audio.container}, not WAV/FLAC/OGG; convert it "
                        "with `sox` or remove it")
    return audio


def _mono_blocks(audio: AudioFile, block_frames: int, warn_partial: bool
                 ) -> Iterator[np.ndarray]:
    """1-D float32 blocks of ``audio`` at its own rate: channels averaged, NaN/inf refused."""
    from device_runtime.errors import DeviceRuntimeError

    blocks = audio.blocks(block_frames, warn_partial=warn_partial)
    seen = 0
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            break
        except DeviceRuntimeError as exc:
            raise DataError(_fix(_one_line(exc))) from exc
        mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
        if not np.all(np.isfinite(mono)):
            raise DataError(f"{audio.path}: the audio contains NaN or infinite samples (in the "
                            f"block starting at {seen / audio.sample_rate_hz:.2f} s); "
                            "re-encode it")
        seen += mono.size
        yield mono
    if seen == 0:
        raise DataError(f"{audio.path}: contains no samples (an empty recording); re-record "
                        "it or remove it")


def iter_audio_blocks(path: str | os.PathLike[str], sample_rate_hz: int = SAMPLE_RATE_HZ, *,
                      block_frames: int = BLOCK_FRAMES, warn_partial: bool = True
                      ) -> Iterator[np.ndarray]:
    """A WAV/FLAC/OGG file as consecutive 1-D float32 blocks at ``sample_rate_hz`` in [-1, 1].

    Joined, the blocks are :func:`load_audio`'s samples (channels averaged, the same
    resampling filter, clipped to [-1, 1]), but only about ``block_frames`` frames are held at
    a time. Raises :class:`DataError` naming the file (and how to fix it) when it is missing,
    cannot be decoded, is not WAV/FLAC/OGG, declares a rate outside 4-384 kHz, holds NaN or
    infinite samples, or holds no samples. A file cut inside a frame loses that partial frame
    with a warning (``warn_partial=False``: only logged at DEBUG).
    """
    path = Path(path)
    with _open_blocks(path) as audio:
        resampler = None
        if audio.sample_rate_hz != sample_rate_hz:
            logger.debug("%s: resampling %d Hz -> %d Hz block by block", path,
                         audio.sample_rate_hz, sample_rate_hz)
            resampler = StreamResampler(audio.sample_rate_hz, sample_rate_hz)
        for mono in _mono_blocks(audio, block_frames, warn_partial):
            out = mono if resampler is None else resampler.process(mono)
            if out.size:
                yield np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)
        if resampler is not None:
            tail = resampler.flush()
            if tail.size:
                yield np.clip(tail, -1.0, 1.0).astype(np.float32, copy=False)


def count_samples(path: str | os.PathLike[str], sample_rate_hz: int = SAMPLE_RATE_HZ, *,
                  block_frames: int = BLOCK_FRAMES) -> int:
    """How many samples :func:`iter_audio_blocks` yields for ``path`` at ``sample_rate_hz``.

    Reads the file through once (block by block, nothing kept), so it finds every problem
    :func:`iter_audio_blocks` would (same :class:`DataError`; a cut file's warning is logged
    here) without resampling.
    """
    path = Path(path)
    with _open_blocks(path) as audio:
        frames = sum(int(mono.size) for mono in _mono_blocks(audio, block_frames, True))
        rate = audio.sample_rate_hz
    if rate == sample_rate_hz:
        return frames
    divisor = math.gcd(rate, int(sample_rate_hz))
    return -(-(int(sample_rate_hz) // divisor) * frames // (rate // divisor))


def load_audio_blocks(path: str | os.PathLike[str], sample_rate_hz: int = SAMPLE_RATE_HZ
                      ) -> np.ndarray:
    """The whole file read through :func:`iter_audio_blocks` (its checks, :func:`load_audio`'s
    samples) as one float32 array; for clips, not for hours of audio."""
    blocks = list(iter_audio_blocks(path, sample_rate_hz))
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def list_audio_files(folder: str | os.PathLike[str], *, recursive: bool = False) -> list[Path]:
    """The WAV/FLAC/OGG/Opus files inside ``folder`` (and its sub-folders when ``recursive``),
    in natural order ("2" before "10") of their paths."""
    folder = Path(folder)
    entries = folder.rglob("*") if recursive else folder.iterdir()
    files = [p for p in entries if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
             and not p.name.startswith(".")]
    return sorted(files, key=lambda p: _natural_key(p.relative_to(folder)))


@overload
def load_folder(
    folder: str | os.PathLike[str], sample_rate_hz: int = ..., *, recursive: bool = ...,
) -> tuple[list[np.ndarray], list[Path]]: ...


@overload
def load_folder(
    folder: str | os.PathLike[str], sample_rate_hz: int = ..., *, recursive: bool = ...,
    loader: Callable[[Path, int], T],
) -> tuple[list[T], list[Path]]: ...


def load_folder(
    folder: str | os.PathLike[str], sample_rate_hz: int = SAMPLE_RATE_HZ, *,
    recursive: bool = False, loader: Callable[[Path, int], Any] = load_audio,
) -> tuple[list[Any], list[Path]]:
    """Load every WAV/FLAC/OGG/Opus file inside ``folder`` (and its sub-folders when
    ``recursive``).

    Unreadable files are skipped with ONE warning listing them all. Returns the clips and their
    paths, in natural file-name order. ``loader(path, sample_rate_hz)`` reads one file
    (default :func:`load_audio`; e.g. :func:`load_audio_blocks`, or :func:`count_samples` to
    check the files and get their lengths); a :class:`DataError` from it skips the file.

    Raises :class:`DataError` if the folder is missing or not a folder, is empty, has no audio
    files, or if every audio file in it is unreadable.
    """
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder}: audio folder does not exist; check the path")
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder of audio files, found a file; "
                        "pass the folder that contains it")
    entries = list(folder.iterdir())
    if not entries:
        raise DataError(f"{folder}: audio folder is empty; put .wav, .flac or .ogg "
                        "recordings in it")
    files = list_audio_files(folder, recursive=recursive)
    if not files:
        examples = ", ".join(sorted(p.name for p in entries)[:5])
        raise DataError(
            f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) among its "
            f"{len(entries)} entries{' (sub-folders searched)' if recursive else ''} (e.g. "
            f"{examples}); convert the recordings to WAV or FLAC or point to the folder that "
            "holds them")
    clips: list[Any] = []
    paths: list[Path] = []
    bad: list[tuple[Path, str]] = []
    for path in files:
        try:
            clips.append(loader(path, sample_rate_hz))
            paths.append(path)
        except DataError as exc:
            bad.append((path, str(exc)))
    if not clips:
        raise DataError(
            f"{folder}: all {len(files)} audio files are unreadable (first: {bad[0][1]}); "
            "re-encode them as 16-bit WAV or FLAC")
    if bad:
        listing = "; ".join(path.name for path, _ in bad)
        logger.warning("%s: skipped %d unreadable audio file(s) of %d: %s",
                       folder, len(bad), len(files), listing)
        for _, reason in bad:
            logger.debug("%s", reason)
    return clips, paths


def save_wav(path: str | os.PathLike[str], audio: np.ndarray, *,
             sample_rate_hz: int = SAMPLE_RATE_HZ, subtype: str = "PCM_16") -> Path:
    """Write 1-D float audio to a WAV file atomically (temporary file, then ``os.replace``).

    ``subtype`` is a soundfile subtype: ``PCM_16`` (default, clipped to [-1, 1]) or ``FLOAT``
    (bit-exact float32, used by the synthesis cache). Parent folders are created. Returns the path.
    """
    sf = require("soundfile", "audio")
    path = Path(path)
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise DataError(f"save_wav({path}): expected 1-D mono audio, got shape {audio.shape}; "
                        "mix channels down first")
    if subtype not in ("PCM_16", "PCM_24", "FLOAT"):
        raise DataError(f"save_wav({path}): subtype is {subtype!r}; use 'PCM_16', 'PCM_24' "
                        "or 'FLOAT'")
    samples = audio.astype(np.float32, copy=False)
    if subtype != "FLOAT":
        samples = np.clip(samples, -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            sf.write(handle, samples, sample_rate_hz, format="WAV", subtype=subtype)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def _natural_key(path: Path) -> tuple[tuple[int, int | str], ...]:
    parts = re.split(r"(\d+)", path.as_posix().lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
