"""Connectomes from imaging: contact graphs of label volumes and segmentation of probability maps.

Two steps, each a plain function:

1. :func:`segment_probability` turns a 3-D membrane/cell probability map into a label volume:
   Gaussian smoothing, a threshold, then connected components (``scipy.ndimage.label``).
   Background is ``0``; components are numbered ``1..L`` in scipy's raster order; components
   smaller than ``min_voxels`` are removed and the rest renumbered consecutively.
2. :func:`contact_graph` turns a label volume into a weighted directed graph. Each neuron
   (label) is dilated by a tolerance distance with a ball (an ellipsoid in voxels when the
   voxel size is anisotropic); the weight of ``i -> j`` is the number of voxels of neuron
   ``j``'s body that lie inside neuron ``i``'s tolerance region.

   **Direction convention:** ``i -> j`` means "``j``'s body is within the tolerance of ``i``",
   counted in ``j``'s voxels. The counts are generally *not* symmetric: a large neuron
   touching a small one gives a large ``small -> large`` weight only if many voxels of the
   large neuron lie near the small one. Use ``symmetric=True`` for the undirected contact
   (``w_ij = w_ji = w_ij + w_ji``) when direction is meaningless for your data.

Example::

    >>> import numpy as np
    >>> volume = np.zeros((1, 1, 6), dtype=np.int32)
    >>> volume[0, 0, :3] = 1; volume[0, 0, 3:] = 2
    >>> contact_graph(volume, tolerance=1.0).dense().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from wakeword.connectome.graph import Connectome, NeuronTable
from wakeword.errors import ConfigError, ConnectomeError

logger = logging.getLogger(__name__)

__all__ = ["ball", "contact_graph", "segment_probability"]


def _voxel_size(voxel_size: Sequence[float] | np.ndarray) -> np.ndarray:
    size = np.asarray(voxel_size, dtype=np.float64)
    if size.shape != (3,) or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ConfigError(f"voxel_size must be three positive numbers, got {tuple(voxel_size)}")
    return size


def ball(
    radius: float, voxel_size: Sequence[float] | np.ndarray = (1.0, 1.0, 1.0)
) -> np.ndarray:
    """Boolean structuring element: voxels whose centre is within ``radius`` of the centre.

    ``radius`` is in the units of ``voxel_size`` (voxels by default).
    """
    if not np.isfinite(radius) or radius < 0:
        raise ConfigError(f"tolerance radius must be >= 0, got {radius}")
    size = _voxel_size(voxel_size)
    half = np.floor(radius / size).astype(int)
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    distance2 = sum((g * s) ** 2 for g, s in zip(grids, size, strict=True))
    return np.asarray(distance2 <= radius**2 + 1e-9, dtype=bool)


def contact_graph(
    labels: np.ndarray,
    *,
    tolerance: float,
    voxel_size: Sequence[float] = (1.0, 1.0, 1.0),
    symmetric: bool = False,
) -> Connectome:
    """Weighted directed contact graph of a 3-D label volume (see the module docstring).

    Args:
        labels: ``(Z, Y, X)`` integer volume; ``0`` is background, each other value a neuron.
        tolerance: dilation radius in the units of ``voxel_size`` (``0`` counts only
            voxels shared with the body itself, which never happens between two labels).
        voxel_size: physical size of a voxel along each axis (e.g. ``(40, 4, 4)`` nm).
        symmetric: replace both directions by their sum.

    Returns:
        A :class:`Connectome` with one node per label, in increasing label order; node ids
        are the label values and positions the body centroids (voxel index x ``voxel_size``).
    """
    volume = np.asarray(labels)
    if volume.ndim != 3 or not np.issubdtype(volume.dtype, np.integer):
        raise ConnectomeError(
            f"label volume must be a 3-D integer array, got shape {volume.shape} and dtype "
            f"{volume.dtype}; run segment_probability first for probability maps"
        )
    if np.any(volume < 0):
        raise ConnectomeError("label volume has negative labels; use 0 for background")
    size = _voxel_size(voxel_size)
    structure = ball(tolerance, size)
    ids = np.unique(volume)
    ids = ids[ids != 0]
    if ids.size == 0:
        raise ConnectomeError("label volume has no neurons (all voxels are 0)")
    index_of = {int(label): k for k, label in enumerate(ids)}
    reach = np.asarray(structure.shape) // 2
    boxes = ndimage.find_objects(volume)
    pre: list[int] = []
    post: list[int] = []
    weight: list[float] = []
    for label in ids:
        box = boxes[int(label) - 1]
        if box is None:  # pragma: no cover - unique() only lists present labels
            continue
        window = tuple(
            slice(max(s.start - r, 0), min(s.stop + r, n))
            for s, r, n in zip(box, reach, volume.shape, strict=True)
        )
        local = volume[window]
        body = local == label
        region = ndimage.binary_dilation(body, structure=structure) if tolerance > 0 else body
        touched, counts = np.unique(local[region], return_counts=True)
        for other, count in zip(touched, counts, strict=True):
            if other == 0 or other == label:
                continue
            pre.append(index_of[int(label)])
            post.append(index_of[int(other)])
            weight.append(float(count))
    pre_a = np.asarray(pre, dtype=np.int64)
    post_a = np.asarray(post, dtype=np.int64)
    weight_a = np.asarray(weight, dtype=np.float64)
    if symmetric and pre_a.size:
        n = ids.size
        matrix = np.zeros((n, n))
        matrix[pre_a, post_a] = weight_a
        matrix = matrix + matrix.T
        pre_a, post_a = np.nonzero(matrix)
        weight_a = matrix[pre_a, post_a]
    centroids = np.asarray(
        ndimage.center_of_mass(np.ones(volume.shape), volume, ids), dtype=np.float64
    ).reshape(-1, 3) * size
    table = NeuronTable(
        ids=ids.astype(np.int64),
        population=np.full(ids.size, "", dtype=str),
        cell_type=np.full(ids.size, "", dtype=str),
        side=np.full(ids.size, "", dtype=str),
        transmitter=np.full(ids.size, "", dtype=str),
        polarity=np.ones(ids.size, dtype=np.int8),
        xyz_nm=centroids,
    )
    logger.debug("contact graph: %d neurons, %d contacts", ids.size, pre_a.size)
    return Connectome.from_edges(
        n_neurons=int(ids.size),
        pre=pre_a,
        post=post_a,
        weight=weight_a,
        neurons=table,
        source={"format": "label_volume", "tolerance": float(tolerance),
                "voxel_size": [float(v) for v in size], "symmetric": bool(symmetric)},
    )


def segment_probability(
    probability: np.ndarray,
    *,
    sigma: float,
    threshold: float,
    connectivity: int = 1,
    min_voxels: int = 1,
) -> np.ndarray:
    """Label volume from a 3-D probability map: smooth, threshold, connected components.

    Args:
        probability: ``(Z, Y, X)`` values (typically in ``[0, 1]``).
        sigma: Gaussian smoothing width in voxels (``0`` disables smoothing).
        threshold: voxels whose smoothed value is ``> threshold`` are foreground.
        connectivity: ``1`` face (6-neighbour), ``2`` edge (18) or ``3`` corner (26).
        min_voxels: components smaller than this are dropped.

    Returns:
        ``int32`` label volume; ``0`` background, components ``1..L`` in raster order.
    """
    volume = np.asarray(probability, dtype=np.float64)
    if volume.ndim != 3:
        raise ConnectomeError(f"probability map must be 3-D, got shape {volume.shape}")
    if not np.all(np.isfinite(volume)):
        raise ConnectomeError("probability map has NaN or infinite values; clean them first")
    if sigma < 0:
        raise ConfigError(f"sigma must be >= 0 voxels, got {sigma}")
    if connectivity not in (1, 2, 3):
        raise ConfigError(f"connectivity must be 1, 2 or 3, got {connectivity}")
    if min_voxels < 1:
        raise ConfigError(f"min_voxels must be >= 1, got {min_voxels}")
    smoothed = ndimage.gaussian_filter(volume, sigma) if sigma > 0 else volume
    mask = smoothed > threshold
    structure = ndimage.generate_binary_structure(3, connectivity)
    labels, count = ndimage.label(mask, structure=structure)
    if count and min_voxels > 1:
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        keep = sizes >= min_voxels
        keep[0] = False
        renumber = np.zeros(count + 1, dtype=np.int64)
        renumber[keep] = np.arange(1, int(keep.sum()) + 1)
        labels = renumber[labels]
    return np.asarray(labels, dtype=np.int32)
