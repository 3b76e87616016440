"""The streaming Detector: chunking, state, warm-up, thresholds, refractory time and the
errors for broken model folders or bad audio. Every property runs on both backends."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import CHUNK, SAMPLE_RATE_HZ, stream_with_events, tone

from device_runtime import AudioError, Detection, Detector, DeviceRuntimeError, ModelError
from device_runtime.manifest import load_manifest, save_manifest

toy_copy = runtime_fixtures.toy_copy  # the shared session-scoped fixture
toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture

BACKENDS = ("onnx", "tflite")
LOW_BURST_S = 2.0
HIGH_BURST_S = 5.0


@pytest.fixture(scope="module")
def stream() -> np.ndarray:
    """8 s of noise with a loud low tone at 2 s and a loud high tone at 5 s."""
    return stream_with_events(8.0, [(LOW_BURST_S, tone(300, 0.5, 0.5)),
                                    (HIGH_BURST_S, tone(4000, 0.4, 0.5))], seed=1)


def _key(detections: list[Detection]) -> list[tuple[str, int]]:
    return [(d.keyword, d.step) for d in detections]


@pytest.mark.parametrize("backend", BACKENDS)
def test_detects_each_burst_once_with_its_keyword(toy_model, stream, backend):
    det = Detector(toy_model, backend=backend)
    found = det.process(stream)
    assert [d.keyword for d in found] == ["low", "high"]
    assert LOW_BURST_S < found[0].time_s < LOW_BURST_S + 0.5
    assert HIGH_BURST_S < found[1].time_s < HIGH_BURST_S + 0.5
    assert all(d.score >= d.threshold == 0.5 for d in found)


@pytest.mark.parametrize("backend", BACKENDS)
def test_streaming_matches_whole_clip_at_any_chunk_size(toy_model, stream, backend):
    whole = Detector(toy_model, backend=backend)
    expected = whole.process(stream)
    expected_scores = whole.scores.smoothed
    assert len(expected) == 2
    int16 = np.clip(np.round(stream * 32768), -32768, 32767).astype(np.int16)
    for size in (1, 100, 1280, 5000):
        det = Detector(toy_model, backend=backend)
        found = []
        for i in range(0, stream.size, size):
            found += det.process(stream[i:i + size])
        assert found == expected, f"chunk size {size}"
        np.testing.assert_array_equal(det.scores.smoothed, expected_scores)
    # int16 and raw s16le bytes (odd byte counts split samples across calls)
    ref = Detector(toy_model, backend=backend).process(int16)
    assert _key(ref) == _key(expected)
    det = Detector(toy_model, backend=backend)
    raw = int16.astype("<i2").tobytes()
    found = []
    for i in range(0, len(raw), 777):
        found += det.process(raw[i:i + 777])
    assert found == ref


@pytest.mark.parametrize("backend", BACKENDS)
def test_process_file_replays_the_same_path(toy_model, stream, backend, tmp_path):
    from device_runtime.audio import write_wav

    path = tmp_path / "s.wav"
    write_wav(path, stream, SAMPLE_RATE_HZ)
    det = Detector(toy_model, backend=backend)
    det.process(np.zeros(5000, np.float32))  # earlier audio is forgotten by process_file
    from_file = det.process_file(path)
    int16 = np.clip(np.round(stream * 32768), -32768, 32767).astype(np.int16)
    assert from_file == Detector(toy_model, backend=backend).process(int16)
    assert det.scores.times_s[0] == pytest.approx(CHUNK / SAMPLE_RATE_HZ)


@pytest.mark.parametrize("backend", BACKENDS)
def test_reset_matches_fresh_detector(toy_model, stream, backend):
    det = Detector(toy_model, backend=backend)
    det.process(stream[:50_000])  # leaves state, a partial buffer and a refractory timer
    det.process(b"\x01")  # and an odd byte
    det.reset()
    fresh = Detector(toy_model, backend=backend)
    assert not det.ready and det.steps == 0 and len(det.scores) == 0
    assert det.process(stream) == fresh.process(stream)
    np.testing.assert_array_equal(det.scores.raw, fresh.scores.raw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_any_use_after_close_raises(toy_model, backend):
    det = Detector(toy_model, backend=backend)
    det.close()
    det.close()  # closing twice is fine
    for use in (lambda: det.process(np.zeros(CHUNK, np.float32)), det.reset,
                lambda: det.scores, lambda: det.ready):
        with pytest.raises(DeviceRuntimeError, match="closed"):
            use()
    with Detector(toy_model, backend=backend) as ctx:
        ctx.process(np.zeros(10, np.float32))
    assert ctx.closed


def test_warm_up_is_a_state_not_a_fake_score(toy_model):
    det = Detector(toy_model)
    manifest = load_manifest(toy_model)
    needed = manifest.warmup_steps + manifest.smoothing_steps
    assert det.warmup_s == pytest.approx(needed * CHUNK / SAMPLE_RATE_HZ)
    loud = tone(300, 0.5, needed * CHUNK / SAMPLE_RATE_HZ)
    for step in range(needed - 1):
        assert det.process(loud[step * CHUNK:(step + 1) * CHUNK]) == []  # nothing fires
        assert not det.ready
    found = det.process(loud[(needed - 1) * CHUNK:])  # the first ready step can fire
    assert det.ready and [d.step for d in found] == [needed - 1]
    trace = det.scores
    assert trace.ready.tolist() == [False] * (needed - 1) + [True]
    assert np.isnan(trace.smoothed[:-1]).all()  # never a made-up 0.0
    assert np.isfinite(trace.raw).all() and trace.smoothed[-1, 1] > 0.5
    assert trace.column("low").shape == (needed,)


@pytest.mark.parametrize("backend", BACKENDS)
def test_refractory_period_fires_once_per_utterance(toy_model, backend):
    # one long "utterance" (1.5 s above threshold), then a second one 3 s later
    audio = stream_with_events(8.0, [(1.0, tone(300, 0.5, 1.5)), (4.5, tone(300, 0.5, 0.5))])
    no_refractory = Detector(toy_model, backend=backend, refractory_s=0.0).process(audio)
    assert len(no_refractory) > 10  # every step above threshold fires without it
    found = Detector(toy_model, backend=backend, refractory_s=2.0).process(audio)
    assert [d.keyword for d in found] == ["low", "low"]
    assert found[1].time_s - found[0].time_s > 2.0
    # a refractory time longer than the gap merges them
    assert len(Detector(toy_model, backend=backend, refractory_s=5.0).process(audio)) == 1


def test_per_keyword_thresholds(toy_model):
    # a medium low tone scores about 0.8 for "low"; the high tone about 0.99 for "high"
    audio = stream_with_events(6.0, [(1.0, tone(300, 0.1, 0.5)), (3.5, tone(4000, 0.4, 0.5))])
    default = Detector(toy_model).process(audio)
    assert [d.keyword for d in default] == ["low", "high"]
    low_peak = default[0].score
    strict_low = Detector(toy_model, threshold={"low": 0.95}).process(audio)
    assert [d.keyword for d in strict_low] == ["high"]
    det = Detector(toy_model, threshold=0.97)
    assert det.thresholds == {"low": 0.97, "high": 0.97}
    assert [d.keyword for d in det.process(audio)] == ["high"]
    assert low_peak < 0.95
    with pytest.raises(ValueError, match="not keywords"):
        Detector(toy_model, threshold={"lowww": 0.5})
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        Detector(toy_model, threshold=1.5)


def test_callbacks_receive_detections_and_scores(toy_model, stream):
    seen, steps = [], []
    det = Detector(toy_model, on_detection=seen.append,
                   on_scores=lambda t, s: steps.append((t, s.copy())))
    found = det.process(stream)
    assert seen == found
    assert len(steps) == int(det.scores.ready.sum())
    assert steps[-1][0] == pytest.approx(det.time_s)


def test_nan_input_is_rejected_and_leaves_state_untouched(toy_model, stream):
    det = Detector(toy_model)
    det.process(stream[:10_000])
    bad = stream[10_000:12_000].copy()
    bad[[5, 700]] = [np.nan, np.inf]
    with pytest.raises(AudioError, match=r"2 of 2000 samples are NaN or infinite .*first at "
                       r"sample 5.*nan_to_num"):
        det.process(bad)
    det.process(stream[10_000:])
    reference = Detector(toy_model)
    reference.process(stream)
    np.testing.assert_array_equal(det.scores.raw, reference.scores.raw)


def test_clipped_input_is_counted_and_warned(toy_model, caplog):
    det = Detector(toy_model)
    loud = np.full(3000, 1.7, dtype=np.float32)
    with caplog.at_level(logging.WARNING, logger="device_runtime.audio"):
        det.process(loud)
    assert det.clipped_samples == 3000
    assert "clipping" in caplog.text and "gain" in caplog.text
    # int16 full scale counts too
    det.reset()
    det.process(np.full(100, -32768, dtype=np.int16))
    assert det.clipped_samples == 100


def test_multichannel_chunk_is_an_error_with_the_fix(toy_model):
    det = Detector(toy_model)
    with pytest.raises(AudioError, match=r"2 channels .* mono .*x\[:, 0\]"):
        det.process(np.zeros((4000, 2), np.float32))
    det.process(np.zeros((4000, 1), np.float32))  # [frames, 1] is mono
    with pytest.raises(AudioError, match="dtype uint8"):
        det.process(np.zeros(10, np.uint8))


def test_corrupt_graph_is_a_model_error_naming_the_file(toy_copy):
    for backend, name in (("onnx", "model.onnx"), ("tflite", "model.tflite")):
        data = (toy_copy / name).read_bytes()
        (toy_copy / name).write_bytes(data[: len(data) // 3])
        with pytest.raises(ModelError, match=rf"{name}: .*(corrupt|truncated)"):
            Detector(toy_copy, backend=backend)


def test_missing_manifest_is_a_model_error(toy_copy):
    (toy_copy / "manifest.json").unlink()
    with pytest.raises(ModelError, match=r"manifest.json: missing"):
        Detector(toy_copy)
    with pytest.raises(ModelError, match="does not exist"):
        Detector(toy_copy / "nope")


def test_manifest_disagreeing_with_model_json_is_refused(toy_copy):
    manifest = load_manifest(toy_copy)
    from dataclasses import replace

    save_manifest(replace(manifest, chunk_samples=640, inputs=(
        replace(manifest.inputs[0], shape=(1, 640)), *manifest.inputs[1:])), toy_copy)
    with pytest.raises(ModelError, match=r"model.json: chunk_samples is 1280 but .*manifest.json "
                       r"says 640"):
        Detector(toy_copy)


def test_graph_disagreeing_with_manifest_is_refused(toy_copy):
    # a manifest and sidecar both edited to claim another chunk size: the graph says 1280
    from dataclasses import replace

    from device_runtime.manifest import sidecar_dict

    manifest = load_manifest(toy_copy)
    edited = replace(manifest, chunk_samples=640,
                     inputs=(replace(manifest.inputs[0], shape=(1, 640)), *manifest.inputs[1:]))
    save_manifest(edited, toy_copy)
    (toy_copy / "model.json").write_text(json.dumps(sidecar_dict(edited)))
    for backend in BACKENDS:
        with pytest.raises(ModelError, match=r"has shape \[1, 1280\] in the graph but \[1, 640\]"):
            Detector(toy_copy, backend=backend)


def test_missing_or_wrong_weights_are_model_errors(toy_copy):
    np.savez(toy_copy / "weights.npz", weight=np.zeros((3, 3), np.float32))
    with pytest.raises(ModelError, match=r"weights.npz: has no array 'bias'"):
        Detector(toy_copy)
    (toy_copy / "weights.npz").unlink()
    with pytest.raises(ModelError, match=r"weights.npz: missing"):
        Detector(toy_copy)


def test_unknown_manifest_field_is_refused(toy_copy):
    data = json.loads((toy_copy / "manifest.json").read_text())
    data["hop_ms"] = 10
    (toy_copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"unknown field\(s\) \['hop_ms'\]"):
        Detector(toy_copy)


def test_from_pretrained_unknown_name_lists_the_models():
    with pytest.raises(ModelError, match=r"no model named 'no-such-model'; available"):
        Detector.from_pretrained("no-such-model")


def test_trace_is_bounded_by_trace_s(toy_model):
    det = Detector(toy_model, trace_s=1.0)  # 13 steps
    det.process(np.zeros(40 * CHUNK, np.float32))
    trace = det.scores
    assert len(trace) == 13 and trace.first_step == 27
    np.testing.assert_allclose(np.diff(trace.times_s), CHUNK / SAMPLE_RATE_HZ)
    assert trace.times_s[-1] == pytest.approx(40 * CHUNK / SAMPLE_RATE_HZ)
