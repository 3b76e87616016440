"""Packaging: which files of models/ go into the wheel, the extras, and (opt-in, it builds a
wheel and a virtualenv) the device-wheel check of scripts/wheel_check.sh."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import setuptools

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def setup_py() -> dict:
    """setup.py's namespace, without running setup()."""
    original = setuptools.setup
    setuptools.setup = lambda **kwargs: None  # type: ignore[assignment]
    try:
        return runpy.run_path(str(REPO / "setup.py"), run_name="setup_under_test")
    finally:
        setuptools.setup = original


def test_every_model_folder_ships_its_inference_and_enrolment_files(setup_py):
    files = {p.as_posix() for p in setup_py["shipped_model_files"](REPO / "models")}
    models = sorted(p.name for p in (REPO / "models").iterdir() if (p / "manifest.json").is_file())
    assert {"alexa", "computer", "hey_jarvis"} <= set(models)
    for name in models:
        for needed in ("manifest.json", "weights.npz", "CARD.md"):
            assert f"{name}/{needed}" in files
        for present in ("model.onnx", "model.tflite", "train_step.onnx", "negatives.npz",
                        "example.wav"):
            assert ((REPO / "models" / name / present).is_file()) == (f"{name}/{present}" in files)
    assert "kernels/flywire_auditory.npz" in files
    assert not any(f.endswith((".pt", "parity.json", ".png")) for f in files)


def test_shipped_files_come_from_models_at_build_time(setup_py, tmp_path):
    (tmp_path / "new_model").mkdir()
    (tmp_path / "new_model" / "manifest.json").write_text("{}")
    (tmp_path / "new_model" / "model.onnx").write_bytes(b"x")
    (tmp_path / "new_model" / "best.pt").write_bytes(b"x")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "model.onnx").write_bytes(b"x")  # no manifest: not a model
    files = {p.as_posix() for p in setup_py["shipped_model_files"](tmp_path)}
    assert files == {"new_model/manifest.json", "new_model/model.onnx"}


def test_the_core_install_needs_numpy_only_and_each_runtime_has_an_extra():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0] for d in project["dependencies"]] == ["numpy"]
    extras = project["optional-dependencies"]
    for name in ("onnx", "litert", "tflite", "mic", "audio", "train", "export", "dev"):
        assert name in extras
    assert any(d.replace(" ", "").endswith("<2") and d.startswith("numpy") for d in extras["tflite"])
    pins = {line.split("==")[0].lower() for line in
            (REPO / "constraints.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    for package in ("numpy", "onnxruntime", "ai-edge-litert", "torch", "torchaudio", "scipy"):
        assert package in pins


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("WAKEWORD_WHEEL_CHECK") != "1",
                    reason="builds a wheel and a fresh virtualenv: set WAKEWORD_WHEEL_CHECK=1")
def test_the_device_wheel_installs_and_detects_without_torch():
    out = subprocess.run(["bash", str(REPO / "scripts" / "wheel_check.sh")], cwd=REPO,
                         capture_output=True, text=True, timeout=1800, check=False,
                         env={**os.environ, "PY": os.environ.get("WAKEWORD_WHEEL_PY",
                                                                 sys.executable)})
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "wheel check passed" in out.stdout
