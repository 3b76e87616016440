"""The in-memory connectome: a weighted directed graph plus a per-neuron table.

Neurons are nodes ``0 .. N-1``; a synapse bundle ``pre -> post`` is one directed edge whose
weight is its synapse count (``float64``, always ``> 0`` for a stored edge). Each edge also
carries a sign (``+1`` excitatory, ``-1`` inhibitory, ``0`` unknown); the *signed view*
multiplies weights by signs. Row ``i`` of the adjacency matrix lists neuron ``i``'s outgoing
synapses, column ``j`` neuron ``j``'s incoming synapses.

Everything is immutable: transforms and selections return new :class:`Connectome` objects.

Example::

    >>> import numpy as np
    >>> g = Connectome.from_dense(np.array([[0, 2, 0], [0, 0, -3], [1, 0, 0]]))
    >>> g.n_neurons, g.n_edges
    (3, 3)
    >>> g.dense(signed=True)[1, 2]
    -3.0
    >>> g.subgraph([1, 2]).dense().tolist()
    [[0.0, 3.0], [0.0, 0.0]]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import sparse

from wakeword.errors import ConnectomeError

logger = logging.getLogger(__name__)

__all__ = ["Connectome", "NeuronTable", "dale_polarity"]

_TEXT_COLUMNS = ("population", "cell_type", "side", "transmitter")


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, kw_only=True)
class NeuronTable:
    """One row per neuron; every column is a numpy array of length ``N``.

    Attributes:
        ids: ``int64`` neuron identifiers (FlyWire root ids, labels or node indices).
        population: population / class name (``""`` when unknown).
        cell_type: cell type (``""`` when unknown).
        side: ``"left"``, ``"right"``, ``"center"`` or ``""``.
        transmitter: predicted neurotransmitter (``""`` when unknown).
        polarity: ``int8`` modeled sign of the neuron's outgoing synapses: ``+1``, ``-1``, ``0``.
        xyz_nm: ``float64`` ``(N, 3)`` positions in nanometres; ``NaN`` when unknown.
    """

    ids: np.ndarray
    population: np.ndarray
    cell_type: np.ndarray
    side: np.ndarray
    transmitter: np.ndarray
    polarity: np.ndarray
    xyz_nm: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids)
        if ids.ndim != 1:
            raise ConnectomeError(f"neuron table: ids must be 1-D, got shape {ids.shape}")
        n = ids.shape[0]
        if not np.issubdtype(ids.dtype, np.integer):
            raise ConnectomeError(f"neuron table: ids must be integers, got dtype {ids.dtype}")
        object.__setattr__(self, "ids", _readonly(ids.astype(np.int64)))
        for name in _TEXT_COLUMNS:
            column = np.asarray(getattr(self, name)).astype(str)
            if column.shape != (n,):
                raise ConnectomeError(
                    f"neuron table: column '{name}' has shape {column.shape}, expected ({n},)"
                )
            object.__setattr__(self, name, _readonly(column))
        polarity = np.asarray(self.polarity)
        if polarity.shape != (n,) or not np.isin(polarity, (-1, 0, 1)).all():
            raise ConnectomeError(
                f"neuron table: 'polarity' must be {n} values in {{-1, 0, 1}}, "
                f"got shape {polarity.shape}"
            )
        object.__setattr__(self, "polarity", _readonly(polarity.astype(np.int8)))
        xyz = np.asarray(self.xyz_nm, dtype=np.float64)
        if xyz.shape != (n, 3):
            raise ConnectomeError(f"neuron table: xyz_nm has shape {xyz.shape}, expected ({n}, 3)")
        object.__setattr__(self, "xyz_nm", _readonly(xyz))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def plain(cls, n: int, *, polarity: np.ndarray | None = None) -> NeuronTable:
        """A table for an anonymous graph: ids ``0..n-1``, no annotations, unknown positions."""
        empty = np.full(n, "", dtype=str)
        return cls(
            ids=np.arange(n, dtype=np.int64),
            population=empty,
            cell_type=empty,
            side=empty,
            transmitter=empty,
            polarity=np.ones(n, dtype=np.int8) if polarity is None else polarity,
            xyz_nm=np.full((n, 3), np.nan),
        )

    def take(self, indices: np.ndarray) -> NeuronTable:
        """The rows ``indices`` (in that order) as a new table."""
        return NeuronTable(
            ids=self.ids[indices],
            population=self.population[indices],
            cell_type=self.cell_type[indices],
            side=self.side[indices],
            transmitter=self.transmitter[indices],
            polarity=self.polarity[indices],
            xyz_nm=self.xyz_nm[indices],
        )

    def describe(self, index: int) -> str:
        """A short human name for neuron ``index``, used in error messages."""
        label = self.population[index] or self.cell_type[index]
        return f"neuron {int(self.ids[index])} ({label + ', ' if label else ''}node {index})"


def _canonical_edges(
    n: int, pre: np.ndarray, post: np.ndarray, weight: np.ndarray, sign: np.ndarray
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """CSR adjacency with sorted indices plus the sign array aligned with ``adjacency.data``."""
    pre = np.asarray(pre, dtype=np.int64)
    post = np.asarray(post, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    sign = np.asarray(sign, dtype=np.int8)
    keep = weight > 0
    pre, post, weight, sign = pre[keep], post[keep], weight[keep], sign[keep]
    order = np.lexsort((post, pre))
    pre, post, weight, sign = pre[order], post[order], weight[order], sign[order]
    if pre.size and np.any((np.diff(pre) == 0) & (np.diff(post) == 0)):
        raise ConnectomeError("duplicate edge: each (pre, post) pair may appear only once")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=n), out=indptr[1:])
    adjacency = sparse.csr_matrix((weight, post, indptr), shape=(n, n))
    adjacency.has_sorted_indices = True
    return adjacency, sign


@dataclass(frozen=True, kw_only=True)
class Connectome:
    """A weighted directed graph of neurons.

    Attributes:
        adjacency: ``(N, N)`` CSR matrix of synapse counts (``float64``, stored entries ``> 0``,
            sorted indices). ``adjacency[i, j]`` is the weight of ``i -> j``.
        edge_sign: ``int8`` signs aligned with ``adjacency.data``: ``+1``, ``-1`` or ``0``.
        neurons: the per-neuron table (``N`` rows).
        signed: which view :attr:`matrix` and :meth:`dense` return by default.
        source: provenance (file names with their sha256, folder name...), copied into kernel
            banks.
        attribution: licence / credit text that must travel with derived data.
    """

    adjacency: sparse.csr_matrix
    edge_sign: np.ndarray
    neurons: NeuronTable
    signed: bool = False
    source: Mapping[str, Any] = field(default_factory=dict)
    attribution: str = ""

    def __post_init__(self) -> None:
        adjacency = self.adjacency
        if not sparse.issparse(adjacency) or adjacency.format != "csr":
            raise ConnectomeError("adjacency must be a scipy.sparse CSR matrix")
        n = len(self.neurons)
        if adjacency.shape != (n, n):
            raise ConnectomeError(
                f"adjacency has shape {adjacency.shape} but the neuron table has {n} rows; "
                "they must describe the same neurons"
            )
        data = adjacency.data
        if not np.all(np.isfinite(data)) or np.any(data <= 0):
            raise ConnectomeError(
                "adjacency weights must be finite and > 0 (a zero weight is a missing edge; "
                "put inhibition in edge_sign)"
            )
        if not adjacency.has_canonical_format:
            raise ConnectomeError("adjacency must be canonical CSR (sorted, no duplicates)")
        sign = np.asarray(self.edge_sign)
        if sign.shape != data.shape or not np.isin(sign, (-1, 0, 1)).all():
            raise ConnectomeError(
                f"edge_sign must hold {data.shape[0]} values in {{-1, 0, 1}} aligned with "
                f"adjacency.data, got shape {sign.shape}"
            )
        object.__setattr__(self, "edge_sign", _readonly(sign.astype(np.int8)))
        object.__setattr__(self, "source", dict(self.source))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_edges(
        cls,
        *,
        n_neurons: int,
        pre: Sequence[int] | np.ndarray,
        post: Sequence[int] | np.ndarray,
        weight: Sequence[float] | np.ndarray,
        sign: Sequence[int] | np.ndarray | None = None,
        neurons: NeuronTable | None = None,
        signed: bool = False,
        source: Mapping[str, Any] | None = None,
        attribution: str = "",
    ) -> Connectome:
        """Build from edge arrays. Edges with weight ``<= 0`` are dropped.

        ``sign`` defaults to the presynaptic neuron's polarity (``+1`` for a plain table).
        """
        table = neurons if neurons is not None else NeuronTable.plain(n_neurons)
        pre_a = np.asarray(pre, dtype=np.int64)
        post_a = np.asarray(post, dtype=np.int64)
        weight_a = np.asarray(weight, dtype=np.float64)
        if not (pre_a.shape == post_a.shape == weight_a.shape) or pre_a.ndim != 1:
            raise ConnectomeError("pre, post and weight must be 1-D arrays of the same length")
        for name, values in (("pre", pre_a), ("post", post_a)):
            bad = (values < 0) | (values >= n_neurons)
            if bad.any():
                raise ConnectomeError(
                    f"{name} index {int(values[bad][0])} is outside 0..{n_neurons - 1}"
                )
        sign_a = table.polarity[pre_a] if sign is None else np.asarray(sign, dtype=np.int8)
        adjacency, edge_sign = _canonical_edges(n_neurons, pre_a, post_a, weight_a, sign_a)
        return cls(
            adjacency=adjacency,
            edge_sign=edge_sign,
            neurons=table,
            signed=signed,
            source=dict(source or {}),
            attribution=attribution,
        )

    @classmethod
    def from_dense(
        cls,
        matrix: np.ndarray,
        *,
        neurons: NeuronTable | None = None,
        signed: bool | None = None,
        source: Mapping[str, Any] | None = None,
    ) -> Connectome:
        """Build from a square matrix; negative entries become weight ``|w|`` with sign ``-1``.

        ``signed`` defaults to ``True`` exactly when the matrix has a negative entry.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ConnectomeError(f"adjacency matrix must be square, got shape {matrix.shape}")
        pre, post = np.nonzero(matrix)
        values = matrix[pre, post]
        has_negative = bool(np.any(values < 0))
        table = neurons
        if table is None:
            table = NeuronTable.plain(matrix.shape[0], polarity=dale_polarity(
                matrix.shape[0], pre, np.sign(values).astype(np.int8)))
        return cls.from_edges(
            n_neurons=matrix.shape[0],
            pre=pre,
            post=post,
            weight=np.abs(values),
            sign=np.sign(values).astype(np.int8),
            neurons=table,
            signed=has_negative if signed is None else signed,
            source=source,
        )

    # ------------------------------------------------------------------ views
    @property
    def n_neurons(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.adjacency.nnz)

    @property
    def total_weight(self) -> float:
        return float(self.adjacency.data.sum())

    @property
    def signed_adjacency(self) -> sparse.csr_matrix:
        """CSR matrix of ``weight x sign`` (edges of sign 0 are kept as explicit zeros)."""
        return sparse.csr_matrix(
            (self.adjacency.data * self.edge_sign, self.adjacency.indices, self.adjacency.indptr),
            shape=self.adjacency.shape,
        )

    @property
    def matrix(self) -> sparse.csr_matrix:
        """The default view: :attr:`signed_adjacency` if :attr:`signed` else :attr:`adjacency`."""
        return self.signed_adjacency if self.signed else self.adjacency

    def dense(self, *, signed: bool | None = None) -> np.ndarray:
        """The ``(N, N)`` ``float64`` matrix; ``signed`` defaults to :attr:`signed`."""
        use_signed = self.signed if signed is None else signed
        view = self.signed_adjacency if use_signed else self.adjacency
        return np.asarray(view.toarray(), dtype=np.float64)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(pre, post, weight, sign)`` arrays in row-major order."""
        counts = np.diff(self.adjacency.indptr)
        pre = np.repeat(np.arange(self.n_neurons, dtype=np.int64), counts)
        return (
            pre,
            self.adjacency.indices.astype(np.int64),
            self.adjacency.data.copy(),
            self.edge_sign.copy(),
        )

    def with_signed(self, signed: bool) -> Connectome:
        """The same graph whose default view is signed (``True``) or unsigned (``False``)."""
        return replace(self, signed=signed)

    def with_edges(
        self, pre: np.ndarray, post: np.ndarray, weight: np.ndarray, sign: np.ndarray
    ) -> Connectome:
        """The same neurons and metadata with a new edge set (weights ``<= 0`` dropped)."""
        return Connectome.from_edges(
            n_neurons=self.n_neurons,
            pre=pre,
            post=post,
            weight=weight,
            sign=sign,
            neurons=self.neurons,
            signed=self.signed,
            source=self.source,
            attribution=self.attribution,
        )

    def subgraph(self, indices: Sequence[int] | np.ndarray) -> Connectome:
        """The induced sub-graph on ``indices`` (in that order), keeping weights, signs and rows.

        Node ``k`` of the result is node ``indices[k]`` of this graph.
        """
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ConnectomeError("subgraph indices must be a 1-D sequence of integers")
        idx = idx.astype(np.int64)
        bad = (idx < 0) | (idx >= self.n_neurons)
        if bad.any():
            raise ConnectomeError(
                f"subgraph index {int(idx[bad][0])} is outside 0..{self.n_neurons - 1}"
            )
        if np.unique(idx).size != idx.size:
            raise ConnectomeError("subgraph indices must be unique")
        new_of_old = np.full(self.n_neurons, -1, dtype=np.int64)
        new_of_old[idx] = np.arange(idx.size)
        pre, post, weight, sign = self.edges()
        keep = (new_of_old[pre] >= 0) & (new_of_old[post] >= 0)
        return Connectome.from_edges(
            n_neurons=int(idx.size),
            pre=new_of_old[pre[keep]],
            post=new_of_old[post[keep]],
            weight=weight[keep],
            sign=sign[keep],
            neurons=self.neurons.take(idx),
            signed=self.signed,
            source=self.source,
            attribution=self.attribution,
        )


def dale_polarity(n: int, pre: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Per-neuron polarity: the sign all of a neuron's outgoing edges share, else 0.

    A neuron without outgoing edges gets ``+1``.
    """
    polarity = np.ones(n, dtype=np.int8)
    for neuron in np.unique(pre):
        signs = np.unique(sign[pre == neuron])
        polarity[neuron] = signs[0] if signs.size == 1 else 0
    return polarity
