"""`export_model`: the exported folder agrees with PyTorch and with the runtime's manifest schema.

One real (small) model is exported once for the module -- ONNX + TFLite streaming graphs and
training-step graphs (clip shortened to 0.64 s to keep the suite fast; the graph is the same op
set unrolled over fewer steps) -- and every test reads that folder. Parity is checked here
independently of the exporter's own parity step: the folder is driven only through
``manifest.json`` and ``weights.npz``, as the device runtime drives it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from device_runtime.manifest import check_sidecar, load_manifest
from export import STREAM_TOLERANCE, export_model
from export.spec import parity_signal
from wakeword.features.mel import FrontendConfig
from wakeword.model.config import NetworkConfig
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.train.checkpoint import KernelSource, save_checkpoint

TRAIN_CLIP_S = 0.64
TRAIN_RTOL = 1e-4


def make_model(**network: object) -> tuple[WakeWordModel, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    kernels = rng.standard_normal((64, 9)).astype(np.float32)
    kernels /= np.linalg.norm(kernels, axis=1, keepdims=True)
    path = np.arange(8)
    torch.manual_seed(0)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(**network), kernels, path).eval()
    with torch.no_grad():  # move off the initialisation so scores span roughly 0.3 .. 0.7
        for p in model.trained_parameters().values():
            p.add_(0.1 * torch.randn_like(p))
    return model, kernels, path


@pytest.fixture(scope="module")
def built():
    return make_model()


@pytest.fixture(scope="module")
def checkpoint(built, tmp_path_factory):
    model, kernels, path = built
    source = KernelSource(kernels=kernels, path=path, fingerprint="sha256:test-bank",
                          recipe={"name": "seeded-random"}, attribution="seeded random kernels")
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", model, kernels=source,
                           metrics={"threshold": 0.7}, epoch=3)


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "computer"
    return export_model(checkpoint, out, train_clip_s=TRAIN_CLIP_S)


def _weights(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "weights.npz") as data:
        return {k: data[k] for k in data.files}


def _torch_stream(model: WakeWordModel, audio: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.stream(torch.from_numpy(audio)[None])[0].numpy()


def _runner(fmt: str, path: Path):
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        return lambda args: session.run(None, dict(zip(names, args)))
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    n_out = len(runner.get_output_details())

    def run(args):
        out = runner(**{f"args_{i}": a for i, a in enumerate(args)})
        return [out[f"output_{i}"] for i in range(n_out)]

    return run


def _device_stream(folder: Path, fmt: str, audio: np.ndarray) -> np.ndarray:
    """Stream audio through a graph using only the manifest and weights.npz."""
    manifest = load_manifest(folder)
    run = _runner(fmt, folder / manifest.graphs[fmt])
    weights = _weights(folder)
    states = {t.name: np.zeros(t.shape, np.float32) for t in manifest.state_inputs}  # as the runtime
    n = manifest.chunk_samples
    scores = []
    for start in range(0, audio.size - n + 1, n):
        args = []
        for t in manifest.inputs:
            args.append(audio[None, start:start + n] if t.role == "audio"
                        else states[t.name] if t.role == "state" else weights[t.name])
        outs = run(args)
        for spec, value in zip(manifest.outputs, outs):
            if spec.role == "scores":
                scores.append(np.asarray(value)[0])
            else:
                states[spec.state_of] = np.asarray(value)
    return np.stack(scores)


def test_export_writes_a_complete_folder_and_no_temporary_files(exported):
    names = {p.name for p in exported.iterdir()}
    assert names == {"manifest.json", "weights.npz", "model.onnx", "model.tflite", "model.json",
                     "train_step.onnx", "train_step.tflite", "parity.json"}
    assert [p.name for p in exported.parent.iterdir()] == ["computer"]


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_streaming_graph_matches_pytorch_over_a_multi_second_stream(exported, built, fmt):
    audio = parity_signal(6.0, seed=11)  # not the exporter's own parity audio
    reference = _torch_stream(built[0], audio)
    got = _device_stream(exported, fmt, audio)
    assert got.shape == reference.shape == (75, 2)
    assert reference[:, 1].max() - reference[:, 1].min() > 0.05  # scores are not trivial
    assert np.abs(got - reference).max() <= STREAM_TOLERANCE


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory):
    model, _, _ = make_model(kernel_schedule=True)
    out = tmp_path_factory.mktemp("models") / "scheduled"
    return model, export_model(model, out, train_step=False)


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_kernel_schedule_graph_matches_pytorch(scheduled, fmt):
    model, folder = scheduled
    audio = parity_signal(5.0, seed=5)  # 62 steps: the 8-neuron schedule cycles ~8 times
    reference = _torch_stream(model, audio)
    assert np.abs(_device_stream(folder, fmt, audio) - reference).max() <= STREAM_TOLERANCE


def _kernel_rows(model: WakeWordModel) -> list[np.ndarray]:
    taps = model.frozen_kernels()
    assert taps, "the model has frozen kernels"
    return [row for t in taps.values() for row in t.numpy().reshape(-1, t.shape[-1])]


def _holds(blob: bytes, row: np.ndarray) -> bool:
    row = row.astype("<f4")
    return row.tobytes() in blob or row[::-1].copy().tobytes() in blob


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_frozen_kernels_are_constants_and_trained_weights_are_inputs(exported, built, fmt):
    model = built[0]
    blob = (exported / f"model.{fmt}").read_bytes()
    # Every kernel (9 taps, in a band-matrix row or column) is stored in the graph file ...
    assert all(_holds(blob, row) for row in _kernel_rows(model))
    # ... while the trained weights are not baked in: they come from weights.npz.
    readout = model.network.readout.weight.detach().numpy()[0, :16]
    assert readout.astype("<f4").tobytes() not in blob
    manifest = load_manifest(exported)
    assert {t.name for t in manifest.weight_inputs} == set(model.trained_parameters())
    kernel_shapes = {tuple(b.shape) for n, b in model.named_buffers()
                     if n.endswith((".taps", ".bands"))}
    if fmt == "onnx":
        import onnx

        graph = onnx.load(str(exported / "model.onnx")).graph
        inputs = [(i.name, tuple(d.dim_value for d in i.type.tensor_type.shape.dim))
                  for i in graph.input]
        init = {i.name: onnx.numpy_helper.to_array(i) for i in graph.initializer}
        bands = model.network.bio_input.bands.numpy()
        assert any(v.shape == bands.shape and np.array_equal(v, bands) for v in init.values())
    else:
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=str(exported / "model.tflite"))
        details = interp.get_signature_runner().get_input_details()
        inputs = [(k, tuple(v["shape"])) for k, v in details.items()]
    assert [n for n, _ in inputs] != [] and len(inputs) == len(manifest.inputs)
    assert not any("taps" in n or "bands" in n for n, _ in inputs)
    assert not any(shape in kernel_shapes or shape[-1:] == (9,) for _, shape in inputs)


def _torch_train_step(model: WakeWordModel, audio: np.ndarray, labels: np.ndarray
                      ) -> list[np.ndarray]:
    """Loss and gradients from the trainer's own loss function, by torch autograd."""
    from wakeword.train.trainer import TrainConfig, Trainer

    trainer = Trainer(model, KernelSource(kernels=np.zeros((1, 9)), path=np.arange(1)),
                      TrainConfig())
    params = list(model.trained_parameters().values())
    model.eval()
    loss = trainer._loss(model.features(torch.from_numpy(audio)),
                         torch.from_numpy(labels).to(torch.int64))
    grads = torch.autograd.grad(loss, params)
    return [loss.detach().numpy(), *(g.numpy() for g in grads)]


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_train_step_loss_and_gradients_match_torch_autograd(exported, built, fmt):
    manifest = load_manifest(exported)
    step = manifest.train_step
    assert step is not None and step.graphs[fmt] == f"train_step.{fmt}"
    assert step.batch_size == 8 and step.clip_samples == int(TRAIN_CLIP_S * 16000)
    weights = _weights(exported)
    assert list(step.weight_names) == list(weights) == [t.name for t in manifest.weight_inputs]
    rng = np.random.default_rng(3)
    audio = np.stack([parity_signal(TRAIN_CLIP_S, seed=100 + i) for i in range(8)])
    audio = (audio * rng.uniform(0.3, 1.5, size=(8, 1))).astype(np.float32)
    labels = np.array([0, 1, 1, 0, 1, 0, 0, 1], np.float32)
    got = _runner(fmt, exported / step.graphs[fmt])(
        [weights[n] for n in step.weight_names] + [audio, labels])
    reference = _torch_train_step(built[0], audio, labels)
    assert len(got) == 1 + len(step.weight_names)
    for g, r in zip(got, reference):
        g = np.asarray(g).reshape(r.shape)
        assert np.abs(g - r).max() <= TRAIN_RTOL * max(np.abs(r).max(), 1e-6)
    assert np.abs(reference[1]).max() > 0  # the gradients are not trivially zero


