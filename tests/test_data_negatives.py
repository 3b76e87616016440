"""Near misses of the wake phrase and everyday speech texts."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.data.negatives import (
    background_clip,
    contains_phrase,
    near_miss_phrases,
    normalize_text,
    speech_phrases,
    syllables,
)
from wakeword.data.noise import NoiseBank, rms
from wakeword.data.speech_text import SENTENCES, SHORT_WORDS
from wakeword.errors import ConfigError


def test_syllables_follow_spelling_rules():
    assert syllables("computer") == ["com", "pu", "ter"]
    assert syllables("jarvis") == ["jar", "vis"]
    assert syllables("mycroft") == ["my", "croft"]
    assert syllables("compute") == ["com", "pute"]  # silent final e
    assert syllables("hey") == ["hey"]


def test_near_misses_of_computer_are_sensible():
    items = near_miss_phrases("computer", seed=0)
    expected = {"compute", "computing", "computed", "commuter", "copper", "come pewter",
                "puter", "compu", "com"}
    assert expected <= set(items)
    assert len(items) >= 50
    assert len(set(items)) == len(items)


@pytest.mark.parametrize("phrase", ["computer", "hey jarvis", "alexa", "ok google",
                                    "smart mirror", "Hey, Computer!"])
def test_near_misses_never_are_or_contain_the_phrase(phrase):
    compact = normalize_text(phrase).replace(" ", "")
    for seed in (0, 1):
        for item in near_miss_phrases(phrase, seed=seed):
            assert compact not in item.replace(" ", "")
            assert item == normalize_text(item) and len(item.replace(" ", "")) >= 2


def test_near_misses_are_deterministic_given_the_seed():
    a = near_miss_phrases("computer", seed=3)
    assert a == near_miss_phrases("computer", seed=3)
    b = near_miss_phrases("computer", seed=4)
    assert a != b and set(a) == set(b)


def test_a_short_list_still_covers_every_kind_of_near_miss():
    items = near_miss_phrases("computer", seed=0, max_items=9)
    assert len(items) == 9
    assert any(" " in i for i in items)  # a split into words
    assert any(i.startswith("comput") and i != "comput" for i in items)  # another ending


def test_phrases_of_several_words_give_each_word_alone_and_swapped():
    items = set(near_miss_phrases("hey jarvis", seed=0))
    assert {"hey", "jarvis", "jarvis hey"} <= items
    assert any(i.startswith("hey ") and i != "hey jarvis" for i in items)  # one word changed
    assert "hey travis" in items or "hey marvis" in items


def test_phonemizer_drops_near_misses_that_sound_like_the_phrase():
    def fake_phonemize(texts):
        # "computor" and "compuder" sound like the phrase; the rest do not.
        return ["kVmpjutr" if t in ("computer", "computor", "compuder") else t for t in texts]

    plain = near_miss_phrases("computer", seed=0)
    filtered = near_miss_phrases("computer", seed=0, phonemize=fake_phonemize)
    assert {"computor", "compuder"} <= set(plain)
    assert set(plain) - set(filtered) == {"computor", "compuder"}


def test_near_miss_input_errors():
    with pytest.raises(ConfigError, match="no letters"):
        near_miss_phrases("123 !", seed=0)


def test_speech_phrases_mix_short_words_and_sentences_without_the_phrase():
    texts = speech_phrases(400, seed=0, exclude="left")
    assert len(texts) == 400
    assert not any(contains_phrase(t, "left", ignore_spaces=False) for t in texts)
    singles = [t for t in texts if " " not in t]
    assert 0.4 < len(singles) / len(texts) < 0.7
    assert any(t in SENTENCES for t in texts)
    assert texts == speech_phrases(400, seed=0, exclude="left")


def test_builtin_text_has_a_few_hundred_common_short_words():
    assert len(SHORT_WORDS) >= 300 and len(SENTENCES) >= 50
    assert {"left", "yes", "go", "on", "seven", "stop", "okay"} <= set(SHORT_WORDS)


def test_contains_phrase_ignores_case_punctuation_and_optionally_spaces():
    assert contains_phrase("Hey, COM puter!", "computer")
    assert not contains_phrase("Hey, COM puter!", "computer", ignore_spaces=False)
    assert not contains_phrase("one", "on", ignore_spaces=False)
    assert contains_phrase("turn it on now", "on", ignore_spaces=False)


def test_background_clips_are_noise_or_near_silence():
    bank = NoiseBank()
    levels = []
    for seed in range(20):
        quiet = background_clip(16000, np.random.default_rng(seed), noise_bank=bank, silence=True)
        assert quiet.dtype == np.float32 and quiet.size == 16000
        levels.append(rms(quiet))
    assert max(levels) < 10 ** (-44 / 20) and min(levels) == 0.0
    noise = background_clip(16000, np.random.default_rng(0), noise_bank=bank, silence=False)
    assert abs(rms(noise) - 0.1) < 0.01
