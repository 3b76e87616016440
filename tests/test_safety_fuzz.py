"""Bad input, tried as a new user would: every case exits with a clear message (no traceback),
and nothing outside the command's target changes (checksums of the copied models, their
siblings, the clips and the checkpoints).

Classes (issue 15): checkpoints that would run code; tampered manifests and weights; cut,
odd-rate, huge-header and non-audio files; destructive --out/--force targets; killed runs
leaving temp folders; option ranges. The models are copies of models/computer in tmp_path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import device_runtime.cli as runtime_cli
from device_runtime import Detector, FileSource, ModelError, iter_audio, load_manifest
from device_runtime.audio import write_wav
from device_runtime.errors import AudioError
from device_runtime.folders import TEMP_MARK, clean_stale, make_temp_dir

REPO = Path(__file__).resolve().parent.parent
COMPUTER = REPO / "models" / "computer"
RATE = 16000
# files a detector needs: the big training-step graphs are left out of most copies
SMALL = ("manifest.json", "model.json", "model.onnx", "weights.npz", "CARD.md")


# -- helpers -------------------------------------------------------------------------------------
def _digest(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[str, int]]:
    """sha256 and mode of every file under ``root`` except those under ``skip``."""
    out = {}
    for path in sorted(root.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                path.stat().st_mode & 0o777)
        elif path.is_dir():
            out[str(path.relative_to(root)) + "/"] = ("dir", path.stat().st_mode & 0o777)
    return out


def _copy_model(dst: Path, *, full: bool = False) -> Path:
    dst.mkdir(parents=True)
    for item in COMPUTER.iterdir():
        if full or item.name in SMALL:
            shutil.copy2(item, dst / item.name)
    return dst


def _run(main, argv: list[str], capsys) -> tuple[int, str, str]:
    """Run a command in-process; an exception escaping it fails the test (a traceback)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "Traceback" not in out
    return int(code or 0), out, err


def _runtime(argv: list[str], capsys) -> tuple[int, str, str]:
    return _run(runtime_cli.main, argv, capsys)


def _wakeword(argv: list[str], capsys) -> tuple[int, str, str]:
    from wakeword.cli.main import main

    return _run(main, ["--no-progress", *argv], capsys)


