"""Backends: ONNX Runtime and LiteRT agree, are chosen explicitly, and fail loudly."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import BATCH, CLIP_SAMPLES, stream_with_events, tone

from device_runtime import BackendUnavailableError, Detector, ModelError
from device_runtime.backends import available_formats, open_backend, resolve_backend
from device_runtime.detector import load_weights
from device_runtime.manifest import TensorSpec, load_manifest

toy_copy = runtime_fixtures.toy_copy  # the shared session-scoped fixture
toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture

TOLERANCE = 1e-5


def test_onnx_and_tflite_scores_agree_over_a_stream(toy_model):
    audio = stream_with_events(12.0, [(1.0, tone(300, 0.5, 0.5)), (4.0, tone(4000, 0.3, 0.4)),
                                      (7.0, tone(250, 0.08, 0.6))], noise=0.01, seed=3)
    traces = {}
    for backend in ("onnx", "tflite"):
        det = Detector(toy_model, backend=backend)
        assert det.backend == backend
        det.process(audio)
        traces[backend] = det.scores
    assert len(traces["onnx"]) == 150
    np.testing.assert_allclose(traces["onnx"].raw, traces["tflite"].raw, atol=TOLERANCE)
    ready = traces["onnx"].ready
    np.testing.assert_allclose(traces["onnx"].smoothed[ready], traces["tflite"].smoothed[ready],
                               atol=TOLERANCE)


def test_training_step_graphs_agree(toy_model):
    manifest = load_manifest(toy_model)
    spec = manifest.train_step
    weights = load_weights(toy_model, manifest)
    rng = np.random.default_rng(0)
    audio = (rng.normal(0, 0.05, (BATCH, CLIP_SAMPLES))).astype(np.float32)
    labels = np.array([0, 1, 2, 1, 0, 0, 1, 2], dtype=np.float32)
    inputs = [TensorSpec(name=n, shape=weights[n].shape, role="weight")
              for n in spec.weight_names]
    inputs += [TensorSpec(name="audio", shape=(BATCH, CLIP_SAMPLES), role="audio"),
               TensorSpec(name="labels", shape=(BATCH,), role="state")]
    outs = {}
    for fmt in ("onnx", "tflite"):
        graph = open_backend(fmt, toy_model / spec.graphs[fmt], inputs=inputs, n_outputs=3,
                             by_name=False)
        outs[fmt] = graph.run([weights["weight"], weights["bias"], audio, labels])
        graph.close()
    for a, b in zip(outs["onnx"], outs["tflite"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=TOLERANCE)
    assert float(outs["onnx"][0]) > 0 and np.abs(outs["onnx"][1]).sum() > 0


def test_auto_prefers_onnx_then_tflite():
    assert available_formats() == ("onnx", "tflite")
    assert resolve_backend("auto", ["tflite", "onnx"]) == "onnx"
    assert resolve_backend("auto", ["tflite"]) == "tflite"


def test_a_named_backend_is_never_swapped(toy_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(BackendUnavailableError, match="pip install onnxruntime"):
        Detector(toy_model, backend="onnx")
    assert Detector(toy_model, backend="auto").backend == "tflite"  # auto may choose


def test_missing_litert_names_the_pip_package(toy_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(BackendUnavailableError, match="pip install ai-edge-litert"):
        Detector(toy_model, backend="tflite")


def test_a_format_the_model_lacks_is_a_model_error(toy_copy):
    import json

    data = json.loads((toy_copy / "manifest.json").read_text())
    data["graphs"] = {"tflite": "model.tflite"}
    (toy_copy / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"has no onnx graph \(it provides \['tflite'\]\)"):
        Detector(toy_copy, backend="onnx")
    with pytest.raises(ValueError, match="backend must be one of"):
        Detector(toy_copy, backend="tensorrt")


def test_missing_graph_file_is_a_model_error(toy_copy):
    (toy_copy / "model.tflite").unlink()
    with pytest.raises(ModelError, match=r"model.tflite: graph file is missing"):
        Detector(toy_copy, backend="tflite")
