"""Contact graphs from label volumes and segmentation of probability maps (synthetic volumes)."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.connectome.imaging import ball, contact_graph, segment_probability
from wakeword.errors import ConfigError, ConnectomeError


def test_ball_of_radius_one_is_the_six_neighbourhood():
    element = ball(1.0)
    assert element.shape == (3, 3, 3)
    assert int(element.sum()) == 7
    assert int(ball(1.5).sum()) == 19  # faces and edges, no corners
    assert int(ball(np.sqrt(3)).sum()) == 27


def test_touching_bodies_count_overlap_voxels():
    volume = np.zeros((1, 1, 6), dtype=np.int32)
    volume[0, 0, :3] = 1
    volume[0, 0, 3:] = 2
    np.testing.assert_array_equal(contact_graph(volume, tolerance=1.0).dense(), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(contact_graph(volume, tolerance=2.0).dense(), [[0, 2], [2, 0]])
    assert contact_graph(volume, tolerance=0.0).n_edges == 0


def test_direction_counts_the_target_body_inside_the_source_tolerance():
    volume = np.zeros((5, 5, 5), dtype=np.int32)
    volume[0] = 7  # a plane of 25 voxels
    volume[1, 2, 2] = 3  # one voxel just above its centre
    graph = contact_graph(volume, tolerance=1.5)
    np.testing.assert_array_equal(graph.neurons.ids, [3, 7])
    # 3's tolerance region (radius 1.5) holds 5 voxels of the plane; the plane's region
    # holds the single voxel of 3.
    np.testing.assert_array_equal(graph.dense(), [[0, 5], [1, 0]])
    symmetric = contact_graph(volume, tolerance=1.5, symmetric=True)
    np.testing.assert_array_equal(symmetric.dense(), [[0, 6], [6, 0]])
    np.testing.assert_allclose(graph.neurons.xyz_nm, [[1, 2, 2], [0, 2, 2]])


def test_anisotropic_voxels_shrink_the_tolerance_along_the_thick_axis():
    volume = np.zeros((5, 5, 5), dtype=np.int32)
    volume[0] = 7
    volume[1, 2, 2] = 3
    thick = contact_graph(volume, tolerance=1.5, voxel_size=(2.0, 1.0, 1.0))
    assert thick.n_edges == 0  # layers are 2 apart, farther than 1.5
    near = contact_graph(volume, tolerance=2.0, voxel_size=(2.0, 1.0, 1.0))
    np.testing.assert_array_equal(near.dense(), [[0, 1], [1, 0]])
    np.testing.assert_allclose(near.neurons.xyz_nm[0], [2.0, 2.0, 2.0])


def test_contact_graph_rejects_bad_volumes():
    with pytest.raises(ConnectomeError, match="3-D integer"):
        contact_graph(np.zeros((3, 3)), tolerance=1)
    with pytest.raises(ConnectomeError, match="no neurons"):
        contact_graph(np.zeros((2, 2, 2), dtype=int), tolerance=1)
    with pytest.raises(ConfigError, match="tolerance radius"):
        contact_graph(np.ones((2, 2, 2), dtype=int), tolerance=-1)


def test_segmentation_thresholds_and_labels_components():
    probability = np.zeros((12, 12, 12))
    probability[1:4, 1:4, 1:4] = 1.0
    probability[7:10, 7:10, 7:10] = 1.0
    probability[1, 10, 10] = 1.0  # an isolated voxel
    raw = segment_probability(probability, sigma=0, threshold=0.5)
    assert raw.max() == 3
    assert raw[2, 2, 2] == 1 and raw[1, 10, 10] == 2 and raw[8, 8, 8] == 3
    cleaned = segment_probability(probability, sigma=0, threshold=0.5, min_voxels=2)
    assert cleaned.max() == 2 and cleaned[1, 10, 10] == 0 and cleaned[8, 8, 8] == 2
    smoothed = segment_probability(probability, sigma=1.0, threshold=0.5)
    # smoothing erases the single voxel and keeps the cores of the two cubes
    assert smoothed.max() == 2
    assert smoothed[1, 10, 10] == 0 and smoothed[2, 2, 2] == 1 and smoothed[8, 8, 8] == 2
    assert smoothed.dtype == np.int32


def test_connectivity_controls_diagonal_merging():
    probability = np.zeros((1, 2, 2))
    probability[0, 0, 0] = probability[0, 1, 1] = 1.0
    assert segment_probability(probability, sigma=0, threshold=0.5, connectivity=1).max() == 2
    assert segment_probability(probability, sigma=0, threshold=0.5, connectivity=2).max() == 1


def test_segment_then_contact_graph_pipeline():
    probability = np.zeros((6, 6, 10))
    probability[1:5, 1:5, 1:4] = 1.0
    probability[1:5, 1:5, 5:9] = 1.0  # one empty slice apart
    labels = segment_probability(probability, sigma=0, threshold=0.5)
    graph = contact_graph(labels, tolerance=2.0)
    # each body's tolerance reaches one 4x4 face of the other across the gap
    np.testing.assert_array_equal(graph.dense(), [[0, 16], [16, 0]])
