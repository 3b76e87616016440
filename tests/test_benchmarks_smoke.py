"""Smoke tests of the benchmark helpers: peer adapters, negative-set bookkeeping, JSON output.

No shared data, no network; the peer tests skip when pyopen-wakeword / pymicro-wakeword are
not installed (``pip install -e .[peers]``).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import common  # noqa: E402

SR = 16000


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    envelope = (np.sin(2 * np.pi * 3 * t) > 0).astype(np.float32)
    tone = 0.3 * np.sin(2 * np.pi * (200 + 100 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return ((tone + rng.normal(0, 0.01, n)) * envelope).astype(np.float32)


@pytest.mark.parametrize("family", ["openwakeword", "microwakeword"])
def test_peer_scorer_is_fresh_per_call_and_shaped_like_a_scorer(family):
    pytest.importorskip("pyopen_wakeword" if family == "openwakeword" else "pymicro_wakeword")
    from benchmarks import peers

    scorer = peers.make_scorer(family, "alexa")
    audio = _speechlike(2.0, 0)
    first = scorer.score(audio)
    scorer.score(_speechlike(1.0, 1))  # other audio in between must not leak into the next call
    again = scorer.score(audio)
    hop = round(scorer.step_s * SR)
    assert first.shape == (audio.size // hop, 2)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-6)
    assert np.all((first >= 0) & (first <= 1))
    scorer.close()


def test_microwakeword_steps_before_its_window_fills_are_not_scores():
    pytest.importorskip("pymicro_wakeword")
    from benchmarks import peers

    scorer = peers.make_scorer("microwakeword", "alexa")
    scores = scorer.score(_speechlike(1.0, 2))[:, 1]
    # first run after 2 hops (3 features need 480 + 320 samples), then 5 runs to fill the window
    assert np.all(scores[:5] == 0.0)
    assert scorer.default_threshold == pytest.approx(0.9)


def test_to_int16_bytes_clips_and_rounds():
    from benchmarks.peers import to_int16_bytes

    data = np.frombuffer(to_int16_bytes(np.array([0.0, 0.5, 1.5, -2.0], np.float32)), "<i2")
    assert data.tolist() == [0, 16384, 32767, -32768]


def test_negative_set_maps_samples_back_to_clip_labels():
    segments = [np.zeros(300, np.float32), np.zeros(200, np.float32)]
    tables = [np.array([[0, 100, 0], [100, 300, 1]]), np.array([[0, 200, 2]])]
    neg = common.NegativeSet(keyword="alexa", segments=segments, clips=tables,
                             labels=["computer:1.flac", "espeak:en-us:left", "noise:pink"],
                             components={"recordings:computer": 1.0, "espeak": 2.0,
                                         "noise": 3.0})
    assert neg.label_at(0, 99) == "computer:1.flac"
    assert neg.label_at(0, 100) == "espeak:en-us:left"
    assert neg.label_at(1, 150) == "noise:pink"
    assert neg.component_of("computer:1.flac") == "recordings:computer"
    assert neg.component_of("espeak:en-us:left") == "espeak"
    assert neg.hours == pytest.approx(500 / SR / 3600)


def test_false_accepts_are_attributed_to_the_clip_that_was_playing():
    from benchmarks.accuracy import false_accepts

    step_s = 0.08
    hop = int(step_s * SR)
    segment = np.zeros(100 * hop, np.float32)
    neg = common.NegativeSet(keyword="alexa", segments=[segment],
                             clips=[np.array([[0, 50 * hop, 0], [50 * hop, 100 * hop, 1]])],
                             labels=["espeak:en-us:yes", "kokoro:af_bella:go"],
                             components={"espeak": 4.0, "kokoro": 4.0})
    scores = np.zeros(100)
    scores[[10, 11, 70]] = 0.9  # steps 10 and 11 merge within the 1 s refractory period
    found = false_accepts([scores], neg, 0.5, step_s, 1.0)
    assert found["false_accepts"] == 2
    assert found["by_component"]["espeak"]["count"] == 1
    assert found["by_component"]["kokoro"]["count"] == 1
    assert dict(found["top_clips"]) == {"espeak: yes": 1, "kokoro: go": 1}


def test_detection_latency_counts_from_the_spoken_end(tmp_path):
    import soundfile as sf

    from benchmarks.accuracy import detection_latency, spoken_ends
    from wakeword.eval.streams import PositiveClip

    recording = np.zeros(SR, np.float32)
    recording[1600:8000] = 0.5 * np.sin(np.arange(6400) / 5.0)  # speech 0.1-0.5 s, then quiet
    path = tmp_path / "kw.wav"
    sf.write(path, recording, SR)
    clip = PositiveClip(audio=np.zeros(3 * SR, np.float32), keyword_start_s=1.0,
                        keyword_end_s=2.0, source=path)
    ends = spoken_ends([clip, PositiveClip(audio=clip.audio, keyword_start_s=1.0,
                                           keyword_end_s=2.0)])
    assert ends[0] == pytest.approx(1.5, abs=0.01) and np.isnan(ends[1])
    scores = np.zeros(20, np.float32)
    scores[8:] = 0.9  # window starts at step 12; step 12+8 ends at 21 * 0.08 = 1.68 s
    found = detection_latency([(12, scores)], ends[:1], 0.5, 0.08)
    assert found["n"] == 1 and found["median_s"] == pytest.approx(1.68 - 1.5, abs=0.01)
    assert detection_latency([(12, scores)], ends[:1], 0.95, 0.08)["n"] == 0


def test_unseen_voice_scene_trims_leads_and_levels():
    from benchmarks.unseen_voices import scene

    audio = np.zeros(2 * SR, np.float32)
    audio[SR // 2: SR] = 0.8 * np.sin(np.arange(SR // 2) / 3.0)
    out = scene(audio, np.random.default_rng(0))
    assert np.abs(out).max() == pytest.approx(0.3, rel=1e-5)
    loud = np.flatnonzero(np.abs(out) > 0.1)
    assert loud[0] >= int(1.5 * SR)  # 1.5 s of faint lead before the phrase
    assert out.size < int(1.5 * SR) + SR // 2 + 1600 + 3200 + 8000 + 1


def test_speech_texts_never_contain_a_benchmark_phrase():
    from wakeword.data.negatives import contains_phrase

    texts = common.speech_texts(400, seed=3)
    assert len(texts) == 400
    for text in texts:
        for word in common.EXCLUDED_WORDS:
            assert not contains_phrase(text, word, ignore_spaces=False), text
    assert texts == common.speech_texts(400, seed=3)


def test_write_json_converts_numpy_and_non_finite_values(tmp_path):
    path = common.write_json(tmp_path / "sub" / "x.json",
                             {"a": np.float32(1.5), "b": np.arange(3), "c": math.inf,
                              "d": Path("p")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1, 2], "c": None, "d": "p"}


def test_machine_info_names_the_cpu_and_versions():
    info = common.machine_info()
    assert info["cores"] >= 1
    assert "numpy" in info["versions"] and info["versions"]["numpy"]
    assert "cores" in common.machine_line(info)


def test_soak_records_memory_and_cpu_every_simulated_hour():
    from benchmarks import soak

    result = soak.soak(Path(__file__).resolve().parent.parent / "models" / "computer",
                       hours=0.02, backend="onnx", chunk_ms=80.0, seed=0)
    assert len(result["per_hour"]) == 1
    row = result["per_hour"][0]
    assert row["audio_s"] == pytest.approx(0.02 * 3600, rel=0.2)
    assert row["rss_mb"] > 0 and 0 < row["cpu_s_per_audio_s"] < 1
    json.dumps(common._jsonable(result), allow_nan=False)
