"""An hour of audio streams faster than real time with flat memory."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, tone

from device_runtime import Detector

toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture

HOUR_S = 3600
BLOCK_S = 10  # large chunks keep the test fast; chunking itself is tested elsewhere
TRACED_GROWTH_LIMIT_BYTES = 64 * 1024
RSS_GROWTH_LIMIT_BYTES = 8 * 1024 * 1024


def _rss_bytes() -> int:
    statm = Path("/proc/self/statm")
    if not statm.exists():
        pytest.skip("needs /proc/self/statm (Linux)")
    import os

    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "tflite"])
def test_an_hour_of_audio_streams_faster_than_real_time_with_flat_memory(toy_model, backend):
    det = Detector(toy_model, backend=backend)  # default trace_s keeps the last 10 minutes
    rng = np.random.default_rng(0)
    block = int(BLOCK_S * SAMPLE_RATE_HZ)
    burst = tone(300, 0.5, 0.5)
    detections = 0
    started = time.perf_counter()
    warm_blocks = 900 // BLOCK_S  # the score trace fills up during the first 10 minutes
    for i in range(HOUR_S // BLOCK_S):
        if i == warm_blocks:
            tracemalloc.start()
        audio = rng.normal(0, 0.003, block).astype(np.float32)
        if i % 6 == 0:  # one keyword a minute
            audio[block // 2:block // 2 + burst.size] += burst
        detections += len(det.process(audio))
        if i == warm_blocks:  # baseline with one block alive, like the final reading
            traced_before = tracemalloc.get_traced_memory()[0]
            rss_before = _rss_bytes()
    traced_after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rss_after = _rss_bytes()
    elapsed = time.perf_counter() - started
    assert det.time_s == pytest.approx(HOUR_S)
    assert detections == 60
    assert elapsed < HOUR_S / 60, f"{elapsed:.1f} s for an hour: not 60x faster than real time"
    assert traced_after - traced_before < TRACED_GROWTH_LIMIT_BYTES
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_BYTES
    assert len(det.scores) == 7500  # bounded trace: 600 s of 80 ms steps
