"""TFLite (LiteRT) writer: ``write(spec, path)``.

``litert_torch.convert(module.eval(), example_args).export(path)``. The signature
``serving_default`` takes ``args_0``, ``args_1``, ... and returns ``output_0``, ... in the order
of the spec's inputs and outputs. For an :class:`ExportSpec` the sidecar ``<stem>.json``
(``model.json``) beside the graph holds the manifest's graph-describing fields
(:func:`device_runtime.manifest.sidecar_dict`).

Quantisation (``spec.quantization['tflite'] == 'int8'``): int8 weights with float compute
(``ai_edge_quantizer`` weight-only int8, per channel, applied to the converted float graph) for
the constant weights of the frozen bio-convolutions (BATCH_MATMUL with the band matrices) and of
the Mel filterbank (FULLY_CONNECTED). The trained weights are graph inputs and stay float32; the
STFT's DFT basis (DEPTHWISE_CONV_2D, 80 % of the file) stays float32 on purpose.

Measured on the test model (max score difference from PyTorch; synthetic bursts / espeak-ng
speech): this recipe 0.002 / 0.003 at 700 KB (float: 816 KB); weight-only int8 of every constant
including the DFT basis 0.003 / 0.054 at 223 KB (quiet STFT bins drown in the basis' rounding
noise, and the log-Mel amplifies it); dynamic-range int8 (``dynamic_wi8_afp32``: int8
activations on the fly) 0.34 on bursts, because the power spectrum entering the Mel filterbank
spans too many decades for one int8 scale; full integer (``static_wi8_ai8``) converts but does
not run in LiteRT (CONV_2D refuses the non-zero weight zero point of the trained weights, which
are inputs).
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

__all__ = ["SIGNATURE", "quantize_int8", "write"]

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
    """Weight-only int8 (per channel) of the band-matrix and Mel-filterbank constants."""
    try:
        from ai_edge_quantizer import quantizer, recipe  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - part of litert-torch's dependencies
        raise ExportError("int8 quantisation needs ai-edge-quantizer (installed with "
                          "litert-torch): pip install 'wakeword[export]'") from exc
    from ai_edge_quantizer import recipe_manager

    try:
        manager = recipe_manager.RecipeManager()
        for op in (recipe.TFLOperationName.BATCH_MATMUL, recipe.TFLOperationName.FULLY_CONNECTED):
            manager.add_weight_only_config(regex=".*", operation_name=op, num_bits=8)
        q = quantizer.Quantizer(bytearray(float_model), manager.get_quantization_recipe())
        return bytes(q.quantize(enable_progress_report=False).quantized_model)
    except Exception as exc:
        raise ExportError(f"int8 quantisation of the TFLite graph failed "
                          f"({exc.__class__.__name__}: {exc})") from exc


def write(spec: ExportSpec | GraphSpec, path: str | os.PathLike[str]) -> Path:
    """Write ``spec``'s graph (the streaming graph of an ExportSpec) as TFLite to ``path``."""
    try:
        import litert_torch  # type: ignore[import-untyped]
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
