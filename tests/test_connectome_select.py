"""Percentile classification, selection by annotation and empty-selection errors."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.connectome.features import compute_features
from wakeword.connectome.graph import Connectome, NeuronTable
from wakeword.connectome.select import (
    ClassRules,
    classify,
    induced_subgraph,
    select_by_annotation,
    select_by_class,
)
from wakeword.errors import ConfigError, ConnectomeError

EDGES = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 3), (4, 5)]


def cyclic() -> Connectome:
    pre, post = zip(*EDGES, strict=False)
    plain = NeuronTable.plain(7)
    table = NeuronTable(
        ids=plain.ids, population=np.array(["JO", "JO", "AMMC", "AMMC", "WED", "WED", "WED"]),
        cell_type=plain.cell_type, side=plain.side, transmitter=plain.transmitter,
        polarity=plain.polarity, xyz_nm=plain.xyz_nm,
    )
    return Connectome.from_edges(n_neurons=7, pre=pre, post=post, weight=[1.0] * 7,
                                 neurons=table)


def test_percentile_rules_classify_each_neuron():
    # longest path [2,2,2,1,1,0,0]; flow [.5,.5,.67,.33,.67,0,0]
    # 90th pct of longest = 2 -> 0,1,2 primary; 75th pct of flow = 0.583 -> 4 sensory;
    # 25th pct of flow = 0.167 -> 5,6 associative; 3 is other.
    labels = classify(compute_features(cyclic()))
    np.testing.assert_array_equal(labels, ["primary_sensory"] * 3 + [
        "other", "sensory", "associative", "associative"])


def test_relaxing_the_associative_percentile_takes_in_more_neurons():
    labels = classify(compute_features(cyclic()), ClassRules(associative_percentile=50.0))
    assert labels[3] == "associative"


def test_select_by_annotation_keeps_the_named_populations():
    np.testing.assert_array_equal(select_by_annotation(cyclic(), populations=["JO", "WED"]),
                                  [0, 1, 4, 5, 6])
    np.testing.assert_array_equal(select_by_annotation(cyclic(), populations=[]), np.arange(7))


def test_unknown_population_lists_the_ones_present():
    with pytest.raises(ConnectomeError, match=r"no neuron has population 'JO-C'.*'AMMC', 'JO', "
                                              r"'WED'"):
        select_by_annotation(cyclic(), populations=["JO-C"])


def test_empty_class_selection_names_the_rule_and_the_fix():
    labels = np.array(["other", "associative"])
    with pytest.raises(ConnectomeError, match=r"no neuron is classified as sensory.*lower the "
                                              r"matching percentile"):
        select_by_class(labels, ["sensory"])
    with pytest.raises(ConfigError, match="unknown neuron class"):
        select_by_class(labels, ["motor"])


def test_empty_induced_subgraph_names_the_rule():
    with pytest.raises(ConnectomeError, match="rule 'JO only' kept no neurons"):
        induced_subgraph(cyclic(), np.array([], dtype=np.int64), rule="JO only")
    sub = induced_subgraph(cyclic(), select_by_annotation(cyclic(), populations=["WED"]),
                           rule="WED")
    assert sub.n_neurons == 3 and sub.n_edges == 1  # only 4 -> 5 stays inside


def test_rules_are_validated():
    with pytest.raises(ConfigError, match="percentile in"):
        ClassRules(primary_percentile=120.0)
    with pytest.raises(ConfigError, match="must not exceed"):
        ClassRules(associative_percentile=80.0, sensory_percentile=70.0)
