"""The checkpoint file format: data only, never a pickle.

A checkpoint is a ZIP archive (stored, not compressed) holding

* ``checkpoint.json``: the payload as JSON, with every array replaced by a reference
  ``{"__array__": i, "kind": "torch" | "numpy"}``, tuples as ``{"__tuple__": [...]}`` and dicts
  whose keys are not all strings as ``{"__items__": [[key, value], ...]}``;
* ``arrays/<i>.npy``: the arrays in NumPy's ``.npy`` format (numeric and bool dtypes only).

Reading it runs no code from the file: the JSON is parsed, each ``.npy`` header is checked
(no object dtype, declared size no larger than the stored bytes, total size capped) and the
bytes are copied into an array. :func:`read_payload` tells a pickled checkpoint written by an
older wakeword apart and says how to convert it once (:func:`convert_pickled`), a step that
has to unpickle the file and is therefore only done on request, for files the user trusts.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wakeword.errors import CheckpointError

__all__ = ["FORMAT_NAME", "convert_pickled", "is_pickled_checkpoint", "read_payload",
           "write_payload"]

log = logging.getLogger(__name__)

FORMAT_NAME = "wakeword-checkpoint"
FORMAT_VERSION = 1
META_NAME = "checkpoint.json"
MAX_META_BYTES = 64 * 1024 * 1024
MAX_ARRAY_BYTES = 4 * 1024**3  # all arrays together
_MAX_DEPTH = 64
CONVERT_HINT = ("if you trust the file (unpickling can run code), convert it once with "
                "`wakeword convert-checkpoint {path} --out NEW.pt --trust-pickle`")


# -- encoding -----------------------------------------------------------------------------------
def _encode(value: Any, arrays: list[np.ndarray], where: str, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise CheckpointError(f"{where}: nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, torch.Tensor):
        arrays.append(value.detach().cpu().contiguous().numpy().copy())
        return {"__array__": len(arrays) - 1, "kind": "torch"}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise CheckpointError(f"{where}: an object array cannot be stored in a checkpoint")
        arrays.append(np.ascontiguousarray(value))
        return {"__array__": len(arrays) - 1, "kind": "numpy"}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]", depth + 1)
                              for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not {"__array__", "__tuple__",
                                                           "__items__"} & set(value):
            return {k: _encode(v, arrays, f"{where}.{k}", depth + 1) for k, v in value.items()}
        return {"__items__": [[_encode(k, arrays, f"{where} key", depth + 1),
                               _encode(v, arrays, f"{where}[{k!r}]", depth + 1)]
                              for k, v in value.items()]}
    raise CheckpointError(f"{where}: a {type(value).__name__} cannot be stored in a checkpoint; "
                          "store plain numbers, strings, lists, dicts, arrays or tensors")


def write_payload(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plain data, numpy arrays and tensors) to ``path`` atomically."""
    path = Path(path)
    arrays: list[np.ndarray] = []
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "payload": _encode(payload, arrays, "payload")}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr(META_NAME, json.dumps(meta, allow_nan=True))
            for i, array in enumerate(arrays):
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                zf.writestr(f"arrays/{i}.npy", buffer.getvalue())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


# -- decoding -----------------------------------------------------------------------------------
def _read_array(zf: zipfile.ZipFile, name: str, where: str, budget: list[int]) -> np.ndarray:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CheckpointError(f"{where}: the array {name} is missing; the file is damaged or "
                              "not a wakeword checkpoint") from None
    with zf.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy version {version}")
        except (ValueError, SyntaxError, EOFError) as exc:
            raise CheckpointError(f"{where}: {name} is not a readable array ({exc})") from exc
        if dtype.hasobject or dtype.kind not in "biufc":
            raise CheckpointError(f"{where}: {name} has dtype {dtype}; a checkpoint holds "
                                  "numeric arrays only")
        nbytes = math.prod(shape) * dtype.itemsize
        budget[0] -= nbytes
        if nbytes > info.file_size or budget[0] < 0:
            raise CheckpointError(f"{where}: {name} declares {nbytes} bytes, more than the file "
                                  "holds; the file is damaged")
        data = fh.read(nbytes)
    if len(data) != nbytes:
        raise CheckpointError(f"{where}: {name} is truncated")
    array = np.frombuffer(data, dtype=dtype).copy()
    return array.reshape(shape, order="F" if fortran else "C")


