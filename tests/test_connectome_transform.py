"""Seeded perturbation, weight noise and smoothing with re-quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.connectome.graph import Connectome, NeuronTable
from wakeword.connectome.transform import add_weight_noise, perturb, smooth
from wakeword.errors import ConfigError

MATRIX = np.array(
    [
        [1, 2, 0, 0],
        [0, 0, -3, 0],
        [4, 5, 0, 0],
        [0, 0, 0, 0],
    ],
    dtype=float,
)


def graph() -> Connectome:
    return Connectome.from_dense(MATRIX, neurons=NeuronTable.plain(
        4, polarity=np.array([1, -1, 1, -1])))


def test_reverse_with_probability_one_transposes_every_connected_pair():
    result = perturb(graph(), seed=0, p_reverse=1.0)
    np.testing.assert_array_equal(result.dense(signed=True), MATRIX.T)


def test_invert_with_probability_one_complements_every_pair():
    result = perturb(graph(), seed=0, p_invert=1.0, added_weight=2.0)
    connected = (MATRIX != 0).astype(float)
    expected = (1.0 - connected) * 2.0
    np.fill_diagonal(expected, np.diag(np.abs(MATRIX)))  # self-edges are never touched
    np.testing.assert_array_equal(result.dense(signed=False), expected)
    # new edges take the presynaptic neuron's polarity
    np.testing.assert_array_equal(np.sign(result.dense(signed=True))[3], [-1, -1, -1, 0])


def test_add_with_probability_one_gives_every_empty_pair_one_edge():
    result = perturb(graph(), seed=3, p_add=1.0).dense(signed=False)
    empty_before = [(i, j) for i in range(4) for j in range(i + 1, 4)
                    if MATRIX[i, j] == 0 and MATRIX[j, i] == 0]
    for i, j in empty_before:
        assert (result[i, j] > 0) + (result[j, i] > 0) == 1
    changed = np.abs(MATRIX) != result
    assert all((i, j) in empty_before or (j, i) in empty_before for i, j in np.argwhere(changed))


def test_zero_probabilities_change_nothing():
    np.testing.assert_array_equal(perturb(graph(), seed=1).dense(), graph().dense())


def test_same_seed_same_result_and_other_seed_differs():
    big = Connectome.from_dense((np.random.default_rng(0).random((30, 30)) < 0.2).astype(float))
    one = perturb(big, seed=7, p_add=0.3, p_reverse=0.3, p_invert=0.1).dense()
    two = perturb(big, seed=7, p_add=0.3, p_reverse=0.3, p_invert=0.1).dense()
    other = perturb(big, seed=8, p_add=0.3, p_reverse=0.3, p_invert=0.1).dense()
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, other)


def test_weight_noise_is_seeded_and_only_touches_existing_edges():
    base = graph()
    noisy = add_weight_noise(base, seed=0, std=0.5)
    assert np.array_equal(noisy.dense(), add_weight_noise(base, seed=0, std=0.5).dense())
    assert set(map(tuple, np.argwhere(noisy.dense() != 0))) <= set(
        map(tuple, np.argwhere(MATRIX != 0)))
    np.testing.assert_array_equal(add_weight_noise(base, seed=0, std=0.0).dense(), base.dense())
    removed = add_weight_noise(base, seed=0, std=1000.0)
    assert removed.n_edges < base.n_edges  # weights pushed to <= 0 disappear


def test_smoothing_spreads_one_edge_to_its_three_by_three_neighbourhood():
    matrix = np.zeros((9, 9))
    matrix[2, 6] = 7.0
    result = smooth(Connectome.from_dense(matrix), sigma=1.0, threshold=0.05)
    expected = np.zeros((9, 9))
    expected[1:4, 5:8] = 1.0  # g(0)g(1) = 0.097 and g(1)^2 = 0.059 pass; g(0)g(2) = 0.022 not
    np.testing.assert_array_equal(result.dense(), expected)
    tighter = smooth(Connectome.from_dense(matrix), sigma=1.0, threshold=0.06)
    plus = np.zeros((9, 9))
    plus[2, 5:8] = plus[1:4, 6] = 1.0
    np.testing.assert_array_equal(tighter.dense(), plus)


def test_smoothing_fills_a_hole_in_a_block():
    matrix = np.zeros((8, 8))
    matrix[2:6, 2:6] = 1.0
    matrix[3, 4] = 0.0
    result = smooth(Connectome.from_dense(matrix), sigma=0.7, threshold=0.5).dense()
    assert result[3, 4] == 1.0
    assert result[0, 0] == 0.0


def test_bad_parameters_are_config_errors():
    with pytest.raises(ConfigError, match="p_add must be a probability"):
        perturb(graph(), seed=0, p_add=1.5)
    with pytest.raises(ConfigError, match="sigma must be > 0"):
        smooth(graph(), sigma=0.0, threshold=0.5)
    with pytest.raises(ConfigError, match="std must be >= 0"):
        add_weight_noise(graph(), seed=0, std=-1.0)
