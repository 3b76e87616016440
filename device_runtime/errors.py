"""Runtime exceptions. Every error the runtime raises on purpose subclasses DeviceRuntimeError.

Messages name the file or field, what was expected and found, and the fix.
"""

from __future__ import annotations


class DeviceRuntimeError(Exception):
    """Base class for errors raised on purpose by ``device_runtime``."""


class ModelError(DeviceRuntimeError):
    """A model folder, graph or manifest is missing, corrupt or inconsistent."""


class AudioError(DeviceRuntimeError):
    """Audio input has the wrong rate, channels, dtype, or contains NaNs / cannot be read."""


class MicrophoneError(DeviceRuntimeError):
    """The microphone could not be opened, or disappeared and did not come back."""


class EnrollmentError(DeviceRuntimeError):
    """On-device fine-tuning cannot run with the given samples or model."""


class BackendUnavailableError(DeviceRuntimeError):
    """The requested interpreter (onnxruntime / ai-edge-litert) is not installed."""
