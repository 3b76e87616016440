"""The model-folder manifest: the one schema shared by the exporter and the runtime.

Standard library only. A model folder holds ``manifest.json`` plus the graphs it names::

    models/computer/
        manifest.json        this schema
        model.onnx           streaming inference graph (ONNX)
        model.tflite         the same graph for LiteRT
        model.json           TFLite sidecar metadata (a copy of the manifest's model section)
        weights.npz          the trained layers' weights, fed to the graphs as inputs
        train_step.onnx      loss + gradients of the trained weights, for on-device fine-tuning
        train_step.tflite
        negatives.npz        optional: ``audio`` float32 [n, train_step.clip_samples] clips at
                             sample_rate_hz that the model must reject; on-device fine-tuning
                             mixes them into its negatives so false accepts do not climb
        CARD.md              the model card

Design choice (documented in the README): the trained layers' weights are *inputs* of the
inference graphs, loaded from ``weights.npz`` at start, while the frozen connectome kernels are
constants inside the graphs. Fine-tuning on the device therefore only writes a new
``weights.npz`` (and manifest) next to unchanged graphs.

Graph call convention (both formats): inputs in the order of ``inputs`` below; each is
``audio`` (one chunk of float32 samples in [-1, 1], shape ``[1, chunk_samples]``), a
``state`` (zeros at start, replaced by the matching output after each call) or a ``weight``
(from ``weights.npz``). Outputs in the order of ``outputs``: ``scores`` (per-class
probabilities, shape ``[1, n_classes]``, class 0 is background) and the next states.
ONNX tensors are addressed by name; TFLite signature inputs are ``args_0``, ``args_1``, ... in
the same order, and outputs ``output_0``, ... in order.

Warm-up: the first ``warmup_steps`` calls after a start or reset may return scores that are not
meaningful yet (buffers filling); the runtime reports no score and no detection for them, and is
``ready`` once ``smoothing_steps`` scores after the warm-up are available.

Sidecar: ``model.json`` holds :data:`SIDECAR_FIELDS` of the manifest (write it with
:func:`sidecar_dict`); :func:`check_sidecar` refuses a folder whose graph and manifest disagree.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from device_runtime.errors import ModelError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
ROLES_IN = ("audio", "state", "weight")
ROLES_OUT = ("scores", "state")
FORMATS = ("onnx", "tflite")
SIDECAR_NAME = "model.json"
NEGATIVES_NAME = "negatives.npz"
# The manifest fields that describe the graph itself; the sidecar copy must agree on them.
SIDECAR_FIELDS = ("schema_version", "name", "keywords", "class_names", "sample_rate_hz",
                  "chunk_samples", "inputs", "outputs", "frontend", "network", "quantization")


@dataclass(frozen=True, kw_only=True)
class TensorSpec:
    """One graph input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    role: str = "state"
    state_of: str | None = None  # for a state output: the input it feeds next call

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))


