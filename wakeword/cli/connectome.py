"""``wakeword connectome inspect PATH``: counts, populations, features, nuclei and a picture.

PATH is a FlyWire folder (neurons.csv + edges.csv), an edge list (.csv/.tsv with header
``pre,post,weight[,sign]``) or a dense matrix (.npy or headerless .csv).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from wakeword.connectome.features import compute_features
from wakeword.connectome.graph import Connectome
from wakeword.connectome.io import load_connectome
from wakeword.connectome.nuclei import Nucleus, find_nuclei, order_neurons


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("connectome", help="inspect a connectome file or folder")
    actions = parser.add_subparsers(dest="connectome_command", metavar="ACTION")
    actions.required = True
    inspect = actions.add_parser(
        "inspect", help="print counts, populations, feature ranges and nuclei; draw a PNG"
    )
    inspect.add_argument("path", type=Path, help="FlyWire folder, edge list or matrix file")
    inspect.add_argument("--png", type=Path, default=None,
                         help="write the ordered adjacency matrix with nuclei marked here")
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.add_argument("--hops", type=int, default=2, help="neighbourhood radius (edges)")
    inspect.add_argument("--nuclei-sigma", type=float, default=4.0,
                         help="nuclei blob scale in matrix cells")
    inspect.add_argument("--nuclei-threshold", type=float, default=0.1,
                         help="nuclei threshold, fraction of the strongest blob response")
    inspect.set_defaults(handler=run_inspect)


def summarise(graph: Connectome, *, hops: int, nuclei: list[Nucleus]) -> dict[str, Any]:
    """The numbers ``inspect`` reports, as a JSON-ready dict."""
    features = compute_features(graph, hops=hops)
    populations = Counter(graph.neurons.population.tolist())
    signs = Counter(int(s) for s in graph.edge_sign)
    return {
        "neurons": graph.n_neurons,
        "edges": graph.n_edges,
        "synapses": graph.total_weight,
        "self_edges": int(graph.adjacency.diagonal().astype(bool).sum()),
        "edge_signs": {"excitatory": signs.get(1, 0), "inhibitory": signs.get(-1, 0),
                       "unknown": signs.get(0, 0)},
        "populations": dict(sorted(populations.items())),
        "features": features.summary(),
        "neighbourhood_hops": hops,
        "nuclei": [
            {"rank": k + 1, "neurons": int(n.nodes.size), "edges": n.n_edges,
             "span": [n.start, n.stop],
             "populations": dict(Counter(graph.neurons.population[n.nodes].tolist()))}
            for k, n in enumerate(nuclei)
        ],
        "source": dict(graph.source),
    }


def draw_adjacency(graph: Connectome, nuclei: list[Nucleus], order: np.ndarray, path: Path) -> None:
    """PNG of the adjacency matrix in ``order`` (log synapse counts), nuclei as rectangles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    dense = graph.dense(signed=False)[np.ix_(order, order)]
    fig, ax = plt.subplots(figsize=(9, 8.5), dpi=150)
    strong = float(np.log1p(min(30.0, dense.max()))) if dense.size else 1.0
    image = ax.imshow(np.log1p(dense), cmap="Greys", interpolation="nearest", vmin=0.0,
                      vmax=max(strong, 1e-9))
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="log(1 + synapses), clipped at 30")
    populations = graph.neurons.population[order]
    boundaries = [0] + [k for k in range(1, len(order)) if populations[k] != populations[k - 1]]
    for start in boundaries[1:]:
        ax.axhline(start - 0.5, color="tab:blue", lw=0.4, alpha=0.6)
        ax.axvline(start - 0.5, color="tab:blue", lw=0.4, alpha=0.6)
    if populations.size and populations[0]:
        ends = [*boundaries[1:], len(order)]
        # label populations big enough for their label to fit
        shown = [(a, b) for a, b in zip(boundaries, ends, strict=True)
                 if b - a >= 0.015 * len(order)]
        centres = [(a + b - 1) / 2 for a, b in shown]
        labels = [str(populations[a]) for a, _ in shown]
        ax.set_yticks(centres, labels, fontsize=7)
        ax.set_xticks(centres, labels, fontsize=7, rotation=90)
    for rank, nucleus in enumerate(nuclei, start=1):
        size = nucleus.stop - nucleus.start
        ax.add_patch(Rectangle((nucleus.start - 0.5, nucleus.start - 0.5), size, size,
                               fill=False, edgecolor="tab:red", lw=0.9))
        if rank <= 10:
            ax.text(nucleus.stop, nucleus.start, str(rank), color="tab:red", fontsize=6,
                    va="bottom", ha="left")
    ax.set_xlabel("postsynaptic neuron (ordered by population, then position)")
    ax.set_ylabel("presynaptic neuron")
    ax.set_title(f"{graph.n_neurons} neurons, {graph.n_edges} edges; "
                 f"{len(nuclei)} nuclei (red, ranked by edge count)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def run_inspect(args: argparse.Namespace) -> int:
    graph = load_connectome(args.path)
    order = order_neurons(graph)
    nuclei = find_nuclei(graph, sigma=args.nuclei_sigma,
                         relative_threshold=args.nuclei_threshold, order=order)
    # find_nuclei reports spans in its own ordering: the same `order`.
    report = summarise(graph, hops=args.hops, nuclei=nuclei)
    if args.png is not None:
        draw_adjacency(graph, nuclei, order, args.png)
        report["png"] = str(args.png)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.path}: {report['neurons']} neurons, {report['edges']} edges, "
          f"{report['synapses']:g} synapses, {report['self_edges']} self-edges")
    signs = report["edge_signs"]
    print(f"edge signs: {signs['excitatory']} excitatory, {signs['inhibitory']} inhibitory, "
          f"{signs['unknown']} unknown")
    if any(report["populations"]):
        print("populations:")
        for name, count in report["populations"].items():
            print(f"  {name or '(none)':<20} {count:>6}")
    print(f"features (min / median / max; neighbourhood within {args.hops} hops):")
    for name, stats in report["features"].items():
        print(f"  {name:<17} {stats['min']:>9.3g} {stats['median']:>9.3g} {stats['max']:>9.3g}")
    print(f"nuclei (sigma {args.nuclei_sigma:g}): {len(nuclei)} found")
    for item in report["nuclei"][:8]:
        pops = ", ".join(f"{k or '?'} {v}" for k, v in item["populations"].items())
        print(f"  #{item['rank']}: {item['neurons']} neurons, {item['edges']} edges ({pops})")
    if args.png is not None:
        print(f"wrote {args.png}")
    return 0
