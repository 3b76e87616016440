"""``.npz`` files of a model folder read as data, with their sizes checked first. numpy only.

``np.load`` trusts each array's header: a tampered ``weights.npz`` declaring a shape of a
trillion elements makes it try to allocate that much. :func:`load_npz` reads every header
first and refuses object arrays, arrays larger than the bytes stored for them and files whose
arrays add up to more than ``max_bytes``; only then are the arrays read.
"""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from device_runtime.errors import ModelError

__all__ = ["load_npz"]


def _header(fh: object, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    try:
        version = np.lib.format.read_magic(fh)  # type: ignore[arg-type]
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(fh)  # type: ignore[arg-type,no-any-return]
        if version in ((2, 0), (3, 0)):
            return np.lib.format.read_array_header_2_0(fh)  # type: ignore[arg-type,no-any-return]
        raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, EOFError) as exc:
        raise ModelError(f"{where}: not a readable array ({exc}); re-export the model") from exc


def load_npz(path: str | os.PathLike[str], *, max_bytes: int, fix: str = "re-export the model"
             ) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, by name; :class:`ModelError` naming the file
    and the array when it is damaged, holds objects, or exceeds ``max_bytes`` in total."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    budget = max_bytes
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                name = info.filename[:-4]
                where = f"{path}: array {name!r}"
                with zf.open(info) as fh:
                    shape, fortran, dtype = _header(fh, where)
                    if dtype.hasobject or dtype.kind not in "biufcUS":
                        raise ModelError(f"{where} has dtype {dtype}; {fix}")
                    nbytes = math.prod(shape) * dtype.itemsize
                    budget -= nbytes
                    if nbytes > info.file_size or budget < 0:
                        raise ModelError(f"{where} declares {nbytes} bytes, more than the file "
                                         f"holds or than a model folder needs; {fix}")
                    data = fh.read(nbytes)
                if len(data) != nbytes:
                    raise ModelError(f"{where} is truncated; {fix}")
                array = np.frombuffer(data, dtype=dtype).copy()
                arrays[name] = array.reshape(shape, order="F" if fortran else "C")
    except ModelError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelError(f"{path}: not a readable .npz file ({exc}); {fix}") from exc
    return arrays
