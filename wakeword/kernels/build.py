"""Turn a connectome into frozen convolution kernels (:func:`build_kernels`).

A kernel is a slice of one neuron's row (outgoing synapses) or column (incoming synapses) of
the adjacency matrix; several neurons give several channels; a path of neurons from the sensory
periphery toward the brain's centre gives one kernel per time step. Kernels are never trained.

**Default recipe and why** (the shipped FlyWire auditory bank; see
:class:`~wakeword.kernels.recipe.KernelRecipe`):

* *Sub-graph*: all seven auditory populations of the FlyWire subset (731 neurons), ordered by
  population then position. No perturbation, smoothing, feature filter or nuclei step: the
  data is already a curated auditory sub-graph and every extra step is optional in the recipe.
* *Orientation and taps*: rows (a neuron's outgoing synapses). The graph is sparse (median 5
  out-edges among 731 neurons), so a slice of a row in file order would be almost all zeros.
  The tap (column) set is therefore the ``K = 9`` **most-connected targets** of the sub-graph
  (most incoming edges, ties by synapse count then position), in that rank order: 8 central
  WED/IVLP neurons (mostly the midline WV-WV commissural cells, 56-127 inputs each) and 1
  AMMC-B1 neuron. A neuron's kernel is its synapse counts onto those 9 hubs; 121 neurons of
  known polarity reach at least 3 of them (``min_nonzeros = 3``), so every kernel has several
  non-zeros. Going down the ranking (most non-zeros, then largest total weight), a kernel
  whose cosine similarity to an already kept one exceeds 0.95 is skipped (many AMMC-B1
  neurons project almost identically); 75 remain and the first 64 are kept.
* *Signed weights*: ``synapse count x modeled polarity`` of the presynaptic neuron (+1
  acetylcholine, -1 GABA/glutamate, 0 other). Because a neuron has one polarity, signing flips
  whole kernels rather than mixing signs within one, but it gives the bank excitatory *and*
  inhibitory channels, which a ReLU downstream treats differently; neurons of unknown polarity
  give all-zero kernels and are skipped.
* *Normalisation*: each kernel is divided by its L2 norm, so the frozen layer's gain stays near
  1 whatever the synapse counts (which range from 1 to hundreds); the sign is kept. Synapse
  counts are used linearly (a log transform spreads weight over more taps but makes kernels
  more alike).
* *Path*: the centre is the centroid of the central (non-JO) populations' anchor coordinates.
  The path has 8 neurons, starts at a Johnston's-organ neuron (JO-A/JO-B, the periphery), each
  consecutive pair shares a synapse in the pre -> post direction and each step is strictly
  closer to the centre. Only neurons with a kept-quality kernel may be on it (they are then
  forced into the bank). Among all such paths the strongest chain is chosen: the largest
  weakest-link synapse count, then the largest total (see :func:`find_path`).

2-D and 3-D kernels: a ``K = m*m`` kernel reshapes to ``m x m`` (:func:`kernel_2d`) and several
neurons stack to ``(C, m, m)`` (:func:`kernel_3d`); the bank itself stores 1-D kernels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from wakeword.connectome.features import compute_features
from wakeword.connectome.graph import Connectome
from wakeword.connectome.nuclei import find_nuclei, keep_nuclei, order_neurons
from wakeword.connectome.select import (
    ClassRules,
    classify,
    induced_subgraph,
    select_by_annotation,
    select_by_class,
)
from wakeword.connectome.transform import add_weight_noise, perturb, smooth
from wakeword.errors import KernelError
from wakeword.kernels.bank import KernelBank
from wakeword.kernels.recipe import KernelRecipe

logger = logging.getLogger(__name__)

__all__ = [
    "build_kernels",
    "centre_of",
    "find_path",
    "kernel_2d",
    "kernel_3d",
    "kernel_from_column",
    "kernel_from_row",
    "normalise",
    "prepare_graph",
    "rank_taps",
    "slice_kernel",
]


# ---------------------------------------------------------------------- kernel helpers
def _dense_rows(matrix: np.ndarray | sparse.spmatrix) -> np.ndarray:
    if isinstance(matrix, np.ndarray):
        return np.asarray(matrix, dtype=np.float64)
    return np.asarray(matrix.toarray(), dtype=np.float64)


def kernel_from_row(
    matrix: np.ndarray | sparse.spmatrix, neuron: int, columns: Sequence[int] | None = None
) -> np.ndarray:
    """Neuron ``neuron``'s outgoing weights, restricted to ``columns`` in that order.

    ``columns=None`` returns the whole row.
    """
    row = _dense_rows(matrix[neuron : neuron + 1]).ravel()
    return row if columns is None else row[np.asarray(columns, dtype=np.int64)]


def kernel_from_column(
    matrix: np.ndarray | sparse.spmatrix, neuron: int, rows: Sequence[int] | None = None
) -> np.ndarray:
    """Neuron ``neuron``'s incoming weights, restricted to ``rows`` in that order.

    ``rows=None`` returns the whole column.
    """
    column = _dense_rows(matrix[:, neuron : neuron + 1]).ravel()
    return column if rows is None else column[np.asarray(rows, dtype=np.int64)]


def slice_kernel(
    vector: np.ndarray, *, size: int, mode: str = "first", step: int = 1
) -> np.ndarray:
    """The first ``size`` entries (``mode="first"``) or every ``step``-th entry (``"every"``)."""
    vector = np.asarray(vector)
    if mode == "first":
        picked = vector[:size]
    elif mode == "every":
        if step < 1:
            raise KernelError(f"slice step must be >= 1, got {step}")
        picked = vector[::step][:size]
    else:
        raise KernelError(f"slice mode must be 'first' or 'every', got {mode!r}")
    if picked.shape[0] < size:
        raise KernelError(
            f"a vector of {vector.shape[0]} entries gives only {picked.shape[0]} taps with "
            f"mode={mode!r}, step={step}; {size} are needed: lower kernel_size or slice_step"
        )
    return picked


def kernel_2d(vector: np.ndarray, m: int) -> np.ndarray:
    """The first ``m * m`` entries reshaped to ``(m, m)`` in row-major order."""
    vector = np.asarray(vector)
    if m < 1 or vector.shape[0] < m * m:
        raise KernelError(
            f"a {m} x {m} kernel needs {m * m} entries but the vector has {vector.shape[0]}"
        )
    return vector[: m * m].reshape(m, m)


def kernel_3d(vectors: Sequence[np.ndarray] | np.ndarray, m: int) -> np.ndarray:
    """Several neurons' vectors, each reshaped by :func:`kernel_2d`, stacked to ``(C, m, m)``."""
    return np.stack([kernel_2d(v, m) for v in vectors])


