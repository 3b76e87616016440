"""KernelRecipe: validation and a strict JSON round trip."""

from __future__ import annotations

import json

import pytest

from wakeword.errors import ConfigError
from wakeword.kernels.recipe import KernelRecipe


def test_default_recipe_meets_the_network_contract():
    recipe = KernelRecipe()
    assert recipe.kernel_size == 9
    assert recipe.n_kernels >= 64
    assert recipe.path_length >= 4
    assert recipe.normalisation == "l2"


def test_dict_and_json_round_trip(tmp_path):
    recipe = KernelRecipe(p_add=0.1, seed=4, keep_classes=("sensory",), slice_mode="every",
                          slice_step=2)
    assert KernelRecipe.from_dict(recipe.to_dict()) == recipe
    assert KernelRecipe.from_json(recipe.to_json()) == recipe
    recipe.save(tmp_path / "r.json")
    assert KernelRecipe.load(tmp_path / "r.json") == recipe
    assert json.loads(recipe.to_json())["populations"] == list(recipe.populations)


def test_unknown_key_is_an_error_naming_it():
    data = KernelRecipe().to_dict()
    data["kernel_sise"] = 9
    with pytest.raises(ConfigError, match="unknown key\\(s\\) kernel_sise"):
        KernelRecipe.from_dict(data)


def test_missing_key_is_an_error_naming_it(tmp_path):
    data = KernelRecipe().to_dict()
    del data["signed"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"r\.json: missing key\(s\) signed"):
        KernelRecipe.load(path)


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"orientation": "diagonal"}, "choose one of row, column"),
        ({"p_invert": 2.0}, "'p_invert' is 2.0"),
        ({"kernel_size": 0}, "'kernel_size' is 0"),
        ({"slice_step": 3}, "slice_mode is 'first'"),
        ({"min_nonzeros": 10}, "exceeds kernel_size"),
        ({"path_length": 100}, "exceeds n_kernels"),
        ({"keep_classes": ("motor",)}, "unknown class"),
        ({"schema_version": 2}, "schema_version is 2"),
        ({"populations": "JO-A"}, "must be a list of strings"),
        ({"signed": 1}, "must be true or false"),
    ],
)
def test_invalid_values_are_rejected(changes, pattern):
    with pytest.raises(ConfigError, match=pattern):
        KernelRecipe(**changes)


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(ConfigError, match=r"broken\.json: not valid JSON"):
        KernelRecipe.load(path)
