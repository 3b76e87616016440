"""Nuclei: densely connected blocks along the diagonal of an ordered adjacency matrix.

Method (:func:`find_nuclei`):

1. Order the neurons (:func:`order_neurons`: by population, then x, y, z position, then
   index), so that related neurons sit next to each other.
2. Take the symmetrised 0/1 connectivity ``B = (A + A.T) > 0`` in that order and compute the
   blob response ``R = -gaussian_laplace(B, sigma)`` (Gaussian smoothing, then the Laplacian;
   negated so that dense blobs are positive).
3. Threshold: ``R > relative_threshold * R.max()``; connected components
   (``scipy.ndimage.label``, 4-connectivity) of the mask are candidate blobs.
4. Blobs whose bounding box meets the diagonal become candidate nuclei spanning the node
   positions ``min(row, col) .. max(row, col)`` of the box. A position claimed by several
   spans joins the one it has the most edges with (ties: the earlier span).
5. Nuclei are ranked by the number of directed edges inside them (largest first; ties by
   position); :func:`keep_nuclei` keeps the ``n`` largest and drops every edge that is not
   inside one of them.

``sigma`` (in matrix cells) sets the scale: blocks of roughly ``2 * sigma`` to ``6 * sigma``
nodes are found.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from wakeword.connectome.graph import Connectome
from wakeword.errors import ConfigError, ConnectomeError

logger = logging.getLogger(__name__)

__all__ = ["Nucleus", "find_nuclei", "keep_nuclei", "order_neurons"]


@dataclass(frozen=True, kw_only=True)
class Nucleus:
    """One cluster: ``nodes`` are indices into the connectome; ``start``/``stop`` its span in
    the ordering used to find it; ``n_edges`` the directed edges between its nodes."""

    nodes: np.ndarray
    start: int
    stop: int
    n_edges: int


def order_neurons(connectome: Connectome) -> np.ndarray:
    """Permutation sorting neurons by population, then x, y, z (NaN last), then index."""
    table = connectome.neurons
    xyz = np.nan_to_num(table.xyz_nm, nan=np.inf)
    keys = (
        np.arange(connectome.n_neurons),
        xyz[:, 2],
        xyz[:, 1],
        xyz[:, 0],
        table.population,
    )
    return np.lexsort(keys).astype(np.int64)


def find_nuclei(
    connectome: Connectome,
    *,
    sigma: float = 2.0,
    relative_threshold: float = 0.1,
    order: Sequence[int] | np.ndarray | None = None,
) -> list[Nucleus]:
    """Nuclei of ``connectome``, largest first (see the module docstring).

    Args:
        connectome: the graph (usually a task sub-graph).
        sigma: Gaussian scale of the Laplacian-of-Gaussian, in matrix cells, ``> 0``.
        relative_threshold: fraction of the strongest response a blob must exceed, in ``[0, 1)``.
        order: node order to scan; defaults to :func:`order_neurons`.
    """
    if not sigma > 0:
        raise ConfigError(f"nuclei sigma must be > 0 matrix cells, got {sigma}")
    if not 0.0 <= relative_threshold < 1.0:
        raise ConfigError(f"nuclei relative_threshold must be in [0, 1), got {relative_threshold}")
    n = connectome.n_neurons
    perm = order_neurons(connectome) if order is None else np.asarray(order, dtype=np.int64)
    if sorted(perm.tolist()) != list(range(n)):
        raise ConfigError(f"order must be a permutation of 0..{n - 1}")
    if n == 0 or connectome.n_edges == 0:
        return []
    dense = connectome.dense(signed=False)[np.ix_(perm, perm)] > 0
    binary = (dense | dense.T).astype(np.float64)
    response = -ndimage.gaussian_laplace(binary, sigma, mode="constant", cval=0.0)
    peak = float(response.max())
    if peak <= 0:
        return []
    blobs, _ = ndimage.label(response > relative_threshold * peak)
    spans: list[tuple[int, int]] = []
    for box in ndimage.find_objects(blobs):
        if box is None:
            continue
        r0, r1, c0, c1 = box[0].start, box[0].stop, box[1].start, box[1].stop
        if r0 < c1 and c0 < r1:  # the box meets the diagonal
            span = (min(r0, c0), max(r1, c1))
            if span not in spans:
                spans.append(span)
    spans.sort()
    owner = np.full(n, -1, dtype=np.int64)
    for position in range(n):
        claims = [k for k, (a, b) in enumerate(spans) if a <= position < b]
        if not claims:
            continue
        links = [int(binary[position, spans[k][0]:spans[k][1]].sum()) for k in claims]
        owner[position] = claims[int(np.argmax(links))]
    nuclei: list[Nucleus] = []
    for k in range(len(spans)):
        positions = np.nonzero(owner == k)[0]
        if positions.size == 0:
            continue
        nodes = perm[positions]
        inside = int(dense[np.ix_(positions, positions)].sum())
        nuclei.append(Nucleus(
            nodes=np.sort(nodes), start=int(positions.min()), stop=int(positions.max()) + 1,
            n_edges=inside,
        ))
    nuclei.sort(key=lambda nucleus: (-nucleus.n_edges, nucleus.start))
    logger.debug("found %d nuclei (sigma=%g)", len(nuclei), sigma)
    return nuclei


def keep_nuclei(connectome: Connectome, nuclei: Sequence[Nucleus], n_keep: int) -> Connectome:
    """Keep every neuron but only the edges inside the ``n_keep`` first (largest) nuclei."""
    if n_keep < 1:
        raise ConfigError(f"n_keep must be >= 1, got {n_keep}")
    if not nuclei:
        raise ConnectomeError(
            "no nuclei were found, so none can be kept; lower the nuclei threshold, change "
            "sigma, or set the nuclei count to 0 to skip this step"
        )
    member = np.full(connectome.n_neurons, -1, dtype=np.int64)
    for k, nucleus in enumerate(nuclei[:n_keep]):
        member[nucleus.nodes] = k
    pre, post, weight, sign = connectome.edges()
    inside = (member[pre] >= 0) & (member[pre] == member[post])
    logger.debug("keep_nuclei: %d of %d edges kept", int(inside.sum()), pre.size)
    return connectome.with_edges(pre[inside], post[inside], weight[inside], sign[inside])
