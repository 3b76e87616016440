"""One :class:`ExportSpec`: everything the format writers and the parity check need.

The streaming graph is :class:`StreamingGraph`, a thin module around a private copy of the
:class:`~wakeword.model.wakeword_model.WakeWordModel`::

    forward(audio [1, chunk_samples], *states, *trained_weights) -> (scores [1, n_classes], *next_states)

It calls ``model.stream_step`` through :func:`torch.func.functional_call` with the trained
weights taken from its *inputs*, so the exported graphs read the trained weights from
``weights.npz`` at start while every buffer -- the frozen connectome kernels (as band matrices),
the DFT basis and the Mel filterbank -- is baked into the graph as a constant.

Tensor names (ONNX names, manifest ``inputs``/``outputs``, ``weights.npz`` keys):

* inputs: ``audio``; the states ``overlap`` (audio kept for the next STFT frame), ``history``
  (Mel frames kept for the next window), the network's state (``hidden``, ``step``); then the
  trained weights under their parameter names (e.g. ``network.readout.weight``);
* outputs: ``scores`` then ``next_<state>`` for every state, in input order.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from device_runtime.errors import ModelError
from device_runtime.manifest import FORMATS, Manifest, TensorSpec, TrainStepSpec
from wakeword import __version__
from wakeword.errors import ConfigError, ExportError
from wakeword.jsonable import to_jsonable as _jsonable
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.train.trainer import TrainConfig

__all__ = [
    "DEFAULT_REFRACTORY_S",
    "DEFAULT_SMOOTHING_STEPS",
    "DEFAULT_THRESHOLD",
    "QUANTIZATIONS",
    "ExportSpec",
    "GraphSpec",
    "StreamingGraph",
    "build_spec",
    "parity_signal",
]

DEFAULT_THRESHOLD = 0.5
DEFAULT_SMOOTHING_STEPS = 1
DEFAULT_REFRACTORY_S = 1.0
QUANTIZATIONS = ("int8",)
PARITY_SECONDS = 5.0


def _dtype_name(t: Tensor) -> str:
    return str(t.dtype).replace("torch.", "")


@dataclass(frozen=True, kw_only=True, eq=False)
class GraphSpec:
    """One graph to write: the module, example inputs and the named tensor specs.

    ``module(*example_args)`` returns the outputs in the order of ``outputs``. The writers
    name ONNX tensors after ``inputs``/``outputs``; LiteRT uses ``args_i``/``output_i`` in the
    same order.
    """

    module: nn.Module
    example_args: tuple[Tensor, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]


class _StreamStep(nn.Module):
    """``forward`` is ``model.stream_step`` (functional_call calls ``forward``)."""

    def __init__(self, model: WakeWordModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        return self.model.stream_step(audio, *state)


class StreamingGraph(nn.Module):
    """``forward(audio, *states, *weights) -> (scores, *next_states)`` with weights as inputs.

    The runtime starts every state at zeros (manifest convention). The model's fresh stream
    state is zeros too except the Mel ``history`` (digital silence), so on the first call --
    step counter (the last state) at 0 -- the graph substitutes the model's initial value for
    any state whose initial value is not zero. Later calls pass the states through unchanged.
    """

    def __init__(self, model: WakeWordModel, weight_names: tuple[str, ...],
                 initial_states: tuple[Tensor, ...]) -> None:
        super().__init__()
        self.step = _StreamStep(model)
        self.weight_names = tuple(weight_names)
        self.n_states = len(initial_states)
        self.fresh_index = tuple(i for i, s in enumerate(initial_states) if bool(s.any()))
        for i in self.fresh_index:
            self.register_buffer(f"initial_{i}", initial_states[i].clone(), persistent=False)

    def forward(self, audio: Tensor, *rest: Tensor) -> tuple[Tensor, ...]:
        states = list(rest[: self.n_states])
        weights = rest[self.n_states :]
        if self.fresh_index:
            first = states[-1] == 0  # the step counter, [1]
            for i in self.fresh_index:
                states[i] = torch.where(first, getattr(self, f"initial_{i}"), states[i])
        params = {f"model.{n}": w for n, w in zip(self.weight_names, weights)}
        return tuple(torch.func.functional_call(self.step, params, (audio, *states)))


def _state_names(n_network_states: int) -> tuple[str, ...]:
    network = (("hidden", "step") if n_network_states == 2
               else tuple(f"state_{i}" for i in range(n_network_states - 1)) + ("step",))
    return ("overlap", "history", *network)


def parity_signal(seconds: float = PARITY_SECONDS, sample_rate_hz: int = 16000,
                  seed: int = 0) -> np.ndarray:
    """Seeded test audio ``[samples]`` float32: speech-like bursts over faint noise.

    Bursts of 150-600 ms, each a harmonic series (pitch 90-260 Hz, gliding) with formant-like
    emphasis, an attack/decay envelope and a little noise, separated by gaps; peak about 0.5.
    Not a keyword, but it drives every part of the model (loud, quiet, voiced, silent).
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sample_rate_hz)
    audio = 0.003 * rng.standard_normal(n)
    t = 0.05 + 0.2 * rng.random()
    while t < seconds:
        dur = 0.15 + 0.45 * rng.random()
        start, stop = int(t * sample_rate_hz), min(n, int((t + dur) * sample_rate_hz))
        if stop - start > 16:
            k = np.arange(stop - start) / sample_rate_hz
            f0 = (90 + 170 * rng.random()) * (1 + 0.2 * (rng.random() - 0.5) * k / dur)
            phase = 2 * np.pi * np.cumsum(f0) / sample_rate_hz
            formants = 300 + 2500 * rng.random(2)
            burst = np.zeros_like(k)
            for h in range(1, 25):
                freq = h * f0
                gain = sum(1.0 / (1.0 + ((freq - f) / 150.0) ** 2) for f in formants) / h ** 0.5
                burst += gain * np.sin(h * phase) * (freq < sample_rate_hz / 2)
            env = np.minimum(1.0, k / 0.02) * np.exp(-2.0 * k / dur)
            burst = burst * env + 0.02 * rng.standard_normal(k.size) * env
            audio[start:stop] += (0.1 + 0.4 * rng.random()) * burst / (np.abs(burst).max() + 1e-9)
        t += dur + 0.05 + 0.4 * rng.random()
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def _thresholds(keywords: tuple[str, ...], metrics: dict[str, Any], where: str
                ) -> dict[str, float]:
    value = metrics.get("threshold", None)
    if value is None:
        return {k: DEFAULT_THRESHOLD for k in keywords}
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(keywords))
        if unknown:
            raise ExportError(f"{where}: metrics.threshold names {unknown}, which are not "
                              f"keywords of this model ({list(keywords)}); fix the checkpoint")
        out = {k: float(value.get(k, DEFAULT_THRESHOLD)) for k in keywords}
    else:
        try:
            out = {k: float(value) for k in keywords}
        except (TypeError, ValueError) as exc:
            raise ExportError(f"{where}: metrics.threshold is {value!r}; expected a number in "
                              "(0, 1) or a {keyword: number} mapping") from exc
    for k, v in out.items():
        if not 0.0 < v < 1.0 or not math.isfinite(v):
            raise ExportError(f"{where}: metrics.threshold for {k!r} is {v}; a threshold on "
                              "probabilities must lie in (0, 1): recalibrate the checkpoint")
    return out


