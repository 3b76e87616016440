"""Parity: every exported file against PyTorch on the same audio.

Streaming graphs: the same audio (by default :func:`export.spec.parity_signal`, 5 s of seeded
speech-like bursts; or a real clip) is streamed chunk by chunk through
``WakeWordModel.stream_step`` in PyTorch, through ONNX Runtime and through LiteRT, each carrying
its own state. The figure is the largest absolute difference of any class probability at any
step. Audio given as a file is read block by block
(:func:`wakeword.data.audio_io.iter_audio_blocks`, resampled to the model's rate if needed)
and every runner steps through each block before the next is read, so a long recording needs
no more memory than a short one. Tolerances:

* float32 graphs: :data:`STREAM_TOLERANCE` = 1e-4 (observed: about 1e-6);
* int8-weight TFLite: :data:`INT8_TOLERANCE` = 0.05 in probability (observed: about 0.003 on
  synthetic bursts and on espeak-ng speech) -- the quantisation error itself is reported.

Training-step graphs: loss and every gradient from ONNX Runtime and LiteRT against torch
autograd (the trainer's formulation) on the same seeded batch. Per tensor, the figure is
``max |graph - torch| / max(max |torch|, 1e-6)``; it must not exceed :data:`TRAIN_STEP_RTOL` =
1e-4 (observed: about 1e-6).

A failure raises :class:`~wakeword.errors.ExportError` naming the format and the figure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from export.spec import ExportSpec, GraphSpec
from wakeword.errors import DataError, ExportError

__all__ = [
    "INT8_TOLERANCE",
    "STREAM_TOLERANCE",
    "TRAIN_STEP_RTOL",
    "check_stream",
    "check_train_step",
    "litert_interpreter",
    "run_onnx",
    "run_tflite",
    "stream_onnx",
    "stream_tflite",
    "stream_torch",
]

STREAM_TOLERANCE = 1e-4
INT8_TOLERANCE = 0.05
TRAIN_STEP_RTOL = 1e-4


def litert_interpreter(path: str | os.PathLike[str]) -> Any:
    """A LiteRT interpreter for ``path`` (ai-edge-litert, else tflite-runtime)."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-untyped]
    except ImportError:
        try:
            from tflite_runtime.interpreter import (  # type: ignore[import-not-found]
                Interpreter,  # needs numpy<2
            )
        except ImportError as exc:
            raise ExportError("checking a TFLite graph needs ai-edge-litert: "
                              "pip install 'wakeword[litert]'") from exc
    return Interpreter(model_path=str(path))


def _chunks(audio: np.ndarray, chunk: int) -> list[np.ndarray]:
    audio = np.asarray(audio, np.float32).reshape(-1)
    return [audio[None, s : s + chunk] for s in range(0, audio.size - chunk + 1, chunk)]


def stream_torch(spec: ExportSpec, audio: np.ndarray) -> np.ndarray:
    """Probabilities ``[steps, n_classes]`` from ``WakeWordModel.stream_step`` in PyTorch."""
    model = spec.model
    state = list(model.initial_stream_state(1))
    out = []
    with torch.no_grad():
        for chunk in _chunks(audio, spec.chunk_samples):
            probs, *state = model.stream_step(torch.from_numpy(chunk), *state)
            out.append(probs[0].numpy())
    return np.stack(out)


def _stream(run: Any, spec: ExportSpec, audio: np.ndarray) -> np.ndarray:
    states = spec.initial_states()
    weights = list(spec.weights.values())
    out = []
    for chunk in _chunks(audio, spec.chunk_samples):
        result = run([chunk, *states, *weights])
        out.append(np.asarray(result[0])[0])
        states = [np.asarray(r) for r in result[1:]]
    return np.stack(out)


def run_onnx(path: str | os.PathLike[str]) -> Any:
    """A callable ``run(list of inputs in order) -> list of outputs`` on ONNX Runtime."""
    import onnxruntime as ort  # type: ignore[import-untyped]

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(args: list[np.ndarray]) -> list[np.ndarray]:
        return list(session.run(None, dict(zip(names, args))))

    return run


