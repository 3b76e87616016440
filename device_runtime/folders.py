"""Writing model folders without destroying anything: replace checks, temp folders, swaps.

Standard library only; used by enrolment (``device_runtime.finetune``) and the exporter.

* :func:`check_target` decides whether ``out_dir`` may be written: a new folder always; an
  existing one only with ``overwrite`` and only when it is itself a model folder (it holds a
  ``manifest.json``) that contains none of the inputs (the base model, the checkpoint).
* :func:`make_temp_dir` creates the folder to build in, beside the target, named
  ``.<target>.wakeword-tmp-<pid>-<random>``; :func:`clean_stale` removes such folders left by
  a killed run (their process is gone) on the next run.
* :func:`swap_into_place` moves the finished folder in: an atomic exchange with the old folder
  (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two renames), then the old one is deleted.
* :func:`apply_umask` gives the new files the user's usual permissions (``mkdtemp`` and
  ``mkstemp`` create private 0700/0600 entries).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from device_runtime.errors import DeviceRuntimeError

__all__ = ["TEMP_MARK", "apply_umask", "check_target", "clean_stale", "current_umask",
           "make_temp_dir", "swap_into_place"]

logger = logging.getLogger(__name__)

TEMP_MARK = ".wakeword-tmp-"
MANIFEST = "manifest.json"
#: temp folders of older versions carried no process id; they are stale after this long
LEGACY_STALE_S = 3600.0
_LEGACY = re.compile(r"\.(export-[A-Za-z0-9_]+|old-[0-9a-f]{8}|[A-Za-z0-9_]+\.(tmp|old))$")


def current_umask() -> int:
    """The process umask, read without changing it where possible (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the set-and-restore dance
    os.umask(mask)
    return mask


def apply_umask(folder: str | os.PathLike[str]) -> None:
    """Folders 0777 and files 0666, minus the umask, for ``folder`` and everything in it."""
    mask = current_umask()
    root = Path(folder)
    root.chmod(0o777 & ~mask)
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_target(out_dir: str | os.PathLike[str], *, overwrite: bool,
                 keep: Iterable[str | os.PathLike[str]] = (), what: str = "model folder",
                 flag: str = "--overwrite", error: type[Exception] = DeviceRuntimeError) -> Path:
    """Refuse an ``out_dir`` whose replacement could destroy something; return it absolute.

    ``keep`` are the inputs (base model folder, checkpoint): ``out_dir`` may neither be one of
    them, contain one, nor lie inside one. An existing ``out_dir`` needs ``overwrite`` and must
    itself be a model folder (hold a ``manifest.json``): a parent folder, a run folder or any
    other folder is never replaced.
    """
    target = Path(out_dir).absolute()
    resolved = target.resolve()
    for item in keep:
        kept = Path(item).resolve()
        if _inside(kept, resolved):
            raise error(f"{target}: holds {kept}, an input of this run; replacing it would "
                        f"delete that input: choose a new {what} path (e.g. a sibling folder)")
        if kept.is_dir() and _inside(resolved, kept):
            raise error(f"{target}: lies inside {kept}, an input of this run, which is never "
                        f"modified: choose a {what} path outside it")
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise error(f"{target}: exists and is not a folder; remove it or choose another path")
    if target.exists():
        if not overwrite:
            raise error(f"{target}: already exists; choose a new folder or pass {flag} to "
                        "replace it")
        if not (target / MANIFEST).is_file():
            raise error(f"{target}: exists and is not a {what} (no {MANIFEST}); {flag} only "
                        "replaces a model folder written by wakeword, never another folder: "
                        "choose a new path")
    if not target.parent.is_dir():
        raise error(f"{target.parent}: the parent folder of {target.name} does not exist; "
                    "create it first")
    return target


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def clean_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temp folders of ``target`` left by killed runs; return what was removed.

    A folder ``.<name>.wakeword-tmp-<pid>-...`` is stale when process ``pid`` is gone; temp
    folders of older versions (no pid) when untouched for :data:`LEGACY_STALE_S`.
    """
    target = Path(target).absolute()
    parent, prefix = target.parent, f".{target.name}."
    removed: list[Path] = []
    if not parent.is_dir():
        return removed
    for item in parent.iterdir():
        name = item.name
        if not name.startswith(prefix) or item.is_symlink() or not item.is_dir():
            continue
        rest = name[len(prefix) - 1:]
        stale = False
        if rest.startswith(TEMP_MARK):
            pid_text = rest[len(TEMP_MARK):].split("-", 1)[0]
            stale = pid_text.isdigit() and not _pid_alive(int(pid_text))
        elif _LEGACY.fullmatch(rest):
            try:
                stale = time.time() - item.stat().st_mtime > LEGACY_STALE_S
            except OSError:
                stale = False
        if stale:
            shutil.rmtree(item, ignore_errors=True)
            removed.append(item)
            logger.info("removed %s, left by an interrupted run", item)
    return removed


def make_temp_dir(target: str | os.PathLike[str]) -> Path:
    """A new empty folder beside ``target`` to build it in (stale ones are cleaned first)."""
    target = Path(target).absolute()
    clean_stale(target)
    for _ in range(100):
        tmp = target.parent / f".{target.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            tmp.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return tmp
    raise DeviceRuntimeError(f"{target.parent}: cannot create a temporary folder")


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def swap_into_place(tmp: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Move the finished folder ``tmp`` to ``target``. An existing ``target`` (already checked
    by :func:`check_target`) is exchanged atomically with ``tmp`` and then deleted; without
    ``renameat2`` it is renamed aside first and put back if the second rename fails."""
    tmp, target = Path(tmp), Path(target)
    if not target.exists():
        os.rename(tmp, target)
        return
    if _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
        return
    aside = target.parent / f".{target.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)
