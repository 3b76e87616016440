"""Build a labelled, augmented set of fixed-length clips for one wake phrase, from its text.

``build_dataset(DataConfig(phrase="computer"), cache_dir)`` returns a :class:`ClipSet`:

- ``tts_pos`` (label 1): the phrase spoken by Kokoro (a bounded number of clips, natural
  voices and blends) and espeak-ng (the bulk: 8 accents x ~50 variants), at random speeds and
  pitches, with varied punctuation for varied intonation;
- ``user_pos`` (label 1): the user's own recordings of the phrase, each used
  ``user_positive_copies`` times;
- ``near_miss`` (label 0): phrases that sound close (:func:`near_miss_phrases`);
- ``speech`` (label 0): short everyday words and sentences (:func:`speech_phrases`);
- ``noise`` (label 0): recorded or coloured noise, and near-silence;
- ``user_neg`` (label 0): windows of the user's background recordings.

Every spoken keyword (and near miss, and half of the short speech) ENDS at a random point in
the last part of the clip (``keyword_end_range``, 60-98 % of the clip by default): the model
scores every 80-ms step and takes the maximum, so it must fire at the end of the phrase.
Speech is trimmed of silence first (energy-based), optionally preceded by other speech
(``context_probability``), then each clip is augmented (reverb, noise at an SNR, level).

Kokoro's share is the same for positives, near misses and speech, so the synthesizer's voice
never tells the label. Raw synthesis is cached in ``cache_dir`` by content hash; the rest is
seeded, so the same config and cache give the same ClipSet, bit for bit.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ, load_folder
from wakeword.data.augment import Augmenter, RirBank
from wakeword.data.negatives import (
    background_clip,
    near_miss_phrases,
    normalize_text,
    speech_phrases,
)
from wakeword.data.noise import NoiseBank, rms
from wakeword.data.placement import place_at_end, random_window, trim_silence
from wakeword.data.tts import (
    PITCH_RANGE_SEMITONES,
    SPEED_RANGE,
    EspeakSynthesizer,
    KokoroSynthesizer,
    Synthesizer,
    resolve_kokoro_dir,
)
from wakeword.data.tts_cache import SynthesisCache, SynthesisRequest
from wakeword.errors import ConfigError, DataError
from wakeword.paths import shared_dir
from wakeword.progress import progress

__all__ = ["KINDS", "POSITIVE_KINDS", "ClipSet", "DataConfig", "build_dataset"]

logger = logging.getLogger(__name__)

KINDS = ("tts_pos", "user_pos", "near_miss", "speech", "noise", "user_neg", "recorded_speech")
POSITIVE_KINDS = ("tts_pos", "user_pos")
_PUNCTUATION = ("", "", ".", "!", "?", ",")  # plain text twice as often as each mark


def _range(name: str, value: Any, low: float, high: float) -> tuple[float, float]:
    if (not isinstance(value, tuple) or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"data.{name} is {value!r}; use a (low, high) pair of numbers")
    lo, hi = float(value[0]), float(value[1])
    if not low <= lo <= hi <= high:
        raise ConfigError(f"data.{name} is {value!r}; use low <= high within [{low}, {high}]")
    return lo, hi


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """What to synthesise and how to augment it. Derived values are properties.

    Fields:
        phrase: the wake phrase, as text ("hey computer").
        n_positives / n_negatives: synthesised positive clips / negative clips (user
            recordings come on top).
        clip_s: clip length in seconds.
        near_miss_fraction / speech_fraction: shares of ``n_negatives`` that are near misses
            and everyday speech; the rest is noise and near-silence.
        speed_range: speaking-rate multipliers; pitch_range_semitones: pitch shifts.
        snr_db_range: SNR of added noise; noise_probability: chance a clip gets noise.
        reverb_probability: chance a clip is convolved with a simulated room.
        peak_db_range: final peak level of a clip in dBFS.
        keyword_end_range: where, as a fraction of the clip, spoken keywords end.
        context_probability: chance a keyword or near miss is preceded by other speech.
        max_kokoro_clips: Kokoro clips at most (0 = espeak-ng only). Kokoro makes about two
            clips a second on 2 cores, espeak-ng tens.
        tts_dir: Kokoro folder (None: $WAKEWORD_TTS_DIR, else ../shared/tts/kokoro).
        use_recorded_noise / noise_dir: mix in recorded noise from ``noise_dir`` (None:
            ../shared/data/noise when present) besides generated white/pink/brown noise.
        n_rooms: simulated rooms for reverb.
        user_positive_dirs / user_negative_dirs: folders of the user's recordings (any rate).
        user_positive_copies: augmented copies of each user positive recording.
        recorded_speech: add real recorded speech from Debian packages as negatives (the
            training split of :func:`wakeword.data.recorded_speech.recorded_speech_folders`;
            ``klettres-data``, ``hedgewars-data``), one clip per recording.
        seed: every random choice of the build.
    """

    phrase: str
    n_positives: int = 2000
    n_negatives: int = 4000
    clip_s: float = 2.0
    near_miss_fraction: float = 0.35
    speech_fraction: float = 0.45
    speed_range: tuple[float, float] = (0.8, 1.25)
    pitch_range_semitones: tuple[float, float] = (-3.0, 3.0)
    snr_db_range: tuple[float, float] = (0.0, 25.0)
    noise_probability: float = 0.85
    reverb_probability: float = 0.5
    peak_db_range: tuple[float, float] = (-30.0, -1.0)
    keyword_end_range: tuple[float, float] = (0.6, 0.98)
    context_probability: float = 0.25
    max_kokoro_clips: int = 1500
    tts_dir: str | None = None
    use_recorded_noise: bool = True
    noise_dir: str | None = None
    n_rooms: int = 24
    user_positive_dirs: tuple[str, ...] = ()
    user_negative_dirs: tuple[str, ...] = ()
    user_positive_copies: int = 10
    recorded_speech: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.phrase, str) or not normalize_text(self.phrase):
            raise ConfigError(f"data.phrase is {self.phrase!r}; give the wake phrase as words, "
                              "e.g. 'hey computer'")
        for name in ("n_positives", "n_negatives", "max_kokoro_clips", "user_positive_copies",
                     "n_rooms", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"data.{name} is {value!r}; use a whole number >= 0")
        if self.n_positives < 1 and not self.user_positive_dirs:
            raise ConfigError("data.n_positives is 0 and there are no user_positive_dirs; "
                              "ask for at least one positive clip")
        if self.n_rooms < 1:
            raise ConfigError("data.n_rooms is 0; use at least 1 (reverb_probability=0 "
                              "turns reverb off)")
        if (not isinstance(self.clip_s, (int, float)) or isinstance(self.clip_s, bool)
                or not 1.0 <= self.clip_s <= 10.0):
            raise ConfigError(f"data.clip_s is {self.clip_s!r}; use seconds in [1, 10] "
                              "(default 2.0)")
        for name in ("near_miss_fraction", "speech_fraction", "noise_probability",
                     "reverb_probability", "context_probability"):
            value = getattr(self, name)
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not 0.0 <= value <= 1.0):
                raise ConfigError(f"data.{name} is {value!r}; use a value in [0, 1]")
        if self.near_miss_fraction + self.speech_fraction > 1.0 + 1e-9:
            raise ConfigError(
                f"data.near_miss_fraction ({self.near_miss_fraction}) + speech_fraction "
                f"({self.speech_fraction}) is above 1; the rest of n_negatives is noise")
        _range("speed_range", self.speed_range, *SPEED_RANGE)
        _range("pitch_range_semitones", self.pitch_range_semitones, *PITCH_RANGE_SEMITONES)
        _range("snr_db_range", self.snr_db_range, -20.0, 80.0)
        _range("peak_db_range", self.peak_db_range, -80.0, 0.0)
        _range("keyword_end_range", self.keyword_end_range, 0.05, 1.0)
        for name in ("tts_dir", "noise_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"data.{name} is {value!r}; use a folder path string or None")
        for name in ("use_recorded_noise", "recorded_speech"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"data.{name} is {getattr(self, name)!r}; use true or false")
        for name in ("user_positive_dirs", "user_negative_dirs"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"data.{name} is {value!r}; use a list of folder paths")

    @property
    def clip_samples(self) -> int:
        """Samples per clip at 16 kHz."""
        return round(self.clip_s * SAMPLE_RATE_HZ)

    @property
    def sample_rate_hz(self) -> int:
        return SAMPLE_RATE_HZ

    @property
    def n_near_miss(self) -> int:
        return round(self.n_negatives * self.near_miss_fraction)

    @property
    def n_speech(self) -> int:
        return min(self.n_negatives - self.n_near_miss,
                   round(self.n_negatives * self.speech_fraction))

    @property
    def n_noise(self) -> int:
        return self.n_negatives - self.n_near_miss - self.n_speech

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataConfig:
        """Strict inverse of :meth:`to_dict`: every field must be present, no other key."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown or missing:
            raise ConfigError(f"data config: unknown keys {unknown}, missing keys {missing}; "
                              f"the keys are {names}")
        hints = typing.get_type_hints(cls)
        values = {}
        for name in names:
            value = data[name]
            hint = hints[name]
            if isinstance(value, list) and _is_tuple_hint(hint):
                value = tuple(value)
            values[name] = value
        return cls(**values)