def run_tflite(path: str | os.PathLike[str]) -> Any:
    """A callable ``run(list of inputs in order) -> list of outputs`` on LiteRT."""
    interp = litert_interpreter(path)
    runner = interp.get_signature_runner()
    n_out = len(runner.get_output_details())

    def run(args: list[np.ndarray]) -> list[np.ndarray]:
        result = runner(**{f"args_{i}": np.asarray(a) for i, a in enumerate(args)})
        return [result[f"output_{i}"] for i in range(n_out)]

    return run


def stream_onnx(path: str | os.PathLike[str], spec: ExportSpec, audio: np.ndarray) -> np.ndarray:
    return _stream(run_onnx(path), spec, audio)


def stream_tflite(path: str | os.PathLike[str], spec: ExportSpec, audio: np.ndarray
                  ) -> np.ndarray:
    return _stream(run_tflite(path), spec, audio)


_STREAMERS = {"onnx": "stream_onnx", "tflite": "stream_tflite"}
_RUNNERS = {"onnx": "run_onnx", "tflite": "run_tflite"}


def _judge(spec: ExportSpec, fmt: str, path: Path, diff: float, steps: int, seconds: float,
           tolerance: float, int8_tolerance: float) -> dict[str, Any]:
    """The report row of one format; ExportError past its tolerance."""
    quant = spec.quantization.get(fmt)
    tol = int8_tolerance if quant == "int8" else tolerance
    row = {"max_abs_diff": diff, "tolerance": tol, "quantization": quant, "steps": steps}
    if not diff <= tol:
        fix = ("the quantisation error is too large for this model: export without "
               "--quantize" if quant else
               "the exporter produced a wrong graph (please report it)")
        raise ExportError(
            f"{Path(path).name}: {fmt}{' (' + quant + ')' if quant else ''} parity failed: "
            f"the largest score difference from PyTorch is {diff:.3g} (tolerance {tol:g}) "
            f"over {steps} steps of {seconds:.1f} s audio; {fix}")
    return row


def _running_failed(fmt: str, path: Path, exc: Exception) -> ExportError:
    return ExportError(f"{Path(path).name}: running the {fmt} graph failed "
                       f"({exc.__class__.__name__}: {exc})")


def _file_diffs(spec: ExportSpec, files: dict[str, Path], audio_path: Path
                ) -> tuple[dict[str, float], int, int]:
    """Largest score difference of each file from PyTorch over the audio file, read block by
    block; also the steps and samples streamed."""
    from wakeword.data.audio_io import iter_audio_blocks

    runners: dict[str, Any] = {}
    for fmt, path in files.items():
        try:
            runners[fmt] = globals()[_RUNNERS[fmt]](path)
        except ExportError:
            raise
        except Exception as exc:
            raise _running_failed(fmt, path, exc) from exc
    model = spec.model
    chunk = spec.chunk_samples
    torch_state = list(model.initial_stream_state(1))
    states = {fmt: spec.initial_states() for fmt in runners}
    weights = list(spec.weights.values())
    diffs = dict.fromkeys(runners, 0.0)
    pending = np.zeros(0, np.float32)
    steps = samples = 0
    blocks = iter_audio_blocks(audio_path, spec.sample_rate_hz, warn_partial=False)
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            break
        except DataError as exc:
            raise ExportError(f"parity audio: {exc}") from exc
        samples += block.size
        joined = np.concatenate([pending, block]) if pending.size else block
        whole = joined.size // chunk
        for k in range(whole):
            x = np.ascontiguousarray(joined[None, k * chunk:(k + 1) * chunk])
            with torch.no_grad():
                probs, *torch_state = model.stream_step(torch.from_numpy(x), *torch_state)
            reference = probs[0].numpy()
            for fmt, run in runners.items():
                try:
                    result = run([x, *states[fmt], *weights])
                except Exception as exc:
                    raise _running_failed(fmt, files[fmt], exc) from exc
                got = np.asarray(result[0])[0]
                states[fmt] = [np.asarray(r) for r in result[1:]]
                if got.shape != reference.shape or not np.isfinite(got).all():
                    diffs[fmt] = float("inf")
                else:
                    diffs[fmt] = max(diffs[fmt], float(np.abs(got - reference).max()))
            steps += 1
        pending = joined[whole * chunk:].copy()
    if steps == 0:
        raise ExportError(f"{audio_path}: holds {samples} samples at {spec.sample_rate_hz} Hz, "
                          f"less than one model step ({chunk} samples); give a longer "
                          "recording for the parity check")
    return diffs, steps, samples


