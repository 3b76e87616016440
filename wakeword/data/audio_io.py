"""Reading and writing audio files: float32 mono numpy arrays at 16 kHz in [-1, 1].

Every loader returns the library's one audio format: a 1-D ``float32`` array at
``sample_rate_hz`` (16 kHz by default), stereo mixed down by the channel mean and resampled
with ``torchaudio.functional.resample``. WAV, FLAC and OGG files are read with soundfile.

Example::

    audio = load_audio("hello.flac")                  # np.ndarray, float32, 16 kHz
    clips, paths = load_folder("recordings/")         # skips corrupt files with one warning
    save_wav("out/hello.wav", audio)                  # atomic: temp file + os.replace
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from wakeword.errors import DataError, require

__all__ = [
    "AUDIO_EXTENSIONS",
    "SAMPLE_RATE_HZ",
    "list_audio_files",
    "load_audio",
    "load_folder",
    "resample",
    "save_wav",
]

logger = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus")
# Container formats soundfile may report for the extensions above. libsndfile also decodes
# MPEG, so a file of random bytes named ``.flac`` can "decode" as noise; checking the format
# turns that into an error instead of a clip of garbage.
_ACCEPTED_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG"})


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


def list_audio_files(folder: str | os.PathLike[str], *, recursive: bool = False) -> list[Path]:
    """The WAV/FLAC/OGG/Opus files inside ``folder`` (and its sub-folders when ``recursive``),
    in natural order ("2" before "10") of their paths."""
    folder = Path(folder)
    entries = folder.rglob("*") if recursive else folder.iterdir()
    files = [p for p in entries if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
             and not p.name.startswith(".")]
    return sorted(files, key=lambda p: _natural_key(p.relative_to(folder)))


def load_folder(
    folder: str | os.PathLike[str], sample_rate_hz: int = SAMPLE_RATE_HZ, *,
    recursive: bool = False,
) -> tuple[list[np.ndarray], list[Path]]:
    """Load every WAV/FLAC/OGG/Opus file inside ``folder`` (and its sub-folders when
    ``recursive``).

    Unreadable files are skipped with ONE warning listing them all. Returns the clips and their
    paths, in natural file-name order.

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
    clips: list[np.ndarray] = []
    paths: list[Path] = []
    bad: list[tuple[Path, str]] = []
    for path in files:
        try:
            clips.append(load_audio(path, sample_rate_hz))
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
