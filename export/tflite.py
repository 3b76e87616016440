"""TFLite (LiteRT) writer: ``write(spec, path)``.

``litert_torch.convert(module.eval(), example_args).export(path)``. The signature
``serving_default`` takes ``args_0``, ``args_1``, ... and returns ``output_0``, ... in the order
of the spec's inputs and outputs. For an :class:`ExportSpec` the sidecar ``<stem>.json``
(``model.json``) beside the graph holds the manifest's graph-describing fields
(:func:`device_runtime.manifest.sidecar_dict`).

Quantisation (``spec.quantization['tflite'] == 'int8'``): int8 weights with float compute
(``ai_edge_quantizer``'s ``weight_only_wi8_afp32`` recipe, applied to the converted float graph).
The graph's *constant* weights -- the frozen band matrices, the DFT basis and the Mel filterbank
-- are stored per channel as int8 (the file shrinks about 3.7x) and dequantised for float
compute; the trained weights are graph inputs and stay float32. Measured against the
alternatives on the test model (max score difference from PyTorch over 5 s): weight-only 0.003;
dynamic-range int8 (``dynamic_wi8_afp32``, int8 activations on the fly) 0.34, because the
power spectrum entering the Mel filterbank spans too many decades for one int8 scale; full
integer (``static_wi8_ai8``) converts but does not run in LiteRT (CONV_2D refuses the non-zero
weight zero point of the trained weights, which are inputs).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from device_runtime.manifest import sidecar_dict
from export.spec import ExportSpec, GraphSpec
from wakeword.errors import ExportError

__all__ = ["write", "quantize_int8", "SIGNATURE"]

SIGNATURE = "serving_default"


@contextlib.contextmanager
def _quiet_litert() -> Iterator[None]:
    """Turn litert_torch's console progress off for the duration (library code never prints)."""
    key = "LITERT_TORCH_SHOW_PROGRESS"
    old = os.environ.get(key)
    os.environ[key] = "n"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def quantize_int8(float_model: bytes) -> bytes:
    """Int8 constant weights (per channel), float activations and compute, of a TFLite model."""
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError as exc:  # pragma: no cover - part of litert-torch's dependencies
        raise ExportError("int8 quantisation needs ai-edge-quantizer (installed with "
                          "litert-torch): pip install 'wakeword[export]'") from exc
    try:
        q = quantizer.Quantizer(bytearray(float_model), recipe.weight_only_wi8_afp32())
        return bytes(q.quantize(enable_progress_report=False).quantized_model)
    except Exception as exc:
        raise ExportError(f"int8 quantisation of the TFLite graph failed "
                          f"({exc.__class__.__name__}: {exc})") from exc


def write(spec: ExportSpec | GraphSpec, path: str | os.PathLike[str]) -> Path:
    """Write ``spec``'s graph (the streaming graph of an ExportSpec) as TFLite to ``path``."""
    try:
        import litert_torch
    except ImportError as exc:
        raise ExportError("TFLite export needs litert-torch: pip install 'wakeword[export]'"
                          ) from exc
    path = Path(path)
    graph = spec.stream if isinstance(spec, ExportSpec) else spec
    quantize = spec.quantization.get("tflite") if isinstance(spec, ExportSpec) else None
    try:
        with _quiet_litert(), tempfile.TemporaryDirectory(prefix=".tflite-",
                                                          dir=path.parent) as tmp:
            edge = litert_torch.convert(graph.module.eval(), graph.example_args)
            float_path = Path(tmp) / "float.tflite"
            edge.export(str(float_path))
            data = float_path.read_bytes()
    except ExportError:
        raise
    except Exception as exc:  # the converter raises many types
        raise ExportError(f"TFLite export of {path.name} failed ({exc.__class__.__name__}: "
                          f"{str(exc)[:2000]})") from exc
    if quantize == "int8":
        data = quantize_int8(data)
    elif quantize is not None:
        raise ExportError(f"TFLite quantization {quantize!r} is not supported; use 'int8'")
    path.write_bytes(data)
    _check_signature(path, graph)
    if isinstance(spec, ExportSpec):
        sidecar = path.with_suffix(".json")
        sidecar.write_text(json.dumps(sidecar_dict(spec.manifest({"tflite": path.name})),
                                      indent=2) + "\n", encoding="utf-8")
    return path


def _check_signature(path: Path, graph: GraphSpec) -> None:
    from export.parity import litert_interpreter

    interp = litert_interpreter(path)
    sigs = interp.get_signature_list()
    if SIGNATURE not in sigs:
        raise ExportError(f"{path.name}: no {SIGNATURE!r} signature (found {sorted(sigs)})")
    n_in, n_out = len(sigs[SIGNATURE]["inputs"]), len(sigs[SIGNATURE]["outputs"])
    if n_in != len(graph.inputs) or n_out != len(graph.outputs):
        raise ExportError(f"{path.name}: the signature has {n_in} inputs / {n_out} outputs but "
                          f"the spec has {len(graph.inputs)} / {len(graph.outputs)}")
