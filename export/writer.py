"""``export_model``: a checkpoint (or model) -> a complete, checked model folder, atomically.

The folder (layout and call convention: :mod:`device_runtime.manifest`)::

    manifest.json      validated Manifest (schema of device_runtime.manifest)
    weights.npz        trained weights by name, in the manifest's input order
    model.onnx         streaming graph (if "onnx" in formats)
    model.tflite       streaming graph (if "tflite" in formats), model.json its sidecar
    train_step.onnx    loss + gradients (if train_step), one per format
    train_step.tflite
    parity.json        the parity figures (and tolerances), file sizes and timings

Everything is built in a temporary folder next to ``out_dir`` and checked (parity of every
graph against PyTorch, manifest round trip) before one rename moves it into place. A failure
removes the temporary folder, so nothing partial is ever left; temporary folders of a killed
export are removed by the next export to the same place. An existing ``out_dir`` is kept unless
``overwrite=True``, and even then it is only replaced when it is itself a model folder (it holds
a ``manifest.json``) that does not contain the checkpoint; the new folder is swapped in
atomically and the old one deleted (:mod:`device_runtime.folders`). Files get the user's umask.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from device_runtime.errors import ModelError
from device_runtime.folders import apply_umask, check_target, make_temp_dir, swap_into_place
from device_runtime.manifest import (
    FORMATS,
    SIDECAR_NAME,
    check_sidecar,
    load_manifest,
    save_manifest,
    sidecar_dict,
    write_json_atomic,
)
from export import onnx as onnx_writer
from export import tflite as tflite_writer
from export.parity import (
    INT8_TOLERANCE,
    STREAM_TOLERANCE,
    TRAIN_STEP_RTOL,
    check_stream,
    check_train_step,
)
from export.spec import ExportSpec, build_spec
from export.train_step import DEFAULT_BATCH_SIZE, DEFAULT_CLIP_S, build_train_step, train_step_spec
from wakeword.errors import CheckpointError, ConfigError, DataError, ExportError, WakewordError
from wakeword.model.wakeword_model import WakeWordModel

__all__ = ["PARITY_NAME", "WEIGHTS_NAME", "export_model"]

log = logging.getLogger(__name__)

PARITY_NAME = "parity.json"
WEIGHTS_NAME = "weights.npz"
_WRITERS = {"onnx": onnx_writer.write, "tflite": tflite_writer.write}


def _formats(formats: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    for item in (str(f).strip().lower() for f in items):
        if item not in FORMATS:
            raise ExportError(f"formats names {item!r}; use one or more of {list(FORMATS)}")
        if item not in out:
            out.append(item)
    if not out:
        raise ExportError(f"formats is empty; use one or more of {list(FORMATS)}")
    return tuple(out)


def _quantize(quantize: bool | str | None) -> str | None:
    if quantize is None or quantize is False:
        return None
    if quantize is True or quantize == "int8":
        return "int8"
    raise ExportError(f"quantize is {quantize!r}; use 'int8' (int8 weights in the TFLite graph) "
                      "or False")


def _load(checkpoint_or_model: Any) -> tuple[WakeWordModel, dict[str, Any] | None, str | None]:
    if isinstance(checkpoint_or_model, WakeWordModel):
        return checkpoint_or_model, None, None
    if not isinstance(checkpoint_or_model, (str, os.PathLike)):
        raise ExportError(f"export_model takes a checkpoint path or a WakeWordModel, got "
                          f"{type(checkpoint_or_model).__name__}")
    from wakeword.train.checkpoint import load_checkpoint, model_from_payload

    path = str(checkpoint_or_model)
    payload = load_checkpoint(path)  # CheckpointError: missing, corrupt, other schema
    try:
        model = model_from_payload(payload, path)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: unsupported configuration: {exc}") from exc
    return model, payload, path


def _sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}


def _write_formats(source: Any, stem: str, formats: tuple[str, ...], tmp: Path,
                   timings: dict[str, float]) -> dict[str, str]:
    """Write ``source`` as ``stem.<fmt>`` for each format; return format -> file name."""
    names: dict[str, str] = {}
    for fmt in formats:
        name = f"{stem}.{fmt}"
        t = time.perf_counter()
        log.info("writing %s", name)
        _WRITERS[fmt](source, tmp / name)
        timings[name] = time.perf_counter() - t
        names[fmt] = name
    return names


def _parity_file(path: Path, spec: ExportSpec) -> float:
    """Check the parity audio file (block by block, nothing kept); its length in seconds at the
    model's rate. Runs before anything is written."""
    from wakeword.data.audio_io import count_samples

    try:
        samples = count_samples(path, spec.sample_rate_hz)
    except DataError as exc:
        raise ExportError(f"parity audio: {exc}") from exc
    if samples < spec.chunk_samples:
        raise ExportError(f"{path}: holds {samples / spec.sample_rate_hz:.3f} s of audio, less "
                          f"than one model step ({spec.chunk_samples} samples at "
                          f"{spec.sample_rate_hz} Hz); give a longer recording for the parity "
                          "check")
    return samples / spec.sample_rate_hz


