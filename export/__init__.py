"""Exporters: streaming ONNX and TFLite models plus training-step graphs."""
