"""Shared pieces of the benchmarks: machine info, JSON output, ../shared, evaluation sets.

Evaluation sets (built once, cached under ``benchmarks/out/cache/``, which is gitignored):

- **Positives** for a keyword set ``K`` of ``../shared/data/keywords``: ``K``'s recordings, each
  padded with 1 s of silence on both sides and mixed with noise at 10 dB SNR
  (:func:`wakeword.eval.streams.positive_clips`, noise from the 6 shared recordings or
  coloured noise). "hey_jarvis" has no recordings there: its positives are Kokoro-synthesised
  (:func:`hey_jarvis_positives`) with voices the training recipe never uses.
- **Negatives** (at least 2 h) from *components*, each a seeded, shuffled list of clips:
  ``recordings:<set>`` (the other keyword sets' recordings, processed exactly like positives
  but padded 0.5 s), ``espeak`` (espeak-ng speech of varied text: single short words, word
  pairs, everyday sentences and sentences of the Debian licence texts, ~50 min),
  ``kokoro`` (Kokoro speech of the same kind of text, capped in time), ``asterisk`` (the
  Debian package ``asterisk-core-sounds-en-wav``: ~26 min of real recorded prompts, digits
  and letters by one speaker, 8 kHz; used when installed) and ``noise`` (the shared noise
  recordings and coloured noise at several levels, plus near-silence). Synthesised and
  recorded speech is set to a random peak level and mixed with noise at a random SNR.
  The keyword phrases of every set are filtered out of all texts and file names.

Every random choice is seeded; the same arguments give the same audio bit for bit (except
Kokoro output if its time cap stops it early; the cap is recorded in the component's info).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import math
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `python benchmarks/x.py` as well as `python -m benchmarks.x`
    sys.path.insert(0, str(REPO_ROOT))

from wakeword.jsonable import to_jsonable as _jsonable  # after the sys.path set-up

log = logging.getLogger("benchmarks")

BENCH_DIR = REPO_ROOT / "benchmarks"
OUT_DIR = BENCH_DIR / "out"  # gitignored: caches and raw scores
CACHE_DIR = OUT_DIR / "cache"
RESULTS_DIR = BENCH_DIR / "results"  # committed: small JSON and PNG files
SAMPLE_RATE_HZ = 16000
CACHE_VERSION = 1  # bump when a component's recipe changes

KEYWORD_SETS = ("alexa", "computer", "smart_mirror", "snowboy", "view_glass")
PHRASES = {"alexa": "alexa", "computer": "computer", "smart_mirror": "smart mirror",
           "snowboy": "snowboy", "view_glass": "view glass", "hey_jarvis": "hey jarvis"}
# Words that must never appear in negative speech (every benchmark phrase and its parts that
# are names nobody says by chance).
EXCLUDED_WORDS = ("alexa", "computer", "computers", "smart mirror", "snowboy", "snow boy",
                  "view glass", "jarvis")
ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
LICENSE_DIR = Path("/usr/share/common-licenses")
LICENSE_FILES = ("GPL-3", "Apache-2.0", "MPL-2.0", "Artistic", "GFDL-1.3", "LGPL-2.1")
# Kokoro voices for synthetic "hey jarvis" positives: the non-English voice bank entries
# (Spanish, French, Hindi, Italian, Portuguese) speaking English. wakeword's training recipe
# (wakeword.data.tts.KokoroSynthesizer) only uses the 28 English voices (af_, am_, bf_, bm_)
# and their blends, so none of these were heard in training.
HELD_OUT_KOKORO_VOICES = ("ef_dora", "em_alex", "em_santa", "ff_siwis", "hf_alpha", "hf_beta",
                          "hm_omega", "hm_psi", "if_sara", "im_nicola", "pf_dora", "pm_alex",
                          "pm_santa")
AudioArray = npt.NDArray[np.float32]


# -- machine, versions, output --------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:  # read-only queries
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def machine_info() -> dict[str, Any]:
    """CPU, cores, load, Python and the versions of every package the benchmarks use."""
    packages = ("wakeword", "numpy", "onnxruntime", "ai-edge-litert", "tflite-runtime", "torch",
                "torchaudio", "pyopen-wakeword", "pymicro-wakeword", "pymicro-features",
                "kokoro-onnx", "soundfile")
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    espeak = None
    try:
        espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True,
                                timeout=10).stdout.split("Data")[0].strip() or None
    except OSError:
        pass
    status = _git("status", "--porcelain")
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average_1_5_15": load,
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in packages},
        "espeak_ng": espeak,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def machine_line(info: dict[str, Any] | None = None) -> str:
    """One line naming the machine, e.g. for a table's caption."""
    info = info or machine_info()
    v = info["versions"]
    load = info.get("load_average_1_5_15")
    return (f"{info['cpu']}, {info['cores']} cores (load {load[0] if load else '?'}), "
            f"Python {info['python']}, numpy {v['numpy']}, onnxruntime {v['onnxruntime']}, "
            f"ai-edge-litert {v['ai-edge-litert']}, torch {v['torch']}, pyopen-wakeword "
            f"{v['pyopen-wakeword']}, pymicro-wakeword {v['pymicro-wakeword']}")


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON atomically (numpy values and paths converted, NaN and
    infinities written as null); parent folders are created."""
    from wakeword.eval.atomic import write_text_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(path, json.dumps(_jsonable(data), indent=2, allow_nan=False) + "\n")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


def begin(args: Any, script: str, *, threads: int | None = None) -> bool:
    """The start every benchmark shares: logging, progress bars, torch threads, ../shared.

    Returns False (after printing why) when ../shared is absent, so ``main`` returns 0.
    """
    setup_logging(getattr(args, "verbose", False))
    # positives are peak-normalised when a noise mix would clip; the runtime's per-call clipping
    # warning would fire for many clips and says nothing here
    logging.getLogger("device_runtime.audio").setLevel(logging.ERROR)
    from wakeword.progress import set_progress

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    set_progress(not getattr(args, "no_progress", False))
    return skip_without_shared(script) is not None


# -- ../shared --------------------------------------------------------------------------------
class SharedDataMissing(RuntimeError):
    """The ../shared data folder (or a part of it) is absent."""


def shared_data_dir() -> Path:
    """``../shared/data`` (or ``$WAKEWORD_SHARED/data``); raises :class:`SharedDataMissing`
    with what to do when it is absent."""
    from wakeword.paths import shared_dir

    base = shared_dir()
    if base is None or not (base / "data" / "keywords").is_dir():
        raise SharedDataMissing(
            f"the shared data folder was not found ({REPO_ROOT.parent / 'shared'} or "
            "$WAKEWORD_SHARED); this benchmark needs ../shared/data/keywords and "
            "../shared/data/noise: put the shared folder beside the repository or set "
            "WAKEWORD_SHARED")
    return base / "data"


def skip_without_shared(script: str) -> Path | None:
    """The shared data folder, or ``None`` after printing why ``script`` is skipped."""
    try:
        return shared_data_dir()
    except SharedDataMissing as exc:
        print(f"{script}: skipped: {exc}", file=sys.stderr)
        return None


def keyword_folder(keyword_set: str) -> Path:
    if keyword_set not in KEYWORD_SETS:
        raise ValueError(f"keyword set is {keyword_set!r}; use one of {list(KEYWORD_SETS)}")
    folder = shared_data_dir() / "keywords" / keyword_set
    if not folder.is_dir():
        raise SharedDataMissing(f"{folder}: missing; the shared data is incomplete")
    return folder


def noise_bank(recording_probability: float = 0.6) -> Any:
    """Noise from the shared recordings (with ``recording_probability``) or coloured noise."""
    from wakeword.data.noise import NoiseBank

    folder = shared_data_dir() / "noise"
    if not folder.is_dir():
        log.warning("%s missing: generated noise only", folder)
        return NoiseBank()
    return NoiseBank.from_folder(folder, recording_probability=recording_probability)


# -- small helpers ----------------------------------------------------------------------------
def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(_jsonable(obj), sort_keys=True).encode()).hexdigest()[:12]


def _allowed(text: str) -> bool:
    from wakeword.data.negatives import contains_phrase

    return not any(contains_phrase(text, word, ignore_spaces=False) for word in EXCLUDED_WORDS)


def _peak_normalise(audio: AudioArray, peak_db: float) -> AudioArray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0:
        return audio
    return (audio * np.float32(10 ** (peak_db / 20) / peak)).astype(np.float32)


def _finish_clip(speech: AudioArray, rng: np.random.Generator, bank: Any, *,
                 gap_s: tuple[float, float], peak_db: tuple[float, float],
                 snr_db: tuple[float, float]) -> AudioArray:
    """Leading gap, random peak level, noise at a random SNR over the whole clip."""
    from wakeword.data.augment import mix_at_snr

    gap = np.zeros(int(rng.uniform(*gap_s) * SAMPLE_RATE_HZ), dtype=np.float32)
    clip = np.concatenate([gap, _peak_normalise(speech, float(rng.uniform(*peak_db)))])
    mixed = mix_at_snr(clip, bank.sample(clip.size, rng), float(rng.uniform(*snr_db)))
    peak = float(np.max(np.abs(mixed))) if mixed.size else 0.0
    return mixed / np.float32(peak) if peak > 1.0 else mixed


# -- text for synthetic negative speech ------------------------------------------------------
def license_sentences() -> list[str]:
    """Sentences of a few Debian licence texts (real, varied English prose), 4-25 words each,
    without numbers or URLs; empty when /usr/share/common-licenses is absent."""
    out: list[str] = []
    for name in LICENSE_FILES:
        path = LICENSE_DIR / name
        if not path.is_file():
            continue
        text = " ".join(path.read_text(errors="replace").split())
        for sentence in re.split(r"(?<=[.;:!?])\s+", text):
            sentence = sentence.strip(" -*\"'()")
            words = sentence.split()
            if not 4 <= len(words) <= 25 or re.search(r"[0-9@<>/\\_=#|]|http|www", sentence):
                continue
            if _allowed(sentence):
                out.append(sentence)
    return list(dict.fromkeys(out))


def speech_texts(n: int, seed: int, *, prose_fraction: float = 0.2) -> list[str]:
    """``n`` texts: wakeword's everyday speech mix (about half single short words, some word
    pairs and triples, short sentences) plus ``prose_fraction`` licence-text sentences; none
    contains a benchmark phrase."""
    from wakeword.data.negatives import speech_phrases

    rng = np.random.default_rng([seed, 0x7E47])
    prose = license_sentences()
    n_prose = round(n * prose_fraction) if prose else 0
    everyday = [t for t in speech_phrases(2 * n + 50, seed=seed) if _allowed(t)]
    texts = everyday[: n - n_prose]
    texts += [prose[int(i)] for i in rng.integers(len(prose), size=n_prose)] if n_prose else []
    return [texts[int(i)] for i in rng.permutation(len(texts))]


# -- negative components ---------------------------------------------------------------------
@dataclass
class Component:
    """One kind of negative audio: clips back to back, with a label per clip."""

    name: str
    audio: npt.NDArray[np.int16]  # all clips, concatenated
    starts: npt.NDArray[np.int64]  # clip start offsets (samples), ascending
    labels: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE_HZ

    def clip_bounds(self) -> list[tuple[int, int]]:
        ends = [*self.starts[1:].tolist(), int(self.audio.size)]
        return list(zip(self.starts.tolist(), ends, strict=True))


def _to_int16(audio: AudioArray) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(audio * 32767.0), -32768, 32767).astype(np.int16)


def _cached(name: str, recipe: dict[str, Any],
            build: Callable[[], tuple[list[AudioArray], list[str], dict[str, Any]]]) -> Component:
    """Load component ``name`` from the cache, or build and store it."""
    key = _digest({"name": name, "recipe": recipe, "version": CACHE_VERSION})
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    path = CACHE_DIR / f"{safe}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            info = json.loads(str(data["info"]))
            return Component(name=name, audio=data["audio"], starts=data["starts"],
                             labels=[str(x) for x in data["labels"]], info=info)
    started = time.perf_counter()
    clips, labels, info = build()
    if not clips:
        raise RuntimeError(f"negative component {name!r} came out empty")
    lengths = np.array([c.size for c in clips], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    audio = _to_int16(np.concatenate(clips))
    info = {**info, "recipe": recipe, "clips": len(clips),
            "seconds": audio.size / SAMPLE_RATE_HZ,
            "build_s": round(time.perf_counter() - started, 1)}
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(tmp, audio=audio, starts=starts, labels=np.array(labels, dtype=str),
             info=np.array(json.dumps(_jsonable(info))))
    os.replace(tmp, path)
    log.info("built negative component %s: %d clips, %.1f min in %.0f s -> %s", name,
             len(clips), audio.size / SAMPLE_RATE_HZ / 60, info["build_s"], path.name)
    return Component(name=name, audio=audio, starts=starts, labels=labels, info=info)


def recordings_component(keyword_set: str, seed: int) -> Component:
    """The recordings of ``keyword_set`` as negatives: padded 0.5 s and mixed with noise at
    10 dB SNR exactly like positives (so only the phrase differs), in shuffled order."""
    from wakeword.eval.streams import positive_clips

    folder = keyword_folder(keyword_set)
    recipe = {"set": keyword_set, "files": len(list(folder.iterdir())), "pad_s": 0.5,
              "snr_db": 10.0, "seed": seed}

    def build() -> tuple[list[AudioArray], list[str], dict[str, Any]]:
        clips = positive_clips(folder, pad_s=0.5, snr_db=10.0, noise=noise_bank(),
                               seed=seed + 1000 + KEYWORD_SETS.index(keyword_set))
        order = np.random.default_rng([seed, 0x5EC]).permutation(len(clips))
        return ([clips[i].audio for i in order],
                [f"{keyword_set}:{clips[i].source.name if clips[i].source else i}"
                 for i in order],
                {"source": f"shared/data/keywords/{keyword_set}"})

    return _cached(f"recordings:{keyword_set}", recipe, build)


SPEECH_PROCESSING = {"gap_s": (0.2, 1.2), "peak_db": (-25.0, -3.0), "snr_db": (5.0, 25.0)}


def espeak_component(minutes: float, seed: int) -> Component:
    """espeak-ng speech of :func:`speech_texts` until ``minutes`` of audio, random English
    voices (8 accents x ~50 variants), speeds 0.8-1.3 and pitches -3..+3 semitones."""
    recipe = {"minutes": minutes, "seed": seed, **SPEECH_PROCESSING,
              "license_files": [f for f in LICENSE_FILES if (LICENSE_DIR / f).is_file()]}

    def build() -> tuple[list[AudioArray], list[str], dict[str, Any]]:
        from wakeword.data.tts import EspeakSynthesizer
        from wakeword.progress import progress

        synth = EspeakSynthesizer()
        voices = synth.voices()
        rng = np.random.default_rng([seed, 0xE5])
        bank = noise_bank()
        target = minutes * 60 * SAMPLE_RATE_HZ
        texts = speech_texts(int(minutes * 60), seed)  # ~1 text per second is plenty
        clips: list[AudioArray] = []
        labels: list[str] = []
        total = 0
        for text in progress(texts, desc="espeak-ng negatives", total=len(texts)):
            if total >= target:
                break
            voice = voices[int(rng.integers(len(voices)))]
            speech = synth.synthesize(text, voice=voice, speed=round(rng.uniform(0.8, 1.3), 2),
                                      pitch=round(rng.uniform(-3, 3), 1))
            clip = _finish_clip(speech, rng, bank, **SPEECH_PROCESSING)
            clips.append(clip)
            labels.append(f"espeak:{voice}:{text}")
            total += clip.size
        return clips, labels, {"synthesizer": synth.version, "voices": len(voices)}

    return _cached("espeak", recipe, build)


def kokoro_component(utterances: int, seed: int, max_wall_s: float) -> Component | None:
    """Kokoro speech (the 28 English voices, speeds 0.85-1.2) of :func:`speech_texts`,
    ``utterances`` of them or as many as ``max_wall_s`` allows; ``None`` without Kokoro."""
    recipe = {"utterances": utterances, "seed": seed, **SPEECH_PROCESSING}

    def build() -> tuple[list[AudioArray], list[str], dict[str, Any]]:
        from wakeword.data.tts import KokoroSynthesizer
        from wakeword.progress import progress

        synth = KokoroSynthesizer(num_threads=1)
        voices = synth.base_voices()
        rng = np.random.default_rng([seed, 0x6060])
        bank = noise_bank()
        texts = speech_texts(utterances, seed + 1)
        clips: list[AudioArray] = []
        labels: list[str] = []
        started = time.perf_counter()
        stopped_early = False
        for text in progress(texts, desc="Kokoro negatives", total=len(texts)):
            if time.perf_counter() - started > max_wall_s:
                stopped_early = True
                log.warning("Kokoro negatives: time cap of %.0f s reached after %d of %d "
                            "utterances", max_wall_s, len(clips), len(texts))
                break
            voice = voices[int(rng.integers(len(voices)))]
            speech = synth.synthesize(text, voice=voice, speed=round(rng.uniform(0.85, 1.2), 2))
            clips.append(_finish_clip(speech, rng, bank, **SPEECH_PROCESSING))
            labels.append(f"kokoro:{voice}:{text}")
        return clips, labels, {"synthesizer": synth.version, "stopped_early": stopped_early,
                               "max_wall_s": max_wall_s}

    try:
        from wakeword.data.tts import KokoroSynthesizer

        KokoroSynthesizer(num_threads=1)
    except Exception as exc:  # noqa: BLE001 - any reason Kokoro is unusable: skip it
        log.warning("Kokoro negatives skipped: %s", exc)
        return None
    return _cached("kokoro", recipe, build)


def asterisk_component(seed: int) -> Component | None:
    """Real recorded speech from the Debian package ``asterisk-core-sounds-en-wav`` (prompts,
    digits, letters; one speaker, 8 kHz resampled to 16 kHz; CC BY-SA 3.0), or ``None`` when
    it is not installed (``apt-get install asterisk-core-sounds-en-wav``)."""
    if not ASTERISK_DIR.is_dir():
        log.warning("%s not found: no recorded prompt speech in the negatives (install it "
                    "with: apt-get install asterisk-core-sounds-en-wav)", ASTERISK_DIR)
        return None
    files = sorted(p for p in ASTERISK_DIR.rglob("*.wav")
                   if p.parent.name != "silence" and _allowed(p.stem.replace("-", " ")))
    recipe = {"files": [str(p.relative_to(ASTERISK_DIR)) for p in files], "seed": seed,
              **SPEECH_PROCESSING}

    def build() -> tuple[list[AudioArray], list[str], dict[str, Any]]:
        from wakeword.data.audio_io import load_audio

        rng = np.random.default_rng([seed, 0xA57])
        bank = noise_bank()
        clips, labels = [], []
        for i in rng.permutation(len(files)):
            speech = load_audio(files[i], SAMPLE_RATE_HZ)
            clips.append(_finish_clip(speech, rng, bank, **SPEECH_PROCESSING))
            labels.append(f"asterisk:{files[i].relative_to(ASTERISK_DIR)}")
        return clips, labels, {"package": "asterisk-core-sounds-en-wav",
                               "licence": "CC-BY-SA-3.0, Allison Smith / Digium"}

    return _cached("asterisk", recipe, build)


def noise_component(seed: int) -> Component:
    """The shared noise recordings at four levels, coloured noise and near-silence."""
    shared_noise = shared_data_dir() / "noise"
    recipe = {"seed": seed, "files": sorted(p.name for p in shared_noise.glob("*"))}

    def build() -> tuple[list[AudioArray], list[str], dict[str, Any]]:
        from wakeword.data.audio_io import load_folder
        from wakeword.data.noise import coloured_noise

        rng = np.random.default_rng([seed, 0x401])
        recordings, paths = load_folder(shared_noise, SAMPLE_RATE_HZ)
        clips, labels = [], []
        for audio, path in zip(recordings, paths, strict=True):
            for level_db in (-45.0, -35.0, -25.0, -15.0):
                # 25 s pieces of the recording at each level
                start = int(rng.integers(max(1, audio.size - 25 * SAMPLE_RATE_HZ)))
                piece = audio[start:start + 25 * SAMPLE_RATE_HZ].astype(np.float64)
                piece -= piece.mean()
                rms = float(np.sqrt(np.mean(piece ** 2))) or 1.0
                clips.append(np.clip(piece * (10 ** (level_db / 20) / rms), -1, 1)
                             .astype(np.float32))
                labels.append(f"noise:{path.name}@{level_db:g}dBFS")
        for color in ("white", "pink", "brown"):
            for level_db in (-50.0, -35.0, -20.0):
                clips.append(coloured_noise(color, 20 * SAMPLE_RATE_HZ, rng,
                                            level_rms=10 ** (level_db / 20)))
                labels.append(f"noise:{color}@{level_db:g}dBFS")
        clips.append(coloured_noise("white", 60 * SAMPLE_RATE_HZ, rng, level_rms=10 ** (-70 / 20)))
        labels.append("noise:near-silence@-70dBFS")
        order = rng.permutation(len(clips))
        return [clips[i] for i in order], [labels[i] for i in order], {
            "source": "shared/data/noise + generated"}

    return _cached("noise", recipe, build)


# -- the negative set -------------------------------------------------------------------------
@dataclass
class NegativeSet:
    """Negative audio for one keyword: segments (scored from fresh state) with clip labels."""

    keyword: str
    segments: list[AudioArray]
    # per segment: (start_sample, end_sample, label index) of each clip in it
    clips: list[npt.NDArray[np.int64]]
    labels: list[str]
    components: dict[str, float]  # component -> seconds used

    @property
    def hours(self) -> float:
        return sum(s.size for s in self.segments) / SAMPLE_RATE_HZ / 3600

    def stream(self) -> Any:
        from wakeword.eval.streams import NegativeStream

        return NegativeStream(segments=tuple(self.segments))

    def label_at(self, segment: int, sample: int) -> str:
        """The label of the clip of ``segment`` that holds ``sample``."""
        table = self.clips[segment]
        row = int(np.searchsorted(table[:, 0], sample, side="right")) - 1
        return self.labels[int(table[max(row, 0), 2])]

    def component_of(self, label: str) -> str:
        head = label.split(":", 1)[0]
        return f"recordings:{head}" if head in KEYWORD_SETS else head

    def summary(self) -> dict[str, Any]:
        return {"hours": self.hours, "segments": len(self.segments),
                "clips": sum(len(c) for c in self.clips),
                "minutes_by_component": {k: round(v / 60, 2) for k, v in self.components.items()}}


@dataclass(frozen=True, kw_only=True)
class NegativeOptions:
    seed: int = 0
    espeak_minutes: float = 50.0
    kokoro_utterances: int = 150
    kokoro_max_wall_s: float = 3600.0
    use_kokoro: bool = True
    use_asterisk: bool = True
    min_hours: float = 2.0
    segment_s: float = 600.0


def negative_components(keyword: str, options: NegativeOptions) -> list[Component]:
    """The components for ``keyword`` (every keyword set but its own; all five for a keyword
    without a set, such as "hey_jarvis"), in a fixed order."""
    out = [recordings_component(k, options.seed) for k in KEYWORD_SETS if k != keyword]
    out.append(espeak_component(options.espeak_minutes, options.seed))
    if options.use_kokoro:
        component = kokoro_component(options.kokoro_utterances, options.seed,
                                     options.kokoro_max_wall_s)
        if component is not None:
            out.append(component)
    if options.use_asterisk:
        component = asterisk_component(options.seed)
        if component is not None:
            out.append(component)
    out.append(noise_component(options.seed))
    return out


def negative_set(keyword: str, options: NegativeOptions = NegativeOptions(), *,
                 max_hours: float | None = None) -> NegativeSet:
    """Negatives for ``keyword``; with ``max_hours`` (e.g. ``--quick``) the same share of the
    start of every component (components are shuffled, so a prefix is a fair sample)."""
    components = negative_components(keyword, options)
    total_s = sum(c.seconds for c in components)
    if max_hours is None and total_s < options.min_hours * 3600:
        raise RuntimeError(f"negatives for {keyword} hold {total_s / 3600:.2f} h, less than "
                           f"{options.min_hours} h; raise --espeak-minutes")
    share = 1.0 if max_hours is None else min(1.0, max_hours * 3600 / total_s)
    limit = int(options.segment_s * SAMPLE_RATE_HZ)
    segments: list[AudioArray] = []
    tables: list[npt.NDArray[np.int64]] = []
    labels: list[str] = []
    used: dict[str, float] = {}
    for component in components:
        bounds = component.clip_bounds()
        keep = max(1, math.ceil(len(bounds) * share)) if share < 1.0 else len(bounds)
        pending: list[tuple[int, int, int]] = []
        pending_samples = 0

        def flush() -> None:
            nonlocal pending, pending_samples
            if not pending:
                return
            a, b = pending[0][0], pending[-1][1]
            segments.append(component.audio[a:b].astype(np.float32) / np.float32(32767.0))
            tables.append(np.array([(s - a, e - a, lab) for s, e, lab in pending],
                                   dtype=np.int64))
            pending, pending_samples = [], 0

        for (start, end), label in zip(bounds[:keep], component.labels[:keep], strict=True):
            if pending and pending_samples + (end - start) > limit:
                flush()
            labels.append(label)
            pending.append((start, end, len(labels) - 1))
            pending_samples += end - start
        flush()
        used[component.name] = sum(e - s for s, e in bounds[:keep]) / SAMPLE_RATE_HZ
    result = NegativeSet(keyword=keyword, segments=segments, clips=tables, labels=labels,
                         components=used)
    log.info("negatives for %s: %.2f h in %d segments (%s)", keyword, result.hours,
             len(segments), ", ".join(f"{k} {v / 60:.1f} min" for k, v in used.items()))
    return result


# -- positives --------------------------------------------------------------------------------
def keyword_positives(keyword_set: str, seed: int, limit: int | None = None) -> list[Any]:
    """The set's recordings padded 1 s on both sides, mixed with noise at 10 dB SNR; with
    ``limit``, an evenly spaced subset (for ``--quick``)."""
    from wakeword.eval.streams import positive_clips

    clips = positive_clips(keyword_folder(keyword_set), pad_s=1.0, snr_db=10.0,
                           noise=noise_bank(), seed=seed)
    if limit is not None and limit < len(clips):
        picks = np.linspace(0, len(clips) - 1, limit).round().astype(int)
        clips = [clips[i] for i in picks]
    return clips


HEY_JARVIS_TEXTS = ("Hey Jarvis.", "Hey Jarvis!", "Hey, Jarvis.", "Hey Jarvis?", "hey jarvis",
                    "Hey, Jarvis!")


def hey_jarvis_positives(n: int, seed: int, limit: int | None = None) -> tuple[list[Any],
                                                                             dict[str, Any]]:
    """``n`` synthetic "hey jarvis" clips by Kokoro with :data:`HELD_OUT_KOKORO_VOICES` and
    pairwise blends of them (voices never used by the training recipe), speeds 0.85-1.2,
    cached as WAV files, then padded and mixed like recorded positives."""
    from wakeword.data.audio_io import resample, save_wav
    from wakeword.data.tts import resolve_kokoro_dir
    from wakeword.eval.streams import positive_clips

    recipe = {"n": n, "seed": seed, "voices": HELD_OUT_KOKORO_VOICES, "texts": HEY_JARVIS_TEXTS}
    folder = CACHE_DIR / f"hey_jarvis_kokoro-{_digest({'recipe': recipe, 'v': CACHE_VERSION})}"
    info = {"synthesizer": "kokoro (kokoro-onnx), non-English voice-bank entries speaking "
            "English with lang en-us", "voices": list(HELD_OUT_KOKORO_VOICES),
            "texts": list(HEY_JARVIS_TEXTS), "n": n}
    if not (folder / "done").is_file():
        import kokoro_onnx
        import onnxruntime as ort

        kokoro_dir = resolve_kokoro_dir()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(kokoro_dir / "kokoro-v1.0.int8.onnx"),
                                       sess_options=options, providers=["CPUExecutionProvider"])
        engine = kokoro_onnx.Kokoro.from_session(session, str(kokoro_dir / "voices-v1.0.bin"))
        rng = np.random.default_rng([seed, 0x4A5])
        folder.mkdir(parents=True, exist_ok=True)
        voices = list(HELD_OUT_KOKORO_VOICES)
        for i in range(n):
            if i < len(voices):  # every voice once, then blends of two
                names, weights = [voices[i]], [1.0]
            else:
                a, b = rng.choice(len(voices), size=2, replace=False)
                w = float(rng.choice([0.3, 0.5, 0.7]))
                names, weights = [voices[a], voices[b]], [1 - w, w]
            style = sum(engine.get_voice_style(v).astype(np.float32) * wt
                        for v, wt in zip(names, weights, strict=True))
            text = HEY_JARVIS_TEXTS[int(rng.integers(len(HEY_JARVIS_TEXTS)))]
            audio, rate = engine.create(text, voice=np.asarray(style, np.float32),
                                        speed=float(rng.uniform(0.85, 1.2)), lang="en-us")
            audio = resample(np.asarray(audio, np.float32).ravel(), int(rate), SAMPLE_RATE_HZ)
            tag = "+".join(f"{v}*{w:.1f}" for v, w in zip(names, weights, strict=True))
            save_wav(folder / f"{i:03d}_{tag}.wav", audio)
        (folder / "done").write_text("ok\n")
    clips = positive_clips(folder, pad_s=1.0, snr_db=10.0, noise=noise_bank(), seed=seed)
    if limit is not None and limit < len(clips):
        picks = np.linspace(0, len(clips) - 1, limit).round().astype(int)
        clips = [clips[i] for i in picks]
    return clips, info


def cost_audio(seconds: float, seed: int) -> AudioArray:
    """``seconds`` of test audio for cost runs: shared keyword recordings back to back with
    noise (or seeded speech-like noise bursts when ../shared is absent)."""
    rng = np.random.default_rng([seed, 0xC057])
    n = int(seconds * SAMPLE_RATE_HZ)
    try:
        folder = keyword_folder("computer")
        from wakeword.data.audio_io import load_audio

        files = sorted(folder.iterdir())
        parts, total = [], 0
        for i in rng.permutation(len(files)):
            parts.append(load_audio(files[i], SAMPLE_RATE_HZ))
            total += parts[-1].size
            if total >= n:
                break
        audio = np.concatenate(parts)[:n]
    except SharedDataMissing:
        envelope = np.repeat(rng.random(n // 1600 + 1) > 0.5, 1600)[:n]
        audio = (rng.normal(0, 0.1, n) * envelope).astype(np.float32)
    audio = audio + rng.normal(0, 0.003, audio.size).astype(np.float32)
    return np.clip(audio, -1, 1).astype(np.float32)


def find_model_dirs(names: Iterable[str] = ("computer", "alexa", "hey_jarvis")) -> dict[str, Path]:
    """Our exported model folders present in ``models/`` (those with a manifest.json)."""
    found = {}
    for name in names:
        path = REPO_ROOT / "models" / name
        if (path / "manifest.json").is_file():
            found[name] = path
    return found


def parse_extra_models(items: Sequence[str]) -> dict[str, list[tuple[str, Path]]]:
    """``KEYWORD=PATH[@LABEL]`` items -> keyword -> [(label, path)]."""
    out: dict[str, list[tuple[str, Path]]] = {}
    for item in items:
        keyword, sep, rest = item.partition("=")
        if not sep or not rest:
            raise ValueError(f"--extra-model {item!r}: use KEYWORD=PATH[@LABEL], e.g. "
                             "computer=/tmp/runs/c_small/best.pt@c_small")
        path_text, _, label = rest.partition("@")
        path = Path(path_text)
        out.setdefault(keyword, []).append((label or f"ours:{path.stem}", path))
    return out
