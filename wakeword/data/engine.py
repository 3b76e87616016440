"""The data engine: training sets at the peers' scale, built once per machine and reused.

``build(BuildConfig(phrase="computer"))`` makes (or loads from the cache) a :class:`TrainingData`:

- **positives**: ``n_positives`` clips of the phrase. ``n_positives / positive_copies`` are
  synthesised (``kokoro_share`` of them by Kokoro: its 28 English voices and random blends of
  two, speeds 0.7-1.3; the rest espeak-ng accents and variants); each synthesis also gives
  ``positive_copies - 1`` perturbed copies (speed and vocal-tract-length warp by resampling).
  Every positive records the sample where the phrase ENDS, from the TTS output.
- **near misses** (phrase-dependent): phrases that sound close (:func:`near_miss_phrases`),
  homophones under US or UK phonemes removed, spoken with the same Kokoro share as the
  positives so the voice never tells the label.
- **general negatives** (phrase-independent, built once per machine, shared by every phrase):
  real recorded speech (``../shared/data/speech`` with its manifest, the Debian packages
  ``klettres-data`` and ``hedgewars-data``, any ``speech_dirs``), synthetic running speech
  (Kokoro and espeak-ng reading whole sentences), noise.

Everything is cached under :func:`~wakeword.data.cache_dir.resolve_cache_dir`: raw synthesis
per clip (:class:`~wakeword.data.tts_cache.SynthesisCache`), and packed pools
(:mod:`wakeword.data.pools`) keyed by everything that shapes them. Synthesis runs on every core
and resumes where it stopped. Clips are augmented when served (:mod:`wakeword.data.serve`), anew
every epoch.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wakeword.data.cache_dir import resolve_cache_dir
from wakeword.data.negatives import near_miss_phrases, normalize_text
from wakeword.data.plans import plan_requests
from wakeword.data.tts import EspeakSynthesizer, KokoroSynthesizer, resolve_kokoro_dir
from wakeword.data.tts_cache import SynthesisRequest
from wakeword.errors import ConfigError, DataError
from wakeword.paths import shared_dir

__all__ = ["BuildConfig", "Synths", "load_synths", "near_miss_texts", "sentence_texts",
           "synthesis_plan"]

logger = logging.getLogger(__name__)

ENGINE_VERSION = 1  # bump when a pool recipe changes


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    """What a training set holds. Saved into runs and checkpoints (``to_dict``).

    Fields:
        phrase: the wake phrase.
        n_positives: positive clips in all (syntheses x ``positive_copies``).
        positive_copies: clips per synthesis: the synthesis and ``positive_copies - 1``
            perturbed copies (speed and formant warp by resampling).
        kokoro_share: share of positive and near-miss syntheses spoken by Kokoro (the rest by
            espeak-ng); 0 when the Kokoro files are missing.
        speed_range: speaking-rate multipliers of the syntheses.
        n_near_miss: near-miss syntheses.
        kokoro_sentences / espeak_sentences: sentences of running speech read by each
            synthesizer (phrase-independent).
        real_speech: use recorded speech (``../shared/data/speech`` and the Debian packages
            ``klettres-data``, ``hedgewars-data`` when present).
        speech_dirs: more folders of recorded speech (searched recursively; a
            ``manifest.csv`` with ``path,speaker,text`` columns is used when present).
        positive_dirs: folders of the user's own recordings of the phrase (recursive); the
            phrase end is where the recording's speech ends.
        noise_minutes: minutes of noise (recorded noise when found, else generated) and
            music-like sound (chords, melodies, beats; generated).
        codec_share: share of synthesised clips (positives, near misses, sentences) passed
            through Ogg/Opus at a low bit rate, as the recorded speech corpora are: a codec's
            traces must not tell speech from the phrase.
        val_speaker_fraction: share of each speech corpus's speakers held out (never trained
            on) for checkpoint selection and threshold calibration.
        tts_dir: Kokoro folder (None: $WAKEWORD_TTS_DIR, else ../shared/tts/kokoro).
        seed: every random choice.
    """

    phrase: str
    n_positives: int = 20000
    positive_copies: int = 1
    kokoro_share: float = 0.82
    speed_range: tuple[float, float] = (0.7, 1.3)
    n_near_miss: int = 1500
    kokoro_sentences: int = 200
    espeak_sentences: int = 5000
    real_speech: bool = True
    speech_dirs: tuple[str, ...] = ()
    positive_dirs: tuple[str, ...] = ()
    noise_minutes: float = 40.0
    codec_share: float = 0.25
    val_speaker_fraction: float = 0.15
    tts_dir: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.phrase, str) or not normalize_text(self.phrase):
            raise ConfigError(f"data.phrase is {self.phrase!r}; give the wake phrase as words "
                              "(letters), e.g. 'hey computer'")
        for name in ("n_positives", "positive_copies", "n_near_miss", "kokoro_sentences",
                     "espeak_sentences", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"data.{name} is {value!r}; use a whole number >= 0")
        if self.positive_copies < 1:
            raise ConfigError("data.positive_copies is 0; use 1 (no copies) or more")
        if self.n_positives < self.positive_copies:
            raise ConfigError(f"data.n_positives is {self.n_positives}; use at least "
                              f"positive_copies ({self.positive_copies})")
        for name in ("kokoro_share", "val_speaker_fraction", "codec_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0 + (name == "kokoro_share"):
                raise ConfigError(f"data.{name} is {value!r}; use a value in [0, 1]")
        lo, hi = self.speed_range
        if not 0.5 <= lo <= hi <= 2.0:
            raise ConfigError(f"data.speed_range is {self.speed_range}; use 0.5 <= low <= "
                              "high <= 2.0")
        if not 0.0 <= self.noise_minutes <= 6000:
            raise ConfigError(f"data.noise_minutes is {self.noise_minutes}; use 0-6000")

    @property
    def n_syntheses(self) -> int:
        return self.n_positives // self.positive_copies

    @property
    def norm_phrase(self) -> str:
        return normalize_text(self.phrase)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"data config: unknown key(s) {unknown}; the keys are "
                              f"{sorted(names)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


@dataclass(frozen=True)
class Synths:
    """The synthesizers a build uses and their cache versions."""

    espeak: EspeakSynthesizer
    kokoro: KokoroSynthesizer | None

    @property
    def versions(self) -> dict[str, str]:
        out = {self.espeak.name: self.espeak.version}
        if self.kokoro is not None:
            out[self.kokoro.name] = self.kokoro.version
        return out


def load_synths(config: BuildConfig) -> Synths:
    """espeak-ng (required) and Kokoro (when its files are found; a clear fallback message
    otherwise, or an error when ``config.tts_dir`` was given explicitly)."""
    espeak = EspeakSynthesizer()
    kokoro = None
    if config.kokoro_share > 0:
        folder = resolve_kokoro_dir(config.tts_dir)
        try:
            kokoro = KokoroSynthesizer(tts_dir=folder, num_threads=1)
        except DataError as exc:
            if config.tts_dir is not None:
                raise
            logger.warning("Kokoro is not available (%s): every clip is spoken by espeak-ng, "
                           "which models learn as one robotic voice; get the Kokoro files for "
                           "natural voices", exc)
    return Synths(espeak=espeak, kokoro=kokoro)


def phonemes_both(espeak: EspeakSynthesizer, texts: list[str]) -> list[str]:
    """US and UK phonemes of each text joined by ``|``: a near miss is a homophone when it
    matches the phrase in either accent."""
    return [f"{u}|{g}" for u, g in zip(espeak.phonemes(texts, voice="en-us"),
                                       espeak.phonemes(texts, voice="en-gb"))]


def sound_key(phonemes: str) -> str:
    """What a listener hears of espeak-ng phonemes: stress, syllable and word marks dropped,
    flapped t = d, and the weak central vowels (schwa, "er", the vowels of "come" and "com")
    merged, so "computa" (UK), "come puter" and "komputer" all key like "computer"."""
    from wakeword.data.negatives import _phonetic_key

    key = _phonetic_key(phonemes)
    return re.sub(r"[@3V0]+[0-9]?", "@", key)


def homophone_filter(phrase: str, candidates: list[str], espeak: EspeakSynthesizer) -> list[str]:
    """``candidates`` without those that sound like ``phrase`` in US or UK English
    (:func:`sound_key`)."""
    if not candidates:
        return []
    bad: set[str] = set()
    for voice in ("en-us", "en-gb"):
        keys = espeak.phonemes([phrase, *candidates], voice=voice)
        target = sound_key(keys[0])
        bad |= {c for c, k in zip(candidates, keys[1:]) if sound_key(k) == target}
    if bad:
        logger.info("near misses dropped as homophones of %r: %s", phrase, sorted(bad))
    return [c for c in candidates if c not in bad]


def near_miss_texts(config: BuildConfig, espeak: EspeakSynthesizer) -> list[str]:
    """The distinct near-miss phrases of ``config.phrase``, homophones removed."""
    pool = near_miss_phrases(config.norm_phrase, seed=config.seed)
    pool = homophone_filter(config.norm_phrase, pool, espeak)
    if config.n_near_miss and not pool:
        raise DataError(f"data.phrase {config.phrase!r}: no near misses could be made; use a "
                        "longer phrase or set n_near_miss to 0")
    return pool


def speech_manifest() -> Path | None:
    base = shared_dir()
    if base is None:
        return None
    path = base / "data" / "speech" / "manifest.csv"
    return path if path.is_file() else None


def sentence_texts() -> list[str]:
    """Sentences for synthetic running speech: the transcripts of the shared read-speech
    corpus when present (about 4,900 distinct sentences), plus the built-in everyday sentences;
    in a fixed order. Phrase filtering happens when clips are served."""
    from wakeword.data.speech_text import SENTENCES

    texts = list(SENTENCES)
    manifest = speech_manifest()
    if manifest is not None:
        with manifest.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                text = " ".join(str(row.get("text", "")).split())
                if len(text.split()) >= 4:
                    texts.append(text[0] + text[1:].lower())
    return sorted(dict.fromkeys(texts), key=lambda t: hashlib.sha256(t.encode()).hexdigest())


def synthesis_plan(config: BuildConfig, synths: Synths) -> dict[str, list[SynthesisRequest]]:
    """Every synthesis of a build, by stage: ``positives``, ``near_miss`` (phrase-dependent),
    ``sentences`` (phrase-independent)."""
    kokoro_voices = synths.kokoro.base_voices() if synths.kokoro is not None else None
    espeak_voices = synths.espeak.voices()
    share = config.kokoro_share if kokoro_voices else 0.0
    phrase = config.norm_phrase
    positives = plan_requests([phrase] * config.n_syntheses, kokoro_share=share,
                              seed=(config.seed, 1), kokoro_voices=kokoro_voices,
                              espeak_voices=espeak_voices, speed_range=config.speed_range,
                              punctuate=True)
    near = near_miss_texts(config, synths.espeak) if config.n_near_miss else []
    near_miss = plan_requests([near[i % len(near)] for i in range(config.n_near_miss)],
                              kokoro_share=share, seed=(config.seed, 2),
                              kokoro_voices=kokoro_voices, espeak_voices=espeak_voices,
                              speed_range=config.speed_range, punctuate=True)
    sentences = sentence_texts()
    n_k = config.kokoro_sentences if kokoro_voices else 0
    kokoro_text = [sentences[i % len(sentences)] for i in range(n_k)]
    espeak_text = [sentences[(n_k + i) % len(sentences)] for i in range(config.espeak_sentences)]
    spoken = plan_requests(kokoro_text, kokoro_share=1.0, seed=(config.seed, 3),
                           kokoro_voices=kokoro_voices, espeak_voices=espeak_voices,
                           speed_range=(0.85, 1.2))
    spoken += plan_requests(espeak_text, kokoro_share=0.0, seed=(config.seed, 4),
                            kokoro_voices=None, espeak_voices=espeak_voices,
                            speed_range=(0.85, 1.25))
    return {"positives": positives, "near_miss": near_miss, "sentences": spoken}


# ------------------------------------------------------------------------------------ pools

SPLIT_VAL_FRACTION_TTS = 0.05  # syntheses held out for validation (by request hash)


def phrase_bounds(audio: np.ndarray, *, range_db: float = 40.0) -> tuple[int, int]:
    """``(start, end)``: the first and one past the last sample whose magnitude is within
    ``range_db`` of the clip's peak; where the phrase starts and ends in clean TTS output.
    ``(0, 0)`` for silence."""
    magnitude = np.abs(np.asarray(audio, dtype=np.float32))
    if magnitude.size == 0:
        return 0, 0
    peak = float(magnitude.max())
    if peak <= 1e-6:
        return 0, 0
    loud = np.flatnonzero(magnitude >= peak * 10 ** (-range_db / 20))
    return int(loud[0]), int(loud[-1]) + 1


def _hash_split(text: str, fraction: float) -> str:
    value = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")
    return "val" if value / 2**32 < fraction else "train"


def opus_roundtrip(audio: np.ndarray, level: float) -> np.ndarray:
    """``audio`` (16 kHz) encoded as Ogg/Opus at compression ``level`` (0-1, higher = fewer
    bits) and decoded again; same length, sample-aligned."""
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(audio, np.float32), 16000, format="OGG", subtype="OPUS",
             compression_level=float(level))
    buffer.seek(0)
    out, _ = sf.read(buffer, dtype="float32")
    fixed = np.zeros(audio.size, np.float32)
    fixed[: min(out.size, audio.size)] = out[: audio.size]
    return np.clip(fixed, -1.0, 1.0)


def _tts_pool(requests: list[SynthesisRequest], cache: Any, versions: dict[str, str],
              desc: str, *, pre_s: float = 0.05, post_s: float = 0.15,
              codec_share: float = 0.0) -> Any:
    """Cached syntheses, trimmed around the spoken phrase; ``end`` is where it ends.
    ``codec_share`` of them (chosen by hash) go through :func:`opus_roundtrip`."""
    from wakeword.data.audio_io import SAMPLE_RATE_HZ, load_audio
    from wakeword.data.pools import PoolBuilder
    from wakeword.progress import progress

    builder = PoolBuilder()
    silent = missing = 0
    for request in progress(requests, desc=f"packing {desc}", total=len(requests)):
        path = cache.path(request, versions[request.synthesizer])
        try:
            audio = load_audio(path)
        except DataError:
            missing += 1
            continue
        start, end = phrase_bounds(audio)
        if end <= start:
            silent += 1
            continue
        a = max(0, start - round(pre_s * SAMPLE_RATE_HZ))
        b = min(audio.size, end + round(post_s * SAMPLE_RATE_HZ))
        key = cache.key(request, versions[request.synthesizer])
        clip = audio[a:b]
        draw = int(key[8:16], 16) / 16**8
        if draw < codec_share:
            clip = opus_roundtrip(clip, 0.6 + 0.4 * draw / max(codec_share, 1e-9))
        builder.add(clip, source=request.synthesizer, detail=request.voice,
                    text=request.text, speaker=request.voice,
                    split=_hash_split(key, SPLIT_VAL_FRACTION_TTS), end=end - a)
    if missing or silent:
        logger.warning("%s: %d syntheses missing from the cache and %d silent were left out",
                       desc, missing, silent)
    return builder.build()


def _user_positive_pool(corpora: list[Any]) -> Any:
    """The user's recordings of the phrase; the phrase ends where the speech ends
    (:func:`~wakeword.data.placement.active_span`, which tolerates room noise)."""
    from wakeword.data.corpus import read_corpus
    from wakeword.data.placement import active_span
    from wakeword.data.pools import Pool, PoolBuilder

    builder = PoolBuilder()
    for corpus in corpora:
        pool = read_corpus(corpus, val_fraction=0.0, source="user")
        for i in range(len(pool)):
            audio = pool.clip(i)
            start, end = active_span(audio, pad_ms=0.0)
            if end <= start:
                logger.warning("%s: silent, left out", pool.detail[i])
                continue
            builder.add(audio[max(0, start - 800):end + 2400], source="user",
                        detail=str(pool.detail[i]), speaker="user",
                        split=_hash_split(str(pool.detail[i]), 0.15), end=end - max(0, start - 800))
    return builder.build() if len(builder) else Pool.concat([])


def music_like(n: int, rng: np.random.Generator, sample_rate_hz: int = 16000) -> np.ndarray:
    """``n`` samples of generated music-like sound: a chord per bar and a melody note per beat
    (harmonic tones with decaying partials), and on some pieces a beat (kick and hi-hat).
    Peak 0.5. Not music anyone would play; enough to teach that sustained pitched sound and
    rhythm are not speech."""
    out = np.zeros(n, np.float64)
    beat = int(sample_rate_hz * 60.0 / rng.uniform(70, 170))
    root = int(rng.integers(45, 60))
    scale = np.array([0, 2, 4, 5, 7, 9, 11]) if rng.random() < 0.6 else np.array([0, 2, 3, 5, 7, 8, 10])
    n_partials = int(rng.integers(2, 8))
    decay = rng.uniform(0.4, 0.9)
    drums = rng.random() < 0.6

    def tone(midi: float, length: int, amp: float) -> np.ndarray:
        t = np.arange(length) / sample_rate_hz
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        wave = sum(decay ** k * np.sin(2 * np.pi * f0 * (k + 1) * t + rng.uniform(0, 6.28))
                   for k in range(n_partials) if f0 * (k + 1) < sample_rate_hz / 2)
        env = np.minimum(1.0, t / 0.01) * np.exp(-t * rng.uniform(1.0, 6.0))
        return amp * wave * env

    for start in range(0, n, beat):
        length = min(beat * 4, n - start)
        if (start // beat) % 4 == 0:  # a chord every bar
            degree = int(rng.integers(7))
            for step in (0, 2, 4):
                note = root + scale[(degree + step) % 7] + 12 * ((degree + step) // 7)
                out[start:start + length] += tone(note, length, 0.15)
        melody = root + 12 + scale[int(rng.integers(7))]
        out[start:start + min(beat, n - start)] += tone(melody, min(beat, n - start), 0.25)
        if drums:
            k = min(int(0.15 * sample_rate_hz), n - start)
            t = np.arange(k) / sample_rate_hz
            if (start // beat) % 2 == 0:
                out[start:start + k] += 0.5 * np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) \
                    * np.exp(-t * 20)
            hat = min(int(0.04 * sample_rate_hz), n - start)
            out[start:start + hat] += 0.08 * rng.standard_normal(hat) * np.exp(
                -np.arange(hat) / sample_rate_hz * 80)
    peak = float(np.abs(out).max())
    return (out * (0.5 / peak) if peak > 0 else out).astype(np.float32)


def _noise_pool(config: BuildConfig) -> Any:
    """Recorded noise (``../shared/data/noise`` when present) cut in 10-s pieces, then
    generated white/pink/brown noise with slow level changes up to ``noise_minutes``."""
    from wakeword.data.audio_io import SAMPLE_RATE_HZ, load_folder
    from wakeword.data.noise import NOISE_COLORS, coloured_noise
    from wakeword.data.pools import PoolBuilder

    builder = PoolBuilder()
    piece = 10 * SAMPLE_RATE_HZ
    base = shared_dir()
    recorded = 0
    if base is not None and (base / "data" / "noise").is_dir():
        clips, paths = load_folder(base / "data" / "noise")
        for clip, path in zip(clips, paths):
            for start in range(0, clip.size - SAMPLE_RATE_HZ, piece):
                builder.add(clip[start:start + piece], source="noise", detail=path.name,
                            speaker=path.name)
                recorded += clip[start:start + piece].size
    rng = np.random.default_rng([config.seed, 0x401])
    total = int(config.noise_minutes * 60 * SAMPLE_RATE_HZ)
    music = total // 3
    for start in range(0, music, piece):
        builder.add(music_like(min(piece, music - start), rng), source="music",
                    detail="generated-music", speaker="generated-music")
    target = total - music - recorded
    index = 0
    while target > 0:
        color = NOISE_COLORS[index % len(NOISE_COLORS)]
        n = min(piece, target)
        noise = coloured_noise(color, n, rng, level_rms=0.05)
        envelope = np.interp(np.arange(n), np.linspace(0, n, 6),
                             10 ** (rng.uniform(-12, 0, 6) / 20)).astype(np.float32)
        builder.add(noise * envelope, source="noise", detail=f"generated-{color}",
                    speaker=f"generated-{color}")
        target -= n
        index += 1
    return builder.build()


# ------------------------------------------------------------------------------------ build

POOL_NAMES = ("positives", "near_miss", "speech", "noise")


@dataclass(frozen=True, eq=False)
class TrainingData:
    """The pools of one build: ``positives`` (``end`` set), ``near_miss``, ``speech``
    (recorded and synthetic running speech) and ``noise``; each clip has a ``split``."""

    config: BuildConfig
    pools: dict[str, Any]
    build_seconds: float
    cached: bool
    cache_dir: Path
    pool_files: tuple[Path, ...] = ()

    def stats(self) -> dict[str, Any]:
        """Counts, hours and shares by source (see ``wakeword data stats``)."""
        from wakeword.data.audio_io import SAMPLE_RATE_HZ

        pos = self.pools["positives"]
        by_source: dict[str, int] = {}
        for s in pos.source.tolist():
            by_source[s] = by_source.get(s, 0) + 1
        kokoro_voices = [v for v, s in zip(pos.detail.tolist(), pos.source.tolist())
                         if s == "kokoro"]
        base_used = sorted({part.split("*")[0] for v in kokoro_voices for part in v.split("+")})
        neg_hours: dict[str, float] = {}
        neg_val_hours: dict[str, float] = {}
        for name in ("near_miss", "speech", "noise"):
            pool = self.pools[name]
            lengths = pool.lengths
            for src in sorted(set(pool.source.tolist())):
                key = "near_miss" if name == "near_miss" else src
                mask = pool.source == src
                neg_hours[key] = neg_hours.get(key, 0.0) + float(lengths[mask].sum()) / 3600 / SAMPLE_RATE_HZ
                neg_val_hours[key] = neg_val_hours.get(key, 0.0) + float(
                    lengths[mask & (pool.split == "val")].sum()) / 3600 / SAMPLE_RATE_HZ
        speech = self.pools["speech"]
        real = speech.source == "real_speech"
        return {
            "phrase": self.config.norm_phrase,
            "positives": len(pos),
            "positives_by_source": by_source,
            "positives_kokoro_share": by_source.get("kokoro", 0) / max(1, len(pos)),
            "positives_val": int(np.sum(pos.split == "val")),
            "positive_seconds_mean": pos.seconds() / max(1, len(pos)),
            "kokoro_voices_distinct": len(set(kokoro_voices)),
            "kokoro_base_voices_used": len(base_used),
            "espeak_voices_distinct": len({v for v, s in zip(pos.detail.tolist(),
                                                               pos.source.tolist())
                                           if s == "espeak-ng"}),
            "near_miss_clips": len(self.pools["near_miss"]),
            "near_miss_phrases": len({normalize_text(t)
                                      for t in self.pools["near_miss"].text.tolist()}),
            "negative_hours": sum(neg_hours.values()),
            "negative_hours_by_source": neg_hours,
            "negative_val_hours_by_source": neg_val_hours,
            "real_speech_speakers": len(set(speech.speaker[real].tolist())),
            "real_speech_corpora": sorted({d.split(":")[0] for d in speech.detail[real].tolist()}),
        }


def _build_log_path(cache_dir: Path, config: BuildConfig) -> Path:
    key = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / "builds" / f"{config.norm_phrase.replace(' ', '_')}-{key}.json"


def _record(cache_dir: Path, config: BuildConfig, stage: str, seconds: float,
            work: int) -> None:
    """Add a stage's time to the build's log (summed over resumed runs) when it did work."""
    from wakeword.data.pools import write_atomic

    if work <= 0:
        return
    path = _build_log_path(cache_dir, config)
    log: dict[str, Any] = {"config": config.to_dict(), "stages": {}}
    if path.is_file():
        try:
            log = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            logger.warning("%s: unreadable build log; starting a new one", path)
    entry = log["stages"].setdefault(stage, {"seconds": 0.0, "work": 0, "runs": 0})
    entry["seconds"] += seconds
    entry["work"] += work
    entry["runs"] += 1
    write_atomic(path, json.dumps(log, indent=1).encode())


def build_log(cache_dir: str | os.PathLike[str] | None, config: BuildConfig) -> dict[str, Any]:
    """The stage times recorded for ``config``'s build (empty when none)."""
    folder = resolve_cache_dir(cache_dir)
    path = _build_log_path(folder, config)
    candidates = [path] if path.is_file() else sorted(
        (folder / "builds").glob(f"{config.norm_phrase.replace(' ', '_')}-*.json"))
    want = config.to_dict()
    defaults = {f.name: f.default for f in dataclasses.fields(BuildConfig)
                if f.default is not dataclasses.MISSING}
    for candidate in candidates:
        try:
            log = json.loads(candidate.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        # a log written before a field existed matches when that field has its default
        had = log.get("config", {})
        if all(had.get(k, defaults.get(k)) == (list(v) if isinstance(v, tuple) else v)
               for k, v in want.items()):
            return log
    return {}


def build(config: BuildConfig, cache_dir: str | os.PathLike[str] | None = None, *,
          workers: int = 2, cached_only: bool = False) -> TrainingData:
    """Synthesise what is missing, pack (or load) every pool, return the training data.

    Interrupted at any point, it resumes where it stopped: finished syntheses and pools are in
    the cache. ``workers`` synthesis processes run at once (default: both cores).
    ``cached_only`` raises :class:`DataError` instead of synthesising what is missing.
    """
    from wakeword.data.corpus import corpus_signature, find_corpora, read_corpus
    from wakeword.data.pools import Pool, cached_pool
    from wakeword.data.synth_pool import synthesize_to_cache
    from wakeword.data.tts_cache import SynthesisCache

    started = time.monotonic()
    cache_dir = resolve_cache_dir(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{cache_dir}: cannot create the data cache ({exc}); choose another "
                        "place with --cache-dir or WAKEWORD_CACHE_DIR") from exc
    synths = load_synths(config)
    plan = synthesis_plan(config, synths)
    cache = SynthesisCache(cache_dir)
    all_cached = True
    if cached_only:
        missing = sum(not cache.path(r, synths.versions[r.synthesizer]).is_file()
                      for stage in plan.values() for r in stage)
        if missing:
            raise DataError(f"the training data for {config.norm_phrase!r} is not built yet "
                            f"({missing} syntheses missing in {cache_dir}); run `wakeword data "
                            f"build --phrase \"{config.norm_phrase}\"` first")
    for stage in ("positives", "near_miss", "sentences"):
        t0 = time.monotonic()
        try:
            report = synthesize_to_cache(plan[stage], cache, synths.versions,
                                         tts_dir=config.tts_dir, workers=workers,
                                         desc=f"synthesising {stage}")
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM): what was made is cached; its time still counts
            _record(cache_dir, config, f"synthesis:{stage}", time.monotonic() - t0, 1)
            raise
        _record(cache_dir, config, f"synthesis:{stage}", time.monotonic() - t0, report.made)
        all_cached &= report.made == 0
        if stage == "positives" and report.failed and \
                len(report.failed) > 0.5 * max(1, len(plan[stage])):
            raise DataError(f"data.phrase {config.phrase!r}: {len(report.failed)} of "
                            f"{len(plan[stage])} positives could not be spoken (first: "
                            f"{report.failed[0][1]}); spell the phrase in plain English words")

    versions = synths.versions
    pools: dict[str, Any] = {}
    pool_files: list[Path] = []

    def tts_recipe(stage: str) -> dict[str, object]:
        keys = hashlib.sha256("\n".join(cache.key(r, versions[r.synthesizer])
                                        for r in plan[stage]).encode()).hexdigest()
        return {"engine": ENGINE_VERSION, "stage": stage, "requests": keys,
                "val": SPLIT_VAL_FRACTION_TTS, "codec_share": config.codec_share}

    def timed(name: str, recipe: dict[str, object], make: Any) -> Any:
        t0 = time.monotonic()
        pool, was_cached, path = cached_pool(cache_dir, name, recipe, make)
        pool_files.append(path)
        _record(cache_dir, config, f"pool:{name}", time.monotonic() - t0, 0 if was_cached else 1)
        nonlocal all_cached
        all_cached &= was_cached
        return pool

    pools["positives"] = timed("positives", tts_recipe("positives"),
                               lambda: _tts_pool(plan["positives"], cache, versions, "positives",
                                                 codec_share=config.codec_share))
    if not len(pools["positives"]):
        raise DataError(f"data.phrase {config.phrase!r}: no positive clip could be made; check "
                        "the phrase spelling and the synthesizers")
    if config.positive_dirs:
        from wakeword.data.corpus import find_corpus

        user = [find_corpus(folder) for folder in config.positive_dirs]
        recipe = {"engine": ENGINE_VERSION, "user": [corpus_signature(c) for c in user]}
        pools["positives"] = Pool.concat([pools["positives"], timed(
            "user-positives", recipe, lambda: _user_positive_pool(user))])
    pools["near_miss"] = timed("near_miss", tts_recipe("near_miss"),
                               lambda: _tts_pool(plan["near_miss"], cache, versions, "near misses",
                                                 codec_share=config.codec_share))
    sentences = timed("sentences", tts_recipe("sentences"),
                      lambda: _tts_pool(plan["sentences"], cache, versions, "sentences",
                                        post_s=0.3, codec_share=config.codec_share))
    sentences = Pool(audio=sentences.audio, offsets=sentences.offsets, end=sentences.end,
                     source=np.array([f"{s.replace('-ng', '')}_speech"
                                      for s in sentences.source.tolist()],
                                     dtype=str),
                     detail=sentences.detail, text=sentences.text, speaker=sentences.speaker,
                     split=sentences.split)
    speech_parts = [sentences]
    if config.real_speech or config.speech_dirs:
        corpora = find_corpora(config.speech_dirs, shared=config.real_speech)
        for corpus in corpora:
            recipe = {"engine": ENGINE_VERSION, "corpus": corpus_signature(corpus),
                      "val": config.val_speaker_fraction}
            speech_parts.append(timed(f"corpus-{corpus.name}", recipe,
                                      lambda c=corpus: read_corpus(
                                          c, val_fraction=config.val_speaker_fraction)))
    pools["speech"] = Pool.concat(speech_parts)
    pools["noise"] = timed("noise", {"engine": ENGINE_VERSION, "music": 1,
                                     "minutes": config.noise_minutes,
                                     "seed": config.seed,
                                     "shared": str(shared_dir())}, lambda: _noise_pool(config))
    data = TrainingData(config=config, pools=pools, build_seconds=time.monotonic() - started,
                        cached=all_cached, cache_dir=cache_dir, pool_files=tuple(pool_files))
    logger.info("training data for %r: %d positives, %.1f h of negatives, %.1f s%s",
                config.norm_phrase, len(pools["positives"]), data.stats()["negative_hours"],
                data.build_seconds, " (all from the cache)" if all_cached else "")
    return data
