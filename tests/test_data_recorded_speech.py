"""Recorded-speech negatives: split by speaker folder (training vs calibration never share a
folder), a clear error when the packages are missing, and real clips in a built dataset."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from wakeword.data import recorded_speech
from wakeword.data.audio_io import save_wav
from wakeword.data.dataset import DataConfig, build_dataset
from wakeword.data.recorded_speech import recorded_speech_folders
from wakeword.errors import DataError


def _fake_package(root, speakers: int, clips: int = 2, seconds: float = 0.6):
    rng = np.random.default_rng(0)
    for s in range(speakers):
        for c in range(clips):
            t = np.arange(int(16000 * seconds)) / 16000
            audio = 0.3 * np.sin(2 * np.pi * rng.uniform(120, 300) * t) * np.hanning(t.size)
            save_wav(root / f"voice{s:02d}" / f"line{c}.wav", audio.astype(np.float32))
    return root


def test_training_and_calibration_folders_are_disjoint_and_cover_everything(tmp_path):
    roots = {"pkg-a": str(_fake_package(tmp_path / "a", 9)),
             "pkg-b": str(_fake_package(tmp_path / "b", 4))}
    train = recorded_speech_folders("train", roots=roots)
    calibration = recorded_speech_folders("calibration", roots=roots)
    assert not set(train) & set(calibration)
    assert len(train) + len(calibration) == 13
    assert len(calibration) == 2 + 1  # every fourth folder of each package


def test_missing_packages_name_the_install_command(tmp_path):
    with pytest.raises(DataError, match="apt-get install pkg-a"):
        recorded_speech_folders(roots={"pkg-a": str(tmp_path / "nothing")})
    with pytest.raises(DataError, match="split"):
        recorded_speech_folders("test")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_dataset_adds_one_negative_per_recording(tmp_path, monkeypatch):
    root = _fake_package(tmp_path / "pkg", 4, clips=3)
    monkeypatch.setattr(recorded_speech, "PACKAGES", {"pkg": str(root)})
    config = DataConfig(phrase="computer", n_positives=4, n_negatives=4, max_kokoro_clips=0,
                        use_recorded_noise=False, n_rooms=2, recorded_speech=True)
    clips = build_dataset(config, tmp_path / "cache")
    mask = clips.kinds == "recorded_speech"
    assert mask.sum() == 3 * 3  # three training speakers, three lines each
    assert (clips.labels[mask] == 0).all()
    assert all("voice03" not in s for s in clips.sources[mask])  # the held-out speaker
    assert np.abs(clips.audio[mask]).max(axis=1).min() > 1e-3  # real audio, not silence
    assert DataConfig.from_dict(config.to_dict()).recorded_speech is True