def _build(spec: ExportSpec, tmp: Path, formats: tuple[str, ...], train_step: bool,
           train_batch_size: int, train_clip_s: float,
           parity_audio: np.ndarray | Path | None, tolerance: float, parity_source: str,
           parity_seconds: float | None = None) -> dict[str, Any]:
    timings: dict[str, float] = {}
    np.savez(tmp / WEIGHTS_NAME, **spec.weights)  # type: ignore[arg-type]
    graphs = _write_formats(spec, "model", formats, tmp, timings)
    t = time.perf_counter()
    audio = spec.calibration_audio if parity_audio is None else parity_audio
    stream_report = check_stream(spec, {f: tmp / n for f, n in graphs.items()}, audio,
                                 tolerance=tolerance)
    timings["parity.stream"] = time.perf_counter() - t
    for fmt, row in stream_report.items():
        log.info("parity %s: max |score diff| %.3g (tolerance %g)", fmt, row["max_abs_diff"],
                 row["tolerance"])
    step_spec = None
    step_report: dict[str, Any] | None = None
    if train_step:
        t = time.perf_counter()
        log.info("tracing the training step")
        graph = build_train_step(spec, batch_size=train_batch_size,
                                 clip_samples=round(train_clip_s * spec.sample_rate_hz))
        timings["train_step.trace"] = time.perf_counter() - t
        step_graphs = _write_formats(graph, "train_step", formats, tmp, timings)
        t = time.perf_counter()
        step_report = check_train_step(spec, graph, {f: tmp / n for f, n in step_graphs.items()})
        timings["parity.train_step"] = time.perf_counter() - t
        step_spec = train_step_spec(graph, step_graphs)
        for fmt, row in step_report.items():
            log.info("parity %s train step: worst relative difference %.3g (%s)", fmt,
                     row["max_rel_diff"], row["worst_tensor"])
    manifest = spec.manifest(graphs, train_step=step_spec)
    save_manifest(manifest, tmp)
    if "tflite" in graphs:
        write_json_atomic(tmp / SIDECAR_NAME, sidecar_dict(manifest))
    try:
        loaded = load_manifest(tmp)
        check_sidecar(loaded, tmp)
    except ModelError as exc:
        raise ExportError(f"the written manifest does not load back: {exc}") from exc
    if loaded != manifest:
        raise ExportError("the written manifest does not round-trip (load_manifest differs)")
    return {
        "tolerances": {"stream": tolerance, "stream_int8": INT8_TOLERANCE,
                       "train_step_rtol": TRAIN_STEP_RTOL},
        "audio": {"source": parity_source,
                  "seconds": (float(parity_seconds) if parity_seconds is not None else
                              float(np.asarray(audio).size / spec.sample_rate_hz)),
                  "sample_rate_hz": spec.sample_rate_hz},
        "stream": stream_report,
        "train_step": (None if step_spec is None else
                       {"batch_size": step_spec.batch_size, "clip_samples": step_spec.clip_samples,
                        **(step_report or {})}),
        "timings_s": timings,
    }