def normalise(kernels: np.ndarray, mode: str) -> np.ndarray:
    """Scale each row: ``l2`` to unit Euclidean norm, ``max_abs`` to peak 1, ``none`` as is.

    Rows that are all zero are returned unchanged. Signs are kept.
    """
    kernels = np.asarray(kernels, dtype=np.float64)
    if mode == "none":
        return kernels.copy()
    if mode == "l2":
        scale = np.linalg.norm(kernels, axis=1)
    elif mode == "max_abs":
        scale = np.abs(kernels).max(axis=1)
    else:
        raise KernelError(f"normalisation must be 'l2', 'max_abs' or 'none', got {mode!r}")
    scale = np.where(scale > 0, scale, 1.0)
    return kernels / scale[:, None]


def rank_taps(connectome: Connectome, *, orientation: str, rule: str) -> np.ndarray:
    """All neurons ordered as kernel taps (best first).

    ``degree``: most edges along the kernel axis (incoming edges for row kernels, outgoing for
    column kernels), ties by synapse count then position; ``weight``: synapse count first;
    ``index``: node order. Counts use the unsigned graph.
    """
    adjacency = connectome.adjacency
    axis = 0 if orientation == "row" else 1
    degree = np.asarray((adjacency != 0).sum(axis=axis)).ravel()
    weight = np.asarray(adjacency.sum(axis=axis)).ravel()
    index = np.arange(connectome.n_neurons)
    if rule == "index":
        return index.astype(np.int64)
    if rule == "degree":
        return np.lexsort((index, -weight, -degree)).astype(np.int64)
    if rule == "weight":
        return np.lexsort((index, -degree, -weight)).astype(np.int64)
    raise KernelError(f"tap rule must be 'degree', 'weight' or 'index', got {rule!r}")