def check_stream(spec: ExportSpec, files: dict[str, Path],
                 audio: np.ndarray | str | os.PathLike[str] | None = None,
                 *, tolerance: float = STREAM_TOLERANCE,
                 int8_tolerance: float = INT8_TOLERANCE) -> dict[str, Any]:
    """Stream ``audio`` through PyTorch and every file; raise ExportError past the tolerance.

    ``audio``: float32 samples at the model's rate (default ``spec.calibration_audio``), or an
    audio file, read block by block (memory flat in its length; a bad file is an ExportError
    naming it; :func:`export.writer.export_model` checks the file, and warns about a cut one,
    before it writes anything). Returns ``{format: {"max_abs_diff", "tolerance",
    "quantization", "steps"}}``.
    """
    if isinstance(audio, (str, os.PathLike)):
        diffs, steps, samples = _file_diffs(spec, files, Path(audio))
        seconds = samples / spec.sample_rate_hz
        return {fmt: _judge(spec, fmt, Path(path), diffs[fmt], steps, seconds, tolerance,
                            int8_tolerance)
                for fmt, path in files.items()}
    audio = spec.calibration_audio if audio is None else np.asarray(audio, np.float32)
    reference = stream_torch(spec, audio)
    report: dict[str, Any] = {}
    for fmt, path in files.items():
        streamer = globals()[_STREAMERS[fmt]]
        try:
            got = streamer(path, spec, audio)
        except ExportError:
            raise
        except Exception as exc:
            raise _running_failed(fmt, path, exc) from exc
        diff = float(np.abs(got - reference).max()) if got.shape == reference.shape else np.inf
        if not np.isfinite(got).all():
            diff = float("inf")
        report[fmt] = _judge(spec, fmt, Path(path), diff, int(reference.shape[0]),
                             audio.size / spec.sample_rate_hz, tolerance, int8_tolerance)
    return report


def check_train_step(spec: ExportSpec, graph: GraphSpec, files: dict[str, Path], *,
                     rtol: float = TRAIN_STEP_RTOL) -> dict[str, Any]:
    """Loss and gradients of each training-step file against torch autograd on one batch."""
    from export.train_step import reference_step

    args = [a.numpy() for a in graph.example_args]
    n = len(spec.weights)
    reference = reference_step(spec, args[n], args[n + 1])
    names = graph.output_names
    report: dict[str, Any] = {}
    for fmt, path in files.items():
        runner = run_onnx(path) if fmt == "onnx" else run_tflite(path)
        try:
            got = runner(args)
        except Exception as exc:
            raise ExportError(f"{Path(path).name}: running the {fmt} training step failed "
                              f"({exc.__class__.__name__}: {exc})") from exc
        per_tensor = {}
        for name, g, r in zip(names, got, reference):
            g = np.asarray(g, np.float64).reshape(np.shape(r))
            scale = max(float(np.abs(r).max()), 1e-6)
            per_tensor[name] = {"max_abs_diff": float(np.abs(g - r).max()),
                                "max_rel_diff": float(np.abs(g - r).max()) / scale}
        worst = max(per_tensor, key=lambda k: per_tensor[k]["max_rel_diff"])
        worst_rel = per_tensor[worst]["max_rel_diff"]
        report[fmt] = {"loss": float(np.asarray(got[0])), "torch_loss": float(reference[0]),
                       "max_rel_diff": worst_rel, "worst_tensor": worst, "rtol": rtol,
                       "tensors": per_tensor}
        if not worst_rel <= rtol:
            raise ExportError(
                f"{Path(path).name}: {fmt} training-step parity failed: {worst} differs from "
                f"torch autograd by {worst_rel:.3g} of its largest magnitude (tolerance "
                f"{rtol:g}); the exporter produced a wrong graph (please report it)")
    return report
