"""Texts for negative clips: near misses of the wake phrase and everyday speech.

:func:`near_miss_phrases` builds phrases that sound close to the wake phrase from spelling
rules, so that a model learns the exact phrase rather than its outline. For "computer":

- parts of the phrase: syllable prefixes and suffixes ("com", "compu", "comput", "puter");
- other word endings: "compute", "computing", "computed";
- one consonant or vowel changed: "combuter", "compuser", "camputer", "compiter";
- a consonant dropped from a cluster: "commuter";
- the first and last syllables fused: "copper";
- a new first consonant: "bomputer";
- split into words and re-spelled: "come pewter";
- for phrases of several words: each word alone, the words swapped, one word changed.

A candidate is never the phrase and never contains it (spaces ignored). With a ``phonemize``
callable (e.g. :meth:`wakeword.data.tts.EspeakSynthesizer.phonemes`) candidates that are
pronounced like the phrase ("computor") are dropped too. The result is deterministic given
the seed.

:func:`speech_phrases` draws background speech from the built-in word and sentence lists, and
:func:`background_clip` makes the clips without speech (noise, near-silence).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence

import numpy as np

from wakeword.data.noise import NoiseBank
from wakeword.data.speech_text import SENTENCES, SHORT_WORDS
from wakeword.errors import ConfigError

__all__ = [
    "background_clip",
    "contains_phrase",
    "near_miss_phrases",
    "normalize_text",
    "speech_phrases",
    "syllables",
]

_VOWELS = frozenset("aeiou")
# Consonant clusters that can start an English syllable (kept together at a split).
_ONSETS = frozenset({
    "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "kl", "kn", "ph", "pl", "pr",
    "qu", "sc", "sh", "sk", "sl", "sm", "sn", "sp", "st", "sw", "th", "tr", "tw", "wh", "wr",
    "scr", "spl", "spr", "str", "thr", "shr",
})
# Clusters that end a syllable and never start one.
_CODAS = frozenset({"ck", "ng", "x"})
# Consonants that sound alike (voicing pairs, nasals, liquids...).
_SIMILAR_CONSONANTS: dict[str, tuple[str, ...]] = {
    "b": ("p", "d", "v"), "p": ("b", "t"), "d": ("t", "g"), "t": ("d", "s"),
    "g": ("k", "d"), "k": ("g", "t"), "c": ("g", "t"), "m": ("n", "b"), "n": ("m", "l"),
    "f": ("v", "th"), "v": ("f", "b"), "s": ("z", "sh"), "z": ("s",), "l": ("r", "n"),
    "r": ("l", "w"), "w": ("v", "r"), "j": ("ch", "y"), "h": ("f",), "x": ("ks", "gs"),
}
_VOWEL_SPELLINGS = ("a", "e", "i", "o", "u", "ee", "oo", "ay", "ow")
_NEW_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
               "ch", "sh", "br", "tr", "st")
_ENDINGS = ("e", "er", "ers", "ing", "ed", "es", "s", "y", "a", "o", "ion", "al", "ish", "est")
_CATEGORY_ORDER = ("parts", "endings", "consonants", "clusters", "fused", "vowels", "onsets",
                   "split", "words")


def normalize_text(text: str) -> str:
    """Lower case, letters and single spaces only ("Hey, Jarvis!" -> "hey jarvis")."""
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).replace("'", "").split())


def contains_phrase(text: str, phrase: str, *, ignore_spaces: bool = True) -> bool:
    """Whether ``text`` contains ``phrase``, ignoring case and punctuation, and either ignoring
    spaces ("com puter" contains "computer") or matching whole words only ("one" does not
    contain "on")."""
    needle, haystack = normalize_text(phrase), normalize_text(text)
    if not needle:
        return False
    if ignore_spaces:
        return needle.replace(" ", "") in haystack.replace(" ", "")
    return f" {needle} " in f" {haystack} "


def _vowel_mask(word: str) -> list[bool]:
    """Which letters are vowels; ``y`` is a vowel except at the start or before a vowel."""
    mask = []
    for i, ch in enumerate(word):
        if ch in _VOWELS:
            mask.append(True)
        elif ch == "y":
            mask.append(i > 0 and not (i + 1 < len(word) and word[i + 1] in _VOWELS))
        else:
            mask.append(False)
    return mask


def _vowel_groups(word: str) -> list[tuple[int, int]]:
    mask = _vowel_mask(word)
    groups: list[tuple[int, int]] = []
    i = 0
    while i < len(word):
        if mask[i]:
            j = i
            while j < len(word) and mask[j]:
                j += 1
            groups.append((i, j))
            i = j
        else:
            i += 1
    # A silent final "e" ("compute") does not make a syllable; "-le" after a consonant does.
    if (len(groups) > 1 and groups[-1] == (len(word) - 1, len(word)) and word.endswith("e")
            and not word.endswith("le")):
        groups.pop()
    return groups


def syllables(word: str) -> list[str]:
    """Split one word into spelling syllables by rule ("computer" -> com, pu, ter).

    One consonant between vowels starts the next syllable; of a cluster, the longest ending
    that can start a syllable ("tr", "str") goes to the next one; "x", "ck" and "ng" stay behind.
    """
    word = word.lower()
    groups = _vowel_groups(word)
    if len(groups) <= 1:
        return [word] if word else []
    cuts = []
    for (_, end), (start, _) in itertools.pairwise(groups):
        cluster = word[end:start]
        if not cluster:
            cuts.append(end)
        elif cluster in _CODAS or cluster[-1] == "x":
            cuts.append(start)
        elif len(cluster) == 1:
            cuts.append(end)
        else:
            onset = 1
            for size in (3, 2):
                if size <= len(cluster) and cluster[-size:] in _ONSETS:
                    onset = size
                    break
            if cluster[-2:] in _CODAS:
                onset = 0 if len(cluster) == 2 else 1
            cuts.append(start - onset)
    bounds = [0, *cuts, len(word)]
    return [word[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _onset(syllable: str) -> str:
    mask = _vowel_mask(syllable)
    for i, is_vowel in enumerate(mask):
        if is_vowel:
            return syllable[:i]
    return syllable


def _double_after_short_vowel(text: str, index: int) -> str:
    """Double the consonant at ``index`` when it follows a single vowel letter ("coper" ->
    "copper")."""
    short_vowel_before = (0 < index < len(text) and text[index - 1] in _VOWELS
                          and (index < 2 or text[index - 2] not in _VOWELS))
    if short_vowel_before and text[index] not in _VOWELS:
        return text[:index] + text[index] + text[index:]
    return text


def _respell(piece: str) -> str:
    """Re-spell a syllable group as it would be read alone: "com" -> "come", "puter" ->
    "pewter"."""
    if re.fullmatch(r"[^aeiou]*o[mnv]", piece):
        return piece + "e"
    match = re.fullmatch(r"([^aeiou]+)u([^aeiou].*)?", piece)
    if match:
        return f"{match.group(1)}ew{match.group(2) or ''}"
    return piece


def _word_variants(word: str) -> dict[str, list[str]]:
    """Near misses of one word, by category."""
    out: dict[str, list[str]] = {name: [] for name in _CATEGORY_ORDER}
    syl = syllables(word)
    n = len(syl)
    mask = _vowel_mask(word)

    # Parts: syllable prefixes (also with the next onset: "comp", "comput") and suffixes.
    for k in range(1, n):
        prefix = "".join(syl[:k])
        out["parts"] += [prefix, prefix + _onset(syl[k]), "".join(syl[k:])]
    if n == 1 and len(word) > 3:
        out["parts"] += [word[:-1], word[1:]]

    # Other endings on the stem: "comput" + ing/ed/e...
    stem = word
    for ending in sorted(_ENDINGS, key=len, reverse=True):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            stem = word[: -len(ending)]
            break
    if stem == word and word[-1] in _VOWELS and len(word) > 3:
        stem = word[:-1]
    out["endings"] += [stem + ending for ending in _ENDINGS]

    # One consonant swapped for a similar one.
    for i, ch in enumerate(word):
        if not mask[i] and ch in _SIMILAR_CONSONANTS:
            if ch == "c" and i + 1 < len(word) and word[i + 1] in "eiy":
                swaps: tuple[str, ...] = ("z", "sh")
            else:
                swaps = _SIMILAR_CONSONANTS[ch]
            out["consonants"] += [word[:i] + s + word[i + 1:] for s in swaps]

    # A consonant dropped from a cluster, the remaining one doubled: "computer" -> "commuter".
    for i in range(1, len(word) - 1):
        if not mask[i] and not mask[i - 1] and i - 1 > 0 and mask[i - 2] and i + 1 < len(word):
            for dropped in (word[:i] + word[i + 1:], word[:i - 1] + word[i:]):
                out["clusters"] += [dropped, _double_after_short_vowel(dropped, i - 1)]

    # First and last syllables fused: onset and vowel of the first, the next consonant, the
    # last syllable's vowel and coda: "computer" -> "coper" -> "copper".
    if n >= 3:
        first = syl[0][: len(_onset(syl[0])) + 1]
        last = syl[-1][len(_onset(syl[-1])):]
        middle = _onset(syl[1])[:1] or "n"
        fused = first + middle + last
        out["fused"].append(_double_after_short_vowel(fused, len(first)))

    # Vowels changed, one vowel group at a time.
    for start, end in _vowel_groups(word):
        group = word[start:end]
        for spelling in _VOWEL_SPELLINGS:
            if spelling != group:
                out["vowels"].append(word[:start] + spelling + word[end:])

    # A different first consonant (or one added before a first vowel): "jarvis" -> "travis".
    onset = _onset(word)
    for new in _NEW_ONSETS:
        if new != onset:
            out["onsets"].append(new + word[len(onset):])
    if onset:
        out["onsets"].append(word[len(onset):])

    # Split into words at a syllable boundary and re-spelled: "come pewter".
    for k in range(1, n):
        left, right = "".join(syl[:k]), "".join(syl[k:])
        out["split"] += [f"{_respell(left)} {_respell(right)}", f"{left} {_respell(right)}",
                         f"{_respell(left)} {right}"]
    return out


def _phonetic_key(phonemes: str) -> str:
    """espeak phonemes with stress, syllable and word marks removed and flapped t = d."""
    key = re.sub(r"[ˈˌ'\s,#_:!-]", "", phonemes)
    return key.replace("d", "t").replace("ɾ", "t")


def near_miss_phrases(
    phrase: str,
    *,
    seed: int,
    max_items: int | None = None,
    phonemize: Callable[[Sequence[str]], list[str]] | None = None,
) -> list[str]:
    """Phrases that sound close to ``phrase`` but are not it (see the module docstring).

    The list takes one item of each category in turn (parts, endings, consonant swaps, cluster
    drops, fused, vowel swaps, new onsets, splits, and word-level changes for several words),
    each category's items in an order drawn from ``seed``, so any prefix covers every kind;
    ``max_items`` truncates it.
    ``phonemize`` maps texts to phoneme strings; candidates whose phonemes equal the phrase's
    (ignoring stress and t/d flapping) are dropped.
    """
    norm = normalize_text(phrase)
    if not norm:
        raise ConfigError(f"near_miss_phrases: phrase {phrase!r} has no letters; pass words "
                          "such as 'hey computer'")
    if max_items is not None and max_items < 0:
        raise ConfigError(f"near_miss_phrases: max_items is {max_items}; use None or >= 0")
    words = norm.split()
    categories: dict[str, list[str]] = {name: [] for name in _CATEGORY_ORDER}
    for index, word in enumerate(words):
        for name, variants in _word_variants(word).items():
            categories[name] += [" ".join([*words[:index], v, *words[index + 1:]])
                                 for v in variants]
    if len(words) > 1:
        categories["words"] += words
        categories["words"] += [" ".join(words[a:b]) for a in range(len(words))
                                for b in range(a + 1, len(words) + 1) if b - a < len(words)]
        categories["words"].append(" ".join(reversed(words)))
        categories["words"] += [" ".join(words[:i] + words[i + 1:]) for i in range(len(words))]
        # Parts of single words inside the phrase ("hey jar", "hey vis").
        for index, word in enumerate(words):
            categories["parts"] += [" ".join([*words[:index], part]) for part in
                                    _word_variants(word)["parts"][:2]]

    rng = np.random.default_rng([seed, 0x4E4D])
    seen = {norm.replace(" ", "")}
    ordered: dict[str, list[str]] = {}
    for name in _CATEGORY_ORDER:
        unique = []
        for candidate in categories[name]:
            candidate = normalize_text(candidate)
            compact = candidate.replace(" ", "")
            if len(compact) < 2 or compact in seen or contains_phrase(candidate, norm):
                continue
            seen.add(compact)
            unique.append(candidate)
        ordered[name] = [unique[i] for i in rng.permutation(len(unique))]

    if phonemize is not None:
        pool = [c for items in ordered.values() for c in items]
        keys = phonemize([norm, *pool])
        target = _phonetic_key(keys[0])
        homophones = {c for c, k in zip(pool, keys[1:]) if _phonetic_key(k) == target}
        ordered = {n: [c for c in items if c not in homophones] for n, items in ordered.items()}

    # Interleave: one from each non-empty category in turn, parts and endings first in every
    # round (they are the most common confusions).
    result: list[str] = []
    queues = {name: list(items) for name, items in ordered.items() if items}
    while queues and (max_items is None or len(result) < max_items):
        for name in list(queues):
            if max_items is not None and len(result) >= max_items:
                break
            result.append(queues[name].pop(0))
            if not queues[name]:
                del queues[name]
    return result


def speech_phrases(n: int, *, seed: int, exclude: str | None = None,
                   word_fraction: float = 0.55, pair_fraction: float = 0.15) -> list[str]:
    """``n`` texts of everyday speech from the built-in lists: single short words (the main
    real false accepts), two or three random words, and short sentences (the rest).

    Texts containing ``exclude`` (normally the wake phrase) as whole words are never returned.
    """
    if n < 0:
        raise ConfigError(f"speech_phrases: n is {n}; use n >= 0")
    if not (0.0 <= word_fraction and 0.0 <= pair_fraction and word_fraction + pair_fraction <= 1.0):
        raise ConfigError(f"speech_phrases: word_fraction {word_fraction} and pair_fraction "
                          f"{pair_fraction} must be >= 0 and sum to at most 1")
    def allowed(text: str) -> bool:
        return exclude is None or not contains_phrase(text, exclude, ignore_spaces=False)

    words = [w for w in SHORT_WORDS if allowed(w)]
    sentences = [s for s in SENTENCES if allowed(s)]
    rng = np.random.default_rng([seed, 0x5350])
    out: list[str] = []
    while len(out) < n:
        draw = rng.random()
        if draw < word_fraction:
            text = words[int(rng.integers(len(words)))]
        elif draw < word_fraction + pair_fraction:
            count = int(rng.integers(2, 4))
            text = " ".join(words[int(i)] for i in rng.integers(len(words), size=count))
        else:
            text = sentences[int(rng.integers(len(sentences)))]
        if allowed(text):
            out.append(text)
    return out


def background_clip(n_samples: int, rng: np.random.Generator, *, noise_bank: NoiseBank,
                    silence: bool) -> np.ndarray:
    """A negative clip without speech, float32 of ``n_samples``.

    ``silence=False``: a noise segment from ``noise_bank`` (recorded or coloured, RMS 0.1; the
    augmenter sets its final level). ``silence=True``: near-silence, a faint noise floor at
    -75..-45 dBFS RMS, or digital zeros one time in five.
    """
    if not silence:
        return noise_bank.sample(n_samples, rng)
    level_db = rng.uniform(-75.0, -45.0)
    if rng.random() < 0.2:
        return np.zeros(n_samples, dtype=np.float32)
    return noise_bank.sample(n_samples, rng, level_rms=float(10.0 ** (level_db / 20.0)))
