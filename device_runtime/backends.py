"""Interpreters behind one protocol: ``Backend.run(inputs) -> outputs``.

Two implementations, chosen by the manifest's ``graphs`` formats and the caller's ``backend``
argument, never by a file name:

* ``"onnx"``: :class:`OnnxBackend` on ONNX Runtime (``pip install onnxruntime``).
* ``"tflite"``: :class:`LiteRTBackend` on LiteRT (``pip install ai-edge-litert``), or the
  legacy ``tflite-runtime`` package when ai-edge-litert is absent (it needs numpy < 2).
* ``"auto"``: ONNX if the model has an ONNX graph and onnxruntime is installed, else TFLite.

A backend that was asked for by name is never swapped for another: a missing interpreter is a
:class:`BackendUnavailableError` naming the pip package. A missing or corrupt graph file, or a
graph whose inputs and outputs disagree with the manifest, is a :class:`ModelError` naming the
file. Interpreters are imported lazily, only when a backend is opened.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from device_runtime.errors import BackendUnavailableError, ModelError
from device_runtime.manifest import FORMATS, TensorSpec

__all__ = [
    "BACKEND_CHOICES",
    "Backend",
    "LiteRTBackend",
    "OnnxBackend",
    "available_formats",
    "open_backend",
    "resolve_backend",
]

logger = logging.getLogger(__name__)

BACKEND_CHOICES = ("auto", *FORMATS)
PIP_PACKAGE = {"onnx": "onnxruntime", "tflite": "ai-edge-litert"}


@runtime_checkable
class Backend(Protocol):
    """One loaded graph. ``run`` takes every input in graph order, returns every output in
    graph order, as numpy arrays."""

    format: str
    path: Path

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]: ...

    def close(self) -> None: ...


# -- interpreter discovery -------------------------------------------------------------------
def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except (ImportError, SystemError):  # SystemError: tflite-runtime built for numpy 1.x
        return False
    return True


def _litert_interpreter() -> Any:
    """The LiteRT ``Interpreter`` class: ai-edge-litert, else tflite-runtime."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ModuleNotFoundError as exc:
            raise BackendUnavailableError(
                "the tflite backend needs LiteRT: pip install ai-edge-litert (the 'litert' "
                "extra; or tflite-runtime with numpy<2, the 'tflite' extra); or use "
                "backend='onnx'") from exc
        except (ImportError, SystemError) as exc:  # built against numpy 1.x
            raise BackendUnavailableError(
                f"tflite-runtime is installed but failed to load ({exc}); it needs numpy<2 "
                f"and numpy {np.__version__} is installed: pip install 'numpy<2', or install "
                "ai-edge-litert instead (the 'litert' extra)") from exc
    return Interpreter


def available_formats() -> tuple[str, ...]:
    """Formats whose interpreter is installed here, in the order ``auto`` prefers them."""
    found = []
    if _importable("onnxruntime"):
        found.append("onnx")
    if _importable("ai_edge_litert.interpreter") or _importable("tflite_runtime.interpreter"):
        found.append("tflite")
    return tuple(found)


def resolve_backend(requested: str, model_formats: Iterable[str], *, where: str = "model") -> str:
    """Pick the format to run: ``requested`` itself, or for ``"auto"`` the first of
    onnx, tflite that the model provides and whose interpreter is installed."""
    model_formats = tuple(model_formats)
    if requested not in BACKEND_CHOICES:
        raise ValueError(f"backend must be one of {BACKEND_CHOICES}, got {requested!r}")
    if requested != "auto":
        if requested not in model_formats:
            raise ModelError(f"{where}: has no {requested} graph (it provides "
                             f"{list(model_formats)}); use backend={model_formats[0]!r} or "
                             "'auto', or re-export the model with that format")
        return requested
    installed = available_formats()
    for fmt in FORMATS:
        if fmt in model_formats and fmt in installed:
            return fmt
    needed = " or ".join(PIP_PACKAGE[f] for f in model_formats if f in PIP_PACKAGE)
    raise BackendUnavailableError(
        f"{where}: no interpreter for its graphs {list(model_formats)} is installed; "
        f"pip install {needed}")


# -- shape checks ------------------------------------------------------------------------------
def _shape_ok(expected: Sequence[int], actual: Sequence[Any]) -> bool:
    if len(expected) != len(actual):
        return False
    return all(not isinstance(a, (int, np.integer)) or int(a) < 0 or int(a) == int(e)
               for e, a in zip(expected, actual))


def _check_io(path: Path, kind: str, expected: Sequence[TensorSpec] | int,
              actual: Sequence[tuple[str, Sequence[Any]]]) -> None:
    n = expected if isinstance(expected, int) else len(expected)
    if n != len(actual):
        raise ModelError(f"{path}: the graph has {len(actual)} {kind} but the manifest "
                         f"describes {n}; re-export the model so they agree")
    if isinstance(expected, int):
        return
    for i, (spec, (name, shape)) in enumerate(zip(expected, actual)):
        if not _shape_ok(spec.shape, shape):
            raise ModelError(f"{path}: {kind[:-1]} {i} ({spec.name}) has shape {list(shape)} "
                             f"in the graph but {list(spec.shape)} in the manifest; "
                             "re-export the model so they agree")


