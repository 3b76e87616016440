"""Sources and the Listener, without a sound card: files, iterables, the microphone's queue
policy and its device errors."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, stream_with_events, tone

from device_runtime import Detector, FileSource, Listener, Microphone, MicrophoneError, iter_chunks
from device_runtime.audio import write_wav

toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return stream_with_events(6.0, [(1.0, tone(300, 0.5, 0.5)), (3.5, tone(4000, 0.4, 0.5))])


def test_listener_yields_detections_from_a_file(toy_model, audio, tmp_path):
    path = tmp_path / "a.wav"
    write_wav(path, audio, SAMPLE_RATE_HZ)
    det = Detector(toy_model)
    with Listener(det, FileSource(path, block_ms=30)) as listener:
        found = list(listener)
    assert [d.keyword for d in found] == ["low", "high"]
    assert found == Detector(toy_model).process_file(path)


def test_listener_calls_back_in_the_background(toy_model, audio):
    seen = []
    done = threading.Event()

    def on_detection(d):
        seen.append(d)
        if len(seen) == 2:
            done.set()

    with Listener(Detector(toy_model), iter_chunks(audio, 999), on_detection=on_detection) as lis:
        assert lis.wait(timeout=30)
        with pytest.raises(RuntimeError, match="background"):
            iter(lis)
    assert done.is_set() and [d.keyword for d in seen] == ["low", "high"]


def test_listener_reraises_errors_from_the_background(toy_model):
    def broken():
        yield np.zeros(100, np.float32)
        raise OSError("stream broke")

    listener = Listener(Detector(toy_model), broken(), on_detection=print)
    with pytest.raises(OSError, match="stream broke"), listener as running:
        running.wait(timeout=10)


def test_listener_refuses_a_source_at_another_rate(toy_model, tmp_path):
    with pytest.raises(ValueError, match="delivers 8000 Hz but the model takes 16000 Hz"):
        Listener(Detector(toy_model), FileSource(tmp_path / "x.wav", sample_rate_hz=8000))


def test_iter_chunks_recuts_any_iterable(audio):
    pieces = [audio[:333], (audio[333:5000] * 32767).astype(np.int16), audio[5000:20000]]
    chunks = list(iter_chunks(pieces, chunk_samples=1280))
    assert all(c.size == 1280 for c in chunks[:-1]) and chunks[-1].size == 20000 % 1280
    assert np.concatenate(chunks).size == 20000


def _block(value: int, frames: int = 1280) -> np.ndarray:
    return np.full((frames, 1), value, dtype=np.int16)


def test_full_queue_drops_the_oldest_block_and_counts_it():
    mic = Microphone(queue_blocks=3)
    for value in range(5):  # the callback never blocks, whatever the reader does
        mic._callback(_block(value * 1000), 1280, None, None)
    assert mic.overruns == 2
    mic._running = True  # read() without a device: the queue is all it looks at
    got = [mic.read(timeout=0.1) for _ in range(3)]
    assert [round(float(b[0]) * 32768) for b in got] == [2000, 3000, 4000]  # newest kept
    assert got[0].dtype == np.float32 and got[0].shape == (1280,)
    assert mic.read(timeout=0.05) is None


def test_callback_is_fast_even_when_full():
    mic = Microphone(queue_blocks=2)
    block = _block(1)
    start = time.perf_counter()
    for _ in range(2000):
        mic._callback(block, 1280, None, None)
    per_call = (time.perf_counter() - start) / 2000
    assert per_call < 1e-3 and mic.overruns == 1998


def test_missing_device_retries_with_backoff_then_lists_devices():
    mic = Microphone(device="no-such-microphone-xyz", retries=2, backoff_s=0.05)
    start = time.monotonic()
    with pytest.raises(MicrophoneError, match=r"'no-such-microphone-xyz' after 3 attempt\(s\).*"
                       r"Available input devices: .*--device"):
        mic.start()
    assert time.monotonic() - start >= 0.05 + 0.1  # waited 0.05 s, then 0.1 s
    assert not mic.running


def test_vanished_device_is_reopened_or_reported(monkeypatch):
    import sounddevice as sd

    mic = Microphone(retries=1, backoff_s=0.01)
    attempts = []

    def fail() -> None:
        attempts.append(1)
        raise sd.PortAudioError("Device unavailable")

    monkeypatch.setattr(mic, "_open_once", fail)
    mic._running = True
    mic._failed.set()  # what the finished-callback does when the stream dies
    with pytest.raises(MicrophoneError, match="Device unavailable.*Available input devices"):
        mic.read(timeout=1.0)
    assert len(attempts) == 2