def _kernels_sha256(model: WakeWordModel) -> str:
    digest = hashlib.sha256()
    for name, value in sorted(model.frozen_kernels().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().numpy().astype(np.float32).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True, eq=False)
class ExportSpec:
    """What to export: the streaming graph, its tensors, weights and the manifest fields.

    Build it with :func:`build_spec`. ``model`` is a private eval-mode copy; ``weights`` holds
    the trained weights by name in manifest order (the ``weights.npz`` content).
    ``calibration_audio`` (float32 samples at ``sample_rate_hz``) feeds the parity check (the
    int8-weight TFLite graph needs no calibration; a full-integer one would use it).
    """

    model: WakeWordModel
    stream: GraphSpec
    weights: dict[str, np.ndarray]
    name: str
    version: str
    keywords: tuple[str, ...]
    class_names: tuple[str, ...]
    sample_rate_hz: int
    chunk_samples: int
    thresholds: dict[str, float]
    smoothing_steps: int
    refractory_s: float
    warmup_steps: int
    frontend: dict[str, Any]
    network: dict[str, Any]
    provenance: dict[str, Any]
    quantization: dict[str, str]
    calibration_audio: np.ndarray
    train_loss: dict[str, Any]

    # -- derived values -----------------------------------------------------------------------
    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self.stream.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self.stream.outputs

    @property
    def weight_names(self) -> tuple[str, ...]:
        return tuple(self.weights)

    @property
    def state_inputs(self) -> tuple[TensorSpec, ...]:
        return tuple(t for t in self.inputs if t.role == "state")

    def initial_states(self) -> list[np.ndarray]:
        """The graph's states at the start of a stream: zeros, as the runtime starts them."""
        return [np.zeros(t.shape, np.dtype(t.dtype)) for t in self.state_inputs]

    def manifest(self, graphs: dict[str, str], *, train_step: TrainStepSpec | None = None
                 ) -> Manifest:
        """The validated :class:`Manifest` for a folder holding ``graphs``."""
        quantization = {f: q for f, q in self.quantization.items() if f in graphs}
        try:
            return Manifest(
                name=self.name, version=self.version, keywords=self.keywords,
                class_names=self.class_names, sample_rate_hz=self.sample_rate_hz,
                chunk_samples=self.chunk_samples, graphs=dict(graphs), inputs=self.inputs,
                outputs=self.outputs, thresholds=dict(self.thresholds),
                smoothing_steps=self.smoothing_steps, refractory_s=self.refractory_s,
                warmup_steps=self.warmup_steps, frontend=dict(self.frontend),
                network=dict(self.network), provenance=dict(self.provenance),
                quantization=quantization, train_step=train_step)
        except ModelError as exc:  # the runtime's schema refused it
            raise ExportError(f"the exported manifest does not satisfy the runtime schema: {exc}"
                              ) from exc


