"""Loaders: FlyWire folders, edge lists and dense matrices, and their error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wakeword.connectome.io import (
    load_connectome,
    load_dense,
    load_edge_list,
    load_flywire,
    sha256_file,
)
from wakeword.errors import ConnectomeError

NEURON_HEADER = (
    "index,root_id,population,cell_type,flywire_cell_type,hemibrain_type,nt_prediction,"
    "nt_confidence,modeled_polarity,side,x_nm,y_nm,z_nm,identity_evidence"
)


def write_flywire(folder: Path, edges: list[str] | None = None) -> Path:
    """A three-neuron FlyWire-format folder with CRLF line endings, like the real one."""
    folder.mkdir(parents=True, exist_ok=True)
    neurons = [
        NEURON_HEADER,
        "0,720575940000000001,JO-A,JO-A,JO-A,,acetylcholine,0.9,1,left,10,0,0,x",
        "1,720575940000000002,AMMC-B1,AMMC-B1,AMMC-B1,,gaba,0.8,-1,left,5,0,0,x",
        "2,720575940000000003,WED/IVLP auditory,WED_pr01,WED_pr01,,,,0,center,0,0,0,x",
    ]
    edge_lines = edges if edges is not None else [
        "pre_index,post_index,synapse_count,modeled_polarity,neuropils",
        "0,1,7,1,AMMC_L;SAD",
        "1,2,3,-1,WED_L",
        "2,0,2,0,SAD",
    ]
    (folder / "neurons.csv").write_bytes(("\r\n".join(neurons) + "\r\n").encode())
    (folder / "edges.csv").write_bytes(("\r\n".join(edge_lines) + "\r\n").encode())
    return folder


def test_load_flywire_reads_table_edges_and_signs(tmp_path):
    graph = load_flywire(write_flywire(tmp_path / "fw"))
    assert graph.n_neurons == 3 and graph.n_edges == 3
    np.testing.assert_array_equal(graph.neurons.ids, [720575940000000001, 720575940000000002,
                                                      720575940000000003])
    np.testing.assert_array_equal(graph.neurons.population,
                                  ["JO-A", "AMMC-B1", "WED/IVLP auditory"])
    np.testing.assert_array_equal(graph.neurons.transmitter, ["acetylcholine", "gaba", ""])
    np.testing.assert_array_equal(graph.neurons.polarity, [1, -1, 0])
    np.testing.assert_array_equal(graph.neurons.xyz_nm[:, 0], [10, 5, 0])
    assert not graph.signed
    np.testing.assert_array_equal(graph.dense(signed=True), [[0, 7, 0], [0, 0, -3], [0, 0, 0]])
    assert graph.source["files"]["edges.csv"] == sha256_file(tmp_path / "fw" / "edges.csv")
    assert "CC BY 4.0" in graph.attribution
    assert load_flywire(tmp_path / "fw", signed=True).signed


def test_flywire_missing_column_names_file_and_column(tmp_path):
    folder = write_flywire(tmp_path / "fw", edges=[
        "pre_index,post_index,modeled_polarity", "0,1,1",
    ])
    with pytest.raises(ConnectomeError) as error:
        load_flywire(folder)
    message = str(error.value)
    assert "edges.csv" in message and "'synapse_count'" in message


def test_flywire_non_numeric_weight_names_line_and_column(tmp_path):
    folder = write_flywire(tmp_path / "fw", edges=[
        "pre_index,post_index,synapse_count,modeled_polarity,neuropils",
        "0,1,7,1,SAD",
        "1,2,many,-1,SAD",
    ])
    with pytest.raises(ConnectomeError, match=r"edges\.csv, line 3, column 'synapse_count': "
                                              r"'many' is not a number"):
        load_flywire(folder)


def test_flywire_index_out_of_range_names_line_and_neuron_count(tmp_path):
    folder = write_flywire(tmp_path / "fw", edges=[
        "pre_index,post_index,synapse_count,modeled_polarity,neuropils",
        "0,9,7,1,SAD",
    ])
    with pytest.raises(ConnectomeError, match=r"line 2, column 'post_index': index 9 is out of "
                                              r"range 0\.\.2"):
        load_flywire(folder)


def test_missing_folder_is_explained(tmp_path):
    with pytest.raises(ConnectomeError, match="not a folder"):
        load_flywire(tmp_path / "nowhere")


def test_edge_list_csv_and_tsv(tmp_path):
    csv_path = tmp_path / "g.csv"
    csv_path.write_text("pre,post,weight,sign\n0,1,2.5,1\n1,2,4,-1\n")
    graph = load_edge_list(csv_path)
    assert graph.signed
    np.testing.assert_array_equal(graph.dense(), [[0, 2.5, 0], [0, 0, -4], [0, 0, 0]])
    np.testing.assert_array_equal(graph.neurons.polarity, [1, -1, 1])
    tsv_path = tmp_path / "g.tsv"
    tsv_path.write_text("pre\tpost\tweight\n2\t0\t1\n")
    graph = load_edge_list(tsv_path, n_neurons=4)
    assert graph.n_neurons == 4 and not graph.signed
    assert graph.dense()[2, 0] == 1.0


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "the file is empty"),
        ("pre,post\n0,1\n", "missing column.*'weight'"),
        ("pre,post,weight\n0,1,abc\n", "line 2, column 'weight': 'abc' is not a number"),
        ("pre,post,weight\n0,x,1\n", "line 2, column 'post': 'x' is not an integer"),
        ("pre,post,weight\n0,1,1\n-1,0,2\n", "line 3, column 'pre': index -1 is out of range"),
        ("pre,post,weight\n0,1,0\n", "line 2, column 'weight': 0 must be > 0"),
        ("pre,post,weight,sign\n0,1,1,2\n", "column 'sign': 2 is not a sign"),
        ("pre,post,weight\n0,1,1\n0,1,2\n", "lines 2 and 3: edge 0 -> 1 appears twice"),
        ("pre,post,weight\n", "header but no data rows"),
    ],
)
def test_edge_list_errors_name_the_problem(tmp_path, text, pattern):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConnectomeError, match=pattern) as error:
        load_edge_list(path)
    assert "bad.csv" in str(error.value)


def test_edge_list_index_beyond_given_neuron_count(tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("pre,post,weight\n0,5,1\n")
    with pytest.raises(ConnectomeError, match=r"index 5 is out of range 0\.\.2"):
        load_edge_list(path, n_neurons=3)


def test_dense_npy_and_csv(tmp_path):
    matrix = np.array([[0, 1, -2], [3, 0, 0], [0, 0, 0]], dtype=float)
    np.save(tmp_path / "m.npy", matrix)
    np.testing.assert_array_equal(load_dense(tmp_path / "m.npy").dense(), matrix)
    (tmp_path / "m.csv").write_text("0,1,-2\n3,0,0\n0,0,0\n")
    graph = load_dense(tmp_path / "m.csv")
    np.testing.assert_array_equal(graph.dense(), matrix)
    assert graph.source["files"] == {"m.csv": sha256_file(tmp_path / "m.csv")}


def test_dense_errors(tmp_path):
    np.save(tmp_path / "rect.npy", np.zeros((2, 3)))
    with pytest.raises(ConnectomeError, match=r"rect\.npy: adjacency matrix must be square"):
        load_dense(tmp_path / "rect.npy")
    (tmp_path / "text.csv").write_text("0,1\n1,x\n")
    with pytest.raises(ConnectomeError, match=r"text\.csv, row 2, column 2: 'x' is not a number"):
        load_dense(tmp_path / "text.csv")
    (tmp_path / "ragged.csv").write_text("0,1\n1\n")
    with pytest.raises(ConnectomeError, match="row 2: 1 values but row 1 has 2"):
        load_dense(tmp_path / "ragged.csv")
    (tmp_path / "empty.csv").write_text("\n")
    with pytest.raises(ConnectomeError, match=r"empty\.csv: the file is empty"):
        load_dense(tmp_path / "empty.csv")
    np.save(tmp_path / "empty.npy", np.zeros((0, 0)))
    with pytest.raises(ConnectomeError, match="the matrix is empty"):
        load_dense(tmp_path / "empty.npy")


def test_load_connectome_picks_the_format(tmp_path):
    folder = write_flywire(tmp_path / "fw")
    assert load_connectome(folder).source["format"] == "flywire_auditory"
    (tmp_path / "e.csv").write_text("pre,post,weight\n0,1,1\n")
    assert load_connectome(tmp_path / "e.csv").source["format"] == "edge_list"
    (tmp_path / "d.csv").write_text("0,1\n0,0\n")
    assert load_connectome(tmp_path / "d.csv").source["format"] == "dense"
    with pytest.raises(ConnectomeError, match=r"unknown connectome format '\.txt'"):
        (tmp_path / "x.txt").write_text("1")
        load_connectome(tmp_path / "x.txt")


def test_shared_flywire_counts_match_source_md(flywire):
    graph = load_flywire(flywire)
    assert (graph.n_neurons, graph.n_edges, graph.total_weight) == (731, 7056, 38765.0)
    assert int(graph.adjacency.diagonal().astype(bool).sum()) == 0
    populations = dict(zip(*np.unique(graph.neurons.population, return_counts=True), strict=False))
    assert populations == {"JO-A": 94, "JO-B": 299, "AMMC-A1": 5, "AMMC-A2": 2, "AMMC-B1": 81,
                           "AMMC-B2": 6, "WED/IVLP auditory": 244}
    # every edge's sign is its presynaptic neuron's modeled polarity
    pre, _, _, sign = graph.edges()
    np.testing.assert_array_equal(sign, graph.neurons.polarity[pre])
