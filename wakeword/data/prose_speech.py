"""Continuous synthetic prose: long streams of running speech for threshold calibration.

False accepts on real streams come mostly from long, continuous speech (read prose, recorded
prompts), which a bank of 1-2 s clips does not hold: a threshold calibrated on short clips alone
fires several times an hour on running speech. This module builds minutes-long streams of
espeak-ng speech reading English prose, sentence after sentence with short pauses, a new voice,
speed and pitch for each sentence.

The text is the prose of Python's own reference documentation (``pydoc_data.topics``, part of
every CPython install): varied, real English sentences that no training recipe and no benchmark
of this project uses (the training speech is :mod:`wakeword.data.speech_text`; the benchmark
negatives read Debian licence texts). Sentences that contain the phrase are left out.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wakeword.data.audio_io import SAMPLE_RATE_HZ
from wakeword.data.negatives import contains_phrase
from wakeword.errors import DataError
from wakeword.eval.atomic import write_bytes_atomic

log = logging.getLogger(__name__)

__all__ = ["prose_sentences", "prose_streams"]

_RECIPE_VERSION = 1  # bump when the stream recipe changes
_CODE_LIKE = re.compile(r"[0-9@<>/\\_=#|\[\]{}()*`'\"~^$%&+;:]|http|www|\.\.\.")


def prose_sentences(exclude: Sequence[str] = ()) -> list[str]:
    """Sentences of Python's reference documentation: 6-30 words, starting with a capital,
    ending with a full stop, nothing that reads like code; none containing a phrase of
    ``exclude``. About 650 sentences, 9,000 words (an hour of speech)."""
    from pydoc_data.topics import topics

    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", "\n\n".join(topics.values())):
        text = " ".join(paragraph.split())
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            words = sentence.split()
            if not 6 <= len(words) <= 30 or not sentence[0].isupper() \
                    or not sentence.endswith(".") or _CODE_LIKE.search(sentence):
                continue
            if any(contains_phrase(sentence, phrase, ignore_spaces=False) for phrase in exclude):
                continue
            out.append(sentence)
    return list(dict.fromkeys(out))


def prose_streams(minutes: float, *, exclude: Sequence[str] = (), seed: int = 0,
                  stream_minutes: float = 5.0, synthesizer: object | None = None,
                  cache_dir: str | os.PathLike[str] | None = None) -> list[np.ndarray]:
    """About ``minutes`` of running espeak-ng speech as float32 streams at 16 kHz, each about
    ``stream_minutes`` long: sentences of :func:`prose_sentences` (without ``exclude``'s
    phrases) in a seeded order, 0.15-0.6 s of silence between them, a random English voice,
    speed 0.85-1.25 and pitch -3..+3 semitones per sentence, peak level -20..-3 dBFS per
    sentence. Deterministic for a given seed and espeak-ng version; with ``cache_dir`` the
    streams are stored there (``prose-<recipe hash>.npz``, written atomically) and reused."""
    from wakeword.data.tts import EspeakSynthesizer

    if not minutes > 0:
        raise DataError(f"prose_streams: minutes is {minutes}; ask for a positive duration")
    synth = synthesizer if synthesizer is not None else EspeakSynthesizer()
    if cache_dir is None:
        return _synthesize(synth, minutes, exclude, seed, stream_minutes)
    recipe = json.dumps({"minutes": minutes, "exclude": sorted(exclude), "seed": seed,
                         "stream_minutes": stream_minutes, "version": _RECIPE_VERSION,
                         "synthesizer": getattr(synth, "version", type(synth).__name__)},
                        sort_keys=True)
    path = Path(cache_dir) / f"prose-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}.npz"
    if path.is_file():
        try:
            with np.load(path) as data:
                return [data[f"s{i}"] for i in range(len(data.files))]
        except (OSError, ValueError, KeyError) as exc:
            log.warning("%s: unreadable prose cache (%s); synthesising again", path, exc)
    streams = _synthesize(synth, minutes, exclude, seed, stream_minutes)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"s{i}": s for i, s in enumerate(streams)})
    write_bytes_atomic(path, buffer.getvalue())
    return streams


def _synthesize(synth: object, minutes: float, exclude: Sequence[str], seed: int,
                stream_minutes: float) -> list[np.ndarray]:
    from wakeword.progress import progress

    sentences = prose_sentences(exclude)
    if not sentences:
        raise DataError("prose_streams: no usable sentence in pydoc_data.topics; this Python "
                        "install lacks its documentation topics")
    voices = synth.voices()  # type: ignore[attr-defined]
    rng = np.random.default_rng([seed, 0x9705E])
    order = rng.permutation(len(sentences))
    target = int(minutes * 60 * SAMPLE_RATE_HZ)
    per_stream = int(stream_minutes * 60 * SAMPLE_RATE_HZ)
    streams: list[np.ndarray] = []
    current: list[np.ndarray] = []
    current_n = total = 0
    i = 0
    for i in progress(itertools.count(1), desc="prose sentences for calibration"):
        if total >= target:
            break
        text = sentences[int(order[(i - 1) % len(order)])]
        voice = voices[int(rng.integers(len(voices)))]
        audio = np.asarray(synth.synthesize(  # type: ignore[attr-defined]
            text, voice=voice, speed=round(float(rng.uniform(0.85, 1.25)), 2),
            pitch=round(float(rng.uniform(-3, 3)), 1)), dtype=np.float32)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 0:
            audio = audio * np.float32(10 ** (rng.uniform(-20, -3) / 20) / peak)
        gap = np.zeros(int(rng.uniform(0.15, 0.6) * SAMPLE_RATE_HZ), np.float32)
        current += [audio, gap]
        added = audio.size + gap.size
        current_n += added
        total += added
        if current_n >= per_stream or total >= target:
            streams.append(np.concatenate(current))
            current, current_n = [], 0
    log.info("prose streams: %d x ~%.1f min, %.1f min in all, %d sentences (%d distinct), %d "
             "voices", len(streams), stream_minutes, total / SAMPLE_RATE_HZ / 60, i - 1,
             min(i - 1, len(sentences)), len(voices))
    return streams