def build_spec(model: WakeWordModel, payload: dict[str, Any] | None = None, *,
               source: str | os.PathLike[str] | None = None, name: str | None = None,
               version: str | None = None, quantize: str | None = None,
               formats: tuple[str, ...] = FORMATS, smoothing_steps: int | None = None,
               refractory_s: float | None = None, calibration_audio: np.ndarray | None = None,
               ) -> ExportSpec:
    """The :class:`ExportSpec` of ``model`` (and its checkpoint ``payload``, when there is one).

    Manifest fields come from the checkpoint where it has them: the threshold from
    ``metrics["threshold"]`` (a number, or ``{keyword: number}``; default 0.5),
    ``smoothing_steps``/``refractory_s`` from ``metrics`` (defaults 1 and 1.0 s), the name and
    version from ``extra`` (defaults: the keywords joined by ``_``, and
    ``<wakeword version>+epoch<N>``); the arguments override them. ``quantize='int8'`` asks for
    int8 weights in the TFLite graph.
    """
    where = str(source) if source is not None else "model"
    if not isinstance(model, WakeWordModel):
        raise ExportError(f"{where}: expected a WakeWordModel, got {type(model).__name__}")
    if quantize not in (None, *QUANTIZATIONS):
        raise ExportError(f"quantize is {quantize!r}; use one of {list(QUANTIZATIONS)} or None")
    payload = payload or {}
    metrics = payload.get("metrics") or {}
    extra = payload.get("extra") or {}
    train = payload.get("train") or {}
    model = copy.deepcopy(model).eval()
    frontend_cfg, network_cfg = model.frontend_config, model.network_config

    if frontend_cfg.n_mels != network_cfg.n_mels:  # WakeWordModel checks this too
        raise ExportError(f"{where}: network.n_mels ({network_cfg.n_mels}) differs from "
                          f"frontend.n_mels ({frontend_cfg.n_mels})")
    trained = model.trained_parameters()
    if not trained:
        raise ExportError(f"{where}: the model has no trained parameters (requires_grad is off "
                          "everywhere); the exported graphs take the trained weights as inputs")
    chunk = model.chunk_samples
    states = model.initial_stream_state(1)
    state_names = _state_names(len(states) - 2)
    weight_names = tuple(trained)
    clash = set(weight_names) & {"audio", "scores", *state_names,
                                 *(f"next_{s}" for s in state_names)}
    if clash:
        raise ExportError(f"{where}: trained parameter name(s) {sorted(clash)} clash with graph "
                          "tensor names; rename the module attributes")
    weights = {n: p.detach().cpu().numpy().astype(np.float32).copy() for n, p in trained.items()}
    inputs = (
        TensorSpec(name="audio", shape=(1, chunk), role="audio"),
        *(TensorSpec(name=n, shape=tuple(s.shape), dtype=_dtype_name(s), role="state")
          for n, s in zip(state_names, states)),
        *(TensorSpec(name=n, shape=w.shape, role="weight") for n, w in weights.items()),
    )
    n_classes = network_cfg.n_classes
    outputs = (
        TensorSpec(name="scores", shape=(1, n_classes), role="scores"),
        *(TensorSpec(name=f"next_{n}", shape=tuple(s.shape), dtype=_dtype_name(s),
                     role="state", state_of=n) for n, s in zip(state_names, states)),
    )
    counter = states[-1]
    if counter.shape != (1,) or bool(counter.any()):
        raise ExportError(f"{where}: the network's last stream state must be a zero step counter "
                          f"of shape [1], got shape {tuple(counter.shape)}; network.architecture "
                          f"{network_cfg.architecture!r} is not supported by the exporter")
    module = StreamingGraph(model, weight_names, tuple(states)).eval()
    example = (torch.zeros(1, chunk), *(torch.zeros_like(s) for s in states),
               *(torch.from_numpy(w.copy()) for w in weights.values()))
    with torch.no_grad():
        try:
            got = module(*example)
        except (ConfigError, RuntimeError) as exc:
            raise ExportError(f"{where}: the streaming step fails on a [1, {chunk}] chunk "
                              f"({exc}); check frontend and network configs") from exc
    for spec_, value in zip(outputs, got):
        if tuple(value.shape) != spec_.shape:
            raise ExportError(f"{where}: streaming output {spec_.name} has shape "
                              f"{tuple(value.shape)}, expected {spec_.shape}")

    kernels = payload.get("kernels") or {}
    provenance = {
        "source": str(source) if source is not None else "in-memory model",
        "exported_by": f"wakeword {__version__}",
        "trained_by": payload.get("wakeword_version"),
        "checkpoint_schema": payload.get("schema_version"),
        "epoch": payload.get("epoch"),
        "kernel_fingerprint": kernels.get("fingerprint") or None,
        "kernel_recipe": _jsonable(kernels.get("recipe") or {}),
        "attribution": kernels.get("attribution") or "",
        "kernel_neuron_ids": _jsonable(kernels.get("neuron_ids")),
        "kernel_source": network_cfg.kernel_source,
        "frozen_kernels_sha256": _kernels_sha256(model),
    }
    keywords = tuple(network_cfg.keywords)
    smoothing = int(smoothing_steps if smoothing_steps is not None
                    else metrics.get("smoothing_steps", DEFAULT_SMOOTHING_STEPS))
    refractory = float(refractory_s if refractory_s is not None
                       else metrics.get("refractory_s", DEFAULT_REFRACTORY_S))
    if smoothing < 1 or refractory < 0:
        raise ExportError(f"{where}: smoothing_steps={smoothing} / refractory_s={refractory} are "
                          "out of range; use smoothing_steps >= 1 and refractory_s >= 0")
    epoch = payload.get("epoch")
    default_version = __version__ + (f"+epoch{epoch}" if epoch is not None else "")
    if calibration_audio is None:
        calibration_audio = parity_signal(PARITY_SECONDS, frontend_cfg.sample_rate_hz)
    calibration_audio = np.asarray(calibration_audio, dtype=np.float32).reshape(-1)
    if calibration_audio.size < chunk or not np.isfinite(calibration_audio).all():
        raise ExportError(f"the parity/calibration audio has {calibration_audio.size} samples "
                          f"(or non-finite values); give at least one chunk ({chunk} samples) of "
                          "finite audio")
    # The trainer's loss (wakeword.train.trainer.Trainer._loss): class-weighted cross-entropy
    # (background weighted by false_accept_weight) plus an optional L1 penalty on the trained
    # weights, with the checkpoint's training config (the trainer's defaults without one).
    try:
        train_cfg = TrainConfig.from_dict(dict(train))
    except (ConfigError, TypeError) as exc:
        raise ExportError(f"{where}: the checkpoint's train config is not readable ({exc}); "
                          "re-save the checkpoint with this wakeword version") from exc
    train_loss = {"loss": "cross_entropy",
                  "false_accept_weight": float(train_cfg.false_accept_weight),
                  "l1": float(train_cfg.l1), "clip_pooling": network_cfg.clip_pooling,
                  # a train config from before the every-step negative loss trained without
                  # it; no train config at all means the trainer's defaults
                  "negative_step_weight": float(dict(train).get(
                      "negative_step_weight",
                      0.0 if dict(train) else train_cfg.negative_step_weight))}
    return ExportSpec(
        model=model,
        stream=GraphSpec(module=module, example_args=example, inputs=inputs, outputs=outputs),
        weights=weights,
        name=name or str(extra.get("name") or "_".join(k.replace(" ", "_") for k in keywords)),
        version=version or str(extra.get("version") or default_version),
        keywords=keywords,
        class_names=tuple(network_cfg.class_names),
        sample_rate_hz=int(frontend_cfg.sample_rate_hz),
        chunk_samples=int(chunk),
        thresholds=_thresholds(keywords, metrics, where),
        smoothing_steps=smoothing,
        refractory_s=refractory,
        # Steps whose window still holds the silence a fresh stream starts with.
        warmup_steps=-(-network_cfg.history_frames // network_cfg.stride_frames),
        frontend=frontend_cfg.to_dict(),
        network=network_cfg.to_dict(),
        provenance=provenance,
        quantization={"tflite": quantize} if quantize and "tflite" in formats else {},
        calibration_audio=calibration_audio,
        train_loss=train_loss,
    )
