"""`wakeword export CHECKPOINT --out DIR`: summary output (table or --json), refusal to
overwrite, --force."""

from __future__ import annotations

import json

import numpy as np
import torch

from device_runtime.manifest import load_manifest
from wakeword.cli.main import main
from wakeword.features.mel import FrontendConfig
from wakeword.model.config import NetworkConfig
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.train.checkpoint import KernelSource, save_checkpoint


def test_cli_export_prints_a_summary_and_needs_force_to_replace(tmp_path, capsys):
    rng = np.random.default_rng(1)
    kernels = rng.standard_normal((64, 9)).astype(np.float32)
    kernels /= np.linalg.norm(kernels, axis=1, keepdims=True)
    torch.manual_seed(1)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(keywords=("hey there",)), kernels,
                          np.arange(8))
    ckpt = save_checkpoint(tmp_path / "best.pt", model,
                           kernels=KernelSource(kernels=kernels, path=np.arange(8)))
    out = tmp_path / "models" / "hey"
    args = ["--no-progress", "export", str(ckpt), "--out", str(out), "--formats", "onnx",
            "--no-train-step"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "model.onnx" in printed and "weights.npz" in printed and "KiB" in printed
    assert "parity onnx: max |score diff|" in printed
    manifest = load_manifest(out)
    assert manifest.name == "hey_there" and manifest.graphs == {"onnx": "model.onnx"}
    assert manifest.train_step is None and manifest.thresholds == {"hey there": 0.5}

    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([*args, "--force", "--name", "hey2"]) == 0
    assert load_manifest(out).name == "hey2"
    assert sorted(p.name for p in out.parent.iterdir()) == ["hey"]

    capsys.readouterr()
    assert main([*args, "--force", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out) and summary["seconds"] > 0
    assert "model.onnx" in summary["parity"]["files"]
    assert summary["parity"]["stream"]["onnx"]["max_abs_diff"] < 1e-4