@dataclass(frozen=True, kw_only=True)
class TrainStepSpec:
    """The exported training-step graphs for on-device fine-tuning.

    Inputs, in order: the trained weights (names as in ``weights.npz``), ``audio`` of shape
    ``[batch_size, clip_samples]`` and ``labels`` (float32 class indices, ``[batch_size]``).
    Outputs, in order: ``loss`` (scalar) then one gradient per weight, same order and shapes.
    """

    graphs: dict[str, str]
    batch_size: int
    clip_samples: int
    weight_names: tuple[str, ...]
    loss: str = "cross_entropy"
    learning_rate: float = 1e-3  # Adam step size suited to this network's weight scale

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight_names", tuple(self.weight_names))
        if self.batch_size < 1 or self.clip_samples < 1 or not self.learning_rate > 0:
            raise ModelError(f"{MANIFEST_NAME}: train_step needs batch_size >= 1, clip_samples "
                             ">= 1 and learning_rate > 0; re-export the model")


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """What the runtime needs to run (and fine-tune) a model folder."""

    name: str
    version: str
    keywords: tuple[str, ...]
    class_names: tuple[str, ...]
    sample_rate_hz: int
    chunk_samples: int
    graphs: dict[str, str]  # format -> file name, e.g. {"onnx": "model.onnx"}
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    weights_file: str = "weights.npz"
    thresholds: dict[str, float] = field(default_factory=dict)
    smoothing_steps: int = 1
    refractory_s: float = 1.0
    warmup_steps: int = 0
    frontend: dict[str, Any] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    quantization: dict[str, str] = field(default_factory=dict)  # format -> "int8"
    train_step: TrainStepSpec | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        self.validate()

    # -- derived values -------------------------------------------------------------------
    @property
    def chunk_ms(self) -> float:
        return 1000.0 * self.chunk_samples / self.sample_rate_hz

    @property
    def weight_inputs(self) -> tuple[TensorSpec, ...]:
        return tuple(t for t in self.inputs if t.role == "weight")

    @property
    def state_inputs(self) -> tuple[TensorSpec, ...]:
        return tuple(t for t in self.inputs if t.role == "state")

    def threshold(self, keyword: str) -> float:
        return float(self.thresholds.get(keyword, 0.5))

    # -- validation -----------------------------------------------------------------------
    def validate(self, where: str = MANIFEST_NAME) -> None:
        def bad(field_name: str, problem: str, fix: str) -> ModelError:
            return ModelError(f"{where}: {field_name} {problem}; {fix}")

        if self.schema_version != SCHEMA_VERSION:
            raise bad(
                "schema_version", f"is {self.schema_version} but this runtime reads "
                f"{SCHEMA_VERSION}", "re-export the model with a matching wakeword version")
        if self.sample_rate_hz <= 0 or self.chunk_samples <= 0:
            raise bad("sample_rate_hz/chunk_samples", "must be positive", "re-export the model")
        if not self.keywords:
            raise bad("keywords", "is empty", "list the keyword(s) the model detects")
        if len(self.class_names) != len(self.keywords) + 1:
            raise bad("class_names", f"has {len(self.class_names)} entries but there are "
                      f"{len(self.keywords)} keywords", "use ['background', *keywords]")
        unknown = [f for f in self.graphs if f not in FORMATS]
        if unknown or not self.graphs:
            raise bad("graphs", f"names formats {sorted(self.graphs)}",
                      f"use one or more of {FORMATS}")
        for t in self.inputs:
            if t.role not in ROLES_IN:
                raise bad(f"inputs[{t.name}].role", f"is {t.role!r}", f"use one of {ROLES_IN}")
        for t in self.outputs:
            if t.role not in ROLES_OUT:
                raise bad(f"outputs[{t.name}].role", f"is {t.role!r}", f"use one of {ROLES_OUT}")
        audio = [t for t in self.inputs if t.role == "audio"]
        if len(audio) != 1 or audio[0].shape != (1, self.chunk_samples):
            raise bad("inputs", "must hold exactly one audio input of shape "
                      f"[1, {self.chunk_samples}]", "re-export the model")
        scores = [t for t in self.outputs if t.role == "scores"]
        if len(scores) != 1 or scores[0].shape[-1] != len(self.class_names):
            raise bad("outputs", "must hold one scores output with one column per class",
                      "re-export the model")
        state_names = {t.name for t in self.state_inputs}
        fed = {t.state_of for t in self.outputs if t.role == "state"}
        if fed != state_names:
            raise bad("outputs", f"state outputs feed {sorted(n for n in fed if n)} but the state "
                      f"inputs are {sorted(state_names)}", "re-export the model")
        for kw in self.thresholds:
            if kw not in self.keywords:
                raise bad(f"thresholds[{kw!r}]", "names no keyword of this model",
                          f"use one of {list(self.keywords)}")
        if self.smoothing_steps < 1 or self.refractory_s < 0:
            raise bad("smoothing_steps/refractory_s", "are out of range",
                      "use smoothing_steps >= 1 and refractory_s >= 0")
        if self.warmup_steps < 0:
            raise bad("warmup_steps", f"is {self.warmup_steps}", "use warmup_steps >= 0")

    # -- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = MANIFEST_NAME) -> Manifest:
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"{where}: unknown field(s) {unknown}; this runtime reads schema "
                             f"{SCHEMA_VERSION}: upgrade wakeword or re-export the model")
        required = {f.name for f in fields(cls)
                    if f.default is f.default_factory is __import__("dataclasses").MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ModelError(f"{where}: missing field(s) {missing}; re-export the model")
        try:
            data["inputs"] = tuple(TensorSpec(**t) for t in data["inputs"])
            data["outputs"] = tuple(TensorSpec(**t) for t in data["outputs"])
            if data.get("train_step") is not None:
                data["train_step"] = TrainStepSpec(**data["train_step"])
            manifest = cls(**data)
        except TypeError as exc:
            raise ModelError(f"{where}: malformed field ({exc}); re-export the model") from exc
        manifest.validate(where)
        return manifest


def load_manifest(model_dir: str | os.PathLike[str]) -> Manifest:
    """Read and validate ``model_dir/manifest.json``; errors name the file and field."""
    path = Path(model_dir) / MANIFEST_NAME
    if not Path(model_dir).is_dir():
        raise ModelError(f"{model_dir}: not a model folder (it does not exist); pass the folder "
                         "that `wakeword export` wrote, e.g. models/computer")
    if not path.is_file():
        raise ModelError(f"{path}: missing; a model folder needs the manifest.json written by "
                         "`wakeword export`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc}); re-export the model") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object; re-export the model")
    return Manifest.from_dict(data, where=str(path))


def write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_manifest(manifest: Manifest, model_dir: str | os.PathLike[str]) -> Path:
    """Write ``manifest.json`` atomically into ``model_dir``."""
    manifest.validate()
    path = Path(model_dir) / MANIFEST_NAME
    write_json_atomic(path, manifest.to_dict())
    return path


def sidecar_dict(manifest: Manifest) -> dict[str, Any]:
    """The ``model.json`` sidecar content: the manifest's graph-describing fields."""
    data = json.loads(json.dumps(manifest.to_dict()))
    return {key: data[key] for key in SIDECAR_FIELDS}


def check_sidecar(manifest: Manifest, model_dir: str | os.PathLike[str]) -> bool:
    """Check ``model_dir/model.json`` against the manifest; return whether it exists.

    Every :data:`SIDECAR_FIELDS` key present in the sidecar must equal the manifest's value
    (other keys are ignored). A sidecar with none of them, unreadable JSON or any disagreement
    is a :class:`ModelError` naming both files and the field.
    """
    path = Path(model_dir) / SIDECAR_NAME
    if not path.is_file():
        return False
    try:
        side = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc}); re-export the model") from exc
    if not isinstance(side, dict) or not set(side) & set(SIDECAR_FIELDS):
        raise ModelError(f"{path}: expected a JSON object with the manifest fields "
                         f"{list(SIDECAR_FIELDS)}; re-export the model")
    ours = json.loads(json.dumps(manifest.to_dict()))
    for key in SIDECAR_FIELDS:
        if key in side and side[key] != ours[key]:
            raise ModelError(
                f"{path}: {key} is {json.dumps(side[key])[:200]} but "
                f"{Path(model_dir) / MANIFEST_NAME} says {json.dumps(ours[key])[:200]}; the "
                "graph and the manifest come from different exports: re-export the model "
                "(or restore the matching manifest.json)")
    return True
