"""wakeword device runtime: run and fine-tune exported keyword models without torch.

Dependencies: numpy plus ONNX Runtime or LiteRT (``ai-edge-litert``); ``sounddevice`` for the
microphone and, optionally, ``soundfile`` for FLAC/OGG. Interpreters and audio libraries are
imported only when used; importing this package starts nothing.

Example::

    >>> from device_runtime import Detector, Listener
    >>> det = Detector("models/computer", backend="auto")         # doctest: +SKIP
    >>> det.process_file("hello.wav")                              # doctest: +SKIP
    [Detection(keyword='computer', score=0.93, time_s=1.28, ...)]
    >>> with Listener(det) as listener:                            # doctest: +SKIP
    ...     for detection in listener:
    ...         print(detection.keyword)
"""

from device_runtime.audio import Resampler, read_audio, resample, to_float32
from device_runtime.audio_file import AudioFile, iter_audio
from device_runtime.backends import Backend, LiteRTBackend, OnnxBackend, open_backend
from device_runtime.calibrate import CalibrationResult, calibrate
from device_runtime.detector import Detector, list_pretrained
from device_runtime.errors import (
                                   AudioError,
                                   BackendUnavailableError,
                                   DeviceRuntimeError,
                                   EnrollmentError,
                                   MicrophoneError,
                                   ModelError,
)
from device_runtime.events import Detection, ScoreTrace
from device_runtime.finetune import EnrollResult, enroll
from device_runtime.manifest import Manifest, TensorSpec, TrainStepSpec, load_manifest
from device_runtime.stream import FileSource, Listener, Microphone, input_devices, iter_chunks

__all__ = [
                                   "AudioError",
                                   "AudioFile",
                                   "Backend",
                                   "BackendUnavailableError",
                                   "CalibrationResult",
                                   "Detection",
                                   "Detector",
                                   "DeviceRuntimeError",
                                   "EnrollResult",
                                   "EnrollmentError",
                                   "FileSource",
                                   "Listener",
                                   "LiteRTBackend",
                                   "Manifest",
                                   "Microphone",
                                   "MicrophoneError",
                                   "ModelError",
                                   "OnnxBackend",
                                   "Resampler",
                                   "ScoreTrace",
                                   "TensorSpec",
                                   "TrainStepSpec",
                                   "calibrate",
                                   "enroll",
                                   "input_devices",
                                   "iter_audio",
                                   "iter_chunks",
                                   "list_pretrained",
                                   "load_manifest",
                                   "open_backend",
                                   "read_audio",
                                   "resample",
                                   "to_float32",
]
