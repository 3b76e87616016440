"""Build hook: put the shipped models into the wheel as ``device_runtime/models``.

Everything else is declared in pyproject.toml. The models are taken from ``models/`` as it is
at build time (nothing is copied into the source tree): every folder holding a
``manifest.json`` contributes its inference and enrolment files, and ``models/kernels`` its
kernel bank. Training artefacts (checkpoints, parity reports) stay out.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
MODELS = ROOT / "models"
TARGET = Path("device_runtime") / "models"  # inside the wheel

# What a shipped model folder contributes: detection (manifest, graphs, weights, sidecar),
# on-device enrolment (training-step graphs, stored negatives), the demo clip and the card.
MODEL_FILES = ("manifest.json", "model.json", "model.onnx", "model.tflite", "weights.npz",
               "negatives.npz", "train_step.onnx", "train_step.tflite", "example.wav",
               "example.json", "CARD.md")
KERNEL_FILES = ("flywire_auditory.npz", "recipe.json", "CARD.md")


def shipped_model_files(models_dir: Path = MODELS) -> list[Path]:
    """The files of ``models_dir`` that go into the wheel, relative to ``models_dir``."""
    files: list[Path] = []
    if not models_dir.is_dir():
        return files
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        names = MODEL_FILES if (folder / "manifest.json").is_file() else (
            KERNEL_FILES if folder.name == "kernels" else ())
        files.extend(folder.relative_to(models_dir) / n for n in names if (folder / n).is_file())
    return files


class BuildPyWithModels(build_py):
    """``build_py`` that also copies the shipped model files (fresh on every build, so a model
    replaced or removed in ``models/`` is never stale in the wheel)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads ``models/`` in place
        target = Path(self.build_lib) / TARGET
        if target.exists():
            shutil.rmtree(target)
        for rel in shipped_model_files():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(MODELS / rel, dest)


setup(cmdclass={"build_py": BuildPyWithModels})
