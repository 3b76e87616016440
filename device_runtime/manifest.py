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
import math
import numbers
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from device_runtime.errors import ModelError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
ROLES_IN = ("audio", "state", "weight")
ROLES_OUT = ("scores", "state")
FORMATS = ("onnx", "tflite")
SIDECAR_NAME = "model.json"
NEGATIVES_NAME = "negatives.npz"
#: sample rates a model folder (and an audio file header) may declare
MIN_SAMPLE_RATE_HZ = 4000
MAX_SAMPLE_RATE_HZ = 384000
DTYPES = ("float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64", "bool")
MAX_TENSOR_ELEMENTS = 1 << 24
MAX_WARMUP_S = 60.0
MAX_SMOOTHING_STEPS = 1000
MAX_REFRACTORY_S = 3600.0
# The manifest fields that describe the graph itself; the sidecar copy must agree on them.
SIDECAR_FIELDS = ("schema_version", "name", "keywords", "class_names", "sample_rate_hz",
                  "chunk_samples", "inputs", "outputs", "frontend", "network", "quantization")


# -- checks shared by the schema and the model folder -------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_file_name(name: Any, *, where: str, field_name: str) -> str:
    """``name`` if it is a file name relative to a model folder that stays inside it.

    Refused: non-strings, empty names, absolute paths (POSIX or Windows), drive letters,
    backslashes, NUL bytes and any ``..`` component. Raises :class:`ModelError`.
    """
    fix = "name a file inside the model folder, e.g. \"model.onnx\""
    if not isinstance(name, str) or not name.strip():
        raise ModelError(f"{where}: {field_name} is {json.dumps(name)[:80]}, expected a file "
                         f"name; {fix}")
    if (PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute()
            or PureWindowsPath(name).drive or "\\" in name or "\0" in name or len(name) > 255):
        raise ModelError(f"{where}: {field_name} is {name!r}, a path outside the model folder "
                         f"(absolute, a drive or a backslash); {fix}")
    if any(part == ".." for part in PurePosixPath(name).parts):
        raise ModelError(f"{where}: {field_name} is {name!r}, which leaves the model folder "
                         f"(it contains '..'); {fix}")
    return name


def model_file(model_dir: str | os.PathLike[str], name: str, *, field_name: str) -> Path:
    """``model_dir / name`` after checking that it stays inside ``model_dir`` (also through
    symbolic links). Every runtime entry point joins manifest file names with this."""
    folder = Path(model_dir)
    check_file_name(name, where=str(folder / MANIFEST_NAME), field_name=field_name)
    path = folder / name
    root = folder.resolve()
    resolved = path.resolve()
    if resolved != root and root not in resolved.parents:
        raise ModelError(f"{folder / MANIFEST_NAME}: {field_name} {name!r} resolves to "
                         f"{resolved}, outside the model folder {root} (a symbolic link?); copy "
                         "the file into the folder")
    return path


def _check_schema_version(version: Any, where: str) -> None:
    if _is_int(version) and version == SCHEMA_VERSION:
        return
    kind = "" if _is_int(version) else f" (a {type(version).__name__}, not a whole number)"
    raise ModelError(f"{where}: schema_version is {json.dumps(version)[:40]}{kind} but this "
                     f"runtime reads {SCHEMA_VERSION}; write the number {SCHEMA_VERSION} if the "
                     "model was exported for this schema, else re-export it with this wakeword "
                     "version")