def export_model(checkpoint_or_model: str | os.PathLike[str] | WakeWordModel,
                 out_dir: str | os.PathLike[str], *,
                 formats: str | tuple[str, ...] = FORMATS, train_step: bool = True,
                 quantize: bool | str | None = False, overwrite: bool = False,
                 train_batch_size: int = DEFAULT_BATCH_SIZE,
                 train_clip_s: float = DEFAULT_CLIP_S,
                 parity_audio: np.ndarray | str | os.PathLike[str] | None = None,
                 name: str | None = None,
                 version: str | None = None, tolerance: float = STREAM_TOLERANCE) -> Path:
    """Export a checkpoint (path) or a :class:`WakeWordModel` to the model folder ``out_dir``.

    Args:
        checkpoint_or_model: a ``.pt`` written by ``wakeword train`` / ``save_checkpoint``, or a
            model (then the manifest has no checkpoint provenance and default thresholds).
        out_dir: the model folder to create, e.g. ``models/computer``.
        formats: ``"onnx"``, ``"tflite"`` or both (a tuple or ``"onnx,tflite"``).
        train_step: also export the training-step graphs (for on-device fine-tuning).
        quantize: ``"int8"`` (or True): int8 weights (float compute) in the TFLite streaming
            graph.
        overwrite: replace an existing ``out_dir`` (else it is an error).
        train_batch_size, train_clip_s: the training-step graph's fixed batch shape
            (default 8 clips of 2.0 s).
        parity_audio: float32 samples at the model's rate for the parity check, or an audio
            file (WAV/FLAC/OGG, resampled to the model's rate if needed), checked before
            anything is written and read block by block (memory flat in its length; a partial
            last frame is dropped with a warning). Default: 5 s of seeded speech-like bursts.
        name, version: override the manifest's name and version.
        tolerance: the float parity tolerance on probabilities (default 1e-4).
    Returns:
        ``out_dir``.
    Raises:
        CheckpointError: unreadable checkpoint, other schema version, unsupported config.
        ExportError: an existing folder, a bad option, a failed conversion or parity check.
    """
    t_start = time.perf_counter()
    fmts = _formats(formats)
    quant = _quantize(quantize)
    if quant and "tflite" not in fmts:
        raise ExportError(f"quantize={quant!r} applies to the TFLite graph, but formats is "
                          f"{list(fmts)}; add tflite to the formats")
    if not tolerance >= 0:
        raise ExportError(f"tolerance is {tolerance}; use a non-negative number (default 1e-4)")
    out_dir = Path(out_dir).absolute()
    keep = [checkpoint_or_model] if isinstance(checkpoint_or_model, (str, os.PathLike)) else []
    if not out_dir.parent.exists():
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    check_target(out_dir, overwrite=overwrite, keep=keep, what="model folder",
                 flag="--force (overwrite=True)", error=ExportError)
    model, payload, source = _load(checkpoint_or_model)
    parity_file: Path | None = None
    parity_array: np.ndarray | None = None
    if isinstance(parity_audio, (str, os.PathLike)):
        parity_file = Path(parity_audio)
    elif parity_audio is not None:
        parity_array = np.asarray(parity_audio, dtype=np.float32)
    parity_source = "given audio" if parity_audio is not None else \
        "synthetic speech-like bursts (export.spec.parity_signal, seed 0)"
    spec = build_spec(model, payload, source=source, name=name, version=version,
                      quantize=quant, formats=fmts, calibration_audio=parity_array)
    parity_seconds = None
    if parity_file is not None:
        parity_seconds = _parity_file(parity_file, spec)
        parity_source = str(parity_file)
    tmp = make_temp_dir(out_dir)
    try:
        report = _build(spec, tmp, fmts, train_step, train_batch_size, train_clip_s,
                        parity_array if parity_file is None else parity_file, tolerance,
                        parity_source, parity_seconds)
        report["files"] = _sizes(tmp)
        report["seconds"] = time.perf_counter() - t_start
        write_json_atomic(tmp / PARITY_NAME, report)
        apply_umask(tmp)
        check_target(out_dir, overwrite=overwrite, keep=keep, what="model folder",
                     flag="--force (overwrite=True)", error=ExportError)
        swap_into_place(tmp, out_dir)
    except WakewordError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ExportError(f"exporting to {out_dir} failed ({exc.__class__.__name__}: {exc}); "
                          "nothing was written") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("exported %s in %.1f s", out_dir, time.perf_counter() - t_start)
    return out_dir
