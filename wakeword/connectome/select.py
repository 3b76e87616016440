"""Choose the task sub-graph: classify neurons by feature percentiles, select by annotation.

Classification (:func:`classify`) uses percentile rules on :class:`NodeFeatures`, applied in
this order (a neuron gets the first class whose rule it passes):

1. ``primary_sensory``: ``longest_path >= percentile(longest_path, primary_percentile)`` (the
   neurons farthest upstream: their outgoing paths are the longest).
2. ``sensory``: ``information_flow >= percentile(information_flow, sensory_percentile)``.
3. ``associative``: ``information_flow <= percentile(information_flow, associative_percentile)``.
4. ``other``: everything else.

Percentiles are taken over the neurons of the graph being classified (numpy's linear
interpolation). Selections that come out empty raise :class:`ConnectomeError` naming the rule
and how to relax it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from wakeword.connectome.features import NodeFeatures
from wakeword.connectome.graph import Connectome
from wakeword.errors import ConfigError, ConnectomeError

logger = logging.getLogger(__name__)

__all__ = [
    "NODE_CLASSES",
    "ClassRules",
    "classify",
    "induced_subgraph",
    "select_by_annotation",
    "select_by_class",
]

NODE_CLASSES = ("primary_sensory", "sensory", "associative", "other")


@dataclass(frozen=True, kw_only=True)
class ClassRules:
    """Percentile thresholds (0..100) of :func:`classify`."""

    primary_percentile: float = 90.0
    sensory_percentile: float = 75.0
    associative_percentile: float = 25.0

    def __post_init__(self) -> None:
        for name in ("primary_percentile", "sensory_percentile", "associative_percentile"):
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ConfigError(f"{name} must be a percentile in [0, 100], got {value}")
        if self.associative_percentile > self.sensory_percentile:
            raise ConfigError(
                f"associative_percentile ({self.associative_percentile}) must not exceed "
                f"sensory_percentile ({self.sensory_percentile})"
            )


def classify(features: NodeFeatures, rules: ClassRules | None = None) -> np.ndarray:
    """One class name from :data:`NODE_CLASSES` per neuron (see the module docstring)."""
    rules = rules or ClassRules()
    n = features.longest_path.shape[0]
    labels = np.full(n, "other", dtype="<U16")
    if n == 0:
        return labels
    flow = features.information_flow
    longest = features.longest_path
    primary = longest >= np.percentile(longest, rules.primary_percentile)
    sensory = flow >= np.percentile(flow, rules.sensory_percentile)
    associative = flow <= np.percentile(flow, rules.associative_percentile)
    labels[associative] = "associative"
    labels[sensory] = "sensory"
    labels[primary] = "primary_sensory"
    return labels


def select_by_class(
    labels: np.ndarray, classes: Iterable[str], *, rules: ClassRules | None = None
) -> np.ndarray:
    """Indices of neurons whose class is in ``classes``."""
    wanted = tuple(classes)
    unknown = [c for c in wanted if c not in NODE_CLASSES]
    if unknown:
        raise ConfigError(
            f"unknown neuron class(es) {unknown}; valid classes are {', '.join(NODE_CLASSES)}"
        )
    indices = np.nonzero(np.isin(labels, wanted))[0].astype(np.int64)
    if indices.size == 0:
        shown = rules or ClassRules()
        raise ConnectomeError(
            f"no neuron is classified as {' or '.join(wanted)} among {labels.size} neurons "
            f"(rules: {shown}); add more classes or lower the matching percentile"
        )
    return indices


def select_by_annotation(connectome: Connectome, *, populations: Iterable[str]) -> np.ndarray:
    """Indices of neurons whose ``population`` is in ``populations`` (all when empty)."""
    wanted = tuple(populations)
    table = connectome.neurons
    if not wanted:
        return np.arange(connectome.n_neurons, dtype=np.int64)
    indices = np.nonzero(np.isin(table.population, wanted))[0].astype(np.int64)
    if indices.size == 0:
        present = sorted(set(table.population.tolist()))
        raise ConnectomeError(
            f"no neuron has population {' or '.join(repr(p) for p in wanted)}; this graph has "
            f"{', '.join(repr(p) for p in present)}. Fix the population names (exact match) or "
            "pass an empty list to keep every neuron"
        )
    return indices


def induced_subgraph(connectome: Connectome, indices: np.ndarray, *, rule: str) -> Connectome:
    """The sub-graph on ``indices``; raises when empty, naming the ``rule`` that selected it."""
    if len(indices) == 0:
        raise ConnectomeError(
            f"the selection rule '{rule}' kept no neurons; relax that rule"
        )
    graph = connectome.subgraph(indices)
    logger.debug("%s: %d neurons, %d edges", rule, graph.n_neurons, graph.n_edges)
    return graph
