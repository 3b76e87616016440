"""Kernel helpers, the periphery -> centre path and build_kernels on a hand-made graph."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import sparse

from wakeword.connectome.graph import Connectome, NeuronTable
from wakeword.errors import KernelError
from wakeword.kernels.build import (
    build_kernels,
    find_path,
    kernel_2d,
    kernel_3d,
    kernel_from_column,
    kernel_from_row,
    normalise,
    rank_taps,
    slice_kernel,
)
from wakeword.kernels.recipe import KernelRecipe

M = np.arange(1, 25, dtype=float).reshape(4, 6)

# Six neurons on the x axis: two sensory ("S") far out, four central ("C") whose centroid is
# x = 2.5. Distances to it: n0 7.5, n1 6.5, n2 3.5, n3 1.5, n4 0.5, n5 4.5.
X = [10.0, 9.0, 6.0, 4.0, 2.0, -2.0]
EDGES = {
    (0, 2): 5, (0, 3): 1, (0, 4): 2,
    (1, 2): 3, (1, 3): 4, (1, 5): 1,
    (2, 3): 6, (2, 4): 1, (2, 5): 2,
    (3, 4): 7, (3, 2): 1, (3, 5): 3,
    (4, 5): 2, (4, 2): 1, (4, 3): 1,
    (5, 0): 1,
}


def small_graph(polarity: list[int] | None = None) -> Connectome:
    plain = NeuronTable.plain(6)
    table = NeuronTable(
        ids=np.arange(100, 106), population=np.array(["S", "S", "C", "C", "C", "C"]),
        cell_type=plain.cell_type, side=plain.side, transmitter=plain.transmitter,
        polarity=np.array(polarity or [1] * 6),
        xyz_nm=np.column_stack([X, np.zeros(6), np.zeros(6)]),
    )
    pre, post = zip(*EDGES, strict=False)
    return Connectome.from_edges(n_neurons=6, pre=pre, post=post,
                                 weight=list(EDGES.values()), neurons=table)


def small_recipe(**changes: object) -> KernelRecipe:
    values: dict[str, object] = {
        "populations": ("C", "S"), "signed": False, "kernel_size": 3, "min_nonzeros": 2,
        "max_cosine": 1.0,
        "n_kernels": 5, "path_start_populations": ("S",), "path_centre_populations": ("C",),
        "path_length": 4,
    }
    values.update(changes)
    return KernelRecipe(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------- helpers
def test_a_row_kernel_is_the_slice_of_row_k():
    for matrix in (M, sparse.csr_matrix(M)):
        np.testing.assert_array_equal(kernel_from_row(matrix, 2), M[2])
        np.testing.assert_array_equal(kernel_from_row(matrix, 2, [0, 1, 2]), M[2, :3])
        np.testing.assert_array_equal(kernel_from_row(matrix, 1, [5, 0]), [M[1, 5], M[1, 0]])
    np.testing.assert_array_equal(slice_kernel(M[2], size=3), M[2, :3])
    np.testing.assert_array_equal(slice_kernel(M[2], size=3, mode="every", step=2),
                                  M[2, [0, 2, 4]])


def test_a_column_kernel_is_the_slice_of_column_k():
    for matrix in (M, sparse.csc_matrix(M)):
        np.testing.assert_array_equal(kernel_from_column(matrix, 1), M[:, 1])
        np.testing.assert_array_equal(kernel_from_column(matrix, 4, [3, 0]), [M[3, 4], M[0, 4]])


def test_two_and_three_dimensional_kernels_reshape_row_major():
    np.testing.assert_array_equal(kernel_2d(np.arange(10), 3), np.arange(9).reshape(3, 3))
    stacked = kernel_3d([M[0], M[1]], 2)
    assert stacked.shape == (2, 2, 2)
    np.testing.assert_array_equal(stacked[1], [[7, 8], [9, 10]])
    with pytest.raises(KernelError, match="3 x 3 kernel needs 9 entries"):
        kernel_2d(np.arange(5), 3)


def test_a_slice_that_is_too_short_says_what_to_lower():
    with pytest.raises(KernelError, match=r"gives only 3 taps.*lower kernel_size or slice_step"):
        slice_kernel(np.arange(6), size=4, mode="every", step=2)


def test_normalise_scales_rows_and_keeps_signs():
    kernels = np.array([[3.0, -4.0], [0.0, 0.0], [-2.0, 1.0]])
    l2 = normalise(kernels, "l2")
    np.testing.assert_allclose(l2, [[0.6, -0.8], [0, 0], [-2 / 5**0.5, 1 / 5**0.5]])
    np.testing.assert_allclose(normalise(kernels, "max_abs"), [[0.75, -1], [0, 0], [-1, 0.5]])
    np.testing.assert_array_equal(normalise(kernels, "none"), kernels)


def test_taps_rank_by_incoming_edges_then_synapses():
    # in-degree: n2, n3, n5 have 4 (in-weight 10, 12, 8), n4 3, n0 1, n1 0
    np.testing.assert_array_equal(
        rank_taps(small_graph(), orientation="row", rule="degree"), [3, 2, 5, 4, 0, 1])
    np.testing.assert_array_equal(
        rank_taps(small_graph(), orientation="row", rule="weight"), [3, 2, 4, 5, 0, 1])


# ---------------------------------------------------------------- path
def assert_valid_path(graph: Connectome, path: np.ndarray, centre: np.ndarray) -> None:
    dense = graph.dense(signed=False)
    distance = np.linalg.norm(graph.neurons.xyz_nm - centre, axis=1)
    for a, b in itertools.pairwise(path):
        assert dense[a, b] > 0, f"{a} -> {b} shares no synapse"
        assert distance[b] < distance[a], f"{a} -> {b} does not move closer"


def test_path_steps_share_a_synapse_and_move_strictly_closer():
    graph = small_graph()
    centre = np.array([2.5, 0.0, 0.0])
    path = find_path(graph, starts=[0, 1], centre_nm=centre, length=4)
    np.testing.assert_array_equal(path, [0, 2, 3, 4])
    assert_valid_path(graph, path, centre)
    np.testing.assert_array_equal(find_path(graph, starts=[1], centre_nm=centre, length=4),
                                  [1, 2, 3, 4])


def test_path_prefers_the_strongest_weakest_link():
    plain = NeuronTable.plain(5)
    table = NeuronTable(ids=plain.ids, population=plain.population, cell_type=plain.cell_type,
                        side=plain.side, transmitter=plain.transmitter, polarity=plain.polarity,
                        xyz_nm=np.column_stack([[4, 3, 2.5, 1, 0], np.zeros(5), np.zeros(5)]))
    graph = Connectome.from_edges(n_neurons=5, pre=[0, 1, 0, 2], post=[1, 3, 2, 3],
                                  weight=[100, 1, 5, 5], neurons=table)
    # 0 -> 1 -> 3 has more synapses in total (101) but a 1-synapse link; 0 -> 2 -> 3 wins
    np.testing.assert_array_equal(find_path(graph, starts=[0], centre_nm=np.zeros(3), length=3),
                                  [0, 2, 3])


def test_no_path_names_the_start_neuron():
    graph = small_graph()
    with pytest.raises(KernelError, match=r"no path of 2 neurons leads from neuron 105 \(C, "
                                          r"node 5\).*the longest has 1 neuron"):
        find_path(graph, starts=[5], centre_nm=np.array([2.5, 0, 0]), length=2)
    with pytest.raises(KernelError, match=r"neuron 100 .*the longest has 4 neuron"):
        find_path(graph, starts=[0], centre_nm=np.array([2.5, 0, 0]), length=5)


# ---------------------------------------------------------------- build_kernels
def test_build_kernels_gives_the_hand_computed_bank():
    bank = build_kernels(small_graph(), small_recipe())
    # taps: n3, n2, n5. Raw rows: n1 [4,3,1], n4 [1,1,2], n2 [6,0,2], n0 [1,5,0], n3 [0,1,3];
    # ranked by non-zeros, then total synapses.
    raw = np.array([[4, 3, 1], [1, 1, 2], [6, 0, 2], [1, 5, 0], [0, 1, 3]], dtype=float)
    np.testing.assert_array_equal(bank.neuron_ids, [101, 104, 102, 100, 103])
    np.testing.assert_allclose(bank.kernels, raw / np.linalg.norm(raw, axis=1, keepdims=True),
                               rtol=1e-6)
    assert bank.kernels.dtype == np.float32
    np.testing.assert_array_equal(bank.neuron_ids[bank.path], [100, 102, 103, 104])
    np.testing.assert_array_equal(bank.path, [3, 2, 4, 1])
    assert bank.source["tap_neuron_ids"] == [103, 102, 105]
    assert bank.source["centre_nm"] == [2.5, 0.0, 0.0]


def test_each_kernel_equals_its_neurons_row_restricted_to_the_taps():
    graph = small_graph()
    bank = build_kernels(graph, small_recipe(normalisation="none"))
    taps = [3, 2, 5]
    for row, neuron_id in enumerate(bank.neuron_ids):
        neuron = int(neuron_id) - 100
        np.testing.assert_array_equal(bank.kernels[row], kernel_from_row(graph.adjacency,
                                                                         neuron, taps))


def test_column_kernels_use_incoming_synapses():
    graph = small_graph()
    bank = build_kernels(graph, small_recipe(orientation="column", normalisation="none",
                                             min_nonzeros=1, n_kernels=4, path_length=2,
                                             path_start_populations=("C",)))
    # out-degree 3 for n0..n4; out-weight n3 11, n2 9, then n0 and n1 tie at 8 and the
    # population/position order (n1 at x=9 before n0 at x=10) breaks the tie
    taps = [3, 2, 1]
    assert bank.source["tap_neuron_ids"] == [103, 102, 101]
    for row, neuron_id in enumerate(bank.neuron_ids):
        np.testing.assert_array_equal(
            bank.kernels[row], kernel_from_column(graph.adjacency, int(neuron_id) - 100, taps))


def test_path_neurons_are_kept_even_when_they_rank_low():
    bank = build_kernels(small_graph(), small_recipe(n_kernels=4))
    np.testing.assert_array_equal(bank.neuron_ids, [104, 102, 100, 103])  # n1 ranks first
    np.testing.assert_array_equal(bank.neuron_ids[bank.path], [100, 102, 103, 104])


def test_signed_kernels_carry_the_presynaptic_polarity():
    bank = build_kernels(small_graph(polarity=[1, 1, -1, 1, 1, 1]),
                         small_recipe(signed=True, normalisation="none"))
    np.testing.assert_array_equal(bank.kernels[list(bank.neuron_ids).index(102)], [-6, 0, -2])


def test_near_duplicates_are_dropped_and_too_few_kernels_is_explained():
    # cos(n4, n3) = 0.904: with max_cosine 0.9, n3 goes and only four kernels remain
    with pytest.raises(KernelError, match=r"only 4 neurons have distinct kernels.*lower "
                                          r"n_kernels or min_nonzeros"):
        build_kernels(small_graph(), small_recipe(max_cosine=0.9))
    with pytest.raises(KernelError, match=r"no path of 4 neurons leads from any of 2 start "
                                          r"neurons \(neuron 101 \(S, node 4\)"):
        build_kernels(small_graph(), small_recipe(max_cosine=0.9, n_kernels=4))


def test_empty_population_selection_is_a_connectome_error():
    from wakeword.errors import ConnectomeError

    with pytest.raises(ConnectomeError, match="no neuron has population 'X'"):
        build_kernels(small_graph(), small_recipe(populations=("X",)))


def test_transform_and_nuclei_steps_are_reproducible():
    recipe = small_recipe(p_reverse=0.2, p_add=0.2, weight_noise_std=0.5, seed=3,
                          min_nonzeros=1, n_kernels=3, path_length=2)
    one = build_kernels(small_graph(), recipe)
    two = build_kernels(small_graph(), recipe)
    assert one.fingerprint() == two.fingerprint()
