"""Read connectomes from disk: the FlyWire auditory folder, edge lists and dense matrices.

Every reader validates its input and raises :class:`~wakeword.errors.ConnectomeError` naming
the file, the line/column at fault and how to fix it. Each returned graph records the input
file names with their sha256 in :attr:`Connectome.source`, so kernel banks can cite them.

Formats:

* FlyWire folder (``load_flywire``): ``neurons.csv`` + ``edges.csv`` as described in the
  folder's ``SOURCE.md`` (CRLF line endings are fine). Edge signs come from the edge file's
  ``modeled_polarity`` column (``+1`` acetylcholine, ``-1`` GABA/glutamate, ``0`` other).
* Edge list (``load_edge_list``): ``.csv`` (comma) or ``.tsv`` (tab) with a header row and
  columns ``pre, post, weight`` and optionally ``sign`` (-1/0/1). Indices are 0-based; the
  graph has ``max(index) + 1`` neurons unless ``n_neurons`` is given. Weights must be > 0.
* Dense matrix (``load_dense``): ``.npy`` or a headerless comma-separated ``.csv`` square
  matrix; negative entries are inhibitory (weight ``|w|``, sign ``-1``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from wakeword.connectome.graph import Connectome, NeuronTable, dale_polarity
from wakeword.errors import ConnectomeError

logger = logging.getLogger(__name__)

__all__ = [
    "FLYWIRE_ATTRIBUTION",
    "load_connectome",
    "load_dense",
    "load_edge_list",
    "load_flywire",
    "sha256_file",
]

FLYWIRE_ATTRIBUTION = (
    "Derived from an adapted auditory subset of the FlyWire FAFB v783 connectome "
    "(CC BY 4.0, https://creativecommons.org/licenses/by/4.0/). Credit: FlyWire Consortium; "
    "Dorkenwald et al. 2024, Nature, doi:10.1038/s41586-024-07558-y; Schlegel et al. 2024, "
    "Nature, doi:10.1038/s41586-024-07686-5; Baker et al. 2022, Current Biology 32, "
    "doi:10.1016/j.cub.2022.06.019. Modifications: only derived convolution kernels are "
    "distributed; no FlyWire data files are included."
)

NEURON_COLUMNS = (
    "index", "root_id", "population", "cell_type", "nt_prediction", "modeled_polarity",
    "side", "x_nm", "y_nm", "z_nm",
)
EDGE_COLUMNS = ("pre_index", "post_index", "synapse_count", "modeled_polarity")
EDGE_LIST_COLUMNS = ("pre", "post", "weight")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_table(
    path: Path, required: tuple[str, ...], *, delimiter: str = ","
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a delimited text file; errors name the file and the missing column."""
    if not path.is_file():
        raise ConnectomeError(f"{path}: file not found; check the path")
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        raise ConnectomeError(f"{path}: the file is empty; expected a header row with columns "
                              f"{', '.join(required)} followed by one row per entry")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in rows[0]]
    missing = [name for name in required if name not in header]
    if missing:
        raise ConnectomeError(
            f"{path}: missing column(s) {', '.join(repr(m) for m in missing)}; found "
            f"{', '.join(repr(h) for h in header)}. Add a header row naming "
            f"{', '.join(required)}"
        )
    if len(rows) < 2:
        raise ConnectomeError(f"{path}: the file has a header but no data rows")
    body = rows[1:]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ConnectomeError(
                f"{path}, line {line}: {len(row)} fields but the header has {len(header)}; "
                "fix the quoting or the number of separators on that line"
            )
    return header, body


def _column(
    path: Path, header: list[str], rows: list[list[str]], name: str, kind: str
) -> np.ndarray:
    """Parse one column as ``int`` or ``float``; errors name the file, line and column."""
    position = header.index(name)
    values: list[float] = []
    for line, row in enumerate(rows, start=2):
        cell = row[position].strip()
        try:
            value = float(cell) if kind == "float" else int(cell)
        except ValueError:
            raise ConnectomeError(
                f"{path}, line {line}, column '{name}': {cell!r} is not "
                f"{'a number' if kind == 'float' else 'an integer'}; fix or remove that row"
            ) from None
        if kind == "float" and not math.isfinite(value):
            raise ConnectomeError(
                f"{path}, line {line}, column '{name}': {cell!r} is not finite; "
                "use a finite number"
            )
        values.append(value)
    return np.asarray(values, dtype=np.float64 if kind == "float" else np.int64)


def _check_range(path: Path, name: str, values: np.ndarray, n: int) -> None:
    bad = np.nonzero((values < 0) | (values >= n))[0]
    if bad.size:
        first = int(bad[0])
        raise ConnectomeError(
            f"{path}, line {first + 2}, column '{name}': index {int(values[first])} is out of "
            f"range 0..{n - 1} (the graph has {n} neurons); fix the index or the neuron count"
        )


