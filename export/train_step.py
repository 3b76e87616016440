"""Training-step graphs for on-device fine-tuning: loss and gradients, no torch on the device.

The graph (``train_step.onnx`` / ``train_step.tflite``)::

    inputs:  *trained_weights (TrainStepSpec.weight_names order, as in weights.npz),
             audio [batch_size, clip_samples] float32, labels [batch_size] float32 class indices
    outputs: loss (scalar), then d loss / d weight for every weight, same order and shapes

The loss is the trainer's (``wakeword.train.trainer.Trainer._loss``): the cross-entropy of the
clip logits (:func:`wakeword.model.network.clip_logits` of the per-step logits), classes
weighted as in training (background by ``false_accept_weight``; the weighted mean), plus the
every-step background loss on negative clips (``negative_step_weight``), plus the L1
penalty when the checkpoint trained with one. The model runs in eval mode (no dropout, batch-norm
running statistics), the log-Mel front end is inside the graph, and the frozen kernels are
constants. Labels must be integers in ``[0, n_classes)``: a label out of range contributes
nothing (PyTorch would raise).

How it is built (PLATFORM.md): the step is traced with
``torch.fx.experimental.proxy_tensor.make_fx`` and the core ATen decompositions, so the graph
holds plain forward ops for the backward pass; the GraphModule is then exported like any
module. Two ops have no lowering and are avoided: ``aten.convolution_backward`` (the trained
1x1 convolutions get a matmul decomposition here; the frozen bio-convolution already is a
band-matrix matmul) and scatters (the loss picks the label's log-probability with a one-hot
mask, and ``clip_logits`` selects the best step with a mask).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from device_runtime.manifest import TensorSpec, TrainStepSpec
from export.spec import ExportSpec, GraphSpec, parity_signal
from wakeword.errors import ExportError
from wakeword.model.network import clip_logits, negative_step_loss

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CLIP_S",
    "build_train_step",
    "reference_step",
    "train_batch",
    "train_step_spec",
]

DEFAULT_BATCH_SIZE = 8
DEFAULT_CLIP_S = 2.0


def _class_weights(spec: ExportSpec) -> Tensor:
    faw = float(spec.train_loss["false_accept_weight"])
    return torch.tensor([faw] + [1.0] * (len(spec.class_names) - 1), dtype=torch.float32)


def _conv1d_backward(grad_out: Tensor, inp: Tensor, weight: Tensor, bias_sizes: Any,
                     stride: Any, padding: Any, dilation: Any, transposed: bool,
                     output_padding: Any, groups: int, mask: Any
                     ) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """``aten.convolution_backward`` for the trained 1x1 ``Conv1d`` layers, as matmuls."""
    if (weight.dim() != 3 or weight.shape[-1] != 1 or groups != 1 or transposed
            or any(s != 1 for s in stride) or any(p != 0 for p in padding)):
        raise ExportError(
            f"the training-step graph supports trained convolutions with kernel size 1 only, "
            f"but one has weight shape {tuple(weight.shape)}, stride {list(stride)}, padding "
            f"{list(padding)}, groups {groups}; export with train_step=False (--no-train-step)")
    w = weight[..., 0]  # [out, in]
    grad_in = torch.matmul(w.t(), grad_out) if mask[0] else None
    grad_w = (torch.matmul(grad_out, inp.transpose(1, 2)).sum(0).unsqueeze(-1)
              if mask[1] else None)
    grad_b = grad_out.sum((0, 2)) if mask[2] else None
    return grad_in, grad_w, grad_b


def _decompositions() -> dict[Any, Any]:
    from torch._decomp import core_aten_decompositions

    table = dict(core_aten_decompositions())
    table[torch.ops.aten.convolution_backward.default] = _conv1d_backward
    return table


def _graph_loss(spec: ExportSpec, params: dict[str, Tensor], audio: Tensor, labels: Tensor
                ) -> Tensor:
    """The trainer's loss in lowerable ops (one-hot masks instead of gather/scatter)."""
    if hasattr(spec.model.network, "strided_input"):
        spec.model.network.strided_input = False  # matrix products only
    step_logits = torch.func.functional_call(spec.model, params, (audio,))
    logits = clip_logits(step_logits, spec.train_loss["clip_pooling"])
    logp = torch.log_softmax(logits, dim=-1)
    classes = torch.arange(logits.shape[-1])
    onehot = (labels.to(torch.int64)[:, None] == classes[None, :]).to(logp.dtype)
    weight = (onehot * _class_weights(spec)[None, :]).sum(-1)
    nll = -(onehot * logp).sum(-1)
    loss = (weight * nll).sum() / weight.sum()
    nsw = float(spec.train_loss.get("negative_step_weight", 0.0))
    if nsw > 0:  # every step of a negative clip is background (Trainer._loss), as a mask
        negative = (labels.to(torch.int64) == 0).to(logp.dtype)  # [B]
        background = torch.log_softmax(step_logits, dim=-1)[..., 0]  # [B, T]
        count = (negative.sum() * step_logits.shape[1]).clamp_min(1.0)
        loss = loss - nsw * (background * negative[:, None]).sum() / count
    l1 = spec.train_loss["l1"]
    if l1 > 0:
        loss = loss + l1 * sum(p.abs().sum() for p in params.values())
    return loss


