"""``wakeword kernels``: build a kernel bank from a connectome and write it atomically.

Examples::

    wakeword kernels                                   # default recipe, shared FlyWire data
    wakeword kernels --recipe models/kernels/recipe.json --out models/kernels/flywire_auditory.npz
    wakeword kernels --print-recipe > my_recipe.json   # start a custom recipe
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from wakeword.connectome.graph import Connectome
from wakeword.connectome.io import load_connectome
from wakeword.errors import ConnectomeError, KernelError
from wakeword.kernels.bank import KernelBank
from wakeword.kernels.build import build_kernels
from wakeword.kernels.recipe import KernelRecipe
from wakeword.paths import DEFAULT_KERNEL_BANK, flywire_dir


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "kernels", help="build frozen convolution kernels from a connectome",
        description="Build a kernel bank (KernelBank .npz) from a connectome and a recipe.",
    )
    parser.add_argument("--connectome", type=Path, default=None,
                        help="FlyWire folder, edge list or matrix (default: the shared "
                             "FlyWire auditory folder)")
    parser.add_argument("--recipe", type=Path, default=None,
                        help="recipe JSON (default: the built-in default recipe)")
    parser.add_argument("--out", type=Path, default=DEFAULT_KERNEL_BANK,
                        help=f"output .npz (default: {DEFAULT_KERNEL_BANK})")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing bank whose content differs")
    parser.add_argument("--show", action="store_true", help="print every kernel")
    parser.add_argument("--print-recipe", action="store_true",
                        help="print the recipe JSON (default or --recipe) and exit")
    parser.set_defaults(handler=run_kernels)


def _describe(graph: Connectome, neuron_id: int) -> str:
    rows = np.nonzero(graph.neurons.ids == neuron_id)[0]
    if rows.size == 0:
        return str(neuron_id)
    row = int(rows[0])
    label = graph.neurons.cell_type[row] or graph.neurons.population[row]
    side = graph.neurons.side[row]
    return f"{label}{'/' + side if side else ''} {neuron_id}"


def run_kernels(args: argparse.Namespace) -> int:
    recipe = KernelRecipe.load(args.recipe) if args.recipe is not None else KernelRecipe()
    if args.print_recipe:
        print(recipe.to_json(), end="")
        return 0
    source = args.connectome if args.connectome is not None else flywire_dir()
    if source is None:
        raise ConnectomeError(
            "no connectome given and the shared FlyWire folder "
            "(../shared/data/connectome/flywire_auditory) is absent; pass --connectome PATH"
        )
    graph = load_connectome(source)
    bank = build_kernels(graph, recipe)

    out: Path = args.out
    if out.exists():
        try:
            existing: KernelBank | None = KernelBank.load(out)
        except KernelError:
            existing = None
        if existing is not None and existing.same_content(bank):
            _print_summary(bank, graph, args.show)
            print(f"{out} is already up to date (fingerprint {bank.fingerprint()[:16]})")
            return 0
        if not args.force:
            what = ("is not a readable kernel bank" if existing is None else
                    f"holds a different bank (fingerprint {existing.fingerprint()[:16]}, "
                    f"new {bank.fingerprint()[:16]})")
            raise KernelError(f"{out} {what}; pass --force to replace it or choose --out")
    bank.save(out)
    _print_summary(bank, graph, args.show)
    print(f"wrote {out} (fingerprint {bank.fingerprint()[:16]})")
    return 0


def _print_summary(bank: KernelBank, graph: Connectome, show: bool) -> None:
    recipe = bank.recipe
    kernels = bank.kernels
    nonzeros = np.count_nonzero(kernels, axis=1)
    sums = kernels.sum(axis=1)
    print(f"kernel bank: {bank.n_kernels} kernels x {bank.kernel_size} taps "
          f"({'signed' if recipe.signed else 'unsigned'}, {recipe.orientation} kernels, "
          f"{recipe.normalisation} normalisation)")
    print(f"non-zero taps per kernel: min {nonzeros.min()}, median {np.median(nonzeros):g}, "
          f"max {nonzeros.max()}")
    print(f"kernel signs: {int((sums > 0).sum())} positive, {int((sums < 0).sum())} negative")
    print(f"path ({bank.path.size} neurons, periphery -> centre):")
    for step, row in enumerate(bank.path):
        print(f"  t={step}: row {int(row):>3}  {_describe(graph, int(bank.neuron_ids[row]))}")
    if show:
        print("kernels (row, neuron, taps):")
        for row in range(bank.n_kernels):
            taps = " ".join(f"{v:+.2f}" for v in kernels[row])
            print(f"  {row:>3} {_describe(graph, int(bank.neuron_ids[row])):<36} {taps}")