def _check_duplicates(path: Path, pre: np.ndarray, post: np.ndarray) -> None:
    order = np.lexsort((post, pre))
    same = (np.diff(pre[order]) == 0) & (np.diff(post[order]) == 0)
    if same.any():
        k = int(np.nonzero(same)[0][0])
        first, second = sorted((int(order[k]), int(order[k + 1])))
        raise ConnectomeError(
            f"{path}, lines {first + 2} and {second + 2}: edge {int(pre[first])} -> "
            f"{int(post[first])} appears twice; merge them into one row (sum the weights)"
        )


def _check_signs(path: Path, name: str, values: np.ndarray) -> None:
    bad = np.nonzero(~np.isin(values, (-1, 0, 1)))[0]
    if bad.size:
        first = int(bad[0])
        raise ConnectomeError(
            f"{path}, line {first + 2}, column '{name}': {int(values[first])} is not a sign; "
            "use -1 (inhibitory), 0 (unknown) or 1 (excitatory)"
        )


def load_flywire(folder: str | Path, signed: bool = False) -> Connectome:
    """Load the FlyWire auditory folder (``neurons.csv`` + ``edges.csv``).

    Args:
        folder: the folder holding both files (see its ``SOURCE.md``).
        signed: make the signed view (synapse count x modeled polarity) the default view.

    Returns:
        A :class:`Connectome` whose neuron ids are FlyWire root ids and whose ``source``
        names both files with their sha256.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConnectomeError(
            f"{folder}: not a folder; pass the FlyWire folder holding neurons.csv and edges.csv"
        )
    neurons_path = folder / "neurons.csv"
    edges_path = folder / "edges.csv"
    header, rows = _read_table(neurons_path, NEURON_COLUMNS)
    index = _column(neurons_path, header, rows, "index", "int")
    n = len(rows)
    if not np.array_equal(index, np.arange(n)):
        line = int(np.nonzero(index != np.arange(n))[0][0]) + 2
        raise ConnectomeError(
            f"{neurons_path}, line {line}, column 'index': indices must run 0..{n - 1} in file "
            "order; sort the file by index and remove gaps"
        )
    polarity = _column(neurons_path, header, rows, "modeled_polarity", "int")
    _check_signs(neurons_path, "modeled_polarity", polarity)

    def text(name: str) -> np.ndarray:
        position = header.index(name)
        return np.asarray([row[position].strip() for row in rows], dtype=str)

    table = NeuronTable(
        ids=_column(neurons_path, header, rows, "root_id", "int"),
        population=text("population"),
        cell_type=text("cell_type"),
        side=text("side"),
        transmitter=text("nt_prediction"),
        polarity=polarity,
        xyz_nm=np.stack(
            [_column(neurons_path, header, rows, axis, "float")
             for axis in ("x_nm", "y_nm", "z_nm")],
            axis=1,
        ),
    )
    if np.unique(table.ids).size != n:
        raise ConnectomeError(f"{neurons_path}, column 'root_id': root ids must be unique")

    edge_header, edge_rows = _read_table(edges_path, EDGE_COLUMNS)
    pre = _column(edges_path, edge_header, edge_rows, "pre_index", "int")
    post = _column(edges_path, edge_header, edge_rows, "post_index", "int")
    weight = _column(edges_path, edge_header, edge_rows, "synapse_count", "float")
    sign = _column(edges_path, edge_header, edge_rows, "modeled_polarity", "int")
    _check_range(edges_path, "pre_index", pre, n)
    _check_range(edges_path, "post_index", post, n)
    _check_signs(edges_path, "modeled_polarity", sign)
    bad = np.nonzero(weight <= 0)[0]
    if bad.size:
        raise ConnectomeError(
            f"{edges_path}, line {int(bad[0]) + 2}, column 'synapse_count': "
            f"{weight[bad[0]]:g} must be > 0; drop rows without synapses"
        )
    _check_duplicates(edges_path, pre, post)
    graph = Connectome.from_edges(
        n_neurons=n,
        pre=pre,
        post=post,
        weight=weight,
        sign=sign,
        neurons=table,
        signed=signed,
        source={
            "format": "flywire_auditory",
            "folder": folder.name,
            "files": {
                "neurons.csv": sha256_file(neurons_path),
                "edges.csv": sha256_file(edges_path),
            },
        },
        attribution=FLYWIRE_ATTRIBUTION,
    )
    logger.debug("loaded %s: %d neurons, %d edges", folder, graph.n_neurons, graph.n_edges)
    return graph


def load_edge_list(
    path: str | Path, *, n_neurons: int | None = None, signed: bool | None = None
) -> Connectome:
    """Load a ``.csv``/``.tsv`` edge list with header ``pre, post, weight[, sign]``.

    Args:
        path: the file. ``.tsv`` is tab-separated, anything else comma-separated.
        n_neurons: number of neurons; defaults to the largest index + 1.
        signed: default view; defaults to ``True`` when the file has a ``sign`` column.
    """
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    header, rows = _read_table(path, EDGE_LIST_COLUMNS, delimiter=delimiter)
    pre = _column(path, header, rows, "pre", "int")
    post = _column(path, header, rows, "post", "int")
    weight = _column(path, header, rows, "weight", "float")
    bad = np.nonzero(weight <= 0)[0]
    if bad.size:
        raise ConnectomeError(
            f"{path}, line {int(bad[0]) + 2}, column 'weight': {weight[bad[0]]:g} must be > 0; "
            "drop zero-weight rows and give inhibition as weight > 0 with sign -1"
        )
    has_sign = "sign" in header
    sign = (_column(path, header, rows, "sign", "int") if has_sign
            else np.ones_like(pre, dtype=np.int64))
    _check_signs(path, "sign", sign)
    n = int(max(pre.max(), post.max(), 0) + 1) if n_neurons is None else int(n_neurons)
    _check_range(path, "pre", pre, n)
    _check_range(path, "post", post, n)
    _check_duplicates(path, pre, post)
    table = NeuronTable.plain(n, polarity=dale_polarity(n, pre, sign.astype(np.int8)))
    return Connectome.from_edges(
        n_neurons=n,
        pre=pre,
        post=post,
        weight=weight,
        sign=sign,
        neurons=table,
        signed=has_sign if signed is None else signed,
        source={"format": "edge_list", "files": {path.name: sha256_file(path)}},
    )


def load_dense(path: str | Path, *, signed: bool | None = None) -> Connectome:
    """Load a square adjacency matrix from ``.npy`` or a headerless comma-separated ``.csv``."""
    path = Path(path)
    if not path.is_file():
        raise ConnectomeError(f"{path}: file not found; check the path")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            matrix = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ConnectomeError(
                f"{path}: not a readable .npy array ({exc}); save it with numpy.save"
            ) from exc
        if not np.issubdtype(matrix.dtype, np.number) or np.issubdtype(
            matrix.dtype, np.complexfloating
        ):
            raise ConnectomeError(f"{path}: dtype {matrix.dtype} is not a real number type")
    elif suffix == ".csv":
        lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines()
                 if line.strip()]
        if not lines:
            raise ConnectomeError(f"{path}: the file is empty; expected a square matrix")
        values: list[list[float]] = []
        for line_number, line in enumerate(lines, start=1):
            row: list[float] = []
            for column, cell in enumerate(line.split(","), start=1):
                try:
                    row.append(float(cell))
                except ValueError:
                    raise ConnectomeError(
                        f"{path}, row {line_number}, column {column}: {cell.strip()!r} is not a "
                        "number; a dense matrix file has no header and only numbers"
                    ) from None
            if values and len(row) != len(values[0]):
                raise ConnectomeError(
                    f"{path}, row {line_number}: {len(row)} values but row 1 has "
                    f"{len(values[0])}; every row needs the same length"
                )
            values.append(row)
        matrix = np.asarray(values, dtype=np.float64)
    else:
        raise ConnectomeError(f"{path}: unknown matrix format '{suffix}'; use .npy or .csv")
    if matrix.size == 0:
        raise ConnectomeError(f"{path}: the matrix is empty")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ConnectomeError(
            f"{path}: adjacency matrix must be square (N x N), got shape {matrix.shape}; "
            "row i lists neuron i's outgoing weights"
        )
    matrix = matrix.astype(np.float64)
    if not np.all(np.isfinite(matrix)):
        bad_row, bad_column = (int(v) for v in np.argwhere(~np.isfinite(matrix))[0])
        raise ConnectomeError(f"{path}: entry ({bad_row}, {bad_column}) is not finite")
    graph = Connectome.from_dense(matrix, signed=signed)
    return replace(graph, source={"format": "dense", "files": {path.name: sha256_file(path)}})


def load_connectome(path: str | Path, *, signed: bool | None = None) -> Connectome:
    """Load any supported format, chosen from what ``path`` is.

    A folder is read as FlyWire; ``.npy`` as a dense matrix; ``.csv``/``.tsv`` as an edge list
    when its first line names ``pre``, ``post`` and ``weight``, otherwise as a dense matrix.
    """
    path = Path(path)
    if path.is_dir():
        return load_flywire(path, signed=bool(signed))
    if not path.exists():
        raise ConnectomeError(f"{path}: not found; pass a FlyWire folder, an edge list or a matrix")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_dense(path, signed=signed)
    if suffix in (".csv", ".tsv"):
        with open(path, encoding="utf-8-sig") as handle:
            first = handle.readline()
        names = {cell.strip() for cell in first.replace("\t", ",").split(",")}
        if set(EDGE_LIST_COLUMNS) <= names or suffix == ".tsv":
            return load_edge_list(path, signed=signed)
        return load_dense(path, signed=signed)
    raise ConnectomeError(
        f"{path}: unknown connectome format '{suffix}'; use a FlyWire folder, .csv/.tsv edge "
        "list or .npy/.csv matrix"
    )