def _decode(value: Any, zf: zipfile.ZipFile, where: str, budget: list[int], depth: int = 0
            ) -> Any:
    if depth > _MAX_DEPTH:
        raise CheckpointError(f"{where}: nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_decode(v, zf, where, budget, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        index, kind = value.get("__array__"), value.get("kind")
        if not isinstance(index, int) or isinstance(index, bool) or kind not in ("torch",
                                                                                  "numpy"):
            raise CheckpointError(f"{where}: malformed array reference {value!r}")
        array = _read_array(zf, f"arrays/{index}.npy", where, budget)
        return torch.from_numpy(array) if kind == "torch" else array
    if "__tuple__" in value:
        items = value["__tuple__"]
        if not isinstance(items, list):
            raise CheckpointError(f"{where}: malformed tuple {str(value)[:80]}")
        return tuple(_decode(v, zf, where, budget, depth + 1) for v in items)
    if "__items__" in value:
        items = value["__items__"]
        if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2
                                                  for p in items):
            raise CheckpointError(f"{where}: malformed mapping {str(value)[:80]}")
        out: dict[Any, Any] = {}
        for key, item in items:
            key = _decode(key, zf, where, budget, depth + 1)
            try:
                hash(key)
            except TypeError:
                raise CheckpointError(f"{where}: a mapping key is not hashable") from None
            out[key] = _decode(item, zf, where, budget, depth + 1)
        return out
    return {k: _decode(v, zf, where, budget, depth + 1) for k, v in value.items()}


def is_pickled_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a ``torch.save`` pickle (the format of older wakewords)."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head[:1] == b"\x80":  # legacy torch.save: a bare pickle stream
            return True
        if head[:2] != b"PK":
            return False
        with zipfile.ZipFile(path) as zf:
            return any(n.endswith("data.pkl") for n in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def read_payload(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`write_payload`; never unpickles anything."""
    path = Path(path)
    where = str(path)
    if is_pickled_checkpoint(path):
        raise CheckpointError(
            f"{where}: a pickled checkpoint from an older wakeword; pickles can run code when "
            f"loaded, so wakeword no longer reads them; {CONVERT_HINT.format(path=path)}")
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                info = zf.getinfo(META_NAME)
            except KeyError:
                raise CheckpointError(f"{where}: cannot be read as a checkpoint (no {META_NAME}); "
                                      "it may be truncated or not a wakeword checkpoint") from None
            if info.file_size > MAX_META_BYTES:
                raise CheckpointError(f"{where}: {META_NAME} is {info.file_size} bytes; a "
                                      "checkpoint's metadata is far smaller: the file is damaged")
            meta = json.loads(zf.read(info).decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise CheckpointError(f"{where}: not a wakeword checkpoint ({META_NAME} has no "
                                      f"format {FORMAT_NAME!r})")
            if meta.get("format_version") != FORMAT_VERSION:
                raise CheckpointError(f"{where}: checkpoint format_version is "
                                      f"{meta.get('format_version')!r} but this wakeword reads "
                                      f"{FORMAT_VERSION}; use the wakeword version that wrote it")
            payload = _decode(meta.get("payload"), zf, where, [MAX_ARRAY_BYTES])
    except CheckpointError:
        raise
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, UnicodeDecodeError,
            json.JSONDecodeError, ValueError, EOFError, RecursionError) as exc:
        raise CheckpointError(f"{where}: cannot be read as a checkpoint ({exc.__class__.__name__}:"
                              f" {exc}); it may be truncated or not a wakeword checkpoint") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"{where}: not a wakeword checkpoint (the payload is not a mapping)")
    return payload


def convert_pickled(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                    trust_pickle: bool) -> Path:
    """Convert a pickled checkpoint of an older wakeword to the data-only format.

    Unpickling runs whatever code the file asks for, so this needs ``trust_pickle=True`` and
    must only be used on files you made yourself or got from someone you trust. ``dst`` may be
    ``src`` (replaced atomically).
    """
    src, dst = Path(src), Path(dst)
    if not trust_pickle:
        raise CheckpointError(f"{src}: converting a pickled checkpoint unpickles it, which can run "
                              "code hidden in the file; pass trust_pickle=True (CLI: "
                              "--trust-pickle) only for a file you trust")
    if not src.is_file():
        raise CheckpointError(f"{src}: no such checkpoint")
    if not is_pickled_checkpoint(src):
        try:
            read_payload(src)
        except CheckpointError as exc:
            raise CheckpointError(f"{src}: neither a pickled nor a current checkpoint ({exc})") \
                from exc
        raise CheckpointError(f"{src}: already in the current (data-only) format; nothing to "
                              "convert")
    log.warning("%s: unpickling a trusted checkpoint to convert it (this can run code)", src)
    try:
        payload = torch.load(src, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"{src}: cannot be unpickled ({exc.__class__.__name__}: {exc})") \
            from exc
    if not isinstance(payload, dict) or "schema_version" not in payload:
        raise CheckpointError(f"{src}: not a wakeword checkpoint (no schema_version)")
    write_payload(dst, payload)
    read_payload(dst)
    return dst

