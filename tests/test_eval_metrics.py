"""wakeword.eval.metrics: false accepts with the refractory merge, detections, DET curves and
operating points."""

from __future__ import annotations

import time

import numpy as np
import pytest

from wakeword.errors import ConfigError, DataError
from wakeword.eval.metrics import (
    DetCurve,
    OperatingPoint,
    accept_steps,
    count_false_accepts,
    default_thresholds,
    det_curve,
    detected,
    max_score,
    operating_point,
    refractory_steps,
)


def naive_accepts(scores, threshold, step_s, refractory_s):
    """Reference: walk every step; a firing step is an accept unless it is less than
    refractory_s after the previous accept."""
    accepts = []
    for k, score in enumerate(scores):
        if score >= threshold and (not accepts or (k - accepts[-1]) * step_s
                                   >= refractory_s - 1e-9):
            accepts.append(k)
    return accepts


# -- single streams ---------------------------------------------------------------------------
def test_hand_made_stream_counts_known_accepts():
    #          0   1   2   3   4   5   6   7
    scores = [0, .9, .9, 0, .9, 0, 0, .9]
    # step 0.1 s, refractory 0.3 s: 1 accepts, 2 is merged (0.1 s later), 4 accepts (0.3 s after
    # 1: not within), 7 accepts.
    assert count_false_accepts(scores, 0.5, step_s=0.1, refractory_s=0.3) == 3
    assert accept_steps(scores, 0.5, step_s=0.1, refractory_s=0.3).tolist() == [1, 4, 7]


def test_one_long_utterance_fires_once_per_refractory_period():
    scores = np.zeros(100)
    scores[20:50] = 0.95  # 30 steps = 2.4 s above threshold at 80 ms
    # refractory 1.0 s = 12.5 steps -> accepts 13 steps apart: 20, 33, 46
    assert accept_steps(scores, 0.5, 0.08, 1.0).tolist() == [20, 33, 46]
    assert count_false_accepts(scores, 0.5, 0.08, 1.0) == 3
    # with a refractory longer than the burst it fires exactly once
    assert count_false_accepts(scores, 0.5, 0.08, 3.0) == 1


def test_suppressed_steps_do_not_extend_the_refractory_window():
    scores = np.zeros(20)
    scores[[0, 5, 10]] = 1.0
    # gap 8 steps: 5 is merged into 0; 10 is 10 steps after the accept at 0, so it accepts
    # (a debounce restarted by every firing step would wrongly give 1).
    assert refractory_steps(0.8, 0.1) == 8
    assert accept_steps(scores, 0.5, 0.1, 0.8).tolist() == [0, 10]


def test_accept_exactly_refractory_after_the_previous_one_is_separate():
    scores = np.zeros(40)
    scores[[0, 10, 19]] = 1.0
    # 10 steps * 0.08 s = 0.8 s: not *within* 0.8 s (despite 10 * 0.08 = 0.8000000000000002)
    assert accept_steps(scores, 0.5, 0.08, 0.8).tolist() == [0, 10]
    assert accept_steps(scores, 0.5, 0.08, 0.81).tolist() == [0, 19]


def test_zero_refractory_counts_every_firing_step_and_threshold_is_inclusive():
    scores = [0.5, 0.5, 0.49, 0.5]
    assert count_false_accepts(scores, 0.5, 0.08, 0.0) == 3
    assert count_false_accepts(scores, 0.500001, 0.08, 0.0) == 0


def test_positive_is_detected_when_any_step_reaches_the_threshold():
    scores = [0.1, 0.3, 0.7, 0.2, 0.95]
    assert detected(scores, 0.7)
    assert not detected(scores, 0.96)
    # only inside the window (steps 0..3): the 0.95 at step 4 does not count
    assert detected(scores, 0.7, window=(0, 4))
    assert not detected(scores, 0.9, window=(0, 4))
    assert max_score(scores, window=(2, 2)) == -np.inf  # an empty window never detects
    assert not detected(scores, 0.0, window=(3, 3))


def test_bad_inputs_raise_wakeword_errors_naming_the_field():
    with pytest.raises(DataError, match="1-D"):
        count_false_accepts(np.zeros((3, 2)), 0.5, 0.08, 1.0)
    with pytest.raises(DataError, match="NaN"):
        count_false_accepts([0.1, np.nan], 0.5, 0.08, 1.0)
    with pytest.raises(ConfigError, match="step_s"):
        count_false_accepts([0.1], 0.5, 0.0, 1.0)
    with pytest.raises(ConfigError, match="refractory_s"):
        count_false_accepts([0.1], 0.5, 0.08, -1.0)
    with pytest.raises(ConfigError, match="window"):
        max_score([0.1, 0.2], window=(2, 1))


