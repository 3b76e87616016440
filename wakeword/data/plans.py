"""What to synthesise: seeded lists of :class:`SynthesisRequest` for positives, near misses
and running speech.

Kokoro requests draw a speaker for every clip: one of the 28 English voices, or (most of the
time) a point between two of them, their style vectors mixed at a random weight, as the peers
interpolate speaker embeddings. Speeds are drawn in ``speed_range`` (0.7-1.3 by default) and a
small pitch shift by resampling, which also moves the formants like a longer or shorter vocal
tract. espeak-ng requests draw an accent and variant.

Every request is drawn from a generator seeded by the plan's seed, the text and how many times
that text came before, so a plan is deterministic and adding or dropping one text (say, a near
miss found to be a homophone) leaves every other request, and its cache entry, unchanged.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from wakeword.data.tts import blend
from wakeword.data.tts_cache import SynthesisRequest

__all__ = ["kokoro_voice", "plan_requests"]

_PUNCTUATION = ("", "", ".", "!", "?", ",")


def kokoro_voice(rng: np.random.Generator, base_voices: Sequence[str],
                 *, blend_probability: float = 0.75) -> str:
    """A base voice, or with ``blend_probability`` a blend of two at a weight in 0.15-0.85."""
    if len(base_voices) >= 2 and rng.random() < blend_probability:
        a, b = rng.choice(len(base_voices), size=2, replace=False)
        weight = round(float(rng.uniform(0.15, 0.85)), 2)
        return blend(base_voices[int(a)], base_voices[int(b)], weight)
    return base_voices[int(rng.integers(len(base_voices)))]


def _text_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")


def plan_requests(texts: Sequence[str], *, kokoro_share: float, seed: Sequence[int],
                  kokoro_voices: Sequence[str] | None, espeak_voices: Sequence[str],
                  speed_range: tuple[float, float] = (0.7, 1.3),
                  kokoro_pitch: tuple[float, float] = (-1.5, 1.5),
                  espeak_pitch: tuple[float, float] = (-4.0, 4.0),
                  punctuate: bool = False) -> list[SynthesisRequest]:
    """One request per text: Kokoro with probability ``kokoro_share`` when ``kokoro_voices``
    is given, else espeak-ng. ``punctuate`` adds a random final mark for varied intonation."""
    seen: Counter[str] = Counter()
    out = []
    for text in texts:
        rng = np.random.default_rng([*seed, _text_seed(text), seen[text]])
        seen[text] += 1
        kokoro = bool(kokoro_voices) and rng.random() < kokoro_share
        if punctuate:
            text = text + _PUNCTUATION[int(rng.integers(len(_PUNCTUATION)))]
        speed = round(float(rng.uniform(*speed_range)), 2)
        if kokoro:
            voice = kokoro_voice(rng, kokoro_voices or ())
            pitch = round(float(rng.uniform(*kokoro_pitch)), 1)
            synth = "kokoro"
        else:
            voice = espeak_voices[int(rng.integers(len(espeak_voices)))]
            pitch = round(float(rng.uniform(*espeak_pitch)), 1)
            synth = "espeak-ng"
        out.append(SynthesisRequest(text=text, voice=voice, speed=speed, pitch=pitch,
                                    synthesizer=synth))
    return out
