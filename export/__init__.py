"""Exporters: streaming ONNX and TFLite models plus training-step graphs.

``export_model(checkpoint, out_dir)`` writes a checked model folder (see
:mod:`export.writer`); :mod:`export.spec` builds the one :class:`ExportSpec`, :mod:`export.onnx`
and :mod:`export.tflite` write it, :mod:`export.train_step` builds the training-step graph and
:mod:`export.parity` checks every file against PyTorch.
"""

from export.parity import INT8_TOLERANCE, STREAM_TOLERANCE, TRAIN_STEP_RTOL
from export.spec import ExportSpec, GraphSpec, build_spec
from export.writer import export_model

__all__ = [
           "INT8_TOLERANCE",
           "STREAM_TOLERANCE",
           "TRAIN_STEP_RTOL",
           "ExportSpec",
           "GraphSpec",
           "build_spec",
           "export_model",
]