def reference_step(spec: ExportSpec, audio: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """``[loss, *grads]`` from torch autograd with the trainer's own formulation.

    ``torch.nn.functional.cross_entropy`` with class weights on :func:`clip_logits`, plus L1:
    what ``Trainer._loss`` computes, independent of the graph's lowerable rewrite.
    """
    params = {n: torch.from_numpy(w.copy()).requires_grad_(True) for n, w in spec.weights.items()}
    x = torch.from_numpy(np.asarray(audio, np.float32))
    y = torch.from_numpy(np.asarray(labels)).to(torch.int64)
    step_logits = torch.func.functional_call(spec.model, params, (x,))
    logits = clip_logits(step_logits, spec.train_loss["clip_pooling"])
    loss = torch.nn.functional.cross_entropy(logits, y, weight=_class_weights(spec))
    nsw = float(spec.train_loss.get("negative_step_weight", 0.0))
    if nsw > 0:
        loss = loss + nsw * negative_step_loss(step_logits, y)
    if spec.train_loss["l1"] > 0:
        loss = loss + spec.train_loss["l1"] * sum(p.abs().sum() for p in params.values())
    grads = torch.autograd.grad(loss, list(params.values()))
    return [loss.detach().numpy(), *(g.numpy() for g in grads)]


def train_batch(spec: ExportSpec, batch_size: int, clip_samples: int, seed: int = 1
                ) -> tuple[np.ndarray, np.ndarray]:
    """A seeded batch: speech-like clips ``[batch, clip_samples]``, labels cycling the classes."""
    rate = spec.sample_rate_hz
    audio = np.stack([parity_signal(clip_samples / rate, rate, seed=seed + i)[:clip_samples]
                      for i in range(batch_size)])
    labels = (np.arange(batch_size) % len(spec.class_names)).astype(np.float32)
    return audio.astype(np.float32), labels


class _TracedStep(nn.Module):
    def __init__(self, graph: torch.fx.GraphModule) -> None:
        super().__init__()
        self.graph_module = graph

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.graph_module(*args))


def build_train_step(spec: ExportSpec, *, batch_size: int = DEFAULT_BATCH_SIZE,
                     clip_samples: int | None = None) -> GraphSpec:
    """The training-step :class:`GraphSpec` (traced with make_fx) for ``spec``'s model."""
    from torch.fx.experimental.proxy_tensor import make_fx

    if clip_samples is None:
        clip_samples = round(DEFAULT_CLIP_S * spec.sample_rate_hz)
    if batch_size < 1:
        raise ExportError(f"train-step batch_size is {batch_size}; use 1 or more (default 8)")
    if clip_samples < spec.chunk_samples:
        raise ExportError(f"train-step clip_samples is {clip_samples} but one model step needs "
                          f"{spec.chunk_samples} samples; use a longer clip (default "
                          f"{DEFAULT_CLIP_S} s)")
    names = spec.weight_names

    def step(*args: Tensor) -> tuple[Tensor, ...]:
        weights, (audio, labels) = args[: len(names)], args[len(names):]
        loss = _graph_loss(spec, dict(zip(names, weights)), audio, labels)
        return (loss, *torch.autograd.grad(loss, weights))

    audio, labels = train_batch(spec, batch_size, clip_samples)
    weights = [torch.from_numpy(w.copy()) for w in spec.weights.values()]
    example = (*weights, torch.from_numpy(audio), torch.from_numpy(labels))
    traced_inputs = (*(w.clone().requires_grad_(True) for w in weights), *example[len(names):])
    try:
        graph = make_fx(step, decomposition_table=_decompositions())(*traced_inputs)
    except ExportError:
        raise
    except Exception as exc:
        raise ExportError(f"tracing the training step failed ({exc.__class__.__name__}: {exc}); "
                          "export with train_step=False (--no-train-step)") from exc
    graph.graph.eliminate_dead_code()
    graph.recompile()
    inputs = (*(TensorSpec(name=n, shape=w.shape, role="weight") for n, w in spec.weights.items()),
              TensorSpec(name="audio", shape=(batch_size, clip_samples), role="audio"),
              TensorSpec(name="labels", shape=(batch_size,), role="state"))
    outputs = (TensorSpec(name="loss", shape=(), role="scores"),
               *(TensorSpec(name=f"grad.{n}", shape=w.shape, role="state")
                 for n, w in spec.weights.items()))
    return GraphSpec(module=_TracedStep(graph).eval(), example_args=example, inputs=inputs,
                     outputs=outputs,
                     metadata={"wakeword.train_step": "loss + gradients of the trained weights",
                               "wakeword.weight_names": ",".join(names)})


def train_step_spec(graph: GraphSpec, graphs: dict[str, str]) -> TrainStepSpec:
    """The manifest's ``train_step`` entry for a built training-step graph."""
    audio = next(t for t in graph.inputs if t.name == "audio")
    weight_names = tuple(t.name for t in graph.inputs if t.role == "weight")
    return TrainStepSpec(graphs=dict(graphs), batch_size=audio.shape[0],
                         clip_samples=audio.shape[1], weight_names=weight_names,
                         loss="cross_entropy")
