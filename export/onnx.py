"""ONNX writer: ``write(spec, path)``.

``torch.onnx.export(..., dynamo=True)`` at opset :data:`OPSET`. Graph inputs and outputs carry
the TensorSpec names (``audio``, ``overlap``, ..., ``network.readout.weight``; ``scores``,
``next_overlap``, ...). Buffers (frozen kernels as band matrices, DFT basis, Mel filterbank)
become initializers; the trained weights are graph inputs. ``metadata_props`` holds the
manifest JSON under ``wakeword.manifest`` plus its key fields (name, version, keywords, ...).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from export.spec import ExportSpec, GraphSpec
from wakeword.errors import ExportError

__all__ = ["OPSET", "write"]

OPSET = 18


def _metadata(spec: ExportSpec | GraphSpec, path: Path) -> dict[str, str]:
    if isinstance(spec, GraphSpec):
        return dict(spec.metadata)
    manifest = spec.manifest({"onnx": path.name}).to_dict()
    keys = ("name", "version", "sample_rate_hz", "chunk_samples", "schema_version")
    meta = {f"wakeword.{k}": str(manifest[k]) for k in keys}
    for k in ("keywords", "class_names", "thresholds"):
        meta[f"wakeword.{k}"] = json.dumps(manifest[k])
    meta["wakeword.manifest"] = json.dumps(manifest)
    return meta


def write(spec: ExportSpec | GraphSpec, path: str | os.PathLike[str], *,
          optimize: bool = True) -> Path:
    """Write ``spec``'s graph (the streaming graph of an ExportSpec) as ONNX to ``path``.

    ``optimize`` runs the ONNX optimiser (constant folding, dead-node removal). It matters for
    the training-step graph: 2.4 MB instead of 6.3 MB at the default batch shape, for about
    10 s more export time.
    """
    import onnx

    path = Path(path)
    graph = spec.stream if isinstance(spec, ExportSpec) else spec
    try:
        program = torch.onnx.export(
            graph.module.eval(), graph.example_args, None, dynamo=True, opset_version=OPSET,
            input_names=graph.input_names, output_names=graph.output_names,
            optimize=optimize, verbose=False)
    except Exception as exc:  # the exporter raises many types
        raise ExportError(f"ONNX export of {path.name} failed ({exc.__class__.__name__}: "
                          f"{str(exc)[:2000]})") from exc
    if program is None:  # only without dynamo; kept for the type checker
        raise ExportError(f"ONNX export of {path.name} returned no program")
    proto = program.model_proto
    got_in = [i.name for i in proto.graph.input]
    got_out = [o.name for o in proto.graph.output]
    if got_in != graph.input_names or got_out != graph.output_names:
        raise ExportError(f"ONNX export of {path.name}: the graph's inputs {got_in} / outputs "
                          f"{got_out} differ from the spec's {graph.input_names} / "
                          f"{graph.output_names}")
    for key, value in _metadata(spec, path).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "wakeword"
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"ONNX export of {path.name} produced an invalid model: {exc}") from exc
    onnx.save(proto, str(path))
    return path