def test_manifest_round_trips_and_carries_the_checkpoint_fields(exported, built):
    manifest = load_manifest(exported)
    model = built[0]
    assert manifest.keywords == ("computer",) and manifest.class_names == ("background",
                                                                            "computer")
    assert manifest.chunk_samples == model.chunk_samples == 1280
    assert manifest.sample_rate_hz == 16000
    assert manifest.thresholds == {"computer": 0.7}  # from metrics["threshold"]
    assert manifest.graphs == {"onnx": "model.onnx", "tflite": "model.tflite"}
    assert manifest.quantization == {}
    assert manifest.frontend == model.frontend_config.to_dict()
    assert manifest.network == model.network_config.to_dict()
    assert manifest.provenance["kernel_fingerprint"] == "sha256:test-bank"
    assert manifest.provenance["attribution"] == "seeded random kernels"
    assert manifest.provenance["source"].endswith("best.pt")
    assert [t.role for t in manifest.inputs][:5] == ["audio", "state", "state", "state", "state"]
    assert [t.state_of for t in manifest.outputs] == [None, "overlap", "history", "hidden",
                                                      "step"]
    assert check_sidecar(manifest, exported)  # model.json agrees with the manifest
    again = json.loads(json.dumps(manifest.to_dict()))
    assert type(manifest).from_dict(again) == manifest