def _is_tuple_hint(hint: Any) -> bool:
    """``tuple[...]`` or an optional one: JSON lists load back as tuples for these fields."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(typing.get_origin(a) is tuple for a in typing.get_args(hint))
    return False


@dataclass(frozen=True, kw_only=True, eq=False)
class ClipSet:
    """Fixed-length clips and their labels; rows of every array line up.

    Attributes:
        audio: float32 ``[n, clip_samples]`` at 16 kHz, in [-1, 1].
        labels: int64 ``[n]``: 1 = the wake phrase, 0 = background.
        kinds: str ``[n]``: one of :data:`KINDS`.
        texts: str ``[n]``: what was said ("" for noise; the file name for user recordings).
        sources: str ``[n]``: "espeak-ng:<voice>", "kokoro:<voice>", "file:<path>", "noise:..."
        groups: int64 ``[n]``: clips made from the same recording or synthesis share a group;
            :meth:`split` never puts one group on both sides.
    """

    audio: np.ndarray
    labels: np.ndarray
    kinds: np.ndarray
    texts: np.ndarray
    sources: np.ndarray
    groups: np.ndarray
    sample_rate_hz: int = field(default=SAMPLE_RATE_HZ)

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.audio.ndim != 2 or self.audio.shape[0] != n or self.audio.dtype != np.float32:
            raise DataError(f"ClipSet: audio must be float32 [n, samples] with n = {n} labels, "
                            f"got {self.audio.dtype} {self.audio.shape}")
        if self.labels.dtype != np.int64:
            raise DataError(f"ClipSet: labels must be int64, got {self.labels.dtype}")
        for name in ("kinds", "texts", "sources", "groups"):
            if len(getattr(self, name)) != n:
                raise DataError(f"ClipSet: {name} has {len(getattr(self, name))} rows, "
                                f"expected {n}")
        bad = sorted(set(self.kinds.tolist()) - set(KINDS))
        if bad:
            raise DataError(f"ClipSet: unknown kinds {bad}; use {list(KINDS)}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def clip_samples(self) -> int:
        return int(self.audio.shape[1])

    def counts(self) -> dict[str, int]:
        """Clips per kind."""
        return {k: int(np.sum(self.kinds == k)) for k in KINDS if np.any(self.kinds == k)}

    def subset(self, indices: np.ndarray | list[int]) -> ClipSet:
        """The clips at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        return ClipSet(audio=self.audio[idx], labels=self.labels[idx], kinds=self.kinds[idx],
                       texts=self.texts[idx], sources=self.sources[idx],
                       groups=self.groups[idx], sample_rate_hz=self.sample_rate_hz)

    def split(self, val_fraction: float, seed: int) -> tuple[ClipSet, ClipSet]:
        """``(train, validation)``: about ``val_fraction`` of each kind's groups go to
        validation (at least one when a kind has two or more groups), chosen by ``seed``.
        Clips of one group (e.g. copies of one user recording) stay on one side."""
        if not 0.0 <= val_fraction < 1.0:
            raise ConfigError(f"ClipSet.split: val_fraction is {val_fraction}; use [0, 1)")
        val_mask = np.zeros(len(self), dtype=bool)
        for kind_index, kind in enumerate(KINDS):
            members = np.flatnonzero(self.kinds == kind)
            if members.size == 0:
                continue
            groups = np.unique(self.groups[members])
            rng = np.random.default_rng([seed, kind_index])
            n_val = round(val_fraction * groups.size)
            if val_fraction > 0.0 and groups.size >= 2:
                n_val = min(max(n_val, 1), groups.size - 1)
            chosen = rng.permutation(groups)[:n_val]
            val_mask[members[np.isin(self.groups[members], chosen)]] = True
        return self.subset(np.flatnonzero(~val_mask)), self.subset(np.flatnonzero(val_mask))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to an ``.npz`` file (atomically); :meth:`load` reads it back."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, audio=self.audio, labels=self.labels, kinds=self.kinds.astype(str),
                 texts=self.texts.astype(str), sources=self.sources.astype(str),
                 groups=self.groups, sample_rate_hz=np.int64(self.sample_rate_hz))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ClipSet:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(audio=data["audio"], labels=data["labels"], kinds=data["kinds"],
                           texts=data["texts"], sources=data["sources"],
                           groups=data["groups"], sample_rate_hz=int(data["sample_rate_hz"]))
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{path}: not a ClipSet file ({exc}); rebuild it with "
                            "build_dataset(...).save(path)") from exc