def _wav_bytes(data: bytes, rate: int, *, channels: int = 1, width: int = 2,
               data_size: int | None = None) -> bytes:
    align = channels * width
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * align) & 0xFFFFFFFF, align,
                      8 * width)
    size = len(data) if data_size is None else data_size
    return (b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, 36 + size)) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size) + data)


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = 0.1 * envelope * np.sin(2 * np.pi * (150 + 50 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return (x + rng.normal(0, 0.01, t.size)).astype(np.float32)


@pytest.fixture
def world(tmp_path):
    """models/computer and a sibling model (copies), a clip and an example recording."""
    models = tmp_path / "models"
    computer = _copy_model(models / "computer")
    _copy_model(models / "sibling")
    clips = tmp_path / "clips"
    clips.mkdir()
    write_wav(clips / "speech.wav", _speechlike(2.0), RATE)
    shutil.copy2(COMPUTER / "example.wav", tmp_path / "example.wav")
    return {"root": tmp_path, "models": models, "computer": computer, "clips": clips,
            "example": tmp_path / "example.wav"}


# -- 1. checkpoints: data, never code ------------------------------------------------------------
class _OpensAFile:
    """Unpickling this calls open(path, "w"): the file appears if the pickle is executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _evil_checkpoints(folder: Path, marker: Path) -> list[Path]:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    payload = {"schema_version": 1, "frontend": {}, "hook": _OpensAFile(str(marker))}
    zipped = folder / "evil.pt"
    torch.save(payload, zipped)
    legacy = folder / "legacy.pt"
    legacy.write_bytes(pickle.dumps(payload, protocol=2))
    return [zipped, legacy]


def _tiny_checkpoint(path: Path) -> Path:
    import torch

    from wakeword.features.mel import FrontendConfig
    from wakeword.model import NetworkConfig, WakeWordModel
    from wakeword.train.checkpoint import KernelSource, save_checkpoint

    rng = np.random.default_rng(0)
    kernels = rng.standard_normal((64, 9)).astype(np.float32)
    kernels /= np.linalg.norm(kernels, axis=1, keepdims=True)
    torch.manual_seed(0)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, np.arange(8))
    return save_checkpoint(path, model, kernels=KernelSource(kernels=kernels, path=np.arange(8)))


def test_the_malicious_pickle_is_live(tmp_path):
    """The test payload really runs when unpickled the old way (so the cases below mean it)."""
    import torch

    marker = tmp_path / "pwned"
    evil, _ = _evil_checkpoints(tmp_path / "ck", marker)
    torch.load(evil, weights_only=False)
    assert marker.exists()


def test_malicious_checkpoint_never_executes_on_export_eval_or_load(world, capsys):
    from wakeword.errors import CheckpointError
    from wakeword.train.checkpoint import load_checkpoint

    root = world["root"]
    marker = root / "pwned"
    for evil in _evil_checkpoints(root / "run", marker):
        before = _digest(root)
        code, _, err = _wakeword(["export", str(evil), "--out", str(root / "out")], capsys)
        assert code == 2 and "pickled checkpoint" in err and "convert-checkpoint" in err
        code, _, err = _wakeword(["eval", str(evil), "--positives", str(world["clips"]),
                                  "--negatives", str(world["clips"])], capsys)
        assert code == 2 and "pickled checkpoint" in err
        with pytest.raises(CheckpointError, match="pickled checkpoint"):
            load_checkpoint(evil)
        code, _, err = _wakeword(["convert-checkpoint", str(evil), "--out",
                                  str(root / "new.pt")], capsys)
        assert code == 2 and "--trust-pickle" in err
        assert not marker.exists()
        assert _digest(root) == before


def test_resume_from_a_malicious_last_checkpoint_refuses_before_running_it(tmp_path):
    from wakeword.errors import CheckpointError
    from wakeword.features.mel import FrontendConfig
    from wakeword.model import NetworkConfig, WakeWordModel
    from wakeword.train.checkpoint import KernelSource
    from wakeword.train.trainer import TrainConfig, Trainer

    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    evil, _ = _evil_checkpoints(run, marker)
    evil.rename(run / "last.pt")
    rng = np.random.default_rng(0)
    kernels = rng.standard_normal((64, 9)).astype(np.float32)
    kernels /= np.linalg.norm(kernels, axis=1, keepdims=True)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, np.arange(8))
    trainer = Trainer(model, KernelSource(kernels=kernels, path=np.arange(8)),
                      TrainConfig(epochs=1, batch_size=4))
    audio = (rng.normal(size=(4, 12800)) * 0.01).astype(np.float32)
    labels = np.array([1, 1, 0, 0])
    with pytest.raises(CheckpointError, match="pickled checkpoint"):
        trainer.fit(audio, labels, audio, labels, run, resume=True)
    assert not marker.exists()


def test_trusted_old_checkpoint_converts_once_and_then_loads_as_data(tmp_path, capsys):
    import torch

    from wakeword.train.checkpoint import load_checkpoint, load_model

    ckpt = _tiny_checkpoint(tmp_path / "new.pt")
    payload = load_checkpoint(ckpt)
    old = tmp_path / "old.pt"
    torch.save(payload, old)  # what older wakewords wrote
    code, out, err = _wakeword(["convert-checkpoint", str(old), "--out", str(tmp_path / "c.pt"),
                                "--trust-pickle"], capsys)
    assert code == 0 and "must be a file you trust" in err and "converted" in out
    converted = load_checkpoint(tmp_path / "c.pt")
    assert torch.equal(converted["state_dict"]["network.readout.weight"],
                       payload["state_dict"]["network.readout.weight"])
    load_model(tmp_path / "c.pt")


def _tamper_zip(src: Path, dst: Path, edit) -> Path:
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
    return dst


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _huge_npy_header() -> bytes:
    header = _npy(np.zeros(4, np.float32))
    return header.replace(b"(4,)", b"(4000000000000,)")[: len(header)]


@pytest.mark.parametrize("case", ["truncated", "random_bytes", "meta_not_object",
                                  "object_array", "huge_declared_array", "nan_weights",
                                  "missing_array", "schema_string"])
def test_tampered_checkpoints_are_checkpoint_errors(tmp_path, capsys, case):
    from wakeword.train.checkpoint import load_checkpoint
    from wakeword.train.checkpoint_format import write_payload

    good = _tiny_checkpoint(tmp_path / "run" / "best.pt")
    bad = tmp_path / "run" / f"{case}.pt"
    meta = json.loads(__import__("zipfile").ZipFile(good).read("checkpoint.json"))
    weight_ref = meta["payload"]["state_dict"]["network.readout.weight"]["__array__"]
    if case == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif case == "random_bytes":
        bad.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == "meta_not_object":
        _tamper_zip(good, bad, lambda n, d: b"[1, 2]" if n == "checkpoint.json" else d)
    elif case == "object_array":
        _tamper_zip(good, bad, lambda n, d: _npy(np.array([{"a": 1}], dtype=object))
                    if n == f"arrays/{weight_ref}.npy" else d)
    elif case == "huge_declared_array":
        _tamper_zip(good, bad, lambda n, d: _huge_npy_header()
                    if n == f"arrays/{weight_ref}.npy" else d)
    elif case == "nan_weights":
        payload = load_checkpoint(good)
        payload["state_dict"]["network.readout.weight"][:] = float("nan")
        write_payload(bad, payload)
    elif case == "missing_array":
        _tamper_zip(good, bad, lambda n, d: None if n == f"arrays/{weight_ref}.npy" else d)
    elif case == "schema_string":
        payload = load_checkpoint(good)
        payload["schema_version"] = "1"
        write_payload(bad, payload)
    before = _digest(tmp_path)
    code, _, err = _wakeword(["export", str(bad), "--out", str(tmp_path / "out"),
                              "--formats", "onnx", "--no-train-step"], capsys)
    assert code == 2 and str(bad) in err, err
    assert _digest(tmp_path) == before and not (tmp_path / "out").exists()


# -- 2/6. tampered model folders -----------------------------------------------------------------
MANIFEST_CASES = {
    "absolute_graph": ("graphs", {"onnx": "/etc/hostname"}, "graphs.onnx"),
    "dotdot_graph": ("graphs", {"onnx": "../sibling/model.onnx"}, "graphs.onnx"),
    "windows_graph": ("graphs", {"onnx": "C:\\models\\model.onnx"}, "graphs.onnx"),
    "dotdot_weights": ("weights_file", "../sibling/weights.npz", "weights_file"),
    "dotdot_train_step": ("train_step", "dotdot", "train_step.graphs.onnx"),
    "provenance_list": ("provenance", [], "provenance"),
    "warmup_huge": ("warmup_steps", 1e9, "warmup_steps"),
    "warmup_huge_int": ("warmup_steps", 10**9, "warmup_steps"),
    "schema_string": ("schema_version", "1", "schema_version"),
    "schema_future": ("schema_version", 2, "schema_version"),
    "rate_8000": ("sample_rate_hz", 8000, "sample_rate_hz"),
    "rate_string": ("sample_rate_hz", "16000", "sample_rate_hz"),
    "rate_1hz": ("sample_rate_hz", 1, "sample_rate_hz"),
    "threshold_string": ("thresholds", {"computer": "0.5"}, "thresholds"),
    "threshold_nan": ("thresholds", {"computer": float("nan")}, "thresholds"),
    "threshold_above_one": ("thresholds", {"computer": 1.5}, "thresholds"),
    "smoothing_zero": ("smoothing_steps", 0, "smoothing_steps"),
    "refractory_inf": ("refractory_s", float("inf"), "refractory_s"),
    "chunk_float": ("chunk_samples", 1280.5, "chunk_samples"),
    "keywords_string": ("keywords", "computer", "keywords"),
    "shape_strings": ("inputs", "shape", "shape"),
    "learning_rate_negative": ("train_step", "lr", "learning_rate"),
}


def _tamper_manifest(folder: Path, field: str, value) -> None:
    path = folder / "manifest.json"
    data = json.loads(path.read_text())
    if field == "train_step" and value == "dotdot":
        data["train_step"]["graphs"]["onnx"] = "../sibling/train_step.onnx"
    elif field == "train_step" and value == "lr":
        data["train_step"]["learning_rate"] = -1.0
    elif field == "inputs":
        data["inputs"][0]["shape"] = ["1", "x"]
    else:
        data[field] = value
    path.write_text(json.dumps(data))
    if field == "sample_rate_hz":
        (folder / "model.json").unlink()  # without the sidecar that used to catch it


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_tampered_manifest_is_a_model_error_naming_file_and_field(world, capsys, case):
    field, value, named = MANIFEST_CASES[case]
    model = world["computer"]
    _tamper_manifest(model, field, value)
    before = _digest(world["root"])
    code, _, err = _runtime(["detect", str(model), str(world["example"])], capsys)
    assert code == 2
    assert "manifest.json" in err and named in err, err
    with pytest.raises(ModelError, match="manifest.json"):
        Detector(model)
    assert _digest(world["root"]) == before


def test_enroll_on_a_manifest_pointing_outside_writes_nothing_outside(world, capsys):
    model = world["computer"]
    _tamper_manifest(model, "weights_file", "../sibling/weights.npz")
    before = _digest(world["root"])
    code, _, err = _runtime(["enroll", str(model), "--positives", str(world["clips"]),
                             "--out", str(world["root"] / "mine")], capsys)
    assert code == 2 and "weights_file" in err and "leaves the model folder" in err
    assert _digest(world["root"]) == before
    assert not (world["root"] / "mine").exists()


def test_symlinked_weights_leaving_the_folder_are_refused(world, capsys):
    model = world["computer"]
    (model / "weights.npz").unlink()
    (model / "weights.npz").symlink_to(world["models"] / "sibling" / "weights.npz")
    code, _, err = _runtime(["detect", str(model), str(world["example"])], capsys)
    assert code == 2 and "outside the model folder" in err


@pytest.mark.parametrize("case", ["nan", "inf", "strings", "not_npz", "wrong_shape",
                                  "huge_declared_array", "object_array"])
def test_damaged_weights_never_detect(world, capsys, case):
    model = world["computer"]
    with np.load(model / "weights.npz") as data:
        weights = {k: data[k] for k in data.files}
    name = "network.readout.bias"
    if case == "nan":
        weights = {k: np.full_like(v, np.nan) for k, v in weights.items()}
    elif case == "inf":
        weights[name] = np.full_like(weights[name], np.inf)
    elif case == "strings":
        weights[name] = np.array(["a", "b"])
    elif case == "wrong_shape":
        weights[name] = np.zeros(7, np.float32)
    if case == "not_npz":
        (model / "weights.npz").write_bytes(b"PK\x03\x04 not really a zip")
    elif case in ("huge_declared_array", "object_array"):
        import zipfile

        bad = (_huge_npy_header() if case == "huge_declared_array"
               else _npy(np.array([{"a": 1}], dtype=object)))
        with zipfile.ZipFile(model / "weights.npz", "w") as zf:
            for key, value in weights.items():
                zf.writestr(f"{key}.npy", bad if key == name else _npy(value))
    else:
        np.savez(model / "weights.npz", **weights)
    before = _digest(world["root"])
    code, out, err = _runtime(["detect", str(model), str(world["example"])], capsys)
    assert code == 2 and "weights.npz" in err and "computer at" not in out
    assert _digest(world["root"]) == before


def test_pretrained_names_are_names_not_paths():
    for name in ("../models/computer", "/etc", "..", ""):
        with pytest.raises(ModelError, match="no model named"):
            Detector.from_pretrained(name)


def test_non_finite_scores_are_an_error_never_a_detection(world):
    det = Detector(world["computer"], threshold=0.01)
    det._weights = {k: np.full_like(v, np.nan) for k, v in det._weights.items()}
    with pytest.raises(ModelError, match="non-finite scores"):
        det.process(_speechlike(2.0))
    assert det.scores.raw.shape[0] <= 1


# -- 4. audio files ------------------------------------------------------------------------------
def _pcm16(seconds: float) -> bytes:
    return (_speechlike(seconds) * 32767).astype("<i2").tobytes()


AUDIO_CASES = {
    # name: (file bytes, exit code of detect, text in stderr or the log)
    "cut_inside_sample": (lambda: _wav_bytes(_pcm16(2.0) + b"\x01", RATE), 0, "partial frame"),
    "cut_24bit_sample": (lambda: _wav_bytes(np.zeros(3 * 32000, np.uint8).tobytes() + b"\x01\x02",
                                            RATE, width=3), 0, "partial frame"),
    "cut_stereo_frame": (lambda: _wav_bytes(_pcm16(2.0) * 2 + b"\x01\x02", RATE, channels=2),
                         0, "partial frame"),
    "header_longer_than_file": (lambda: _wav_bytes(_pcm16(2.0), RATE, data_size=0xFFFFFF00),
                                0, ""),
    "rate_1hz": (lambda: _wav_bytes(_pcm16(1.0), 1), 2, "outside 4000-384000 Hz"),
    "rate_2ghz": (lambda: _wav_bytes(_pcm16(1.0), 2_000_000_000), 2, "outside 4000-384000 Hz"),
    "random_bytes": (lambda: np.random.default_rng(0).bytes(5000), 2, "not a readable WAV"),
    "empty": (lambda: b"", 2, "truncated"),
    "header_only": (lambda: _wav_bytes(b"", RATE), 2, "no samples"),
    "text_file": (lambda: b"hello, this is not audio\n" * 100, 2, "not a readable WAV"),
    "zero_channels": (lambda: _wav_bytes(_pcm16(1.0), RATE, channels=0), 2, "WAV"),
}


@pytest.mark.parametrize("case", sorted(AUDIO_CASES))
def test_bad_audio_files_give_clear_results(world, capsys, caplog, case):
    make, expected, text = AUDIO_CASES[case]
    audio = world["root"] / f"{case}.wav"
    audio.write_bytes(make())
    before = _digest(world["root"])
    with caplog.at_level(logging.WARNING, logger="device_runtime"):
        code, out, err = _runtime(["detect", str(world["computer"]), str(audio),
                                   "--downmix"], capsys)
    assert code == expected, (out, err)
    assert text in err + caplog.text
    assert _digest(world["root"]) == before
    # the same file through the API paths
    det = Detector(world["computer"])
    if expected == 0:
        det.process_file(audio, downmix=True)
        blocks = list(FileSource(audio, downmix=True))
        assert sum(b.size for b in blocks) > 0
    else:
        with pytest.raises(AudioError):
            det.process_file(audio, downmix=True)
        with pytest.raises(AudioError):
            list(FileSource(audio, downmix=True))


def test_calibrate_on_a_cut_file_warns_and_reports(world, capsys, caplog):
    audio = world["root"] / "cut.wav"
    audio.write_bytes(_wav_bytes(_pcm16(3.0) + b"\x01", RATE))
    with caplog.at_level(logging.WARNING, logger="device_runtime"):
        code, out, _ = _runtime(["calibrate", str(world["computer"]), "--negatives", str(audio),
                                 "--dry-run"], capsys)
    assert code == 0 and "dry run" in out and "partial frame" in caplog.text


def test_a_file_whose_header_promises_hours_is_read_in_flat_memory(tmp_path):
    import tracemalloc

    path = tmp_path / "long.wav"
    with path.open("wb") as fh:  # 10 minutes of audio, about 19 MB, header says 4 GB
        fh.write(_wav_bytes(b"", RATE, data_size=0xFFFFFF00))
        block = _pcm16(10.0)
        for _ in range(60):
            fh.write(block)
    tracemalloc.start()
    try:
        total = sum(b.size for b in iter_audio(path, RATE))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 600 * RATE
    assert peak < 4 * 1024 * 1024  # a few blocks, not the file (19 MB as int16, 38 MB float)


def test_enrolment_refuses_an_overlong_clip(world, capsys):
    clips = world["root"] / "pos"
    clips.mkdir()
    x = world["example"].read_bytes()
    for i in range(3):
        (clips / f"ok{i}.wav").write_bytes(x)
    long = clips / "long.wav"
    long.write_bytes(_wav_bytes(b"", RATE, data_size=0x7FFFFFF0))  # header: 18 h
    with long.open("ab") as fh:
        fh.write(_pcm16(1.0))
    from device_runtime.finetune import MAX_CLIP_S, _load_positives

    manifest = load_manifest(world["computer"])
    _, skipped, _ = _load_positives(clips, manifest, 32000, 0.1)
    assert any("long.wav" in s and f"{MAX_CLIP_S:g} s allowed" in s for s in skipped)


def _eval_argv(world, negatives: Path, out: Path) -> list[str]:
    return ["eval", str(world["computer"]), "--positives", str(world["clips"]), "--negatives",
            str(negatives), "--out", str(out), "--snr-db", "none"]


@pytest.mark.parametrize("case", sorted(AUDIO_CASES))
def test_eval_reads_bad_negative_files_in_blocks_with_clear_results(world, capsys, caplog, case):
    """`wakeword eval` on each bad file: the exit code and message of `detect`, no traceback,
    nothing but its --out folder written."""
    make, expected, text = AUDIO_CASES[case]
    root = world["root"]
    audio = root / f"{case}.wav"
    audio.write_bytes(make())
    out = root / "eval-out"
    before = _digest(root)
    with caplog.at_level(logging.WARNING):
        code, out_text, err = _wakeword(_eval_argv(world, audio, out), capsys)
    assert code == expected, (out_text, err)
    assert text in err + caplog.text
    if text == "partial frame":  # said once, though the file is read twice (check, score)
        assert caplog.text.count("partial frame") == 1
    if expected:
        assert str(audio) in err and not out.exists()
    else:
        assert json.loads((out / "report.json").read_text())["negative_hours"] > 0
    assert _digest(root, skip=(out,)) == before


def test_eval_skips_a_bad_file_in_a_negatives_folder_and_refuses_a_folder_of_bad_files(
        world, capsys, caplog):
    root = world["root"]
    folder = root / "negatives"
    folder.mkdir()
    write_wav(folder / "good.wav", _speechlike(3.0), RATE)
    (folder / "huge_rate.wav").write_bytes(_wav_bytes(_pcm16(1.0), 2_000_000_000))
    noise = root / "noise"  # the positives' noise folder is read with the same checks
    noise.mkdir()
    write_wav(noise / "hum.wav", _speechlike(1.0, seed=3), RATE)
    (noise / "one_hz.wav").write_bytes(_wav_bytes(_pcm16(1.0), 1))
    before = _digest(root)
    with caplog.at_level(logging.WARNING):
        code, _, err = _wakeword([*_eval_argv(world, folder, root / "out1")[:-2], "--noise",
                                  str(noise)], capsys)
    assert code == 0, err
    assert "skipped 1 unreadable audio file(s)" in caplog.text and "huge_rate.wav" in caplog.text
    assert "one_hz.wav" in caplog.text
    report = json.loads((root / "out1" / "report.json").read_text())
    assert report["negative_hours"] == pytest.approx(3.0 / 3600)
    (folder / "good.wav").unlink()
    (folder / "text.wav").write_bytes(b"not audio\n" * 100)
    code, _, err = _wakeword(_eval_argv(world, folder, root / "out2"), capsys)
    assert code == 2 and "unreadable" in err and not (root / "out2").exists()
    # --out naming an existing file: refused before any scoring, the file kept
    (root / "notes.txt").write_text("mine")
    code, _, err = _wakeword(_eval_argv(world, world["clips"], root / "notes.txt"), capsys)
    assert code == 2 and "not a folder" in err
    assert (root / "notes.txt").read_text() == "mine"
    assert _digest(root, skip=(root / "out1", folder, root / "notes.txt")) == \
        {k: v for k, v in before.items() if not k.startswith(("out1", "negatives"))}


# the export cases: every refusal, and one cut file that exports (a full export takes seconds)
EXPORT_AUDIO_CASES = sorted(c for c, (_, code, _) in AUDIO_CASES.items() if code) + \
    ["cut_stereo_frame"]


@pytest.mark.parametrize("case", EXPORT_AUDIO_CASES)
def test_export_parity_audio_reads_bad_files_in_blocks_and_never_replaces_the_old_model(
        world, capsys, caplog, case):
    make, expected, text = AUDIO_CASES[case]
    root = world["root"]
    ckpt = _tiny_checkpoint(root / "run" / "best.pt")
    audio = root / f"{case}.wav"
    audio.write_bytes(make())
    target = world["models"] / "sibling"  # an old model folder, replaced only on success
    before = _digest(root)
    with caplog.at_level(logging.WARNING):
        code, out, err = _wakeword(["export", str(ckpt), "--out", str(target), "--force",
                                    "--formats", "onnx", "--no-train-step", "--parity-audio",
                                    str(audio)], capsys)
    assert code == expected, (out, err)
    assert text in err + caplog.text
    if expected:
        assert str(audio) in err
        assert _digest(root) == before  # the old model and everything else untouched
    else:
        report = json.loads((target / "parity.json").read_text())
        assert report["audio"]["source"] == str(audio)
        assert report["stream"]["onnx"]["steps"] == 2 * RATE // 1280  # stereo mixed to mono
        assert _digest(root, skip=(target,)) == {
            k: v for k, v in before.items() if not k.startswith("models/sibling")}


# -- 3. overwrites that cannot destroy -----------------------------------------------------------
def test_enroll_overwrite_never_replaces_a_parent_or_other_folder(world, capsys):
    root, model, clips = world["root"], world["computer"], world["clips"]
    other = root / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"meow")
    targets = {
        "the model's parent": (world["models"], "holds"),
        "the model itself": (model, "original model folder"),
        "inside the model": (model / "sub", "lies inside"),
        "a folder that is not a model": (other, "not a model folder"),
        "the clips' folder": (clips, "holds"),
        "the filesystem root's child": (root, "holds"),
    }
    for label, (target, text) in targets.items():
        before = _digest(root)
        code, _, err = _runtime(["enroll", str(model), "--positives", str(clips), "--out",
                                 str(target), "--overwrite"], capsys)
        assert code == 2 and text in err, (label, err)
        assert _digest(root) == before, label


def test_export_force_never_replaces_the_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    ckpt = _tiny_checkpoint(run / "best.pt")
    (run / "metrics.json").write_text("{}")
    (run / "manifest.json").write_text("{}")  # even a run folder that looks like a model
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("x")
    for target, text in ((run, "holds"), (tmp_path, "holds"), (other, "not a model folder"),
                         (run / "metrics.json", "not a folder")):
        before = _digest(tmp_path)
        code, _, err = _wakeword(["export", str(ckpt), "--out", str(target), "--force",
                                  "--formats", "onnx", "--no-train-step"], capsys)
        assert code == 2 and text in err, (target, err)
        assert _digest(tmp_path) == before


def test_export_force_replaces_an_old_model_folder_atomically_with_the_umask(tmp_path, capsys):
    ckpt = _tiny_checkpoint(tmp_path / "run" / "best.pt")
    out = tmp_path / "models" / "mine"
    out.mkdir(parents=True)
    (out / "manifest.json").write_text("{}")
    stale = out.parent / f".mine{TEMP_MARK}999999999-dead"
    stale.mkdir()
    old_mask = os.umask(0o022)
    try:
        code, _, err = _wakeword(["export", str(ckpt), "--out", str(out), "--force",
                                  "--formats", "onnx", "--no-train-step"], capsys)
    finally:
        os.umask(old_mask)
    assert code == 0, err
    assert load_manifest(out).graphs == {"onnx": "model.onnx"}
    assert sorted(p.name for p in out.parent.iterdir()) == ["mine"]  # stale temp cleaned
    assert out.stat().st_mode & 0o777 == 0o755
    assert {p.stat().st_mode & 0o777 for p in out.iterdir()} == {0o644}


def test_calibrate_keeps_the_manifest_permissions(world, capsys):
    model = world["computer"]
    (model / "manifest.json").chmod(0o644)
    audio = world["root"] / "speech.wav"
    write_wav(audio, _speechlike(3.0), RATE)
    code, _, err = _runtime(["calibrate", str(model), "--negatives", str(audio),
                             "--fa-per-hour", "3600", "--min-threshold", "0.9"], capsys)
    assert code == 0, err
    assert (model / "manifest.json").stat().st_mode & 0o777 == 0o644


# -- killed runs ---------------------------------------------------------------------------------
def test_temp_folders_of_a_killed_run_are_cleaned_by_the_next_run(tmp_path):
    target = tmp_path / "mine"
    code = ("import sys, time; from device_runtime.folders import make_temp_dir; "
            "t = make_temp_dir(sys.argv[1]); (t / 'half.onnx').write_bytes(b'x'); "
            "print(t, flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    try:
        left = Path(proc.stdout.readline().strip())
        assert left.is_dir()
        assert clean_stale(target) == []  # its process is alive: not touched
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    legacy = tmp_path / ".mine.export-abc123"  # an older version's leftover, a day old
    legacy.mkdir()
    os.utime(legacy, (time.time() - 86400, time.time() - 86400))
    mine = make_temp_dir(target)  # the next run
    assert not left.exists() and not legacy.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name]


# -- 5. option ranges and refusals ---------------------------------------------------------------
@pytest.mark.parametrize("argv,text", [
    (["bench", "{model}", "--seconds", "nan"], "outside (0, 3600]"),
    (["bench", "{model}", "--seconds", "1e9"], "outside (0, 3600]"),
    (["bench", "{model}", "--seconds", "-5"], "outside (0, 3600]"),
    (["calibrate", "{model}", "--negatives", "{clips}", "--min-threshold", "1"], "outside"),
    (["calibrate", "{model}", "--negatives", "{clips}", "--min-threshold", "-3"], "outside"),
    (["calibrate", "{model}", "--negatives", "{clips}", "--fa-per-hour", "nan"], "outside"),
    (["calibrate", "{model}", "--negatives", "{clips}", "--fa-per-hour", "0"], "outside"),
    (["enroll", "{model}", "--positives", "{clips}", "--out", "{root}/x", "--epochs", "0"],
     "outside"),
    (["enroll", "{model}", "--positives", "{clips}", "--out", "{root}/x", "--learning-rate",
      "inf"], "outside"),
    (["listen", "{model}", "--seconds", "nan"], "outside"),
    (["detect", "{model}", "{clips}/speech.wav", "--threshold", "nan"], "outside"),
])
def test_out_of_range_options_are_clear_errors(world, capsys, argv, text):
    names = {"model": world["computer"], "clips": world["clips"], "root": world["root"]}
    argv = [a.format(**names) for a in argv]
    before = _digest(world["root"])
    code, _, err = _runtime(argv, capsys)
    assert code == 2 and text in err, err
    assert _digest(world["root"]) == before


def test_calibration_refuses_to_write_from_too_little_or_silent_audio(world, capsys):
    model = world["computer"]
    silence = world["root"] / "silence.wav"
    write_wav(silence, np.zeros(int(1.5 * RATE), np.float32), RATE)
    before = _digest(world["root"])
    code, _, err = _runtime(["calibrate", str(model), "--negatives", str(silence)], capsys)
    assert code == 2 and "too short" in err and "not changed" in err
    # long enough for the target, but silence: the threshold may not drop on it
    code, _, err = _runtime(["calibrate", str(model), "--negatives", str(silence),
                             "--fa-per-hour", "3600"], capsys)
    assert code == 2 and "silence" in err and "not changed" in err
    assert _digest(world["root"]) == before
    assert load_manifest(model).threshold("computer") == 0.87


def test_enrolment_refuses_clips_of_another_phrase(world, capsys):
    # the example recording's words around "computer": real speech of another phrase
    from device_runtime.audio import read_audio

    speech = read_audio(world["example"], RATE)
    clips = world["root"] / "other_phrase"
    clips.mkdir()
    for i, (start_s, end_s) in enumerate([(0.0, 1.6), (1.6, 3.2), (4.6, 6.2), (6.2, 7.8)]):
        write_wav(clips / f"c{i}.wav", speech[int(start_s * RATE):int(end_s * RATE)], RATE)
    before = _digest(world["root"])
    code, _, err = _runtime(["enroll", str(world["computer"]), "--positives", str(clips),
                             "--out", str(world["root"] / "mine")], capsys)
    assert code == 2 and "another phrase" in err and "--allow-unrecognised" in err
    assert _digest(world["root"]) == before


def test_listing_devices_when_there_are_none_says_so(world, capsys, monkeypatch):
    import device_runtime.stream

    monkeypatch.setattr(device_runtime.stream, "input_devices", list)
    code, out, err = _runtime(["listen", str(world["computer"]), "--list-devices"], capsys)
    assert code == 1 and "no audio input devices" in err and out == ""


# -- from outside: real processes ----------------------------------------------------------------
def test_real_processes_print_no_traceback(world):
    root = world["root"]
    marker = root / "pwned"
    evil, _ = _evil_checkpoints(root / "run", marker)
    cut = root / "cut.wav"
    cut.write_bytes(_wav_bytes(_pcm16(1.0) + b"\x01", RATE))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [
        ([sys.executable, "-m", "wakeword.cli.main", "--no-progress", "export", str(evil),
          "--out", str(root / "out")], 2),
        ([sys.executable, "-m", "device_runtime", "detect", str(world["computer"]), str(cut)], 0),
        ([sys.executable, "-m", "device_runtime", "enroll", str(world["computer"]),
          "--positives", str(world["clips"]), "--out", str(world["models"]), "--overwrite"], 2),
    ]
    before = _digest(root, skip=(root / "run",))
    for argv, expected in runs:
        proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert proc.returncode == expected, proc.stderr
        assert "Traceback" not in proc.stderr
    assert not marker.exists()
    assert _digest(root, skip=(root / "run",)) == before
