"""`KernelBank`: the frozen kernels the network consumes, and their file format.

Contract used by the network:

* ``kernels``: ``float32`` ``(N, K)``, one 1-D kernel per neuron, in the recipe's ranking
  order (the network takes the first ``2 * C``).
* ``neuron_ids``: ``int64`` ``(N,)``, FlyWire root ids (or node ids of other graphs).
* ``path``: ``int64`` ``(T,)``, row indices into ``kernels`` in periphery -> centre order (one
  kernel per time step).
* ``recipe``: the :class:`KernelRecipe` that built it; ``source``: input file names with sha256
  and graph counts; ``attribution``: the licence credit that must travel with the bank.

File format: an ``.npz`` (readable with ``numpy.load(path, allow_pickle=False)``) holding
``format``, ``kernels``, ``neuron_ids``, ``path`` and the JSON strings ``recipe_json``,
``source_json`` and ``attribution``. :meth:`KernelBank.save` writes the zip entries in a fixed
order with a fixed timestamp (``numpy.savez`` would stamp the current time), so the same bank
always produces the same bytes; it writes a temporary file in the target folder and renames it
with ``os.replace`` (atomic).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wakeword.errors import ConfigError, KernelError
from wakeword.kernels.recipe import KernelRecipe
from wakeword.paths import DEFAULT_KERNEL_BANK

logger = logging.getLogger(__name__)

__all__ = ["BANK_FORMAT", "KernelBank", "load_default_bank"]

BANK_FORMAT = "wakeword.kernel_bank/1"
_ENTRIES = ("format", "kernels", "neuron_ids", "path", "recipe_json", "source_json", "attribution")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _readonly(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, kw_only=True)
class KernelBank:
    """Frozen convolution kernels derived from a connectome (see the module docstring)."""

    kernels: np.ndarray
    neuron_ids: np.ndarray
    path: np.ndarray
    recipe: KernelRecipe
    source: Mapping[str, Any] = field(default_factory=dict)
    attribution: str = ""

    def __post_init__(self) -> None:
        kernels = np.asarray(self.kernels)
        if kernels.ndim != 2 or kernels.shape[0] == 0 or kernels.shape[1] == 0:
            raise KernelError(
                f"kernels must be a non-empty (N, K) array, got shape {kernels.shape}"
            )
        if not np.issubdtype(kernels.dtype, np.floating) or not np.all(np.isfinite(kernels)):
            raise KernelError("kernels must be finite floating-point values")
        n = kernels.shape[0]
        ids = np.asarray(self.neuron_ids)
        if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
            raise KernelError(
                f"neuron_ids must be {n} integers (one per kernel), got shape {ids.shape} "
                f"and dtype {ids.dtype}"
            )
        path = np.asarray(self.path)
        if path.ndim != 1 or (path.size and not np.issubdtype(path.dtype, np.integer)):
            raise KernelError(f"path must be a 1-D integer array, got shape {path.shape}")
        if path.size and (path.min() < 0 or path.max() >= n):
            raise KernelError(f"path indices must be rows of kernels (0..{n - 1})")
        if not isinstance(self.recipe, KernelRecipe):
            raise KernelError("recipe must be a KernelRecipe")
        object.__setattr__(self, "kernels", _readonly(kernels.astype(np.float32)))
        object.__setattr__(self, "neuron_ids", _readonly(ids.astype(np.int64)))
        object.__setattr__(self, "path", _readonly(path.astype(np.int64)))
        object.__setattr__(self, "source", json.loads(json.dumps(dict(self.source))))

    # ------------------------------------------------------------------ properties
    @property
    def n_kernels(self) -> int:
        return int(self.kernels.shape[0])

    @property
    def kernel_size(self) -> int:
        return int(self.kernels.shape[1])

    @property
    def path_kernels(self) -> np.ndarray:
        """``(T, K)`` kernels in path order."""
        return np.asarray(self.kernels[self.path], dtype=np.float32)

    def fingerprint(self) -> str:
        """sha256 hex over kernels, neuron ids, path (little-endian bytes) and the recipe JSON."""
        digest = hashlib.sha256()
        for array, dtype in ((self.kernels, "<f4"), (self.neuron_ids, "<i8"), (self.path, "<i8")):
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
        digest.update(self.recipe.to_json().encode())
        return digest.hexdigest()

    def same_content(self, other: KernelBank) -> bool:
        """True when both banks have the same arrays, recipe, source and attribution."""
        return (
            self.fingerprint() == other.fingerprint()
            and dict(self.source) == dict(other.source)
            and self.attribution == other.attribution
        )

    # ------------------------------------------------------------------ file format
    def _entries(self) -> dict[str, np.ndarray]:
        return {
            "format": np.array(BANK_FORMAT),
            "kernels": np.ascontiguousarray(self.kernels, dtype="<f4"),
            "neuron_ids": np.ascontiguousarray(self.neuron_ids, dtype="<i8"),
            "path": np.ascontiguousarray(self.path, dtype="<i8"),
            "recipe_json": np.array(self.recipe.to_json()),
            "source_json": np.array(json.dumps(dict(self.source), indent=2, sort_keys=True)),
            "attribution": np.array(self.attribution),
        }

    def save(self, path: str | Path) -> Path:
        """Write the bank atomically (temp file in the same folder, then ``os.replace``)."""
        target = Path(path)
        if target.suffix != ".npz":
            raise KernelError(f"{target}: a kernel bank file must end in .npz")
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
        os.close(handle)
        try:
            with zipfile.ZipFile(tmp_name, "w", compression=zipfile.ZIP_STORED) as archive:
                for name, array in self._entries().items():
                    info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
                    info.external_attr = 0o644 << 16
                    with archive.open(info, "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; banks are shared files
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        logger.info("wrote kernel bank %s (%d x %d)", target, self.n_kernels, self.kernel_size)
        return target

    @classmethod
    def load(cls, path: str | Path) -> KernelBank:
        """Read a bank written by :meth:`save`; any problem raises KernelError naming the file."""
        path = Path(path)
        if not path.is_file():
            raise KernelError(
                f"{path}: kernel bank not found; build one with `wakeword kernels --out {path}`"
            )
        try:
            with np.load(path, allow_pickle=False) as archive:
                names = set(archive.files)
                missing = [name for name in _ENTRIES if name not in names]
                if missing:
                    raise KernelError(
                        f"{path}: not a kernel bank, missing entries {', '.join(missing)}; "
                        "rebuild it with `wakeword kernels`"
                    )
                extra = sorted(names - set(_ENTRIES))
                if extra:
                    raise KernelError(f"{path}: unexpected entries {', '.join(extra)}")
                data = {name: archive[name] for name in _ENTRIES}
        except KernelError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise KernelError(
                f"{path}: unreadable or corrupt kernel bank ({exc}); rebuild it with "
                "`wakeword kernels`"
            ) from exc
        if str(data["format"]) != BANK_FORMAT:
            raise KernelError(
                f"{path}: format is {str(data['format'])!r}, expected {BANK_FORMAT!r}; rebuild "
                "it with this version of `wakeword kernels`"
            )
        kernels, ids, route = data["kernels"], data["neuron_ids"], data["path"]
        if kernels.dtype != np.float32 or kernels.ndim != 2:
            raise KernelError(
                f"{path}: 'kernels' must be float32 (N, K), got {kernels.dtype} {kernels.shape}"
            )
        if ids.dtype != np.int64 or ids.shape != (kernels.shape[0],):
            raise KernelError(
                f"{path}: 'neuron_ids' must be int64 ({kernels.shape[0]},), got {ids.dtype} "
                f"{ids.shape}"
            )
        if route.dtype != np.int64 or route.ndim != 1:
            raise KernelError(f"{path}: 'path' must be 1-D int64, got {route.dtype} {route.shape}")
        try:
            recipe = KernelRecipe.from_json(str(data["recipe_json"]), where=f"{path}: recipe_json")
            source = json.loads(str(data["source_json"]))
        except ConfigError as exc:
            raise KernelError(str(exc)) from None
        except json.JSONDecodeError as exc:
            raise KernelError(f"{path}: source_json is not valid JSON ({exc})") from None
        if not isinstance(source, dict):
            raise KernelError(f"{path}: source_json must be a JSON object")
        try:
            return cls(
                kernels=kernels,
                neuron_ids=ids,
                path=route,
                recipe=recipe,
                source=source,
                attribution=str(data["attribution"]),
            )
        except KernelError as exc:
            raise KernelError(f"{path}: {exc}") from None


def load_default_bank() -> KernelBank:
    """The shipped FlyWire auditory bank (``models/kernels/flywire_auditory.npz``)."""
    if not DEFAULT_KERNEL_BANK.is_file():
        raise KernelError(
            f"{DEFAULT_KERNEL_BANK}: the default kernel bank is missing; regenerate it with "
            "`wakeword kernels --recipe models/kernels/recipe.json` (needs the FlyWire data "
            "in ../shared/data/connectome/flywire_auditory)"
        )
    return KernelBank.load(DEFAULT_KERNEL_BANK)
