"""Per-neuron graph features used to choose a task sub-graph.

All features are computed on the unsigned connectivity (signs do not change topology).

* ``in_degree`` / ``out_degree``: number of incoming / outgoing edges (a self-edge counts once
  in each); ``in_weight`` / ``out_weight``: their summed synapse counts.
* ``longest_path``: length of the longest directed path starting at the neuron. Connectomes
  are cyclic, so it is measured on the **condensation DAG** (each strongly connected component
  collapsed to one node) and counted in **SCC hops**: neurons of the same component share a
  value, a neuron whose component has no outgoing edge to another component gets ``0``, and
  ``a -> b -> c`` across three components gives ``2`` for ``a``.
* ``neighbourhood``: number of *other* neurons within ``hops`` edges, ignoring direction
  (pre- and postsynaptic partners both count).
* ``information_flow``: ``out_degree / (in_degree + out_degree)`` (edge counts); ``1`` for a
  pure source, ``0`` for a pure sink and ``0`` for an isolated neuron.
* ``xyz_nm``, ``population``, ``cell_type``: copied from the neuron table (spatial position and
  annotations).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from wakeword.connectome.graph import Connectome
from wakeword.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["NUMERIC_FEATURES", "NodeFeatures", "compute_features"]

NUMERIC_FEATURES = (
    "in_degree", "out_degree", "in_weight", "out_weight", "longest_path", "neighbourhood",
    "information_flow",
)


@dataclass(frozen=True, kw_only=True)
class NodeFeatures:
    """Per-neuron feature arrays, each of length ``N`` (``xyz_nm`` is ``(N, 3)``)."""

    in_degree: np.ndarray
    out_degree: np.ndarray
    in_weight: np.ndarray
    out_weight: np.ndarray
    longest_path: np.ndarray
    neighbourhood: np.ndarray
    information_flow: np.ndarray
    xyz_nm: np.ndarray
    population: np.ndarray
    cell_type: np.ndarray
    hops: int

    def summary(self) -> dict[str, dict[str, float]]:
        """``{feature: {"min", "median", "max"}}`` for every numeric feature."""
        result: dict[str, dict[str, float]] = {}
        for name in NUMERIC_FEATURES:
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.size == 0:
                result[name] = {"min": float("nan"), "median": float("nan"), "max": float("nan")}
                continue
            result[name] = {
                "min": float(values.min()),
                "median": float(np.median(values)),
                "max": float(values.max()),
            }
        return result


def longest_path_scc(adjacency: sparse.spmatrix) -> np.ndarray:
    """Longest outgoing path per node on the condensation DAG, in SCC hops (see module doc)."""
    n = adjacency.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    n_comp, component = csgraph.connected_components(adjacency, directed=True, connection="strong")
    coo = sparse.coo_matrix(adjacency)
    a, b = component[coo.row], component[coo.col]
    between = a != b
    dag = sparse.csr_matrix(
        (np.ones(int(between.sum())), (a[between], b[between])), shape=(n_comp, n_comp)
    )
    dag.sum_duplicates()
    # Kahn's algorithm, then relax in reverse topological order.
    indegree = np.diff(dag.tocsc().indptr).astype(np.int64)
    order: list[int] = []
    frontier: list[int] = [int(c) for c in np.nonzero(indegree == 0)[0]]
    while frontier:
        c = int(frontier.pop())
        order.append(c)
        for d in dag.indices[dag.indptr[c]:dag.indptr[c + 1]]:
            indegree[d] -= 1
            if indegree[d] == 0:
                frontier.append(int(d))
    longest = np.zeros(n_comp, dtype=np.int64)
    for c in reversed(order):
        successors = dag.indices[dag.indptr[c]:dag.indptr[c + 1]]
        if successors.size:
            longest[c] = 1 + int(longest[successors].max())
    return np.asarray(longest[component], dtype=np.int64)


def neighbourhood_size(adjacency: sparse.spmatrix, hops: int) -> np.ndarray:
    """Number of other nodes within ``hops`` undirected edges of each node."""
    n = adjacency.shape[0]
    undirected = ((adjacency + adjacency.T) != 0).astype(np.int64).tocsr()
    reach = sparse.identity(n, dtype=np.int64, format="csr")
    frontier = reach
    for _ in range(hops):
        frontier = ((frontier @ undirected) != 0).astype(np.int64)
        reach = ((reach + frontier) != 0).astype(np.int64)
    reach = reach.tocsr()
    reach.setdiag(0)
    reach.eliminate_zeros()
    return np.asarray(np.diff(reach.indptr), dtype=np.int64)


def compute_features(connectome: Connectome, *, hops: int = 2) -> NodeFeatures:
    """Compute :class:`NodeFeatures` for every neuron of ``connectome``.

    Args:
        connectome: the graph.
        hops: radius of the neighbourhood feature, ``>= 1``.
    """
    if hops < 1:
        raise ConfigError(f"neighbourhood hops must be >= 1, got {hops}")
    adjacency = connectome.adjacency
    binary = (adjacency != 0).astype(np.int64)
    out_degree = np.asarray(binary.sum(axis=1)).ravel().astype(np.int64)
    in_degree = np.asarray(binary.sum(axis=0)).ravel().astype(np.int64)
    total = in_degree + out_degree
    flow = np.divide(
        out_degree, total, out=np.zeros(total.shape, dtype=np.float64), where=total > 0
    )
    return NodeFeatures(
        in_degree=in_degree,
        out_degree=out_degree,
        in_weight=np.asarray(adjacency.sum(axis=0), dtype=np.float64).ravel(),
        out_weight=np.asarray(adjacency.sum(axis=1), dtype=np.float64).ravel(),
        longest_path=longest_path_scc(adjacency),
        neighbourhood=neighbourhood_size(adjacency, hops),
        information_flow=flow,
        xyz_nm=connectome.neurons.xyz_nm,
        population=connectome.neurons.population,
        cell_type=connectome.neurons.cell_type,
        hops=hops,
    )
