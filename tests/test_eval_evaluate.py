"""wakeword.eval.evaluate, load_scorer / RuntimeScorer and the ``wakeword eval`` command."""

from __future__ import annotations

import argparse
import json
import sys
import types

import numpy as np
import pytest

import device_runtime
from wakeword.cli import eval as eval_cli
from wakeword.data.audio_io import save_wav
from wakeword.errors import CheckpointError, ConfigError
from wakeword.eval.evaluate import evaluate
from wakeword.eval.report import EvalReport
from wakeword.eval.scorer import RuntimeScorer, Scorer, load_scorer
from wakeword.eval.streams import NegativeStream, PositiveClip
from wakeword.progress import set_progress

SR = 16000
STEP = 1280  # 80 ms


class LoudnessScorer:
    """A stand-in model: the keyword's probability is the step's peak amplitude."""

    def __init__(self, keywords=("computer",)):
        self.keywords = tuple(keywords)
        self.step_s = STEP / SR
        self.calls = 0

    def score(self, audio):
        self.calls += 1
        steps = audio.size // STEP
        peak = np.abs(audio[: steps * STEP]).reshape(steps, STEP).max(axis=1)
        out = np.zeros((steps, len(self.keywords) + 1), dtype=np.float32)
        out[:, 1] = peak
        out[:, 0] = 1.0 - peak
        return out


