"""Offline text-to-speech behind one protocol: espeak-ng (fast, robotic) and Kokoro (natural).

Both synthesizers return float32 mono audio at 16 kHz and take the same arguments:

- ``voice``: one of :meth:`Synthesizer.voices` (for Kokoro also a blend, see :func:`blend`);
- ``speed``: speaking-rate multiplier, 1.0 = the voice's normal rate, within ``SPEED_RANGE``;
- ``pitch``: shift in semitones from the voice's normal pitch, within ``PITCH_RANGE_SEMITONES``.

Speeds measured on a 2-core x86-64 machine: espeak-ng makes 60-70 one-word clips per CPU
second (one process per clip, resampling included); Kokoro about 0.8 s of audio per CPU second,
so about 2 one-word clips a second on 2 idle cores. A dataset therefore uses Kokoro for a
bounded number of clips and espeak-ng for the bulk (see ``wakeword.data.dataset``).

Example::

    synth = EspeakSynthesizer()
    audio = synth.synthesize("computer", voice="en-gb+f3", speed=1.1, pitch=-1.0)
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ, resample
from wakeword.errors import ConfigError, DataError, require
from wakeword.paths import shared_dir

__all__ = [
    "ESPEAK_INSTALL_HINT",
    "PITCH_RANGE_SEMITONES",
    "SPEED_RANGE",
    "EspeakSynthesizer",
    "KokoroSynthesizer",
    "Synthesizer",
    "available_synthesizers",
    "blend",
    "resolve_kokoro_dir",
]

logger = logging.getLogger(__name__)

SPEED_RANGE = (0.5, 2.0)
PITCH_RANGE_SEMITONES = (-6.0, 6.0)
ESPEAK_INSTALL_HINT = "sudo apt-get install -y espeak-ng"

KOKORO_MODEL_FILE = "kokoro-v1.0.int8.onnx"
KOKORO_VOICES_FILE = "voices-v1.0.bin"
KOKORO_SAMPLE_RATE_HZ = 24000
KOKORO_ENGLISH_PREFIXES = ("af_", "am_", "bf_", "bm_")
KOKORO_BLEND_WEIGHTS = (0.3, 0.5, 0.7)


@runtime_checkable
class Synthesizer(Protocol):
    """Text to 16 kHz float32 mono speech. ``name`` and ``version`` key the synthesis cache;
    ``thread_safe`` says whether :meth:`synthesize` may run in several threads at once."""

    name: str
    version: str
    thread_safe: bool

    def voices(self) -> list[str]:
        """Every voice this synthesizer accepts, in a stable order."""
        ...

    def synthesize(self, text: str, *, voice: str, speed: float = 1.0,
                   pitch: float = 0.0) -> np.ndarray:
        """Speak ``text``; returns float32 mono audio at 16 kHz in [-1, 1]."""
        ...


def _check_prosody(synth: str, text: str, speed: float, pitch: float) -> None:
    if not text.strip():
        raise ConfigError(f"{synth}: text is empty; pass the words to speak")
    if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise ConfigError(f"{synth}: speed is {speed}; use a multiplier within {SPEED_RANGE}")
    if not PITCH_RANGE_SEMITONES[0] <= pitch <= PITCH_RANGE_SEMITONES[1]:
        raise ConfigError(f"{synth}: pitch is {pitch} semitones; use a shift within "
                          f"{PITCH_RANGE_SEMITONES}")


# ---------------------------------------------------------------------------------- espeak-ng

# English accents of espeak-ng 1.51 (`espeak-ng --voices=en`, the gmw/ ones; the mb/ voices
# need MBROLA) and variants that sound like people rather than effects (`--voices=variant`).
ESPEAK_ACCENTS = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
    "en-029", "en-us-nyc",
)
ESPEAK_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
    "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt6",
    "adam", "Alex", "Alicia", "Andrea", "Andy", "Annie", "aunty", "belinda", "benjamin",
    "caleb", "david", "ed", "edward", "iven", "iven2", "john", "linda", "max", "michel",
    "paul", "quincy", "rob", "robert", "steph", "steph2", "travis", "victor", "zac",
    "shelby", "anika", "Lee", "Mike", "Michael", "grandpa", "norbert",
)
_ESPEAK_DEFAULT_WPM = 175
_ESPEAK_PITCH_PER_SEMITONE = 5.0  # measured: -p 35/50/65 -> -3.0/0/+3.2 semitones


class EspeakSynthesizer:
    """espeak-ng through its command line (``espeak-ng --stdout -v VOICE -s WPM -p PITCH``).

    Voices are ``ACCENT`` or ``ACCENT+VARIANT`` (e.g. ``en-gb-scotland+f3``) for the English
    accents and variants installed; ``speed`` maps to words per minute (1.0 = 175 wpm) and
    ``pitch`` to espeak's 0-99 pitch (50 + 5 per semitone). The text goes in on stdin so that
    text starting with ``-`` is never read as an option.
    """

    name = "espeak-ng"
    thread_safe = True  # one process per call

    def __init__(self, *, executable: str = "espeak-ng") -> None:
        found = shutil.which(executable)
        if found is None:
            raise DataError(f"{executable!r} is not installed or not on PATH; install it with: "
                            f"{ESPEAK_INSTALL_HINT}")
        self._executable = found
        self.version = self._query_version()
        self._voices: list[str] | None = None

    def _run(self, args: list[str], stdin: bytes | None = None) -> bytes:
        try:
            result = subprocess.run([self._executable, *args], input=stdin,
                                    capture_output=True, check=True, timeout=60)
        except subprocess.CalledProcessError as exc:
            message = exc.stderr.decode(errors="replace").strip()
            raise DataError(f"espeak-ng {' '.join(args)} failed: {message}; check the voice "
                            "name against `espeak-ng --voices=en`") from exc
        except subprocess.TimeoutExpired as exc:
            raise DataError(f"espeak-ng {' '.join(args)} timed out after 60 s") from exc
        return result.stdout

    def _query_version(self) -> str:
        text = self._run(["--version"]).decode(errors="replace")
        return " ".join(text.split()[:4])  # "eSpeak NG text-to-speech: 1.51"

    def voices(self) -> list[str]:
        if self._voices is None:
            accents = set(re.findall(r"^\s*\d+\s+(\S+)\s+\S+\s+\S+\s+gmw/",
                                     self._run(["--voices=en"]).decode(errors="replace"),
                                     flags=re.MULTILINE))
            variants = set(re.findall(r"!v/(\S+)",
                                      self._run(["--voices=variant"]).decode(errors="replace")))
            usable_accents = [a for a in ESPEAK_ACCENTS if a in accents]
            if not usable_accents:
                raise DataError("espeak-ng has none of the English voices "
                                f"{list(ESPEAK_ACCENTS)}; reinstall it with: "
                                f"{ESPEAK_INSTALL_HINT}")
            usable_variants = [v for v in ESPEAK_VARIANTS if v in variants]
            self._voices = [*usable_accents,
                            *(f"{a}+{v}" for a in usable_accents for v in usable_variants)]
        return list(self._voices)

    def phonemes(self, texts: Sequence[str], *, voice: str = "en-us") -> list[str]:
        """espeak-ng's phoneme mnemonics for each text (``espeak-ng -q -x``), e.g.
        "computer" -> "k@mpj'u:t#3". Used to spot near misses that sound like the phrase."""
        lines = [" ".join(t.split()) for t in texts]
        if not lines:
            return []
        if all(lines):
            out = self._run(["-q", "-x", "-v", voice],
                            stdin="\n".join(lines).encode("utf-8")).decode(errors="replace")
            result = [line.strip() for line in out.splitlines() if line.strip()]
            if len(result) == len(lines):
                return result
        # One text per call when the batch did not come back one line per text.
        return [self._run(["-q", "-x", "-v", voice], stdin=line.encode("utf-8"))
                .decode(errors="replace").strip() if line else "" for line in lines]

    def synthesize(self, text: str, *, voice: str, speed: float = 1.0,
                   pitch: float = 0.0) -> np.ndarray:
        _check_prosody(self.name, text, speed, pitch)
        wpm = round(_ESPEAK_DEFAULT_WPM * speed)
        espeak_pitch = round(np.clip(50 + _ESPEAK_PITCH_PER_SEMITONE * pitch, 0, 99))
        raw = self._run(["--stdout", "-v", voice, "-s", str(wpm), "-p", str(espeak_pitch)],
                        stdin=text.encode("utf-8"))
        audio, rate = parse_wav_stream(raw, source=f"espeak-ng -v {voice}")
        out: np.ndarray = np.clip(resample(audio, rate, SAMPLE_RATE_HZ), -1.0, 1.0)
        return out


def parse_wav_stream(raw: bytes, *, source: str) -> tuple[np.ndarray, int]:
    """Decode a 16-bit PCM WAV written to a pipe (whose size fields are placeholders).

    Returns float32 mono audio and its sample rate. ``source`` names the producer in errors.
    """
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise DataError(f"{source}: output is not a WAV stream ({len(raw)} bytes)")
    offset, rate, channels, bits = 12, 0, 0, 0
    while offset + 8 <= len(raw):
        chunk_id, size = raw[offset:offset + 4], struct.unpack("<I", raw[offset + 4:offset + 8])[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", raw[body:body + 16])
        elif chunk_id == b"data":
            if rate <= 0 or channels <= 0 or bits != 16:
                raise DataError(f"{source}: unsupported WAV stream ({channels} channels, "
                                f"{bits} bits, {rate} Hz); expected 16-bit PCM")
            data = raw[body:]  # the size field of a piped WAV is a placeholder
            usable = len(data) - len(data) % (2 * channels)
            samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
            return samples.reshape(-1, channels).mean(axis=1, dtype=np.float32), rate
        offset = body + size + (size & 1)
    raise DataError(f"{source}: WAV stream has no data chunk ({len(raw)} bytes)")


# ---------------------------------------------------------------------------------- Kokoro


def resolve_kokoro_dir(tts_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the Kokoro files are looked for: ``tts_dir``, else ``$WAKEWORD_TTS_DIR``, else
    ``../shared/tts/kokoro``. The folder is returned whether or not the files exist."""
    if tts_dir is not None:
        return Path(tts_dir)
    env = os.environ.get("WAKEWORD_TTS_DIR")
    if env:
        return Path(env)
    base = shared_dir()
    if base is not None:
        return base / "tts" / "kokoro"
    return Path("../shared/tts/kokoro")


