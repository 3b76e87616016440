"""Synthesis at scale: many requests through the on-disk cache, on every core, resumable.

:func:`synthesize_to_cache` sends the requests that are not cached yet to ``workers`` processes.
Each process loads its own synthesizers (Kokoro with one ONNX Runtime thread, so two processes
use two cores fully) and writes every clip into the :class:`~wakeword.data.tts_cache.SynthesisCache`
as soon as it is made, atomically. Stopping a build at any point loses at most the clips being
spoken; the next call finds the rest in the cache and continues where it stopped.

A request that a synthesizer cannot speak (for example text Kokoro cannot phonemize) is
reported and skipped; the caller decides whether the rest is enough.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wakeword.data.audio_io import save_wav
from wakeword.data.pools import cache_write_error
from wakeword.data.tts_cache import SynthesisCache, SynthesisRequest
from wakeword.errors import ConfigError, DataError

__all__ = ["SynthesisReport", "synthesize_to_cache"]

logger = logging.getLogger(__name__)

_CHUNK = 8  # requests per task: small enough to lose little on interrupt, large to amortise

# One set of synthesizers per worker process, made by _init_worker.
_WORKER: dict[str, Any] = {}


@dataclass
class SynthesisReport:
    """What one call did: requests already cached, newly made, failed (with reasons)."""

    requested: int = 0
    cached: int = 0
    made: int = 0
    failed: list[tuple[SynthesisRequest, str]] = field(default_factory=list)
    seconds: float = 0.0


def _die_with_parent() -> None:
    """On Linux, end this worker when the building process dies (killed, not only Ctrl-C), so
    no orphan keeps synthesising."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(tts_dir: str | None, cache_root: str) -> None:
    import numpy as np  # noqa: F401  (imported once per process)

    from wakeword.data.tts import EspeakSynthesizer, KokoroSynthesizer

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _die_with_parent()
    synths: dict[str, Any] = {}
    try:
        synths["espeak-ng"] = EspeakSynthesizer()
    except DataError:
        pass
    try:
        synths["kokoro"] = KokoroSynthesizer(tts_dir=tts_dir, num_threads=1)
    except DataError:
        pass
    _WORKER["synths"] = synths
    _WORKER["cache"] = SynthesisCache(Path(cache_root).parent)


def _work(chunk: list[SynthesisRequest]) -> tuple[int, list[tuple[SynthesisRequest, str]]]:
    synths: dict[str, Any] = _WORKER["synths"]
    cache: SynthesisCache = _WORKER["cache"]
    made, failed = 0, []
    for request in chunk:
        synth = synths.get(request.synthesizer)
        if synth is None:
            failed.append((request, f"{request.synthesizer} is not available in the worker"))
            continue
        path = cache.path(request, synth.version)
        if path.is_file():
            continue
        try:
            audio = synth.synthesize(request.text, voice=request.voice, speed=request.speed,
                                     pitch=request.pitch)
        except (DataError, ConfigError) as exc:
            failed.append((request, str(exc)))
            continue
        try:
            save_wav(path, audio, subtype="FLOAT")
        except OSError as exc:
            raise cache_write_error(path, exc) from None
        made += 1
    return made, failed


def synthesize_to_cache(requests: Sequence[SynthesisRequest], cache: SynthesisCache,
                        versions: dict[str, str], *, tts_dir: str | None = None,
                        workers: int = 2, desc: str = "synthesising") -> SynthesisReport:
    """Make sure every request is in ``cache``; ``versions`` maps synthesizer name to its
    version (the cache key part). Returns a :class:`SynthesisReport`."""
    from wakeword.progress import progress

    if workers < 1:
        raise ConfigError(f"synthesis workers is {workers}; use 1 or more")
    unknown = sorted({r.synthesizer for r in requests} - set(versions))
    if unknown:
        raise ConfigError(f"synthesis requests name {unknown}, but only {sorted(versions)} "
                          "are available")
    started = time.monotonic()
    todo = [r for r in dict.fromkeys(requests) if not cache.is_cached(r, versions[r.synthesizer])]
    report = SynthesisReport(requested=len(requests), cached=len(requests) - len(todo))
    if not todo:
        report.seconds = time.monotonic() - started
        return report
    logger.info("%s: %d clips to make, %d already cached", desc, len(todo), report.cached)
    # Kokoro first in every chunk order is not needed; interleave so the ETA is honest.
    chunks = [todo[i:i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    context = multiprocessing.get_context("spawn")
    bar = progress(iter(range(len(todo))), desc=desc, total=len(todo))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_init_worker, initargs=(tts_dir, str(cache.root)))
    try:
        pending = {pool.submit(_work, c): len(c) for c in chunks[: 2 * workers]}
        next_chunk = len(pending)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                size = pending.pop(future)
                made, failed = future.result()
                report.made += made
                report.failed.extend(failed)
                for _ in range(size):
                    next(bar, None)
                if next_chunk < len(chunks):
                    pending[pool.submit(_work, chunks[next_chunk])] = len(chunks[next_chunk])
                    next_chunk += 1
    except BaseException:
        # stopped: queued work is dropped, the clips being spoken finish and stay cached
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    for _ in bar:
        pass
    report.seconds = time.monotonic() - started
    if report.failed:
        logger.warning("%s: %d of %d clips could not be made (first: %s)", desc,
                       len(report.failed), len(todo), report.failed[0][1])
    return report