# -- ONNX Runtime ------------------------------------------------------------------------------
class OnnxBackend:
    """A graph on ONNX Runtime's CPU provider.

    ``inputs``: the expected input specs in call order. When ``by_name`` is true the graph's
    inputs are matched to them by name (the inference graph); otherwise by position (the
    training-step graph, whose audio and label inputs have no manifest names).
    """

    format = "onnx"

    def __init__(self, path: str | os.PathLike[str], *, inputs: Sequence[TensorSpec],
                 n_outputs: int, by_name: bool = True, num_threads: int = 1) -> None:
        self.path = Path(path)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailableError(
                "the onnx backend needs ONNX Runtime: pip install onnxruntime; or use "
                "backend='tflite'") from exc
        if not self.path.is_file():
            raise ModelError(f"{self.path}: graph file is missing; re-export the model")
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own pybind exception types, not a hierarchy
            raise ModelError(f"{self.path}: not a loadable ONNX graph ({type(exc).__name__}: "
                             f"{str(exc)[:300]}); the file is corrupt or truncated, re-export or "
                             "re-copy it") from exc
        graph_inputs = self._session.get_inputs()
        if by_name:
            by = {i.name: i for i in graph_inputs}
            missing = [s.name for s in inputs if s.name not in by]
            if missing or len(graph_inputs) != len(inputs):
                raise ModelError(f"{self.path}: graph inputs are {[i.name for i in graph_inputs]}"
                                 f" but the manifest lists {[s.name for s in inputs]}; re-export "
                                 "the model so they agree")
            ordered = [by[s.name] for s in inputs]
        else:
            ordered = list(graph_inputs)
        _check_io(self.path, "inputs", inputs, [(i.name, i.shape) for i in ordered])
        outs = self._session.get_outputs()
        _check_io(self.path, "outputs", n_outputs, [(o.name, o.shape) for o in outs])
        self._input_names = [i.name for i in ordered]
        self._output_names = [o.name for o in outs]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        feed = dict(zip(self._input_names, inputs))
        return list(self._session.run(self._output_names, feed))

    def close(self) -> None:
        self.__dict__.pop("_session", None)


# -- LiteRT --------------------------------------------------------------------------------------
class LiteRTBackend:
    """A graph on LiteRT through its signature: inputs ``args_0..`` and outputs ``output_0..``
    in order. Quantised (int8/uint8) inputs and outputs are (de)quantised here."""

    format = "tflite"

    def __init__(self, path: str | os.PathLike[str], *, inputs: Sequence[TensorSpec],
                 n_outputs: int, num_threads: int = 1) -> None:
        self.path = Path(path)
        interpreter_cls = _litert_interpreter()
        if not self.path.is_file():
            raise ModelError(f"{self.path}: graph file is missing; re-export the model")
        try:
            self._interp = interpreter_cls(model_path=str(self.path), num_threads=num_threads)
            self._interp.allocate_tensors()
            signatures = self._interp.get_signature_list()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{self.path}: not a loadable TFLite flatbuffer ({str(exc)[:300]}); "
                             "the file is corrupt or truncated, re-export or re-copy it") from exc
        if len(signatures) != 1:
            raise ModelError(f"{self.path}: expected one signature, found {sorted(signatures)}; "
                             "re-export the model")
        key = next(iter(signatures))
        runner = self._interp.get_signature_runner(key)
        in_details = runner.get_input_details()
        out_details = runner.get_output_details()
        in_names = self._ordered(in_details, "args_", "inputs")
        out_names = self._ordered(out_details, "output_", "outputs")
        _check_io(self.path, "inputs", inputs,
                  [(n, [int(d) for d in in_details[n]["shape"]]) for n in in_names])
        _check_io(self.path, "outputs", n_outputs,
                  [(n, [int(d) for d in out_details[n]["shape"]]) for n in out_names])
        self._in = [in_details[n] for n in in_names]
        self._out = [out_details[n] for n in out_names]

    def _ordered(self, details: dict[str, Any], prefix: str, kind: str) -> list[str]:
        names = sorted(details, key=lambda n: int(n[len(prefix):]) if n.startswith(prefix)
                       and n[len(prefix):].isdigit() else -1)
        if any(not n.startswith(prefix) for n in names):
            raise ModelError(f"{self.path}: signature {kind} are {sorted(details)}, expected "
                             f"{prefix}0, {prefix}1, ...; re-export with litert_torch")
        return names

    @staticmethod
    def _quantize(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
        dtype = detail["dtype"]
        if value.dtype == dtype:
            return value
        scale, zero = detail["quantization"]
        if scale and np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            q = np.round(value / scale + zero)
            quantized: np.ndarray = np.clip(q, info.min, info.max).astype(dtype)
            return quantized
        converted: np.ndarray = value.astype(dtype)
        return converted

    @staticmethod
    def _dequantize(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
        scale, zero = detail["quantization"]
        if scale and np.issubdtype(value.dtype, np.integer):
            real: np.ndarray = ((value.astype(np.float32) - zero) * scale).astype(np.float32)
            return real
        return value

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        interp = self._interp
        for value, detail in zip(inputs, self._in):
            interp.set_tensor(detail["index"], self._quantize(np.asarray(value), detail))
        interp.invoke()
        return [self._dequantize(interp.get_tensor(d["index"]), d) for d in self._out]

    def close(self) -> None:
        self.__dict__.pop("_interp", None)


def open_backend(fmt: str, path: str | os.PathLike[str], *, inputs: Sequence[TensorSpec],
                 n_outputs: int, by_name: bool = True, num_threads: int = 1) -> Backend:
    """Load the graph at ``path`` with the interpreter for ``fmt`` (``"onnx"`` / ``"tflite"``)."""
    if fmt == "onnx":
        return OnnxBackend(path, inputs=inputs, n_outputs=n_outputs, by_name=by_name,
                           num_threads=num_threads)
    if fmt == "tflite":
        return LiteRTBackend(path, inputs=inputs, n_outputs=n_outputs, num_threads=num_threads)
    raise ValueError(f"unknown graph format {fmt!r}; use one of {FORMATS}")
