"""A small but real model folder for the device-runtime tests, plus seeded test signals.

The toy model is a streaming torch module exported to ONNX and TFLite exactly as the manifest
describes (audio + state + weight inputs; scores + next state outputs), with a training-step
graph in both formats. Per 1280-sample chunk it computes

* ``e``: log10 energy + 8 (0 for digital silence),
* ``r``: log10 energy of the first difference minus log10 energy (spectral tilt: about -2 for
  a 200-300 Hz tone, +0.3 for white noise or a 4 kHz tone),
* ``e - level``: onset strength against ``level``, a running mean of ``e`` (the state),

and a linear layer ``[e, r, e - level] @ W + b`` -> softmax over (background, low, high).
"low" fires on a loud low tone, "high" on a loud hiss or high tone.

Only the builder imports torch; the runtime under test never does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from device_runtime.manifest import Manifest, TensorSpec, TrainStepSpec, save_manifest, sidecar_dict

SAMPLE_RATE_HZ = 16000
CHUNK = 1280
KEYWORDS = ("low", "high")
CLIP_STEPS = 12
CLIP_SAMPLES = CLIP_STEPS * CHUNK
BATCH = 8
POOL_POWER = 10.0

# Hand-set weights: keyword logits rise with loudness e, low/high split on the tilt r.
W0 = np.array([[0.0, 3.0, 3.0],
               [0.0, -3.0, 3.0],
               [0.0, 0.5, 0.5]], dtype=np.float32)
B0 = np.array([0.0, 3.0 * -6.0 - 3.0, 3.0 * -6.0 + 3.0], dtype=np.float32)


def _torch_parts():  # returns torch types
    import torch

    def step(audio, level, weight, bias):
        energy = torch.mean(audio * audio, dim=1, keepdim=True)
        e = torch.log10(energy + 1e-8) + 8.0
        diff = audio[:, 1:] - audio[:, :-1]
        ed = torch.log10(torch.mean(diff * diff, dim=1, keepdim=True) + 1e-8) + 8.0
        feats = torch.cat([e, ed - e, e - level], dim=1)
        logits = feats @ weight + bias
        return logits, 0.9 * level + 0.1 * e

    class Toy(torch.nn.Module):
        def forward(self, audio, level, weight, bias):
            logits, next_level = step(audio, level, weight, bias)
            return torch.softmax(logits, dim=-1), next_level

    def loss_fn(weight, bias, audio, labels):
        """Negatives: background at every step. Keyword clips: the keyword at some step
        (multiple-instance loss on a soft maximum over steps: the power mean with exponent
        POOL_POWER of the keyword probability)."""
        level = torch.zeros(audio.shape[0], 1)
        steps = []
        for t in range(CLIP_STEPS):
            logits, level = step(audio[:, t * CHUNK:(t + 1) * CHUNK], level, weight, bias)
            steps.append(torch.log_softmax(logits, dim=-1))
        logp = torch.stack(steps, dim=1)  # [batch, steps, classes]
        background = -logp[:, :, 0].mean(dim=1)
        classes = torch.arange(len(KEYWORDS) + 1, dtype=torch.float32)
        # one-hot without a bool cast (the TorchScript exporter lacks aten::_to_copy)
        onehot = torch.relu(1.0 - torch.abs(labels[:, None] - classes[None, :]))
        label_logp = (logp * onehot[:, None, :]).sum(dim=-1)  # [batch, steps]
        keyword = -(torch.logsumexp(POOL_POWER * label_logp, dim=1)
                    - float(np.log(CLIP_STEPS))) / POOL_POWER
        is_negative = torch.relu(1.0 - labels)
        return (is_negative * background + (1.0 - is_negative) * keyword).mean()

    return torch, Toy, loss_fn


def build_toy_model(out_dir: Path, *, negatives: bool = True) -> Path:
    """Write the toy model folder (both formats, train step, sidecar) into ``out_dir``."""
    import warnings

    torch, Toy, loss_fn = _torch_parts()
    import litert_torch
    from torch.fx.experimental.proxy_tensor import make_fx

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weight, bias = torch.from_numpy(W0), torch.from_numpy(B0)
    args = (torch.zeros(1, CHUNK), torch.zeros(1, 1), weight, bias)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Toy(), args, str(out_dir / "model.onnx"),
                          input_names=["audio", "level", "weight", "bias"],
                          output_names=["scores", "next_level"], dynamo=False, opset_version=17)
        litert_torch.convert(Toy().eval(), args).export(str(out_dir / "model.tflite"))

        def train_fn(w, b, audio, labels):
            grads, loss = torch.func.grad_and_value(loss_fn, argnums=(0, 1))(w, b, audio, labels)
            return (loss, *grads)

        targs = (weight, bias, torch.zeros(BATCH, CLIP_SAMPLES), torch.zeros(BATCH))
        graph = make_fx(train_fn, decomposition_table=torch._decomp.core_aten_decompositions())(
            *targs)

        class TrainStep(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.graph = graph

            def forward(self, w, b, audio, labels):
                return tuple(self.graph(w, b, audio, labels))

        torch.onnx.export(TrainStep(), targs, str(out_dir / "train_step.onnx"),
                          input_names=["weight", "bias", "audio", "labels"],
                          output_names=["loss", "grad_weight", "grad_bias"], dynamo=False,
                          opset_version=17)
        litert_torch.convert(TrainStep().eval(), targs).export(str(out_dir / "train_step.tflite"))

    np.savez(out_dir / "weights.npz", weight=W0, bias=B0)
    manifest = Manifest(
        name="toy", version="0.0.1", keywords=KEYWORDS, class_names=("background", *KEYWORDS),
        sample_rate_hz=SAMPLE_RATE_HZ, chunk_samples=CHUNK,
        graphs={"onnx": "model.onnx", "tflite": "model.tflite"},
        inputs=(TensorSpec(name="audio", shape=(1, CHUNK), role="audio"),
                TensorSpec(name="level", shape=(1, 1), role="state"),
                TensorSpec(name="weight", shape=(3, 3), role="weight"),
                TensorSpec(name="bias", shape=(3,), role="weight")),
        outputs=(TensorSpec(name="scores", shape=(1, 3), role="scores"),
                 TensorSpec(name="next_level", shape=(1, 1), role="state", state_of="level")),
        thresholds={"low": 0.5, "high": 0.5}, smoothing_steps=2, refractory_s=1.0,
        warmup_steps=1, frontend={"kind": "toy-energy"}, network={"kind": "linear"},
        provenance={"built_by": "tests/runtime_fixtures.py"},
        train_step=TrainStepSpec(graphs={"onnx": "train_step.onnx",
                                         "tflite": "train_step.tflite"},
                                 batch_size=BATCH, clip_samples=CLIP_SAMPLES,
                                 weight_names=("weight", "bias")),
    )
    save_manifest(manifest, out_dir)
    (out_dir / "model.json").write_text(json.dumps(sidecar_dict(manifest), indent=2))
    if negatives:
        rng = np.random.default_rng(123)
        clips = [rng.normal(0, level, CLIP_SAMPLES) for level in (0.001, 0.003, 0.01, 0.02)]
        np.savez(out_dir / "negatives.npz", audio=np.stack(clips).astype(np.float32))
    return out_dir


# -- signals -------------------------------------------------------------------------------------
def tone(freq_hz: float, amplitude: float, seconds: float, *, ramp_s: float = 0.01) -> np.ndarray:
    """A sine burst with short raised-cosine ramps."""
    n = round(seconds * SAMPLE_RATE_HZ)
    t = np.arange(n) / SAMPLE_RATE_HZ
    x = amplitude * np.sin(2 * np.pi * freq_hz * t)
    ramp = min(int(ramp_s * SAMPLE_RATE_HZ), n // 2)
    if ramp:
        win = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        x[:ramp] *= win
        x[-ramp:] *= win[::-1]
    return x.astype(np.float32)


def stream_with_events(seconds: float, events: list[tuple[float, np.ndarray]], *,
                       noise: float = 0.003, seed: int = 0) -> np.ndarray:
    """Background noise of ``seconds`` with each ``(start_s, signal)`` added in."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, noise, int(seconds * SAMPLE_RATE_HZ)).astype(np.float32)
    for start_s, signal in events:
        i = int(start_s * SAMPLE_RATE_HZ)
        x[i:i + signal.size] += signal[: max(0, x.size - i)]
    return x


# -- pytest fixtures (import them into a test module to use them) -------------------------------
_CACHE: dict[str, Path] = {}


def _build_once(factory) -> Path:  # factory: pytest.TempPathFactory
    """Build the toy model once per test session, whichever module asks first."""
    if "toy" not in _CACHE:
        import contextlib
        import io
        import logging

        sink = io.StringIO()
        quiet = logging.getLogger()
        level = quiet.level
        quiet.setLevel(logging.WARNING)  # the converters log every lowering at INFO
        try:
            with contextlib.redirect_stdout(sink):
                _CACHE["toy"] = build_toy_model(factory.mktemp("toy_model") / "toy")
        finally:
            quiet.setLevel(level)
    return _CACHE["toy"]


def _fixtures():
    import shutil

    import pytest

    @pytest.fixture(scope="session")
    def toy_model(tmp_path_factory):
        """The pristine toy model folder (shared: do not modify it; use toy_copy)."""
        return _build_once(tmp_path_factory)

    @pytest.fixture
    def toy_copy(toy_model, tmp_path):
        """A private copy of the toy model folder that a test may damage."""
        return Path(shutil.copytree(toy_model, tmp_path / "toy"))

    return toy_model, toy_copy


toy_model, toy_copy = _fixtures()
