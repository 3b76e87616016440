"""Synthesis requests and their on-disk cache, keyed by a hash of everything that shapes the
audio, so a second dataset build reuses the clips of the first.

Layout: ``CACHE_DIR/tts/<synthesizer>/<key[:2]>/<key>.wav`` (float32 WAV, bit-exact), where
``key`` is the sha256 of the text, voice, speed, pitch, synthesizer name and version, and
``CACHE_FORMAT``. Files are written atomically, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wakeword.data.audio_io import load_audio, save_wav
from wakeword.data.tts import Synthesizer
from wakeword.errors import ConfigError, DataError
from wakeword.progress import progress

__all__ = ["CACHE_FORMAT", "SynthesisCache", "SynthesisRequest"]

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1


@dataclass(frozen=True, kw_only=True)
class SynthesisRequest:
    """One clip to synthesise: ``synthesizer`` is a :attr:`Synthesizer.name`."""

    text: str
    voice: str
    speed: float
    pitch: float
    synthesizer: str


class SynthesisCache:
    """Synthesises requests through an on-disk cache; :meth:`synthesize` is the one method."""

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.root = Path(cache_dir) / "tts"

    @staticmethod
    def key(request: SynthesisRequest, version: str) -> str:
        """sha256 hex digest of the request, the synthesizer version and the cache format."""
        payload = json.dumps({
            "text": request.text, "voice": request.voice, "speed": repr(float(request.speed)),
            "pitch": repr(float(request.pitch)), "synthesizer": request.synthesizer,
            "version": version, "format": CACHE_FORMAT,
        }, sort_keys=True)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def path(self, request: SynthesisRequest, version: str) -> Path:
        key = self.key(request, version)
        return self.root / request.synthesizer / key[:2] / f"{key}.wav"

    def is_cached(self, request: SynthesisRequest, version: str) -> bool:
        """Whether the clip is in the cache and whole. A damaged entry (cut short, or not a
        WAV file) is deleted with a warning, so it is synthesised again and never used."""
        path = self.path(request, version)
        try:
            with path.open("rb") as handle:
                head = handle.read(12)
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        except OSError as exc:
            logger.warning("%s: unreadable cache entry (%s); synthesising it again", path, exc)
            return False
        if (len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"
                and int.from_bytes(head[4:8], "little") + 8 == size):
            return True
        logger.warning("%s: damaged cache entry (%d bytes, header does not match); deleting "
                       "it and synthesising it again", path, size)
        path.unlink(missing_ok=True)
        return False

    def synthesize(self, requests: Sequence[SynthesisRequest],
                   synthesizers: Mapping[str, Synthesizer], *,
                   workers: int = 2) -> tuple[list[np.ndarray], int]:
        """Audio for every request (cached or newly synthesised), in request order, and how
        many were newly synthesised.

        Thread-safe synthesizers (espeak-ng: one process per call) run ``workers`` requests at
        a time; the others (Kokoro, whose ONNX session already uses the cores) one at a time.
        """
        if workers < 1:
            raise ConfigError(f"SynthesisCache: workers is {workers}; use 1 or more")
        unknown = sorted({r.synthesizer for r in requests} - set(synthesizers))
        if unknown:
            raise ConfigError(f"SynthesisCache: requests name synthesizers {unknown} but only "
                              f"{sorted(synthesizers)} were given")
        results: list[np.ndarray | None] = [None] * len(requests)
        missing: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            path = self.path(request, synthesizers[request.synthesizer].version)
            if self.is_cached(request, synthesizers[request.synthesizer].version):
                try:
                    results[index] = load_audio(path)
                    continue
                except DataError as exc:
                    logger.warning("re-synthesising a damaged cache file: %s", exc)
            missing.setdefault(request.synthesizer, []).append(index)

        for name, indices in sorted(missing.items()):
            synth = synthesizers[name]

            def make(index: int, synth: Synthesizer = synth) -> np.ndarray:
                request = requests[index]
                audio = synth.synthesize(request.text, voice=request.voice,
                                         speed=request.speed, pitch=request.pitch)
                save_wav(self.path(request, synth.version), audio, subtype="FLOAT")
                return audio

            threads = workers if synth.thread_safe else 1
            desc = f"synthesising with {name}"
            logger.info("%s: %d clips to synthesise (%d cached)", name, len(indices),
                        sum(1 for r in requests if r.synthesizer == name) - len(indices))
            if threads == 1:
                for index in progress(indices, desc=desc, total=len(indices)):
                    results[index] = make(index)
            else:
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    for index, audio in progress(zip(indices, pool.map(make, indices)),
                                                 desc=desc, total=len(indices)):
                        results[index] = audio
        n_new = sum(len(v) for v in missing.values())
        return [r if r is not None else np.zeros(0, np.float32) for r in results], n_new
