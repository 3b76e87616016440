"""Node features on a small cyclic graph with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.connectome.features import compute_features, longest_path_scc
from wakeword.connectome.graph import Connectome
from wakeword.errors import ConfigError

# 0 -> 1 -> 2 -> 0 is a cycle (SCC A), 2 -> 3 <-> 4 (SCC B), 4 -> 5 (SCC C), 6 isolated.
EDGES = [(0, 1, 1.0), (1, 2, 2.0), (2, 0, 3.0), (2, 3, 4.0), (3, 4, 5.0), (4, 3, 6.0),
         (4, 5, 7.0)]


def cyclic() -> Connectome:
    pre, post, weight = zip(*EDGES, strict=False)
    return Connectome.from_edges(n_neurons=7, pre=pre, post=post, weight=weight)


def test_degrees_and_weights():
    features = compute_features(cyclic())
    np.testing.assert_array_equal(features.out_degree, [1, 1, 2, 1, 2, 0, 0])
    np.testing.assert_array_equal(features.in_degree, [1, 1, 1, 2, 1, 1, 0])
    np.testing.assert_array_equal(features.out_weight, [1, 2, 7, 5, 13, 0, 0])
    np.testing.assert_array_equal(features.in_weight, [3, 1, 2, 10, 5, 7, 0])


def test_information_flow_is_out_over_in_plus_out_and_zero_when_isolated():
    flow = compute_features(cyclic()).information_flow
    np.testing.assert_allclose(flow, [1 / 2, 1 / 2, 2 / 3, 1 / 3, 2 / 3, 0.0, 0.0])


def test_longest_path_on_a_cyclic_graph_counts_scc_hops():
    # condensation: A -> B -> C; every neuron of a component shares its value
    np.testing.assert_array_equal(compute_features(cyclic()).longest_path,
                                  [2, 2, 2, 1, 1, 0, 0])


def test_longest_path_of_a_chain_and_a_diamond():
    chain = Connectome.from_edges(n_neurons=4, pre=[0, 1, 2], post=[1, 2, 3], weight=[1, 1, 1])
    np.testing.assert_array_equal(longest_path_scc(chain.adjacency), [3, 2, 1, 0])
    diamond = Connectome.from_edges(n_neurons=5, pre=[0, 0, 1, 2, 3], post=[1, 2, 3, 3, 4],
                                    weight=[1] * 5)
    np.testing.assert_array_equal(longest_path_scc(diamond.adjacency), [3, 2, 2, 1, 0])


def test_neighbourhood_sizes_ignore_direction_and_exclude_the_node():
    graph = cyclic()
    np.testing.assert_array_equal(compute_features(graph, hops=1).neighbourhood,
                                  [2, 2, 3, 2, 2, 1, 0])
    np.testing.assert_array_equal(compute_features(graph, hops=2).neighbourhood,
                                  [3, 3, 4, 5, 3, 2, 0])
    np.testing.assert_array_equal(compute_features(graph, hops=10).neighbourhood,
                                  [5, 5, 5, 5, 5, 5, 0])


def test_summary_reports_min_median_max():
    summary = compute_features(cyclic()).summary()
    assert summary["out_degree"] == {"min": 0.0, "median": 1.0, "max": 2.0}
    assert set(summary) == {"in_degree", "out_degree", "in_weight", "out_weight",
                            "longest_path", "neighbourhood", "information_flow"}


def test_hops_must_be_positive():
    with pytest.raises(ConfigError, match="hops must be >= 1"):
        compute_features(cyclic(), hops=0)