def _positive(level: float, *, burst_at_s: float | None = None) -> PositiveClip:
    """1 s pad, 0.5 s 'keyword' at ``level``, 1 s pad (an optional loud spike in the pad)."""
    audio = np.zeros(int(2.5 * SR), dtype=np.float32)
    audio[SR:SR + SR // 2] = level
    if burst_at_s is not None:
        audio[int(burst_at_s * SR)] = 0.99
    return PositiveClip(audio=audio, keyword_start_s=1.0, keyword_end_s=1.5)


def _negatives() -> NegativeStream:
    """360 s (0.1 h): a 0.6 spike at 10 s, a 2.5 s burst of 0.8 at 100 s, a 0.4 spike at 200 s."""
    audio = np.zeros(360 * SR, dtype=np.float32)
    audio[10 * SR] = 0.6
    audio[100 * SR:int(102.5 * SR)] = 0.8  # steps 1250..1281 fire: accepts 1250, 1263, 1276
    audio[200 * SR] = 0.4
    return NegativeStream(segments=(audio[: 150 * SR], audio[150 * SR:]))


def test_evaluate_reports_exact_rates_on_a_known_stream():
    positives = [_positive(level) for level in (0.3, 0.5, 0.7, 0.9)]
    report = evaluate(LoudnessScorer(), positives, _negatives(), refractory_s=1.0,
                      thresholds=[0.35, 0.55, 0.75, 0.95])
    assert report.keyword == "computer" and report.n_positives == 4
    assert report.negative_hours == pytest.approx(0.1)
    assert report.step_s == 0.08
    assert report.curve.false_reject_rate.tolist() == [0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(report.curve.false_accepts_per_hour, [50.0, 40.0, 30.0, 0.0])
    assert report.at_1_fa_per_hour.threshold == 0.95
    assert report.at_0_5_fa_per_hour.false_reject_rate == 1.0


def test_a_longer_refractory_merges_the_burst_into_one_accept():
    report = evaluate(LoudnessScorer(), [_positive(0.9)], _negatives(), refractory_s=3.0,
                      thresholds=[0.75])
    assert report.curve.false_accepts_per_hour.tolist() == pytest.approx([10.0])


def test_positive_counts_only_when_detected_near_the_keyword():
    late_spike = [_positive(0.2, burst_at_s=2.4)]  # 0.9 s after the keyword ends
    strict = evaluate(LoudnessScorer(), late_spike, _negatives(), thresholds=[0.9])
    anywhere = evaluate(LoudnessScorer(), late_spike, _negatives(), thresholds=[0.9],
                        max_latency_s=None)
    assert strict.curve.false_reject_rate.tolist() == [1.0]
    assert anywhere.curve.false_reject_rate.tolist() == [0.0]


def test_evaluate_runs_with_progress_bars_on():
    set_progress(True)
    try:
        report = evaluate(LoudnessScorer(), [_positive(0.9)], _negatives(), thresholds=[0.5])
    finally:
        set_progress(False)
    assert report.n_positives == 1


def test_keyword_must_be_named_for_a_multi_keyword_scorer():
    scorer = LoudnessScorer(keywords=("computer", "lights"))
    with pytest.raises(ConfigError, match="choose one"):
        evaluate(scorer, [_positive(0.9)], _negatives())
    with pytest.raises(ConfigError, match=r"\['computer', 'lights'\]"):
        evaluate(scorer, [_positive(0.9)], _negatives(), keyword="hello")
    report = evaluate(scorer, [_positive(0.9)], _negatives(), keyword="computer",
                      thresholds=[0.5])
    assert report.keyword == "computer"


def test_a_scorer_returning_the_wrong_shape_is_named():
    class Broken(LoudnessScorer):
        def score(self, audio):
            return super().score(audio)[:, :1]

    with pytest.raises(ConfigError, match=r"\[steps, 2\]"):
        evaluate(Broken(), [_positive(0.9)], _negatives())


# -- load_scorer and RuntimeScorer ------------------------------------------------------------
def test_load_scorer_dispatches_on_folder_or_checkpoint(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match=r"manifest\.json"):
        load_scorer(tmp_path)
    with pytest.raises(CheckpointError, match=r"missing\.pt"):
        load_scorer(tmp_path / "missing.pt")
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(ConfigError, match="not a model"):
        load_scorer(tmp_path / "model.bin")

    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"")
    stub = types.ModuleType("wakeword.train.checkpoint")
    stub.load_scorer = lambda path: ("torch scorer for", path)
    monkeypatch.setitem(sys.modules, "wakeword.train.checkpoint", stub)
    assert load_scorer(checkpoint) == ("torch scorer for", checkpoint)

    model_dir = tmp_path / "computer"
    model_dir.mkdir()
    (model_dir / "manifest.json").write_text("{}")
    monkeypatch.setattr(device_runtime, "Detector", FakeDetector)
    scorer = load_scorer(model_dir, backend="tflite")
    assert isinstance(scorer, RuntimeScorer) and isinstance(scorer, Scorer)
    assert scorer._detector.backend == "tflite"


class FakeDetector:
    """The part of device_runtime.Detector that RuntimeScorer uses."""

    def __init__(self, model_dir, backend="auto", *, trace_s=30.0):
        assert trace_s is None  # the scorer keeps the whole trace
        self.backend = backend
        self.manifest = types.SimpleNamespace(keywords=("computer",), chunk_samples=STEP,
                                              sample_rate_hz=SR)
        self.resets = 0
        self._rows = []

    def reset(self):
        self.resets += 1
        self._rows = []

    def process(self, samples):
        for k in range(samples.size // STEP):
            self._rows.append(float(np.abs(samples[k * STEP:(k + 1) * STEP]).max()))
        return []

    @property
    def scores(self):
        kw = np.array(self._rows, dtype=np.float32)
        smoothed = np.stack([1 - kw, kw], axis=1)
        ready = np.arange(kw.size) >= 2  # two warm-up steps
        smoothed[~ready] = np.nan
        return types.SimpleNamespace(smoothed=smoothed, ready=ready)

    def close(self):
        pass


def test_runtime_scorer_returns_the_detectors_ready_scores_from_a_fresh_state(monkeypatch):
    monkeypatch.setattr(device_runtime, "Detector", FakeDetector)
    scorer = RuntimeScorer("models/computer")
    assert scorer.keywords == ("computer",) and scorer.step_s == 0.08
    audio = np.full(5 * STEP + 100, 0.7, dtype=np.float32)  # 5 whole steps + a partial one
    first = scorer.score(audio)
    second = scorer.score(audio)
    np.testing.assert_array_equal(first, second)  # state starts fresh every call
    assert scorer._detector.resets == 2
    assert first.shape == (5, 2) and first.dtype == np.float32
    # warm-up steps cannot fire: background 1, keyword 0; no NaN reaches the metrics
    np.testing.assert_allclose(first[:, 1], [0, 0, 0.7, 0.7, 0.7], rtol=1e-6)
    np.testing.assert_allclose(first[:2, 0], [1, 1])


# -- the command line -------------------------------------------------------------------------
def _parser():
    parser = argparse.ArgumentParser(prog="wakeword")
    eval_cli.register(parser.add_subparsers(dest="command"))
    return parser


@pytest.fixture
def audio_dirs(tmp_path):
    positives = tmp_path / "positives"
    for i, level in enumerate((0.5, 0.7, 0.9)):
        save_wav(positives / f"{i}.wav", np.full(SR // 2, level, dtype=np.float32))
    negatives = tmp_path / "negatives"
    stream = np.zeros(20 * SR, dtype=np.float32)
    stream[5 * SR] = 0.6
    save_wav(negatives / "speech.wav", stream)
    extra = tmp_path / "music.wav"
    save_wav(extra, np.zeros(10 * SR, dtype=np.float32))
    return positives, negatives, extra


def test_eval_command_writes_files_and_prints_a_table(tmp_path, audio_dirs, monkeypatch, capsys):
    positives, negatives, extra = audio_dirs
    monkeypatch.setattr(eval_cli, "load_scorer", lambda path, backend: LoudnessScorer())
    out = tmp_path / "out"
    args = _parser().parse_args([
        "eval", str(tmp_path / "model"), "--positives", str(positives),
        "--negatives", str(negatives), str(extra), "--snr-db", "none", "--out", str(out)])
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert "computer" in printed and "threshold" in printed and "FRR" in printed
    assert sorted(p.name for p in out.iterdir()) == ["curve.csv", "det.png", "report.json"]
    report = EvalReport.from_json((out / "report.json").read_text())
    assert report.n_positives == 3
    assert report.negative_hours == pytest.approx(30 / 3600)


def test_eval_command_json_is_the_same_report(tmp_path, audio_dirs, monkeypatch, capsys):
    positives, negatives, _ = audio_dirs
    monkeypatch.setattr(eval_cli, "load_scorer", lambda path, backend: LoudnessScorer())
    out = tmp_path / "out"
    args = _parser().parse_args([
        "eval", str(tmp_path / "model"), "--positives", str(positives),
        "--negatives", str(negatives), "--out", str(out), "--json", "--snr-db", "20",
        "--refractory-s", "0.5", "--pad-s", "0.5"])
    assert args.handler(args) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed) == json.loads((out / "report.json").read_text())
    report = EvalReport.from_json(printed)
    assert report.refractory_s == 0.5


def test_eval_command_rejects_a_bad_snr():
    with pytest.raises(SystemExit):
        _parser().parse_args(["eval", "m", "--positives", "p", "--negatives", "n",
                              "--snr-db", "loud"])
