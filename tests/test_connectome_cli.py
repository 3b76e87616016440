"""`wakeword connectome inspect` and `wakeword kernels` command lines."""

from __future__ import annotations

import json

from wakeword.cli.main import main
from wakeword.kernels.recipe import KernelRecipe

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_inspect_edge_list_prints_json_and_draws_png(tmp_path, capsys):
    path = tmp_path / "g.csv"
    path.write_text("pre,post,weight\n0,1,2\n1,2,3\n2,0,1\n3,2,5\n")
    png = tmp_path / "out" / "adjacency.png"
    assert main(["connectome", "inspect", str(path), "--json", "--png", str(png)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["neurons"], report["edges"], report["synapses"]) == (4, 4, 11.0)
    assert report["features"]["out_degree"] == {"min": 1.0, "median": 1.0, "max": 1.0}
    assert png.read_bytes().startswith(PNG_SIGNATURE)


def test_inspect_reports_an_error_for_a_bad_file(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("pre,post,weight\n0,1,lots\n")
    assert main(["connectome", "inspect", str(path)]) == 2
    assert "bad.csv, line 2, column 'weight'" in capsys.readouterr().err


def test_inspect_flywire_writes_png_with_summary(flywire, tmp_path, capsys):
    png = tmp_path / "adjacency.png"
    assert main(["connectome", "inspect", str(flywire), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "731 neurons, 7056 edges, 38765 synapses" in out
    assert "JO-B" in out and "nuclei" in out
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert png.stat().st_size > 10_000


def test_print_recipe_outputs_the_default_recipe(capsys):
    assert main(["kernels", "--print-recipe"]) == 0
    assert KernelRecipe.from_json(capsys.readouterr().out) == KernelRecipe()