@pytest.mark.parametrize("seed", range(6))
def test_fast_count_matches_the_step_by_step_reference(seed):
    rng = np.random.default_rng(seed)
    step_s, refractory_s = 0.08, rng.choice([0.0, 0.3, 1.0, 2.0])
    scores = rng.beta(0.3, 3.0, 6000)
    for b in rng.integers(0, 5900, 60):  # bursts of several steps, like real false accepts
        scores[b:b + rng.integers(1, 40)] = rng.uniform(0.2, 1.0)
    for threshold in (0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 0.99):
        expected = naive_accepts(scores, threshold, step_s, refractory_s)
        assert count_false_accepts(scores, threshold, step_s, refractory_s) == len(expected)
        assert accept_steps(scores, threshold, step_s, refractory_s).tolist() == expected


def test_dense_long_stream_takes_the_pointer_jumping_path_and_stays_exact():
    # > 2 * 2048 accepts, so the count goes through vectorised pointer jumping
    rng = np.random.default_rng(7)
    scores = rng.uniform(size=80_000)
    for threshold in (0.0, 0.2, 0.6, 0.95):
        expected = len(naive_accepts(scores, threshold, 0.08, 1.0))
        assert count_false_accepts(scores, threshold, 0.08, 1.0) == expected


# -- DET curves -------------------------------------------------------------------------------
def test_false_reject_rate_counts_positives_below_the_threshold():
    curve = det_curve([0.1, 0.4, 0.6, 0.9], [np.zeros(10)], 0.08, 1.0, 1.0,
                      thresholds=[0.05, 0.4, 0.5, 0.95])
    # a positive whose max equals the threshold is detected
    assert curve.false_reject_rate.tolist() == [0.0, 0.25, 0.5, 1.0]
    assert curve.false_accepts_per_hour.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_det_curve_matches_counts_per_threshold_and_divides_by_hours():
    neg = np.zeros(200)
    neg[[10, 11, 50]] = 0.8  # 10 and 11 merge into one accept
    neg[[100, 150]] = 0.6
    curve = det_curve([0.5, 0.7], neg, 0.08, 1.0, negative_hours=0.5,
                      thresholds=[0.55, 0.65, 0.9])
    assert curve.thresholds.tolist() == [0.55, 0.65, 0.9]
    assert curve.false_accepts_per_hour.tolist() == [4 / 0.5, 2 / 0.5, 0.0]
    assert curve.false_reject_rate.tolist() == [0.5, 0.5, 1.0]


def test_accepts_never_merge_across_segments():
    left, right = np.zeros(20), np.zeros(20)
    left[-1] = right[0] = 0.9
    joined = det_curve([0.5], [np.concatenate([left, right])], 0.08, 1.0, 1.0, thresholds=[0.5])
    separate = det_curve([0.5], [left, right], 0.08, 1.0, 1.0, thresholds=[0.5])
    assert joined.false_accepts_per_hour.tolist() == [1.0]
    assert separate.false_accepts_per_hour.tolist() == [2.0]


@pytest.mark.parametrize("seed", range(3))
def test_det_curve_is_monotone_and_agrees_with_the_reference(seed):
    rng = np.random.default_rng(100 + seed)
    segments = [rng.beta(0.4, 4.0, n) for n in (3000, 5000, 700)]
    pos = rng.beta(4.0, 1.0, 200)
    hours = sum(s.size for s in segments) * 0.08 / 3600
    curve = det_curve(pos, segments, 0.08, 1.0, hours, thresholds=np.linspace(0, 1, 101))
    assert np.all(np.diff(curve.false_reject_rate) >= 0)
    assert np.all(np.diff(curve.false_accepts_per_hour) <= 0)
    for i in range(0, 101, 10):
        t = curve.thresholds[i]
        expected = sum(len(naive_accepts(s, t, 0.08, 1.0)) for s in segments)
        assert curve.false_accepts_per_hour[i] == pytest.approx(expected / hours)
        assert curve.false_reject_rate[i] == np.mean(pos < t)