def test_weights_npz_holds_the_trained_weights(exported, built):
    params = built[0].trained_parameters()
    weights = _weights(exported)
    assert list(weights) == list(params)
    for name, p in params.items():
        assert np.array_equal(weights[name], p.detach().numpy())


def test_onnx_metadata_carries_the_manifest(exported):
    import onnx

    props = {p.key: p.value for p in onnx.load(str(exported / "model.onnx")).metadata_props}
    assert props["wakeword.name"] == "computer"
    assert json.loads(props["wakeword.keywords"]) == ["computer"]
    meta = json.loads(props["wakeword.manifest"])
    assert meta["chunk_samples"] == 1280 and meta["thresholds"] == {"computer": 0.7}


def test_parity_report_states_figures_and_tolerances(exported):
    report = json.loads((exported / "parity.json").read_text())
    assert report["tolerances"]["stream"] == STREAM_TOLERANCE
    for fmt in ("onnx", "tflite"):
        assert report["stream"][fmt]["max_abs_diff"] <= STREAM_TOLERANCE
        assert report["train_step"][fmt]["max_rel_diff"] <= 1e-4
    assert report["files"]["model.onnx"] == (exported / "model.onnx").stat().st_size


def test_int8_tflite_stores_the_frozen_kernels_as_int8_and_stays_close(built, exported,
                                                                        tmp_path):
    out = export_model(built[0], tmp_path / "int8", formats=("tflite",), train_step=False,
                       quantize="int8")
    manifest = load_manifest(out)
    assert manifest.quantization == {"tflite": "int8"}
    assert check_sidecar(manifest, out)
    # two float32 band-matrix sets (2 x 64 KiB) and the Mel filterbank (25 KiB) become int8
    saved = (exported / "model.tflite").stat().st_size - (out / "model.tflite").stat().st_size
    assert saved > 100_000
    audio = parity_signal(5.0, seed=2)
    diff = np.abs(_device_stream(out, "tflite", audio) - _torch_stream(built[0], audio)).max()
    assert diff <= 0.02  # observed about 0.003
