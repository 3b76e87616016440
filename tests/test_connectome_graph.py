"""The Connectome type: views, sub-graphs and validation."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.connectome.graph import Connectome, NeuronTable
from wakeword.errors import ConnectomeError

MATRIX = np.array(
    [
        [0, 2, 0, 1],
        [0, 0, -3, 0],
        [4, 0, 0, 0],
        [0, 5, 0, 0],
    ],
    dtype=float,
)


def test_from_dense_keeps_weights_and_signs():
    graph = Connectome.from_dense(MATRIX)
    assert graph.n_neurons == 4
    assert graph.n_edges == 5
    assert graph.total_weight == 15.0
    assert graph.signed  # a negative entry makes the signed view the default
    np.testing.assert_array_equal(graph.dense(), MATRIX)
    np.testing.assert_array_equal(graph.dense(signed=False), np.abs(MATRIX))
    assert graph.adjacency.format == "csr"
    assert graph.adjacency.dtype == np.float64


def test_subgraph_is_induced_and_keeps_weights_signs_and_rows():
    table = NeuronTable.plain(4)
    table = NeuronTable(
        ids=np.array([10, 11, 12, 13]), population=np.array(["a", "b", "c", "d"]),
        cell_type=table.cell_type, side=table.side, transmitter=table.transmitter,
        polarity=np.array([1, -1, 1, 1]), xyz_nm=np.arange(12.0).reshape(4, 3),
    )
    graph = Connectome.from_dense(MATRIX, neurons=table)
    sub = graph.subgraph([3, 1, 2])
    np.testing.assert_array_equal(sub.neurons.ids, [13, 11, 12])
    np.testing.assert_array_equal(sub.neurons.population, ["d", "b", "c"])
    np.testing.assert_array_equal(sub.neurons.xyz_nm[0], [9.0, 10.0, 11.0])
    expected = np.array([[0, 5, 0], [0, 0, -3], [0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(sub.dense(signed=True), expected)
    np.testing.assert_array_equal(sub.dense(signed=False), np.abs(expected))


def test_with_signed_switches_the_default_view():
    graph = Connectome.from_dense(MATRIX).with_signed(False)
    assert graph.dense()[1, 2] == 3.0
    assert graph.with_signed(True).dense()[1, 2] == -3.0
    assert graph.matrix.toarray()[1, 2] == 3.0


def test_edges_round_trip_through_from_edges():
    graph = Connectome.from_dense(MATRIX)
    pre, post, weight, sign = graph.edges()
    again = Connectome.from_edges(n_neurons=4, pre=pre, post=post, weight=weight, sign=sign,
                                  signed=True)
    np.testing.assert_array_equal(again.dense(), MATRIX)


def test_subgraph_rejects_out_of_range_and_repeated_indices():
    graph = Connectome.from_dense(MATRIX)
    with pytest.raises(ConnectomeError, match=r"subgraph index 7 is outside 0\.\.3"):
        graph.subgraph([0, 7])
    with pytest.raises(ConnectomeError, match="unique"):
        graph.subgraph([1, 1])


def test_non_square_matrix_is_rejected():
    with pytest.raises(ConnectomeError, match="square"):
        Connectome.from_dense(np.zeros((2, 3)))


def test_arrays_are_read_only():
    graph = Connectome.from_dense(MATRIX)
    with pytest.raises(ValueError):
        graph.neurons.ids[0] = 5
    with pytest.raises(ValueError):
        graph.edge_sign[0] = 0