# ---------------------------------------------------------------------- path
def centre_of(connectome: Connectome, populations: Sequence[str]) -> np.ndarray:
    """Centroid (nm) of the neurons of ``populations`` that have coordinates."""
    table = connectome.neurons
    chosen = np.isin(table.population, tuple(populations)) & np.all(
        np.isfinite(table.xyz_nm), axis=1
    )
    if not chosen.any():
        raise KernelError(
            f"no neuron of {', '.join(repr(p) for p in populations)} has coordinates, so the "
            "brain's centre is undefined; fix path_centre_populations"
        )
    return np.asarray(table.xyz_nm[chosen].mean(axis=0), dtype=np.float64)


def find_path(
    connectome: Connectome,
    *,
    starts: Sequence[int] | np.ndarray,
    centre_nm: np.ndarray,
    length: int,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """A path of ``length`` neurons from one of ``starts`` toward ``centre_nm``.

    Each consecutive pair shares a synapse (an edge ``path[t] -> path[t + 1]``) and each step
    is strictly closer (Euclidean, nm) to ``centre_nm``. Only neurons in ``allowed`` (default:
    all with coordinates) are used. The strongest chain is returned: the largest bottleneck
    (smallest synapse count of a step) for which such a path exists, then, among paths with
    that bottleneck, the largest total synapse count (ties: the start, then each next neuron,
    with the lowest index).

    Raises:
        KernelError: naming the start neuron(s) when no path of ``length`` neurons exists.
    """
    n = connectome.n_neurons
    table = connectome.neurons
    if length < 1:
        raise KernelError(f"path length must be >= 1, got {length}")
    starts_a = np.asarray(starts, dtype=np.int64)
    if starts_a.size == 0:
        raise KernelError("find_path needs at least one start neuron")
    distance = np.linalg.norm(table.xyz_nm - np.asarray(centre_nm, dtype=np.float64), axis=1)
    ok = np.isfinite(distance)
    if allowed is not None:
        ok &= np.asarray(allowed, dtype=bool)
    pre, post, weight, _ = connectome.edges()
    step = ok[pre] & ok[post] & (distance[post] < distance[pre])
    pre, post, weight = pre[step], post[step], weight[step]
    usable = starts_a[(starts_a >= 0) & (starts_a < n)]
    usable = usable[ok[usable]]

    # The strongest chain: the largest bottleneck (smallest synapse count along the path)
    # for which a path exists, found by bisection over the distinct edge weights.
    found = _best_path(n, pre, post, weight, usable, length) if usable.size else None
    levels = np.unique(weight)
    if found is None:
        reach = _reach(n, pre, post, ok, length)
        longest = int(reach[usable].max()) if usable.size else 0
        if starts_a.size == 1:
            start = int(starts_a[0])
            who = table.describe(start) if 0 <= start < n else f"neuron {start}"
        else:
            shown = ", ".join(table.describe(int(s)) for s in usable[:3])
            more = ", ..." if usable.size > 3 else ""
            who = f"any of {starts_a.size} start neurons ({shown}{more})"
        raise KernelError(
            f"no path of {length} neurons leads from {who} toward the centre with every step "
            f"sharing a synapse and moving strictly closer; the longest has {longest} "
            "neuron(s). Lower path_length, allow more neurons (min_nonzeros) or choose other "
            "start populations"
        )
    low, high = 0, levels.size - 1  # levels[0] keeps every edge, so it is feasible
    while low < high:
        middle = (low + high + 1) // 2
        strong = weight >= levels[middle]
        candidate = _best_path(n, pre[strong], post[strong], weight[strong], usable, length)
        if candidate is None:
            high = middle - 1
        else:
            low, found = middle, candidate
    return found


def _best_path(
    n: int, pre: np.ndarray, post: np.ndarray, weight: np.ndarray, starts: np.ndarray,
    length: int,
) -> np.ndarray | None:
    """Largest-total-weight path of ``length`` nodes over the given (acyclic) edges, or None."""
    best = np.zeros(n)
    successors: list[np.ndarray] = []
    for _ in range(1, length):
        score = weight + best[post]
        valid = np.isfinite(score)
        p_valid, q_valid, s_valid = pre[valid], post[valid], score[valid]
        order = np.lexsort((q_valid, -s_valid, p_valid))
        p_sorted, q_sorted, s_sorted = p_valid[order], q_valid[order], s_valid[order]
        first = np.unique(p_sorted, return_index=True)[1]
        best = np.full(n, -np.inf)
        best[p_sorted[first]] = s_sorted[first]
        successor = np.full(n, -1, dtype=np.int64)
        successor[p_sorted[first]] = q_sorted[first]
        successors.append(successor)
    scores = best[starts]
    if not np.isfinite(scores).any():
        return None
    top = scores[np.isfinite(scores)].max()
    route = [int(starts[scores == top].min())]
    for successor in reversed(successors):
        route.append(int(successor[route[-1]]))
    return np.asarray(route, dtype=np.int64)


def _reach(n: int, pre: np.ndarray, post: np.ndarray, ok: np.ndarray, length: int) -> np.ndarray:
    """Number of nodes of the longest allowed path (capped at ``length``) from each node."""
    reach = np.where(ok, 1, 0)
    for _ in range(1, length):
        longer = np.zeros(n, dtype=np.int64)
        np.maximum.at(longer, pre, reach[post] + 1)
        reach = np.maximum(reach, longer)
    return reach


# ---------------------------------------------------------------------- pipeline
def prepare_graph(connectome: Connectome, recipe: KernelRecipe) -> Connectome:
    """Steps 1-4 of the recipe: select, order, transform, feature-filter, nuclei."""
    indices = select_by_annotation(connectome, populations=recipe.populations)
    graph = induced_subgraph(connectome, indices, rule="populations")
    graph = graph.subgraph(order_neurons(graph))
    if recipe.p_add > 0 or recipe.p_reverse > 0 or recipe.p_invert > 0:
        graph = perturb(graph, seed=recipe.seed, p_add=recipe.p_add,
                        p_reverse=recipe.p_reverse, p_invert=recipe.p_invert)
    if recipe.weight_noise_std > 0:
        graph = add_weight_noise(graph, seed=recipe.seed + 1, std=recipe.weight_noise_std)
    if recipe.smooth_sigma > 0:
        graph = smooth(graph, sigma=recipe.smooth_sigma, threshold=recipe.smooth_threshold)
    if recipe.keep_classes:
        rules = ClassRules(
            primary_percentile=recipe.primary_percentile,
            sensory_percentile=recipe.sensory_percentile,
            associative_percentile=recipe.associative_percentile,
        )
        labels = classify(compute_features(graph), rules)
        chosen = select_by_class(labels, recipe.keep_classes, rules=rules)
        graph = induced_subgraph(graph, chosen, rule=f"keep_classes={list(recipe.keep_classes)}")
    if recipe.n_nuclei > 0:
        nuclei = find_nuclei(graph, sigma=recipe.nuclei_sigma,
                             relative_threshold=recipe.nuclei_threshold)
        graph = keep_nuclei(graph, nuclei, recipe.n_nuclei)
    return graph.with_signed(recipe.signed)


def _candidate_kernels(
    graph: Connectome, recipe: KernelRecipe
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw kernels for every neuron, tap indices, and candidate neurons in rank order."""
    taps = slice_kernel(
        rank_taps(graph, orientation=recipe.orientation, rule=recipe.tap_rule),
        size=recipe.kernel_size, mode=recipe.slice_mode, step=recipe.slice_step,
    )
    matrix = graph.matrix
    if recipe.orientation == "row":
        raw = np.asarray(matrix[:, taps].toarray(), dtype=np.float64)
    else:
        raw = np.asarray(matrix[taps, :].toarray(), dtype=np.float64).T
    nonzeros = np.count_nonzero(raw, axis=1)
    magnitude = np.abs(raw).sum(axis=1)
    index = np.arange(graph.n_neurons)
    if recipe.rank_by == "nonzeros":
        order = np.lexsort((index, -magnitude, -nonzeros))
    else:
        order = np.lexsort((index, -nonzeros, -magnitude))
    order = order[nonzeros[order] >= recipe.min_nonzeros]
    scaled = normalise(raw, recipe.normalisation).astype(np.float32)
    unit = normalise(raw, "l2")
    seen: set[bytes] = set()
    ranked: list[int] = []
    for neuron in order:
        key = scaled[neuron].tobytes()
        similar = bool(ranked) and float((unit[ranked] @ unit[neuron]).max()) > recipe.max_cosine
        if key in seen or similar:
            logger.debug("skipping %s: its kernel repeats a higher-ranked one (cosine > %g)",
                         graph.neurons.describe(int(neuron)), recipe.max_cosine)
            continue
        seen.add(key)
        ranked.append(int(neuron))
    return raw, taps, np.asarray(ranked, dtype=np.int64)


def build_kernels(connectome: Connectome, recipe: KernelRecipe | None = None) -> KernelBank:
    """Build the :class:`KernelBank` that ``recipe`` (default: the shipped one) describes.

    Raises:
        KernelError: when the graph cannot supply ``n_kernels`` valid distinct kernels or the
            path cannot be found.
        ConnectomeError: when a selection step keeps no neurons.
    """
    recipe = recipe or KernelRecipe()
    graph = prepare_graph(connectome, recipe)
    raw, taps, ranked = _candidate_kernels(graph, recipe)
    if ranked.size < recipe.n_kernels:
        raise KernelError(
            f"only {ranked.size} neurons have distinct kernels with at least "
            f"{recipe.min_nonzeros} non-zero taps of {recipe.kernel_size}, but n_kernels is "
            f"{recipe.n_kernels}; lower n_kernels or min_nonzeros, or use tap_rule='degree' / "
            "a larger sub-graph"
        )
    is_candidate = np.zeros(graph.n_neurons, dtype=bool)
    is_candidate[ranked] = True
    starts = np.nonzero(
        np.isin(graph.neurons.population, recipe.path_start_populations) & is_candidate
    )[0]
    if starts.size == 0:
        raise KernelError(
            f"no neuron of {', '.join(recipe.path_start_populations)} has a valid kernel "
            f"(>= {recipe.min_nonzeros} non-zero taps), so no path can start; lower "
            "min_nonzeros or change path_start_populations"
        )
    centre = centre_of(graph, recipe.path_centre_populations)
    route = find_path(graph, starts=starts, centre_nm=centre, length=recipe.path_length,
                      allowed=is_candidate)
    chosen = set(route.tolist())
    for neuron in ranked:
        if len(chosen) >= recipe.n_kernels:
            break
        chosen.add(int(neuron))
    bank_nodes = np.asarray([n for n in ranked if n in chosen], dtype=np.int64)
    row_of = {int(node): k for k, node in enumerate(bank_nodes)}
    kernels = normalise(raw[bank_nodes], recipe.normalisation).astype(np.float32)
    source = dict(connectome.source)
    source.update({
        "neurons": connectome.n_neurons,
        "edges": connectome.n_edges,
        "synapses": connectome.total_weight,
        "subgraph_neurons": graph.n_neurons,
        "subgraph_edges": graph.n_edges,
        "tap_neuron_ids": [int(v) for v in graph.neurons.ids[taps]],
        "centre_nm": [round(float(v), 3) for v in centre],
    })
    bank = KernelBank(
        kernels=kernels,
        neuron_ids=graph.neurons.ids[bank_nodes],
        path=np.asarray([row_of[int(v)] for v in route], dtype=np.int64),
        recipe=recipe,
        source=source,
        attribution=connectome.attribution,
    )
    logger.info(
        "built %d kernels of %d taps from %d candidates; path of %d neurons",
        bank.n_kernels, bank.kernel_size, ranked.size, bank.path.size,
    )
    return bank
