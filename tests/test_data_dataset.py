"""build_dataset: shapes and labels, keyword placement, the synthesis cache, configs, splits."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import soundfile as sf

from wakeword.data.audio_io import resample
from wakeword.data.dataset import KINDS, ClipSet, DataConfig, build_dataset
from wakeword.data.tts import EspeakSynthesizer
from wakeword.errors import ConfigError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed (apt-get install espeak-ng)")

CLEAN = {"noise_probability": 0.0, "reverb_probability": 0.0, "context_probability": 0.0,
             "peak_db_range": (-6.0, -6.0)}


def small_config(**overrides) -> DataConfig:
    values = {"phrase": "computer", "n_positives": 8, "n_negatives": 8, "max_kokoro_clips": 0,
                  "use_recorded_noise": False, "n_rooms": 2, "seed": 7}
    values.update(overrides)
    return DataConfig(**values)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    config = small_config()
    started = time.perf_counter()
    first = build_dataset(config, cache)
    first_s = time.perf_counter() - started
    return config, cache, first, first_s


def test_small_build_has_the_right_shapes_labels_and_kinds(built):
    config, _, clips, _ = built
    n = config.n_positives + config.n_negatives
    assert clips.audio.shape == (n, 32000) and clips.audio.dtype == np.float32
    assert clips.labels.dtype == np.int64 and clips.labels.shape == (n,)
    assert int(clips.labels.sum()) == config.n_positives
    assert set(clips.kinds[clips.labels == 1]) == {"tts_pos"}
    assert set(clips.kinds[clips.labels == 0]) <= {"near_miss", "speech", "noise"}
    assert clips.counts()["near_miss"] == config.n_near_miss
    assert np.abs(clips.audio).max() <= 1.0 and np.isfinite(clips.audio).all()
    assert all(t.rstrip(".!?,") == "computer" for t in clips.texts[clips.labels == 1])
    assert all(s.startswith("espeak-ng:en") for s in clips.sources[clips.labels == 1])
    assert not any("computer" in t.replace(" ", "") for t in clips.texts[clips.labels == 0])


def test_second_build_reuses_the_cache_and_is_identical(built, monkeypatch):
    config, cache, first, first_s = built
    assert len(list((cache / "tts" / "espeak-ng").rglob("*.wav"))) >= 15

    def no_synthesis(*args, **kwargs):
        raise AssertionError("the second build synthesised instead of using the cache")

    monkeypatch.setattr(EspeakSynthesizer, "synthesize", no_synthesis)
    started = time.perf_counter()
    second = build_dataset(config, cache)
    second_s = time.perf_counter() - started
    np.testing.assert_array_equal(first.audio, second.audio)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert list(first.texts) == list(second.texts)
    assert second_s < first_s


def test_keywords_end_in_the_last_part_of_the_clip(tmp_path):
    config = small_config(n_negatives=4, near_miss_fraction=1.0, speech_fraction=0.0,
                          seed=3, **CLEAN)
    clips = build_dataset(config, tmp_path)
    low, high = config.keyword_end_range
    for kind in ("tts_pos", "near_miss"):
        for audio in clips.audio[clips.kinds == kind]:
            active = np.flatnonzero(np.abs(audio) > 1e-4)
            end = (active[-1] + 1) / audio.size
            assert low - 0.01 <= end <= high + 0.01
            assert not np.any(audio[: int(0.2 * audio.size)])  # silence before the keyword


def test_builds_are_reproducible_and_seeds_matter(tmp_path):
    a = build_dataset(small_config(n_positives=3, n_negatives=3, seed=1), tmp_path)
    b = build_dataset(small_config(n_positives=3, n_negatives=3, seed=1), tmp_path)
    c = build_dataset(small_config(n_positives=3, n_negatives=3, seed=2), tmp_path)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


def test_user_recordings_are_trimmed_placed_and_copied(tmp_path):
    espeak = EspeakSynthesizer()
    positives, negatives = tmp_path / "pos", tmp_path / "neg"
    positives.mkdir()
    negatives.mkdir()
    rng = np.random.default_rng(0)
    for i, voice in enumerate(("en-us+f3", "en-gb+m3")):
        word = espeak.synthesize("computer", voice=voice)
        padded = np.concatenate([np.zeros(16000, np.float32), word, np.zeros(8000, np.float32)])
        padded += 0.001 * rng.standard_normal(padded.size).astype(np.float32)
        sf.write(positives / f"take{i}.wav", resample(padded, 16000, 44100), 44100)
    long_talk = espeak.synthesize("one two three four five six seven eight nine ten left "
                                  "right up down yes no", voice="en-us", speed=0.6)
    sf.write(negatives / "talk.flac", long_talk, 16000)
    config = small_config(n_positives=2, n_negatives=2, user_positive_dirs=(str(positives),),
                          user_negative_dirs=(str(negatives),), user_positive_copies=3, **CLEAN)
    clips = build_dataset(config, tmp_path / "cache")
    user_pos = clips.audio[clips.kinds == "user_pos"]
    assert len(user_pos) == 6 and set(clips.labels[clips.kinds == "user_pos"]) == {1}
    for audio in user_pos:
        end = (np.flatnonzero(np.abs(audio) > 0.01)[-1] + 1) / audio.size
        assert config.keyword_end_range[0] - 0.03 <= end <= config.keyword_end_range[1] + 0.01
    n_windows = long_talk.size // config.clip_samples
    assert int(np.sum(clips.kinds == "user_neg")) == max(1, n_windows)
    assert len(np.unique(clips.groups[clips.kinds == "user_pos"])) == 2


def test_split_keeps_groups_together_and_every_kind_on_both_sides(built):
    _, _, clips, _ = built
    train, val = clips.split(0.25, seed=0)
    assert len(train) + len(val) == len(clips)
    assert not set(train.groups) & set(val.groups)
    for kind in ("tts_pos", "near_miss", "speech"):
        assert kind in set(train.kinds) and kind in set(val.kinds)
    again_train, _ = clips.split(0.25, seed=0)
    np.testing.assert_array_equal(train.groups, again_train.groups)
    with pytest.raises(ConfigError):
        clips.split(1.0, seed=0)


def test_clip_set_saves_and_loads(built, tmp_path):
    _, _, clips, _ = built
    loaded = ClipSet.load(clips.save(tmp_path / "set.npz"))
    np.testing.assert_array_equal(loaded.audio, clips.audio)
    assert list(loaded.kinds) == list(clips.kinds) and set(loaded.kinds) <= set(KINDS)


def test_config_round_trips_and_loading_is_strict():
    config = small_config(user_positive_dirs=("a", "b"), speed_range=(0.9, 1.1))
    data = config.to_dict()
    assert data["speed_range"] == [0.9, 1.1] and data["user_positive_dirs"] == ["a", "b"]
    assert DataConfig.from_dict(data) == config
    with pytest.raises(ConfigError, match="unknown keys \\['colour'\\]"):
        DataConfig.from_dict({**data, "colour": "red"})
    missing = dict(data)
    del missing["seed"]
    with pytest.raises(ConfigError, match="missing keys \\['seed'\\]"):
        DataConfig.from_dict(missing)


@pytest.mark.parametrize("overrides, field", [
    ({"phrase": "  "}, "phrase"),
    ({"n_positives": -1}, "n_positives"),
    ({"clip_s": 0.2}, "clip_s"),
    ({"near_miss_fraction": 0.8, "speech_fraction": 0.5}, "speech_fraction"),
    ({"speed_range": (1.5, 1.0)}, "speed_range"),
    ({"keyword_end_range": (0.6, 1.2)}, "keyword_end_range"),
    ({"user_positive_dirs": "recordings"}, "user_positive_dirs"),
])
def test_config_errors_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        small_config(**overrides)
