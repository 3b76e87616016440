"""wakeword.eval.report / outputs / plots: the JSON report, curve.csv and the PNGs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from wakeword.errors import DataError
from wakeword.eval.metrics import DetCurve, det_curve
from wakeword.eval.outputs import write_outputs
from wakeword.eval.plots import plot_det, plot_score_trace
from wakeword.eval.report import EvalReport

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _report(seed: int = 0, shift: float = 0.0) -> EvalReport:
    rng = np.random.default_rng(seed)
    hours = 1.0
    neg = rng.beta(0.3, 12.0, int(hours * 3600 / 0.08))
    for b in rng.integers(0, neg.size - 20, 300):  # word-like bursts
        neg[b:b + rng.integers(1, 12)] = rng.beta(2.0, 6.0 - shift)
    pos = rng.beta(12.0 - 3 * shift, 1.0, 300)
    curve = det_curve(pos, neg, 0.08, 1.0, hours)
    return EvalReport.from_curve(curve, keyword="computer", n_positives=pos.size,
                                 negative_hours=hours, step_s=0.08, refractory_s=1.0)


def _assert_png(path, min_bytes=10_000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > min_bytes
    from matplotlib.image import imread

    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 500
    assert image[..., :3].std() > 0.05  # not a blank canvas


def test_report_reads_operating_points_at_one_and_half_fa_per_hour():
    report = _report()
    for target, point in report.operating_points.items():
        assert point is not None
        assert point.false_accepts_per_hour <= target
    assert report.at_0_5_fa_per_hour.threshold >= report.at_1_fa_per_hour.threshold
    assert report.at_0_5_fa_per_hour.false_reject_rate >= report.at_1_fa_per_hour.false_reject_rate


def test_report_survives_a_json_round_trip():
    report = _report()
    text = report.to_json()
    again = EvalReport.from_json(text)
    assert again == report
    assert again.to_json() == text
    data = json.loads(text)
    assert data["schema_version"] == 1
    assert len(data["curve"]["thresholds"]) == len(report.curve)


def test_unreached_operating_point_round_trips_as_null():
    curve = DetCurve(thresholds=[0.5, 0.9], false_reject_rate=[0.0, 0.2],
                     false_accepts_per_hour=[9.0, 3.0])
    report = EvalReport.from_curve(curve, keyword="hey", n_positives=5, negative_hours=2.0,
                                   step_s=0.08, refractory_s=1.0)
    assert report.at_1_fa_per_hour is None
    assert json.loads(report.to_json())["at_1_fa_per_hour"] is None
    assert EvalReport.from_json(report.to_json()) == report


def test_report_loading_is_strict():
    data = json.loads(_report().to_json())
    with pytest.raises(DataError, match="unknown field"):
        EvalReport.from_dict({**data, "extra": 1})
    with pytest.raises(DataError, match="missing field"):
        EvalReport.from_dict({k: v for k, v in data.items() if k != "curve"})
    with pytest.raises(DataError, match="schema_version"):
        EvalReport.from_dict({**data, "schema_version": 99})
    with pytest.raises(DataError, match="not valid JSON"):
        EvalReport.from_json("{")


def test_write_outputs_writes_csv_png_and_json(tmp_path):
    report = _report()
    files = write_outputs(report, tmp_path / "out", label="computer-v1")
    assert files.curve_csv.name == "curve.csv" and files.det_png.name == "det.png"
    with files.curve_csv.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["threshold", "frr", "fa_per_hour"]
    table = np.array(rows[1:], dtype=np.float64)
    np.testing.assert_array_equal(table[:, 0], report.curve.thresholds)
    np.testing.assert_array_equal(table[:, 1], report.curve.false_reject_rate)
    np.testing.assert_array_equal(table[:, 2], report.curve.false_accepts_per_hour)
    assert EvalReport.from_json(files.report_json.read_text()) == report
    _assert_png(files.det_png)
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "curve.csv", "det.png", "report.json"]


def test_det_plot_compares_several_models(tmp_path):
    curves = {"model A": _report(0).curve, "model B (worse)": _report(1, shift=2.0).curve}
    path = plot_det(curves, tmp_path / "det.png", title="computer: A vs B")
    _assert_png(path)


def test_score_trace_plot_is_written(tmp_path):
    scores = np.zeros(200)
    scores[60:80] = np.linspace(0.2, 0.97, 20)
    path = plot_score_trace(scores, tmp_path / "trace.png", step_s=0.08, threshold=0.8,
                            keyword_span_s=(4.5, 6.0), title="positive clip 3")
    _assert_png(path, min_bytes=5_000)
