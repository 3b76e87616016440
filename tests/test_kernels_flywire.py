"""The shipped FlyWire auditory bank: contract properties and bit-for-bit regeneration.

These tests need ../shared/data/connectome/flywire_auditory and skip without it, except the
ones that only read the committed bank.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from wakeword.cli.main import main
from wakeword.connectome.io import load_flywire, sha256_file
from wakeword.kernels.bank import KernelBank, load_default_bank
from wakeword.kernels.build import build_kernels, centre_of
from wakeword.kernels.recipe import KernelRecipe
from wakeword.paths import DEFAULT_KERNEL_BANK

RECIPE_JSON = DEFAULT_KERNEL_BANK.parent / "recipe.json"
CHANNELS = 16


@pytest.fixture(scope="module")
def default_bank() -> KernelBank:
    return load_default_bank()


def test_committed_bank_meets_the_network_contract(default_bank):
    kernels = default_bank.kernels
    assert kernels.dtype == np.float32 and default_bank.neuron_ids.dtype == np.int64
    assert kernels.shape[1] == 9 and kernels.shape[0] >= 64 >= 2 * CHANNELS
    assert np.all(np.count_nonzero(kernels, axis=1) >= 3), "every kernel has several taps"
    np.testing.assert_allclose(np.linalg.norm(kernels, axis=1), 1.0, rtol=1e-6)
    unique = np.unique(kernels, axis=0)
    assert unique.shape[0] == kernels.shape[0], "kernels are pairwise distinct"
    assert np.unique(default_bank.neuron_ids).size == kernels.shape[0]
    assert default_bank.path.size >= 4
    assert np.unique(default_bank.path).size == default_bank.path.size
    assert "CC BY 4.0" in default_bank.attribution and "FlyWire" in default_bank.attribution


def test_committed_recipe_json_is_the_default_recipe(default_bank):
    assert KernelRecipe.load(RECIPE_JSON) == KernelRecipe()
    assert default_bank.recipe == KernelRecipe()


def test_committed_bank_cites_the_shared_files(flywire, default_bank):
    files = default_bank.source["files"]
    assert files == {name: sha256_file(Path(flywire) / name)
                     for name in ("neurons.csv", "edges.csv")}
    assert default_bank.source["neurons"] == 731 and default_bank.source["edges"] == 7056


def test_path_runs_from_johnstons_organ_toward_the_centre(flywire, default_bank):
    graph = load_flywire(flywire)
    row_of_id = {int(v): k for k, v in enumerate(graph.neurons.ids)}
    nodes = [row_of_id[int(default_bank.neuron_ids[r])] for r in default_bank.path]
    assert graph.neurons.population[nodes[0]] in ("JO-A", "JO-B")
    centre = centre_of(graph, default_bank.recipe.path_centre_populations)
    distance = np.linalg.norm(graph.neurons.xyz_nm - centre, axis=1)
    dense = graph.dense(signed=False)
    for a, b in itertools.pairwise(nodes):
        assert dense[a, b] > 0
        assert distance[b] < distance[a]


def test_kernels_are_signed_rows_onto_the_hub_targets(flywire, default_bank):
    graph = load_flywire(flywire, signed=True)
    row_of_id = {int(v): k for k, v in enumerate(graph.neurons.ids)}
    taps = [row_of_id[i] for i in default_bank.source["tap_neuron_ids"]]
    signed = graph.dense()
    for row, neuron_id in enumerate(default_bank.neuron_ids):
        raw = signed[row_of_id[int(neuron_id)], taps]
        np.testing.assert_allclose(default_bank.kernels[row], raw / np.linalg.norm(raw),
                                   rtol=1e-6)


def test_cli_reproduces_the_committed_bank_bit_for_bit(flywire, tmp_path, capsys):
    out = tmp_path / "bank.npz"
    assert main(["--no-progress", "kernels", "--connectome", str(flywire), "--recipe",
                 str(RECIPE_JSON), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    committed = KernelBank.load(DEFAULT_KERNEL_BANK)
    fresh = KernelBank.load(out)
    for name in ("kernels", "neuron_ids", "path"):
        assert getattr(fresh, name).tobytes() == getattr(committed, name).tobytes(), name
    assert fresh.recipe.to_json() == committed.recipe.to_json()
    assert fresh.fingerprint() == committed.fingerprint()
    assert out.read_bytes() == DEFAULT_KERNEL_BANK.read_bytes()


def test_library_build_matches_the_committed_bank(flywire, default_bank):
    assert build_kernels(load_flywire(flywire)).same_content(default_bank)


def test_cli_refuses_to_overwrite_a_different_bank_without_force(flywire, tmp_path, capsys):
    out = tmp_path / "bank.npz"
    DEFAULT_KERNEL_BANK_BYTES = DEFAULT_KERNEL_BANK.read_bytes()
    out.write_bytes(DEFAULT_KERNEL_BANK_BYTES)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({**KernelRecipe().to_dict(), "n_kernels": 70}))
    args = ["kernels", "--connectome", str(flywire), "--recipe", str(recipe), "--out", str(out)]
    assert main(args) == 2
    assert "pass --force" in capsys.readouterr().err
    assert out.read_bytes() == DEFAULT_KERNEL_BANK_BYTES
    assert main([*args, "--force"]) == 0
    assert KernelBank.load(out).n_kernels == 70
    assert main(args) == 0  # same content again: nothing to refuse
    assert "already up to date" in capsys.readouterr().out