# ------------------------------------------------------------------------------------- build


@dataclass
class _Item:
    """One clip being assembled."""

    kind: str
    text: str = ""
    source: str = ""
    group: int = 0
    audio: np.ndarray | None = None  # speech or recording audio (not yet placed)
    placement: str = "end"  # "end", "random", "window", "noise", "silence"


def _synthesizers(config: DataConfig) -> tuple[EspeakSynthesizer, KokoroSynthesizer | None]:
    espeak = EspeakSynthesizer()
    if config.max_kokoro_clips == 0:
        return espeak, None
    folder = resolve_kokoro_dir(config.tts_dir)
    try:
        return espeak, KokoroSynthesizer(tts_dir=folder)
    except DataError as exc:
        if config.tts_dir is not None:
            raise
        logger.info("Kokoro is not used (%s); espeak-ng makes every clip", exc)
        return espeak, None


def _noise_folder(config: DataConfig) -> Path | None:
    if not config.use_recorded_noise:
        return None
    if config.noise_dir is not None:
        return Path(config.noise_dir)
    base = shared_dir()
    if base is not None and (base / "data" / "noise").is_dir():
        return base / "data" / "noise"
    logger.info("no recorded noise folder found; using generated noise only")
    return None


def _plan_requests(texts: list[str], *, use_kokoro: np.ndarray, espeak: Synthesizer,
                   kokoro: Synthesizer | None, config: DataConfig,
                   rng: np.random.Generator) -> list[SynthesisRequest]:
    espeak_voices, kokoro_voices = espeak.voices(), kokoro.voices() if kokoro else []
    requests = []
    for text, kokoro_turn in zip(texts, use_kokoro):
        synth = kokoro if (kokoro_turn and kokoro is not None) else espeak
        voices = kokoro_voices if synth is kokoro else espeak_voices
        requests.append(SynthesisRequest(
            text=text,
            voice=voices[int(rng.integers(len(voices)))],
            speed=round(float(rng.uniform(*config.speed_range)), 2),
            pitch=round(float(rng.uniform(*config.pitch_range_semitones)), 1),
            synthesizer=synth.name,
        ))
    return requests


