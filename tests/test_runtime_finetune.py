"""On-device enrollment: improves the held-out score, never touches the original, refuses
bad input, and says so when validation gets worse."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, tone

from device_runtime import Detector, EnrollmentError, enroll
from device_runtime.audio import write_wav
from device_runtime.finetune import prepare_clip

toy_copy = runtime_fixtures.toy_copy  # the shared session-scoped fixture
toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture


def _tree_digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_clips(folder: Path, count: int, *, seed: int, freq=(180, 230), amp=(0.03, 0.045),
                ) -> Path:
    """Recordings of the user's "low" keyword: a quieter, lower tone than the model expects,
    with some room noise before and after."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        word = tone(rng.uniform(*freq), rng.uniform(*amp), rng.uniform(0.35, 0.5))
        before = rng.normal(0, 0.003, int(rng.uniform(0.2, 0.6) * SAMPLE_RATE_HZ))
        after = rng.normal(0, 0.003, 3000)
        clip = np.concatenate([before, word + rng.normal(0, 0.003, word.size), after])
        write_wav(folder / f"clip{i:02d}.wav", clip.astype(np.float32), SAMPLE_RATE_HZ)
    return folder


@pytest.mark.parametrize("backend", ["onnx", "tflite"])
def test_enroll_improves_held_out_score_and_keeps_the_original(toy_model, tmp_path, backend):
    positives = _user_clips(tmp_path / "pos", 8, seed=5)
    original = _tree_digest(toy_model)
    out = tmp_path / "mine"
    result = enroll(toy_model, positives, out_dir=out, keyword="low", backend=backend, seed=0)
    assert _tree_digest(toy_model) == original  # byte for byte, same mtimes
    assert result.accepted
    assert result.positive_score_after > result.positive_score_before + 0.1
    assert result.false_accepts_after <= result.false_accepts_before
    assert result.n_val_positives == 2 and result.n_train_positives == 6
    assert result.losses[-1] < result.losses[0]
    # with the user's umask, like any folder they create (not mkdtemp's private 0700)
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask
    assert (out / "manifest.json").stat().st_mode & 0o777 == 0o666 & ~mask
    # the new folder is a complete model: same graphs, new weights, marked manifest
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in toy_model.iterdir())
    assert (out / "model.onnx").read_bytes() == (toy_model / "model.onnx").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    record = manifest["provenance"]["enrollment"]
    assert record["accepted"] is True and record["keyword"] == "low"
    assert manifest["version"] == "0.0.1+enrolled"
    # and it detects a new clip of the user's keyword that the original misses
    fresh = _user_clips(tmp_path / "fresh", 1, seed=99, amp=(0.03, 0.031))
    clip = np.concatenate([np.zeros(4000, np.float32),
                           prepare_clip(__import__("device_runtime").read_audio(
                               fresh / "clip00.wav"), 15360, SAMPLE_RATE_HZ),
                           np.zeros(2560, np.float32)])
    assert Detector(toy_model, backend=backend).process(clip) == []
    assert [d.keyword for d in Detector(out, backend=backend).process(clip)] == ["low"]
    assert not list(tmp_path.glob(".mine.*"))  # no temporary folder left behind


def test_empty_folder_is_an_enrollment_error(toy_model, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EnrollmentError, match=r"0 usable keyword clip\(s\), need at least 3"):
        enroll(toy_model, tmp_path / "empty", out_dir=tmp_path / "out", keyword="low")
    assert not (tmp_path / "out").exists()


def test_all_bad_folder_lists_what_was_skipped(toy_model, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.wav").write_bytes(b"RIFF nonsense")
    write_wav(bad / "silent.wav", np.zeros(8000, np.float32), SAMPLE_RATE_HZ)
    write_wav(bad / "tiny.wav", tone(300, 0.5, 0.05), SAMPLE_RATE_HZ)
    with pytest.raises(EnrollmentError, match=r"broken.wav: not a readable WAV.*silent.wav: "
                       r"silent.*tiny.wav: shorter than 0.1 s"):
        enroll(toy_model, bad, out_dir=tmp_path / "out", keyword="low")
    with pytest.raises(EnrollmentError, match="does not exist"):
        enroll(toy_model, tmp_path / "missing", out_dir=tmp_path / "out", keyword="low")


def test_existing_out_dir_is_refused_unless_overwrite(toy_model, tmp_path):
    positives = _user_clips(tmp_path / "pos", 4, seed=1)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "manifest.json").write_text("{}")  # an old model folder: --overwrite may replace it
    with pytest.raises(EnrollmentError, match="already exists.*overwrite"):
        enroll(toy_model, positives, out_dir=out, keyword="low", epochs=2)
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(EnrollmentError, match="is the original model folder"):
        enroll(toy_model, positives, out_dir=toy_model, keyword="low", overwrite=True)
    enroll(toy_model, positives, out_dir=out, keyword="low", epochs=2, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "manifest.json").is_file()


def test_multi_keyword_model_needs_the_keyword(toy_model, tmp_path):
    positives = _user_clips(tmp_path / "pos", 4, seed=1)
    with pytest.raises(EnrollmentError, match=r"detects \['low', 'high'\]; say which keyword"):
        enroll(toy_model, positives, out_dir=tmp_path / "out")


def test_worse_validation_is_reported_and_marked(toy_model, tmp_path, caplog):
    # a step size 30x the manifest's overfits: the user's clips score higher, but loud
    # rumble now fires too; validation must catch it
    positives = _user_clips(tmp_path / "pos", 8, seed=5)
    out = tmp_path / "worse"
    result = enroll(toy_model, positives, out_dir=out, keyword="low", seed=0,
                    learning_rate=0.03)
    assert not result.accepted
    assert result.false_accepts_after > result.false_accepts_before
    assert "VALIDATION GOT WORSE" in result.summary and str(toy_model) in result.summary
    record = json.loads((out / "manifest.json").read_text())["provenance"]["enrollment"]
    assert record["accepted"] is False and "keep the base model" in record["note"]
    with caplog.at_level(logging.WARNING, logger="device_runtime.detector"):
        Detector(out)
    assert "validated worse than its base model" in caplog.text


def test_model_without_train_step_cannot_be_enrolled(toy_copy, tmp_path):
    data = json.loads((toy_copy / "manifest.json").read_text())
    data["train_step"] = None
    (toy_copy / "manifest.json").write_text(json.dumps(data))
    positives = _user_clips(tmp_path / "pos", 3, seed=1)
    with pytest.raises(EnrollmentError, match="has no train_step"):
        enroll(toy_copy, positives, out_dir=tmp_path / "out", keyword="low")
