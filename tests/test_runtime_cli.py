"""The runtime commands, standalone (python -m device_runtime) and inside the wakeword CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, stream_with_events, tone

from device_runtime.audio import write_wav
from device_runtime.cli import main

toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wavs(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("wavs")
    hit, miss = folder / "hit.wav", folder / "miss.wav"
    write_wav(hit, stream_with_events(4.0, [(1.0, tone(300, 0.5, 0.5))]), SAMPLE_RATE_HZ)
    write_wav(miss, stream_with_events(3.0, []), SAMPLE_RATE_HZ)
    return hit, miss


def test_python_m_detect_json(toy_model, wavs):
    hit, miss = wavs
    out = subprocess.run([sys.executable, "-m", "device_runtime", "detect", str(toy_model),
                          str(hit), str(miss), "--json", "--backend", "tflite"],
                         cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["backend"] == "tflite"
    first, second = report["files"]
    assert [d["keyword"] for d in first["detections"]] == ["low"]
    assert 1.0 < first["detections"][0]["time_s"] < 1.5
    assert second["detections"] == [] and second["max_scores"]["low"] < 0.5


def test_detect_text_output_and_thresholds(toy_model, wavs, capsys):
    hit, miss = wavs
    assert main(["detect", str(toy_model), str(hit), str(miss)]) == 0
    out = capsys.readouterr().out
    assert "hit.wav: low at 1." in out and "miss.wav: no detection (max score" in out
    assert main(["detect", str(toy_model), str(hit), "--threshold", "low=0.999"]) == 0
    assert "hit.wav: no detection" in capsys.readouterr().out


def test_errors_print_error_and_exit_2(toy_model, tmp_path, capsys):
    assert main(["detect", str(tmp_path / "nomodel"), str(tmp_path / "x.wav")]) == 2
    assert "error: " in capsys.readouterr().err
    assert main(["detect", str(toy_model), str(tmp_path / "x.wav")]) == 2
    assert "x.wav: no such file" in capsys.readouterr().err
    assert main(["detect", str(toy_model), str(tmp_path / "x.wav"), "--threshold",
                 "nokw=0.5"]) == 2
    assert "not keywords" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["detect", str(toy_model), "a.wav", "--threshold", "2.0"])


def test_bench_reports_both_backends(toy_model, capsys):
    assert main(["bench", str(toy_model), "--seconds", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["backend"] for r in report["results"]] == ["onnx", "tflite"]
    for r in report["results"]:
        assert r["steps"] == 37 and 0 < r["latency_ms_p50"] <= r["latency_ms_p99"]
        assert r["cpu_s_per_audio_s"] > 0 and r["peak_rss_mb"] > 10


def test_enroll_command(toy_model, tmp_path, capsys):
    pos = tmp_path / "pos"
    pos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        write_wav(pos / f"{i}.wav", np.concatenate([rng.normal(0, 0.003, 4000),
                                                    tone(200, 0.04, 0.4)]).astype(np.float32),
                  SAMPLE_RATE_HZ)
    code = main(["enroll", str(toy_model), "--positives", str(pos), "--out",
                 str(tmp_path / "new"), "--keyword", "low", "--epochs", "5"])
    out = capsys.readouterr()
    assert code in (0, 1)
    assert f"wrote {tmp_path / 'new'}" in out.out and "held-out score" in out.out
    assert code == 0 or "validation got worse" in out.err
    assert main(["enroll", str(toy_model), "--positives", str(pos), "--out",
                 str(tmp_path / "new"), "--keyword", "low"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_wakeword_cli_registers_the_runtime_commands(toy_model, wavs, capsys):
    wakeword_main = pytest.importorskip("wakeword.cli.main")
    hit, _ = wavs
    assert wakeword_main.main(["detect", str(toy_model), str(hit), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["keyword"] for d in report["files"][0]["detections"]] == ["low"]
    assert wakeword_main.main(["detect", str(toy_model / "nope"), str(hit)]) == 2
    assert "error: " in capsys.readouterr().err
