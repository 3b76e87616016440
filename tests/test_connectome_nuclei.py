"""Nuclei: blocks along the diagonal found by Laplacian-of-Gaussian blob detection."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.connectome.graph import Connectome, NeuronTable
from wakeword.connectome.nuclei import find_nuclei, keep_nuclei, order_neurons
from wakeword.errors import ConnectomeError

SIZES = (10, 8, 12)


def blocks() -> np.ndarray:
    n = sum(SIZES)
    matrix = np.zeros((n, n))
    start = 0
    for size in SIZES:
        matrix[start:start + size, start:start + size] = 1.0
        start += size
    np.fill_diagonal(matrix, 0.0)
    return matrix


def test_blocks_are_found_exactly_and_ranked_by_edge_count():
    nuclei = find_nuclei(Connectome.from_dense(blocks()), sigma=2.0, order=np.arange(30))
    assert [(n.start, n.stop, n.n_edges) for n in nuclei] == [
        (18, 30, 132), (0, 10, 90), (10, 18, 56)]
    np.testing.assert_array_equal(nuclei[2].nodes, np.arange(10, 18))


def test_blocks_survive_sparse_noise_between_them():
    matrix = blocks()
    rng = np.random.default_rng(0)
    noise = rng.random(matrix.shape) < 0.03
    matrix[noise] = 1.0
    np.fill_diagonal(matrix, 0.0)
    nuclei = find_nuclei(Connectome.from_dense(matrix), sigma=2.0, order=np.arange(30))
    assert [(n.start, n.stop) for n in nuclei] == [(18, 30), (0, 10), (10, 18)]


def test_shuffled_nodes_are_recovered_through_the_population_order():
    rng = np.random.default_rng(1)
    perm = rng.permutation(30)  # node perm[k] of the shuffled graph is node k of the blocks
    matrix = blocks()
    shuffled = np.zeros_like(matrix)
    shuffled[np.ix_(perm, perm)] = matrix
    population = np.empty(30, dtype="<U2")
    population[perm] = ["a"] * 10 + ["b"] * 8 + ["c"] * 12
    plain = NeuronTable.plain(30)
    table = NeuronTable(ids=plain.ids, population=population, cell_type=plain.cell_type,
                        side=plain.side, transmitter=plain.transmitter,
                        polarity=plain.polarity, xyz_nm=plain.xyz_nm)
    graph = Connectome.from_dense(shuffled, neurons=table)
    np.testing.assert_array_equal(order_neurons(graph), np.concatenate(
        [np.sort(perm[:10]), np.sort(perm[10:18]), np.sort(perm[18:])]))
    nuclei = find_nuclei(graph, sigma=2.0)
    np.testing.assert_array_equal(nuclei[0].nodes, np.sort(perm[18:]))


def test_keep_nuclei_drops_edges_outside_the_largest():
    matrix = blocks()
    matrix[0, 29] = 1.0  # an edge between two blocks
    graph = Connectome.from_dense(matrix)
    nuclei = find_nuclei(graph, sigma=2.0, order=np.arange(30))
    kept = keep_nuclei(graph, nuclei, 2)
    assert kept.n_neurons == 30
    expected = blocks()
    expected[10:18, 10:18] = 0.0
    np.testing.assert_array_equal(kept.dense(), expected)


def test_keep_nuclei_without_nuclei_explains_how_to_relax():
    with pytest.raises(ConnectomeError, match="no nuclei were found"):
        keep_nuclei(Connectome.from_dense(np.zeros((3, 3))), [], 1)
