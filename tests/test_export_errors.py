"""`export_model` failures: clear errors, and never a partial or overwritten folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import export.parity
import export.writer
from export import export_model
from wakeword.errors import CheckpointError, ExportError
from wakeword.features.mel import FrontendConfig
from wakeword.model.config import NetworkConfig
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.train.checkpoint import KernelSource, load_checkpoint, save_checkpoint
from wakeword.train.checkpoint_format import write_payload


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    kernels = rng.standard_normal((64, 9)).astype(np.float32)
    kernels /= np.linalg.norm(kernels, axis=1, keepdims=True)
    torch.manual_seed(0)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, np.arange(8))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.pt", model,
                           kernels=KernelSource(kernels=kernels, path=np.arange(8)))


def _edit_checkpoint(src: Path, dst: Path, **changes: object) -> Path:
    payload = load_checkpoint(src)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(payload.get(key), dict):
            payload[key] = {**payload[key], **value}
        else:
            payload[key] = value
    write_payload(dst, payload)
    return dst


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir()) if parent.exists() else []


def test_incompatible_checkpoint_schema_is_a_clear_checkpoint_error(checkpoint, tmp_path):
    old = _edit_checkpoint(checkpoint, tmp_path / "old.pt", schema_version=99)
    with pytest.raises(CheckpointError, match="schema_version is 99"):
        export_model(old, tmp_path / "out")
    assert _leftovers(tmp_path) == ["old.pt"]


def test_unsupported_configuration_names_the_field(checkpoint, tmp_path):
    bad = _edit_checkpoint(checkpoint, tmp_path / "bad.pt", network={"architecture": "fig9"})
    with pytest.raises(CheckpointError, match=r"network\.architecture"):
        export_model(bad, tmp_path / "out")


def test_bad_options_are_export_errors(checkpoint, tmp_path):
    with pytest.raises(ExportError, match="formats"):
        export_model(checkpoint, tmp_path / "out", formats=("onnx", "coreml"))
    with pytest.raises(ExportError, match="tflite"):
        export_model(checkpoint, tmp_path / "out", formats=("onnx",), quantize="int8")
    with pytest.raises(ExportError, match="quantize"):
        export_model(checkpoint, tmp_path / "out", quantize="int4")
    assert not (tmp_path / "out").exists()


def test_existing_folder_is_not_overwritten_without_force(checkpoint, tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="already exists"):
        export_model(checkpoint, out, formats=("onnx",), train_step=False)
    assert (out / "keep.txt").read_text() == "mine"
    assert _leftovers(tmp_path) == ["model"]


def test_failed_parity_leaves_no_folder_and_no_temporary_files(checkpoint, tmp_path,
                                                                monkeypatch):
    real = export.parity.stream_onnx

    def off_by_a_little(*args, **kwargs):
        return real(*args, **kwargs) + 1e-3

    monkeypatch.setattr(export.parity, "stream_onnx", off_by_a_little)
    parent = tmp_path / "models"
    with pytest.raises(ExportError, match=r"onnx parity failed.*1e-03|onnx parity failed.*0\.001"):
        export_model(checkpoint, parent / "computer", formats=("onnx",), train_step=False)
    assert _leftovers(parent) == []


def test_failing_writer_leaves_nothing_and_keeps_an_old_folder(checkpoint, tmp_path,
                                                               monkeypatch):
    def broken(spec, path):
        Path(path).write_bytes(b"half a graph")
        raise RuntimeError("disk full")

    monkeypatch.setitem(export.writer._WRITERS, "onnx", broken)
    out = tmp_path / "computer"
    with pytest.raises(ExportError, match="disk full"):
        export_model(checkpoint, out, formats=("onnx",), train_step=False)
    assert _leftovers(tmp_path) == []
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    with pytest.raises(ExportError, match="disk full"):
        export_model(checkpoint, out, formats=("onnx",), train_step=False, overwrite=True)
    assert _leftovers(tmp_path) == ["computer"]
    assert (out / "manifest.json").read_text() == "{}"