def _check_schema(data: Mapping[str, Any], where: str) -> None:
    """Types and ranges of every manifest field (raw JSON values or dataclass attributes)."""

    def bad(field_name: str, problem: str, fix: str = "re-export the model") -> ModelError:
        return ModelError(f"{where}: {field_name} {problem}; {fix}")

    def shown(value: Any) -> str:
        try:
            return json.dumps(value)[:80]
        except (TypeError, ValueError):
            return repr(value)[:80]

    def integer(name: str, value: Any, low: int, high: int) -> int:
        if not _is_int(value):
            raise bad(name, f"is {shown(value)}, expected a whole number in [{low}, {high}]")
        if not low <= value <= high:
            raise bad(name, f"is {value}, outside [{low}, {high}]")
        return int(value)

    def real(name: str, value: Any, low: float, high: float, *, open_low: bool = False,
             fix: str = "re-export the model") -> float:
        if not _is_real(value) or not math.isfinite(float(value)):
            raise bad(name, f"is {shown(value)}, expected a finite number", fix)
        if not (low < value <= high if open_low else low <= value <= high):
            interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
            raise bad(name, f"is {value}, outside {interval}", fix)
        return float(value)

    def text(name: str, value: Any, *, empty: bool = False) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            raise bad(name, f"is {shown(value)}, expected a non-empty string")
        return value

    def mapping(name: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise bad(name, f"is {shown(value)}, expected a JSON object")
        return value

    def sequence(name: str, value: Any, low: int, high: int) -> Sequence[Any]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise bad(name, f"is {shown(value)}, expected a list")
        if not low <= len(value) <= high:
            raise bad(name, f"has {len(value)} entries, expected {low} to {high}")
        return value

    def files(name: str, value: Any) -> None:
        for fmt, file_name in mapping(name, value).items():
            check_file_name(file_name, where=where, field_name=f"{name}.{fmt}")

    def tensors(name: str, value: Any) -> None:
        for i, spec in enumerate(sequence(name, value, 1, 256)):
            if isinstance(spec, TensorSpec):
                spec = asdict(spec)
            entry = mapping(f"{name}[{i}]", spec)
            unknown = sorted(set(entry) - {f.name for f in fields(TensorSpec)})
            if unknown:
                raise bad(f"{name}[{i}]", f"has unknown key(s) {unknown}")
            tname = text(f"{name}[{i}].name", entry.get("name"))
            shape = sequence(f"{name}[{tname}].shape", entry.get("shape"), 0, 8)
            for d in shape:
                integer(f"{name}[{tname}].shape", d, 1, MAX_TENSOR_ELEMENTS)
            if math.prod(int(d) for d in shape) > MAX_TENSOR_ELEMENTS:
                raise bad(f"{name}[{tname}].shape", f"is {list(shape)}, more than "
                          f"{MAX_TENSOR_ELEMENTS} elements")
            if entry.get("dtype", "float32") not in DTYPES:
                raise bad(f"{name}[{tname}].dtype", f"is {shown(entry.get('dtype'))}",
                          f"use one of {list(DTYPES)}")
            text(f"{name}[{tname}].role", entry.get("role", "state"))
            if entry.get("state_of") is not None:
                text(f"{name}[{tname}].state_of", entry.get("state_of"))

    _check_schema_version(data.get("schema_version", SCHEMA_VERSION), where)
    text("name", data.get("name"))
    text("version", data.get("version"), empty=True)
    keywords = sequence("keywords", data.get("keywords"), 1, 64)
    for i, kw in enumerate(keywords):
        text(f"keywords[{i}]", kw)
    if len(set(keywords)) != len(keywords):
        raise bad("keywords", f"repeats a keyword ({list(keywords)})", "list each keyword once")
    for i, cls in enumerate(sequence("class_names", data.get("class_names"), 1, 65)):
        text(f"class_names[{i}]", cls)
    rate = integer("sample_rate_hz", data.get("sample_rate_hz"), MIN_SAMPLE_RATE_HZ,
                   MAX_SAMPLE_RATE_HZ)
    chunk = integer("chunk_samples", data.get("chunk_samples"), 1, 10 * rate)
    files("graphs", data.get("graphs"))
    tensors("inputs", data.get("inputs"))
    tensors("outputs", data.get("outputs"))
    check_file_name(data.get("weights_file", "weights.npz"), where=where,
                    field_name="weights_file")
    for kw, value in mapping("thresholds", data.get("thresholds", {})).items():
        real(f"thresholds[{kw!r}]", value, 0.0, 1.0, open_low=True,
             fix="use a probability in (0, 1], or recalibrate with `wakeword calibrate`")
    integer("smoothing_steps", data.get("smoothing_steps", 1), 1, MAX_SMOOTHING_STEPS)
    real("refractory_s", data.get("refractory_s", 1.0), 0.0, MAX_REFRACTORY_S)
    integer("warmup_steps", data.get("warmup_steps", 0), 0,
            max(0, int(MAX_WARMUP_S * rate // chunk)))
    frontend = mapping("frontend", data.get("frontend", {}))
    mapping("network", data.get("network", {}))
    mapping("provenance", data.get("provenance", {}))
    for fmt, value in mapping("quantization", data.get("quantization", {})).items():
        text(f"quantization.{fmt}", value)
    if "sample_rate_hz" in frontend and frontend["sample_rate_hz"] != rate:
        raise bad("sample_rate_hz", f"is {rate} but frontend.sample_rate_hz (the rate the model "
                  f"was trained at) is {shown(frontend['sample_rate_hz'])}",
                  "restore the trained rate; audio at other rates is resampled for you")
    step = data.get("train_step")
    if step is None:
        return
    if isinstance(step, TrainStepSpec):
        step = asdict(step)
    step = mapping("train_step", step)
    unknown = sorted(set(step) - {f.name for f in fields(TrainStepSpec)})
    if unknown:
        raise bad("train_step", f"has unknown key(s) {unknown}")
    files("train_step.graphs", step.get("graphs"))
    integer("train_step.batch_size", step.get("batch_size"), 1, 4096)
    integer("train_step.clip_samples", step.get("clip_samples"), 1, 60 * rate)
    for i, wname in enumerate(sequence("train_step.weight_names", step.get("weight_names"),
                                       1, 256)):
        text(f"train_step.weight_names[{i}]", wname)
    text("train_step.loss", step.get("loss", "cross_entropy"))
    real("train_step.learning_rate", step.get("learning_rate", 1e-3), 0.0, 1.0, open_low=True,
         fix="use a step size such as 0.001")


@dataclass(frozen=True, kw_only=True)
class TensorSpec:
    """One graph input or output."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    role: str = "state"
    state_of: str | None = None  # for a state output: the input it feeds next call

    def __post_init__(self) -> None:
        if isinstance(self.shape, (str, bytes)) or not isinstance(self.shape, Sequence) \
                or not all(_is_int(d) for d in self.shape):
            raise ModelError(f"{MANIFEST_NAME}: {self.name} has shape {self.shape!r}; a shape is a "
                             "list of whole numbers: re-export the model")
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
        if not (_is_int(self.batch_size) and _is_int(self.clip_samples)
                and _is_real(self.learning_rate)) or self.batch_size < 1 \
                or self.clip_samples < 1 or not self.learning_rate > 0:
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

        _check_schema({f.name: getattr(self, f.name) for f in fields(self)}, where)
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
        if not isinstance(data, Mapping):
            raise ModelError(f"{where}: expected a JSON object; re-export the model")
        data = dict(data)
        if "schema_version" in data:  # a newer or older schema explains the other errors
            _check_schema_version(data["schema_version"], where)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelError(f"{where}: unknown field(s) {unknown}; this runtime reads schema "
                             f"{SCHEMA_VERSION}: upgrade wakeword or re-export the model")
        required = {f.name for f in fields(cls)
                    if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ModelError(f"{where}: missing field(s) {missing}; re-export the model")
        _check_schema(data, where)
        try:
            data["inputs"] = tuple(TensorSpec(**t) for t in data["inputs"])
            data["outputs"] = tuple(TensorSpec(**t) for t in data["outputs"])
            if data.get("train_step") is not None:
                data["train_step"] = TrainStepSpec(**data["train_step"])
            manifest = cls(**data)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{where}: malformed field ({exc}); re-export the model") from exc
        manifest.validate(where)
        return manifest


MAX_JSON_BYTES = 16 * 1024 * 1024


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a model folder's file (at most :data:`MAX_JSON_BYTES`)."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise ModelError(f"{path}: is {size} bytes; a model folder's JSON is far smaller (at most "
                         f"{MAX_JSON_BYTES}): the file is damaged or not the exporter's")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{path}: not valid JSON ({str(exc)[:200]}); re-export the model") \
            from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object, found a {type(data).__name__}; "
                         "re-export the model")
    return data


def load_manifest(model_dir: str | os.PathLike[str]) -> Manifest:
    """Read and validate ``model_dir/manifest.json``; errors name the file and field."""
    path = Path(model_dir) / MANIFEST_NAME
    if not Path(model_dir).is_dir():
        raise ModelError(f"{model_dir}: not a model folder (it does not exist); pass the folder "
                         "that `wakeword export` wrote, e.g. models/computer")
    if not path.is_file():
        raise ModelError(f"{path}: missing; a model folder needs the manifest.json written by "
                         "`wakeword export`")
    data = read_json(path)
    manifest = Manifest.from_dict(data, where=str(path))
    named = [(f"graphs.{f}", n) for f, n in manifest.graphs.items()]
    named.append(("weights_file", manifest.weights_file))
    if manifest.train_step is not None:
        named += [(f"train_step.graphs.{f}", n) for f, n in manifest.train_step.graphs.items()]
    for field_name, name in named:
        model_file(model_dir, name, field_name=field_name)
    return manifest


def write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and an atomic rename. The file keeps
    the permissions of the one it replaces (a new file gets the user's umask)."""
    from device_runtime.folders import current_umask

    path = Path(path)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.chmod(tmp, mode)
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
    side = read_json(path)
    if not set(side) & set(SIDECAR_FIELDS):
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
