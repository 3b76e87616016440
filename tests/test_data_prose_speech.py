"""Running prose for threshold calibration: real espeak-ng speech of Python's documentation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from wakeword.data.prose_speech import prose_sentences, prose_streams
from wakeword.errors import DataError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def test_prose_sentences_are_plain_english_without_the_excluded_phrase():
    every = prose_sentences()
    without = prose_sentences(["function"])
    assert len(every) > 300  # the stdlib's topics hold several hundred usable sentences
    assert 0 < len(without) < len(every)
    assert not any("function" in s.lower().split() for s in without)
    for sentence in every:
        assert sentence[0].isupper() and sentence.endswith(".")
        assert 6 <= len(sentence.split()) <= 30
        assert not any(ch in sentence for ch in "()[]{}=_`0123456789")


@needs_espeak
def test_prose_streams_are_continuous_speech_of_the_asked_length_and_deterministic():
    streams = prose_streams(0.5, stream_minutes=0.2, seed=3)
    lengths = [s.size / 16000 for s in streams]
    assert len(streams) >= 2  # cut into ~12 s streams
    assert 30 <= sum(lengths) <= 30 + 20  # stops after the sentence that passes 30 s
    for stream in streams:
        assert stream.dtype == np.float32 and np.all(np.isfinite(stream))
        assert 0.005 < np.max(np.abs(stream)) <= 1.0
        # running speech: most 1 s windows are voiced, pauses are short
        windows = stream[: stream.size // 16000 * 16000].reshape(-1, 16000)
        voiced = np.sqrt(np.mean(windows ** 2, axis=1)) > 1e-3
        assert voiced.mean() > 0.7
    again = prose_streams(0.5, stream_minutes=0.2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(streams, again, strict=True))
    other = prose_streams(0.2, stream_minutes=0.2, seed=4)
    assert not np.array_equal(other[0][:16000], streams[0][:16000])


def test_prose_streams_reject_a_non_positive_duration():
    with pytest.raises(DataError, match="positive duration"):
        prose_streams(0.0)


@needs_espeak
def test_prose_streams_are_cached_and_reused(tmp_path):
    first = prose_streams(0.1, stream_minutes=0.1, seed=1, cache_dir=tmp_path)
    files = list(tmp_path.glob("prose-*.npz"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = prose_streams(0.1, stream_minutes=0.1, seed=1, cache_dir=tmp_path)
    assert files[0].stat().st_mtime_ns == stamp  # read, not rewritten
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    prose_streams(0.1, stream_minutes=0.1, seed=2, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("prose-*.npz"))) == 2  # another recipe, another file
