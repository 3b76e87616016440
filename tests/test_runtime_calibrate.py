"""Threshold calibration on negative audio: the chosen threshold meets the false-accept budget
on the audio it was chosen on, is the lowest grid value that does, and is written atomically
(or not at all with a dry run)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, stream_with_events, tone

from device_runtime import Detector
from device_runtime.audio import write_wav
from device_runtime.calibrate import (GRID, calibrate, count_detections, threshold_for_rate)
from device_runtime.cli import main as runtime_main
from device_runtime.errors import DeviceRuntimeError

toy_copy = runtime_fixtures.toy_copy
toy_model = runtime_fixtures.toy_model


def test_count_detections_merges_within_the_refractory_window():
    scores = np.array([0.0, 0.9, 0.95, 0.9, 0.0, 0.0, 0.0, 0.0, 0.92, 0.1])
    assert count_detections(scores, 0.5, refractory_steps=3) == 2  # steps 1 and 8
    assert count_detections(scores, 0.5, refractory_steps=1) == 4
    assert count_detections(scores, 0.93, refractory_steps=3) == 1
    assert count_detections(scores, 0.96, refractory_steps=3) == 0


def test_threshold_for_rate_is_the_lowest_threshold_within_budget():
    rng = np.random.default_rng(0)
    streams = [rng.uniform(0, 0.8, 2000) for _ in range(3)]
    streams[0][[100, 700, 1500]] = [0.97, 0.93, 0.91]
    # 2 h of audio at a 1 FA/h target: two detections allowed, the third-highest peak excluded
    threshold, count = threshold_for_rate(streams, hours=2.0, target_fa_per_hour=1.0,
                                          refractory_steps=5)
    assert count == 2
    assert 0.91 < threshold <= 0.93
    lower = GRID[np.searchsorted(GRID, threshold) - 1]
    assert sum(count_detections(s, lower, 5) for s in streams) > 2


def _negatives(folder, seconds=40.0, n=3):
    """Negative recordings for the toy "low" keyword: noise with quiet and medium low tones."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(n):
        events = [(float(t), tone(rng.uniform(190, 240), rng.uniform(0.002, 0.05), 0.4))
                  for t in np.arange(1.0, seconds - 1, 2.5)]
        write_wav(folder / f"neg{i}.wav", stream_with_events(seconds, events, seed=i),
                  SAMPLE_RATE_HZ)
    return folder


def test_calibrate_meets_its_budget_and_writes_the_manifest(toy_copy, tmp_path):
    negatives = _negatives(tmp_path / "neg")
    before = json.loads((toy_copy / "manifest.json").read_text())
    weights_before = (toy_copy / "weights.npz").read_bytes()
    hours = 3 * 40.0 / 3600
    target = 3 / hours  # three false accepts allowed
    result = calibrate(toy_copy, [negatives], fa_per_hour=target, keyword="low",
                       backend="onnx", min_threshold=0.05, description="three noise files")
    assert result.written and result.resolved
    assert result.false_accepts <= 3
    assert result.hours == pytest.approx(hours, rel=1e-3)
    after = json.loads((toy_copy / "manifest.json").read_text())
    assert after["thresholds"]["low"] == pytest.approx(result.threshold)
    assert after["thresholds"]["high"] == before["thresholds"]["high"]
    assert after["provenance"]["calibration"]["false_accepts"] == result.false_accepts
    assert after["provenance"]["calibration"]["description"] == "three noise files"
    assert (toy_copy / "weights.npz").read_bytes() == weights_before

    # The detector at the written threshold fires at most the budget on the same audio,
    # and clearly more one grid step lower.
    def fires(threshold):
        total = 0
        with Detector(toy_copy, backend="onnx", threshold={"low": threshold}) as det:
            for path in sorted(negatives.iterdir()):
                total += sum(d.keyword == "low" for d in det.process_file(path))
        return total

    assert fires(result.threshold) == result.false_accepts
    lower = float(GRID[np.searchsorted(GRID, result.threshold) - 1])
    assert fires(lower) > 3


def test_calibrate_dry_run_and_short_stream(toy_copy, tmp_path, caplog):
    negatives = _negatives(tmp_path / "neg", seconds=10.0, n=1)
    before = (toy_copy / "manifest.json").read_bytes()
    result = calibrate(toy_copy, [negatives / "neg0.wav"], fa_per_hour=0.5, keyword="low",
                       backend="onnx", write=False)
    assert not result.written and not result.resolved
    assert result.false_accepts == 0
    assert "too short" in result.summary
    assert (toy_copy / "manifest.json").read_bytes() == before


def test_calibrate_errors_name_the_problem(toy_copy, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeviceRuntimeError, match="no audio files"):
        calibrate(toy_copy, [empty])
    with pytest.raises(DeviceRuntimeError, match="no such file"):
        calibrate(toy_copy, [tmp_path / "missing"])
    with pytest.raises(DeviceRuntimeError, match="no keyword 'nope'"):
        calibrate(toy_copy, audio=[np.zeros(16000, np.float32)], keyword="nope")
    with pytest.raises(DeviceRuntimeError, match="positive rate"):
        calibrate(toy_copy, audio=[np.zeros(16000, np.float32)], fa_per_hour=0)


def test_calibrate_cli(toy_copy, tmp_path, capsys):
    negatives = _negatives(tmp_path / "neg", seconds=20.0, n=1)
    code = runtime_main(["calibrate", str(toy_copy), "--negatives", str(negatives),
                         "--keyword", "low", "--fa-per-hour", "400", "--min-threshold", "0.05",
                         "--backend", "onnx", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] is True
    manifest = json.loads((toy_copy / "manifest.json").read_text())
    assert manifest["thresholds"]["low"] == pytest.approx(report["threshold"])