def test_default_thresholds_are_ascending_logit_spaced_probabilities():
    thresholds = default_thresholds()
    assert thresholds.size == 1000
    assert np.all(np.diff(thresholds) > 0)
    assert thresholds[0] == pytest.approx(1e-4) and thresholds[-1] == pytest.approx(1 - 1e-7)
    assert np.sum(thresholds > 0.99) > 200  # resolution where confident models operate


def test_det_curve_rejects_unusable_inputs():
    with pytest.raises(DataError, match="positive"):
        det_curve([], [np.zeros(5)], 0.08, 1.0, 1.0)
    with pytest.raises(ConfigError, match="negative_hours"):
        det_curve([0.5], [np.zeros(5)], 0.08, 1.0, 0.0)
    with pytest.raises(ConfigError, match="negative_hours"):  # hours far below the scores' span
        det_curve([0.5], [np.zeros(450_000)], 0.08, 1.0, 1.0)
    with pytest.raises(DataError, match="one keyword's scores"):  # [steps, n_classes] by mistake
        det_curve([0.5], np.zeros((100, 2)), 0.08, 1.0, 1.0)
    with pytest.raises(DataError, match=r"neg_stream_scores\[1\]"):
        det_curve([0.5], [np.zeros(5), np.full(3, np.nan)], 0.08, 1.0, 1.0)


def test_det_curve_on_hours_of_scores_is_fast():
    rng = np.random.default_rng(0)
    hours = 2.0
    scores = rng.beta(0.5, 20.0, int(hours * 3600 / 0.08)).astype(np.float32)
    for b in rng.integers(0, scores.size - 20, 400):
        scores[b:b + rng.integers(1, 15)] = rng.uniform(0.3, 1.0)
    start = time.process_time()
    curve = det_curve(rng.beta(5, 1, 500), scores, 0.08, 1.0, hours)
    elapsed = time.process_time() - start
    assert len(curve) == 1000
    assert elapsed < 4.0, f"det_curve took {elapsed:.2f} s of CPU for 2 h x 1000 thresholds"


# -- operating points -------------------------------------------------------------------------
def _curve(frr, fa):
    return DetCurve(thresholds=np.linspace(0.1, 0.1 * len(frr), len(frr)),
                    false_reject_rate=frr, false_accepts_per_hour=fa)


def test_operating_point_is_the_lowest_frr_within_the_false_accept_budget():
    curve = _curve(frr=[0.0, 0.1, 0.15, 0.2, 0.5], fa=[5.0, 2.0, 0.8, 0.3, 0.0])
    assert operating_point(curve, 1.0) == OperatingPoint(
        threshold=pytest.approx(0.3), false_reject_rate=0.15, false_accepts_per_hour=0.8)
    assert operating_point(curve, 0.5).threshold == pytest.approx(0.4)
    assert operating_point(curve, 2.0).threshold == pytest.approx(0.2)  # FA/h == target is ok
    assert operating_point(curve, 0.0).threshold == pytest.approx(0.5)


def test_operating_point_ties_prefer_fewer_false_accepts_then_the_middle():
    curve = _curve(frr=[0.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.3],
                   fa=[3.0, 0.9, 0.4, 0.2, 0.2, 0.2, 0.0])
    # FRR 0.1 from 0.2 to 0.6; fewest FA (0.2) from 0.4 to 0.6; middle: 0.5
    assert operating_point(curve, 1.0).threshold == pytest.approx(0.5)


def test_operating_point_is_none_when_the_budget_is_never_met():
    curve = _curve(frr=[0.0, 0.5], fa=[9.0, 3.0])
    assert operating_point(curve, 1.0) is None
    with pytest.raises(ConfigError, match="fa_per_hour"):
        operating_point(curve, -1.0)


def test_det_curve_is_read_only_and_validated():
    curve = _curve(frr=[0.0, 0.5], fa=[2.0, 1.0])
    with pytest.raises(ValueError):
        curve.false_reject_rate[0] = 1.0
    with pytest.raises(ConfigError, match="equally long"):
        DetCurve(thresholds=[0.1, 0.2], false_reject_rate=[0.0], false_accepts_per_hour=[1, 2])
    with pytest.raises(ConfigError, match="ascending"):
        DetCurve(thresholds=[0.2, 0.1], false_reject_rate=[0, 0], false_accepts_per_hour=[1, 1])