def _with_punctuation(text: str, rng: np.random.Generator) -> str:
    return text + _PUNCTUATION[int(rng.integers(len(_PUNCTUATION)))]


def _kokoro_mask(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: math.floor(fraction * n)]] = True
    return mask


def build_dataset(config: DataConfig, cache_dir: str | os.PathLike[str], *,
                  workers: int = 2) -> ClipSet:
    """Synthesise (through the cache in ``cache_dir``), place and augment every clip.

    ``workers`` is how many espeak-ng processes run at once; it does not change the result.
    Raises :class:`DataError` if espeak-ng is missing or a user folder is unusable.
    """
    started = time.monotonic()
    cache_dir = Path(cache_dir)
    n_samples = config.clip_samples
    seed = config.seed
    espeak, kokoro = _synthesizers(config)

    # 1. Texts.
    text_rng = np.random.default_rng([seed, 1])
    near_pool = near_miss_phrases(config.phrase, seed=seed, phonemize=espeak.phonemes) \
        if config.n_near_miss else []
    if config.n_near_miss and not near_pool:
        raise DataError(f"data.phrase {config.phrase!r}: no near misses could be made; use a "
                        "longer phrase or set near_miss_fraction to 0")
    positive_texts = [_with_punctuation(normalize_text(config.phrase), text_rng)
                      for _ in range(config.n_positives)]
    near_texts = [_with_punctuation(near_pool[i % len(near_pool)], text_rng)
                  for i in range(config.n_near_miss)]
    speech_texts = speech_phrases(config.n_speech, seed=seed, exclude=config.phrase)

    # 2. Synthesis requests: the same Kokoro share for every kind of spoken clip.
    n_spoken = len(positive_texts) + len(near_texts) + len(speech_texts)
    fraction = min(1.0, config.max_kokoro_clips / n_spoken) if (kokoro and n_spoken) else 0.0
    plan_rng = np.random.default_rng([seed, 2])
    requests: list[SynthesisRequest] = []
    items: list[_Item] = []
    for kind, texts in (("tts_pos", positive_texts), ("near_miss", near_texts),
                        ("speech", speech_texts)):
        mask = _kokoro_mask(len(texts), fraction, plan_rng)
        planned = _plan_requests(texts, use_kokoro=mask, espeak=espeak, kokoro=kokoro,
                                 config=config, rng=plan_rng)
        for request in planned:
            items.append(_Item(kind=kind, text=request.text,
                               source=f"{request.synthesizer}:{request.voice}"))
            requests.append(request)
    synths: dict[str, Synthesizer] = {espeak.name: espeak}
    if kokoro is not None:
        synths[kokoro.name] = kokoro
    raw, n_new = SynthesisCache(cache_dir).synthesize(requests, synths, workers=workers)
    spoken = [trim_silence(a) for a in raw]
    for index, item in enumerate(items):
        item.audio = spoken[index]  # items and requests were made in step
        item.group = index
        if item.audio.size == 0:
            if item.kind == "tts_pos":
                raise DataError(f"{item.source} produced silence for {item.text!r}; check "
                                "the phrase spelling or remove that voice")
            item.placement = "silence"
    speech_items = [it for it in items if it.kind == "speech"]
    for index, item in enumerate(speech_items):
        # Half of the speech that fits ends where keywords end, the rest anywhere; longer
        # speech is cut to a random window.
        if item.audio is not None and item.audio.size >= n_samples * config.keyword_end_range[0]:
            item.placement = "window"
        elif index % 2:
            item.placement = "random"
    context_pool = [it.audio for it in speech_items
                    if it.audio is not None and it.audio.size > 0]

    # 3. Noise and near-silence.
    next_group = len(requests)
    for index in range(config.n_noise):
        items.append(_Item(kind="noise", placement="silence" if index % 4 == 0 else "noise",
                           group=next_group))
        next_group += 1

    # 4. The user's recordings.
    skipped: list[str] = []
    for folder in config.user_positive_dirs:
        clips, paths = load_folder(folder)
        for clip, path in zip(clips, paths):
            trimmed = trim_silence(clip)
            if trimmed.size == 0:
                skipped.append(str(path))
                continue
            if trimmed.size > n_samples * config.keyword_end_range[1]:
                logger.warning("%s: %.2f s of speech after trimming is longer than the part of "
                               "the clip before the keyword end; its start is cut off",
                               path, trimmed.size / SAMPLE_RATE_HZ)
            for _ in range(config.user_positive_copies):
                items.append(_Item(kind="user_pos", text=path.name, source=f"file:{path}",
                                   group=next_group, audio=trimmed))
            next_group += 1
    if skipped:
        logger.warning("skipped %d silent user recording(s): %s", len(skipped),
                       "; ".join(skipped))
    for folder in config.user_negative_dirs:
        clips, paths = load_folder(folder)
        for clip, path in zip(clips, paths):
            n_windows = max(1, clip.size // n_samples)
            for w in range(n_windows):
                piece = clip[w * n_samples: (w + 1) * n_samples] if n_windows > 1 else clip
                items.append(_Item(kind="user_neg", text=path.name,
                                   source=f"file:{path}#{w}", group=next_group, audio=piece,
                                   placement="random"))
            next_group += 1

    if config.recorded_speech:
        from wakeword.data.recorded_speech import recorded_speech_folders

        for folder in recorded_speech_folders("train"):
            clips, paths = load_folder(folder)
            for clip, path in zip(clips, paths):
                items.append(_Item(kind="recorded_speech", text=path.name,
                                   source=f"file:{path}", group=next_group, audio=clip,
                                   placement="random"))
                next_group += 1

    # 5. Place and augment, each clip with its own generator.
    noise_bank = NoiseBank.from_folder(_noise_folder(config))
    rir_bank = RirBank(seed=seed, n_rooms=config.n_rooms, cache_dir=cache_dir)
    augmenter = Augmenter(noise_bank=noise_bank,
                          rir_bank=rir_bank if config.reverb_probability > 0 else None,
                          snr_db_range=config.snr_db_range,
                          noise_probability=config.noise_probability,
                          reverb_probability=config.reverb_probability,
                          peak_db_range=config.peak_db_range)
    audio = np.zeros((len(items), n_samples), dtype=np.float32)
    for index, item in progress(enumerate(items), desc="placing and augmenting clips",
                                total=len(items)):
        rng = np.random.default_rng([seed, 3, index])
        audio[index] = _render(item, config, rng, noise_bank, augmenter, context_pool)

    labels = np.array([1 if it.kind in POSITIVE_KINDS else 0 for it in items], dtype=np.int64)
    clip_set = ClipSet(audio=audio, labels=labels,
                       kinds=np.array([it.kind for it in items], dtype=str),
                       texts=np.array([it.text for it in items], dtype=str),
                       sources=np.array([it.source or f"noise:{it.placement}" for it in items],
                                        dtype=str),
                       groups=np.array([it.group for it in items], dtype=np.int64))
    logger.info("dataset for %r: %d clips %s; %d synthesised now, %d from the cache; "
                "Kokoro share %.0f %%; %.1f s", config.phrase, len(clip_set), clip_set.counts(),
                n_new, len(requests) - n_new, 100 * fraction, time.monotonic() - started)
    return clip_set


def _render(item: _Item, config: DataConfig, rng: np.random.Generator, noise_bank: NoiseBank,
            augmenter: Augmenter, context_pool: list[np.ndarray]) -> np.ndarray:
    """One placed, augmented clip."""
    n_samples = config.clip_samples
    if item.placement == "silence":
        return background_clip(n_samples, rng, noise_bank=noise_bank, silence=True)
    if item.placement == "noise":
        clip = background_clip(n_samples, rng, noise_bank=noise_bank, silence=False)
    else:
        if item.audio is None:
            raise DataError(f"internal: clip of kind {item.kind} has no audio")
        if item.placement == "end":
            low, high = config.keyword_end_range
            end = round(rng.uniform(low, high) * n_samples)
            clip = place_at_end(item.audio, n_samples, max(end, 1))
            start = end - min(item.audio.size, end)
            if context_pool and rng.random() < config.context_probability:
                gap = int(rng.uniform(0.05, 0.3) * SAMPLE_RATE_HZ)
                context_end = start - gap
                if context_end > SAMPLE_RATE_HZ // 4:
                    context = context_pool[int(rng.integers(len(context_pool)))]
                    context = context * np.float32(
                        rms(item.audio) / max(rms(context), 1e-6) * 10 ** (rng.uniform(-6, 3) / 20))
                    clip[:context_end] += place_at_end(context, context_end, context_end)
        else:
            clip = random_window(item.audio, n_samples, rng)
    return augmenter.augment(clip, rng)