def blend(voice_a: str, voice_b: str, weight_b: float) -> str:
    """The name of a Kokoro voice mixing two voices' style vectors: ``a*0.70+b*0.30``."""
    if not 0.0 < weight_b < 1.0:
        raise ConfigError(f"blend: weight_b is {weight_b}; use a value strictly between 0 and 1")
    return f"{voice_a}*{1.0 - weight_b:.2f}+{voice_b}*{weight_b:.2f}"


class KokoroSynthesizer:
    """Kokoro-82M (int8 ONNX) through kokoro-onnx; 24 kHz output resampled to 16 kHz.

    English voices only (``af_``, ``am_``, ``bf_``, ``bm_``). :meth:`voices` lists the 28 voices
    and their pairwise blends at 30/50/70 % (see :func:`blend`), which give in-between speakers.
    Kokoro has no pitch control: ``pitch`` is applied by resampling (which also shifts formants,
    like a different vocal-tract length) while Kokoro's own speed compensates, so the speaking
    rate stays ``speed``. The model loads on first use, with ``num_threads`` ONNX Runtime threads.
    """

    name = "kokoro"
    thread_safe = False  # one ONNX session, already using ``num_threads`` cores

    def __init__(self, *, tts_dir: str | os.PathLike[str] | None = None,
                 num_threads: int = 2) -> None:
        folder = resolve_kokoro_dir(tts_dir)
        self.model_path = folder / KOKORO_MODEL_FILE
        self.voices_path = folder / KOKORO_VOICES_FILE
        missing = [p.name for p in (self.model_path, self.voices_path) if not p.is_file()]
        if missing:
            raise DataError(
                f"{folder}: Kokoro files missing ({', '.join(missing)}); pass tts_dir or set "
                "WAKEWORD_TTS_DIR to a folder with kokoro-v1.0.int8.onnx and voices-v1.0.bin "
                "(see ../shared/tts/README.md for how to obtain them)")
        if num_threads < 1:
            raise ConfigError(f"kokoro: num_threads is {num_threads}; use 1 or more")
        self.num_threads = num_threads
        self._engine: Any = None
        with np.load(self.voices_path) as bank:
            names = sorted(n for n in bank.files if n.startswith(KOKORO_ENGLISH_PREFIXES))
        if not names:
            raise DataError(f"{self.voices_path}: no English voices ({KOKORO_ENGLISH_PREFIXES}) "
                            "in the voice bank; use voices-v1.0.bin")
        self._base_voices = names
        try:
            package = importlib.metadata.version("kokoro-onnx")
        except importlib.metadata.PackageNotFoundError:
            package = "unknown"
        # The model file's size stands in for its hash (hashing 90 MB on every build is slow).
        self.version = f"{self.model_path.name}:{self.model_path.stat().st_size}:kokoro-onnx-{package}"

    def voices(self) -> list[str]:
        base = self._base_voices
        blends = [blend(a, b, w) for i, a in enumerate(base) for b in base[i + 1:]
                  for w in KOKORO_BLEND_WEIGHTS]
        return [*base, *blends]

    def base_voices(self) -> list[str]:
        """The unblended English voices."""
        return list(self._base_voices)

    def _load(self) -> Any:
        if self._engine is None:
            ort = require("onnxruntime", "train")
            kokoro_onnx = require("kokoro_onnx", "train")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.num_threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(str(self.model_path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
            self._engine = kokoro_onnx.Kokoro.from_session(session, str(self.voices_path))
        return self._engine

    def _style(self, engine: Any, voice: str) -> tuple[np.ndarray, str]:
        parts: list[tuple[str, float]] = []
        for part in voice.split("+"):
            name, _, weight = part.partition("*")
            try:
                parts.append((name, float(weight) if weight else 1.0))
            except ValueError as exc:
                raise ConfigError(f"kokoro: voice {voice!r} has a bad weight {weight!r}; "
                                  "write blends as 'af_bella*0.70+am_adam*0.30'") from exc
        unknown = [n for n, _ in parts if n not in self._base_voices]
        if unknown or sum(w for _, w in parts) <= 0:
            raise ConfigError(f"kokoro: voice {voice!r} is not one of the English voices "
                              f"{self._base_voices} or a blend of them")
        total = sum(w for _, w in parts)
        style = sum(engine.get_voice_style(n).astype(np.float32) * (w / total)
                    for n, w in parts)
        lang = "en-gb" if parts[0][0].startswith("b") else "en-us"
        return np.asarray(style, dtype=np.float32), lang

    def synthesize(self, text: str, *, voice: str, speed: float = 1.0,
                   pitch: float = 0.0) -> np.ndarray:
        _check_prosody(self.name, text, speed, pitch)
        engine = self._load()
        style, lang = self._style(engine, voice)
        # Reading 24 kHz output as if it were recorded at 24 kHz * r raises the pitch by r and
        # speeds it up by r; Kokoro's own speed is divided by r to keep the requested rate.
        ratio = 2.0 ** (pitch / 12.0)
        source_hz = round(KOKORO_SAMPLE_RATE_HZ * ratio / 200.0) * 200
        ratio = source_hz / KOKORO_SAMPLE_RATE_HZ
        model_speed = float(np.clip(speed / ratio, *SPEED_RANGE))
        try:
            audio, _ = engine.create(text, voice=style, speed=model_speed, lang=lang)
        except (ValueError, IndexError, RuntimeError) as exc:
            raise DataError(f"kokoro could not speak {text!r} with voice {voice!r}: {exc}; "
                            "use plain English words") from exc
        audio = np.asarray(audio, dtype=np.float32).ravel()
        out: np.ndarray = np.clip(resample(audio, source_hz, SAMPLE_RATE_HZ), -1.0, 1.0)
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_engine"] = None  # an ONNX session does not pickle; each process loads its own
        return state


def available_synthesizers(
    tts_dir: str | os.PathLike[str] | None = None, *, num_threads: int = 2
) -> list[Synthesizer]:
    """Kokoro first when its files exist (see :func:`resolve_kokoro_dir`), then espeak-ng.

    Raises :class:`DataError` with the install command if espeak-ng is missing.
    """
    synths: list[Synthesizer] = []
    folder = resolve_kokoro_dir(tts_dir)
    if (folder / KOKORO_MODEL_FILE).is_file() and (folder / KOKORO_VOICES_FILE).is_file():
        synths.append(KokoroSynthesizer(tts_dir=folder, num_threads=num_threads))
    else:
        logger.info("Kokoro files not found in %s; using espeak-ng only", folder)
    synths.append(EspeakSynthesizer())
    return synths
