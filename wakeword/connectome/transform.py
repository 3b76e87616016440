"""Graph transformations: seeded random perturbation, weight noise, smoothing.

Every function takes a :class:`Connectome` and returns a new one (the input is never
modified); every random draw comes from ``numpy.random.default_rng(seed)``, so a seed
reproduces the result exactly. The functions work on dense ``N x N`` copies, which is fine
for sub-graphs of a few thousand neurons.

Perturbation acts on unordered node pairs ``{i, j}`` (``i < j``); for each pair three uniform
numbers ``u_invert, u_other, u_direction`` are drawn (in that order, all pairs at once):

* **invert** (``u_invert < p_invert``): complement the pair's connectivity: each existing
  direction is removed and each missing direction is added with weight ``added_weight``.
* otherwise, if the pair has no edge, **add** (``u_other < p_add``): one edge with weight
  ``added_weight``, ``i -> j`` if ``u_direction < 0.5`` else ``j -> i``.
* otherwise, if the pair has an edge, **reverse** (``u_other < p_reverse``): swap the two
  directions, i.e. ``w_ij <-> w_ji`` with their signs (a one-way edge changes direction).

New edges take the sign of their presynaptic neuron (``neurons.polarity``); reversed edges
keep their own sign. Self-edges are never touched.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from wakeword.connectome.graph import Connectome
from wakeword.errors import ConfigError

logger = logging.getLogger(__name__)

__all__ = ["add_weight_noise", "perturb", "smooth"]


def _probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a probability in [0, 1], got {value}")


def _dense_pair(connectome: Connectome) -> tuple[np.ndarray, np.ndarray]:
    pre, post, weight, sign = connectome.edges()
    n = connectome.n_neurons
    weights = np.zeros((n, n))
    signs = np.zeros((n, n), dtype=np.int8)
    weights[pre, post] = weight
    signs[pre, post] = sign
    return weights, signs


def _from_dense_pair(connectome: Connectome, weights: np.ndarray, signs: np.ndarray) -> Connectome:
    pre, post = np.nonzero(weights > 0)
    return connectome.with_edges(pre, post, weights[pre, post], signs[pre, post])


def perturb(
    connectome: Connectome,
    *,
    seed: int,
    p_add: float = 0.0,
    p_reverse: float = 0.0,
    p_invert: float = 0.0,
    added_weight: float = 1.0,
) -> Connectome:
    """Randomly add, reverse or invert node-pair connections (see the module docstring).

    Args:
        connectome: the graph to perturb.
        seed: seed of the numpy Generator.
        p_add: probability that an unconnected pair gains one edge.
        p_reverse: probability that a connected pair swaps its directions.
        p_invert: probability that a pair's connectivity is complemented.
        added_weight: weight (synapse count) of new edges, ``> 0``.
    """
    for name, value in (("p_add", p_add), ("p_reverse", p_reverse), ("p_invert", p_invert)):
        _probability(name, value)
    if not added_weight > 0:
        raise ConfigError(f"added_weight must be > 0, got {added_weight}")
    rng = np.random.default_rng(seed)
    weights, signs = _dense_pair(connectome)
    n = connectome.n_neurons
    i, j = np.triu_indices(n, k=1)
    u_invert, u_other, u_direction = rng.random((3, i.size))
    polarity = connectome.neurons.polarity
    forward, backward = weights[i, j] > 0, weights[j, i] > 0
    connected = forward | backward
    invert = u_invert < p_invert
    add = ~invert & ~connected & (u_other < p_add)
    reverse = ~invert & connected & (u_other < p_reverse)

    new_w, new_s = weights.copy(), signs.copy()
    # reverse: swap both directions with their signs
    ri, rj = i[reverse], j[reverse]
    new_w[ri, rj], new_w[rj, ri] = weights[rj, ri], weights[ri, rj]
    new_s[ri, rj], new_s[rj, ri] = signs[rj, ri], signs[ri, rj]
    # add: one edge in a random direction
    ai, aj = i[add], j[add]
    to_j = u_direction[add] < 0.5
    src = np.where(to_j, ai, aj)
    dst = np.where(to_j, aj, ai)
    new_w[src, dst] = added_weight
    new_s[src, dst] = polarity[src]
    # invert: complement each direction
    for a, b in ((i[invert], j[invert]), (j[invert], i[invert])):
        had = weights[a, b] > 0
        new_w[a, b] = np.where(had, 0.0, added_weight)
        new_s[a, b] = np.where(had, 0, polarity[a])
    logger.debug(
        "perturb(seed=%d): %d pairs inverted, %d added, %d reversed",
        seed, int(invert.sum()), int(add.sum()), int(reverse.sum()),
    )
    return _from_dense_pair(connectome, new_w, new_s)


def add_weight_noise(connectome: Connectome, *, seed: int, std: float) -> Connectome:
    """Add ``N(0, std)`` noise to every existing edge weight (synapse counts).

    Edges whose weight falls to ``<= 0`` are removed; no edge is created.
    """
    if not std >= 0:
        raise ConfigError(f"weight noise std must be >= 0, got {std}")
    rng = np.random.default_rng(seed)
    pre, post, weight, sign = connectome.edges()
    noisy = weight + rng.normal(0.0, std, size=weight.shape) if std > 0 else weight
    removed = int(np.sum(noisy <= 0))
    if removed:
        logger.debug("weight noise removed %d edges whose weight fell to <= 0", removed)
    return connectome.with_edges(pre, post, noisy, sign)


def smooth(connectome: Connectome, *, sigma: float, threshold: float) -> Connectome:
    """Gaussian-smooth the 0/1 connectivity matrix, then re-quantise it to 0/1.

    The binary adjacency (``1`` where an edge exists, whatever its weight) is filtered with
    ``scipy.ndimage.gaussian_filter(sigma, mode="constant")`` (zeros outside the matrix, so
    node order matters: order the graph first). Entries ``> threshold`` become edges of weight
    ``1``; the rest are removed. Kept edges keep their sign, new ones take the presynaptic
    neuron's polarity.
    """
    if not sigma > 0:
        raise ConfigError(f"smoothing sigma must be > 0 (in matrix cells), got {sigma}")
    if not 0.0 <= threshold < 1.0:
        raise ConfigError(f"smoothing threshold must be in [0, 1), got {threshold}")
    weights, signs = _dense_pair(connectome)
    binary = (weights > 0).astype(np.float64)
    smoothed = ndimage.gaussian_filter(binary, sigma, mode="constant", cval=0.0)
    edges = smoothed > threshold
    new_s = np.where(weights > 0, signs, connectome.neurons.polarity[:, None]).astype(np.int8)
    return _from_dense_pair(connectome, edges.astype(np.float64), new_s)
