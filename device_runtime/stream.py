"""Audio sources and the :class:`Listener` that runs a detector on one.

Sources are iterables of 1-D float32 blocks at the model's rate:

* :class:`Microphone`: a ``sounddevice.InputStream`` whose callback only copies each block
  into a bounded queue. When the queue is full the *oldest* block is dropped and counted in
  :attr:`Microphone.overruns` (a warning is logged from the reading side): the callback never
  blocks and a slow consumer sees the freshest audio. A device that cannot be opened, or
  stops delivering because it vanished, is retried with exponential backoff, then raises
  :class:`MicrophoneError` listing the available input devices. A device that does not take
  the requested rate is opened at its own rate and resampled.
* :class:`FileSource`: a file replayed in blocks, optionally paced in real time.
* :func:`iter_chunks`: any iterable of arrays/bytes (or one array) as float32 blocks.

Example::

    >>> det = Detector("models/computer")                        # doctest: +SKIP
    >>> with Listener(det) as listener:                           # the default microphone
    ...     for detection in listener:
    ...         print(detection.keyword, detection.time_s)
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from device_runtime.audio import Resampler, to_float32
from device_runtime.audio_file import iter_audio
from device_runtime.detector import Detector
from device_runtime.errors import BackendUnavailableError, MicrophoneError
from device_runtime.events import Detection

__all__ = ["FileSource", "Listener", "Microphone", "input_devices", "iter_chunks"]

if TYPE_CHECKING:
    from typing_extensions import Self

logger = logging.getLogger(__name__)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as exc:
        raise BackendUnavailableError("the microphone needs sounddevice: pip install "
                                      "sounddevice") from exc
    except OSError as exc:  # sounddevice imports, but the PortAudio library is missing
        raise BackendUnavailableError(
            f"sounddevice cannot load PortAudio ({exc}); install it: apt install libportaudio2 "
            "(Debian/Ubuntu) or brew install portaudio (macOS)") from exc
    return sounddevice


def input_devices() -> list[dict[str, Any]]:
    """The input devices PortAudio sees: dicts with index, name, channels, default rate."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
    except sd.PortAudioError as exc:  # pragma: no cover - depends on the machine
        raise MicrophoneError(f"cannot list audio devices ({exc})") from exc
    return [{"index": i, "name": d["name"], "channels": int(d["max_input_channels"]),
             "default_sample_rate_hz": float(d["default_samplerate"])}
            for i, d in enumerate(devices) if d["max_input_channels"] > 0]


def _device_list_text() -> str:
    try:
        devices = input_devices()
    except (MicrophoneError, BackendUnavailableError) as exc:
        return f"(could not list devices: {exc})"
    if not devices:
        return "none (no input device is visible to PortAudio: check the sound server)"
    return "; ".join(f"{d['index']}: {d['name']!r} ({d['channels']} ch, "
                     f"{d['default_sample_rate_hz']:.0f} Hz)" for d in devices)


class Microphone:
    """Live mono audio from an input device through sounddevice/PortAudio.

    Args:
        device: PortAudio device index or (part of a) name; ``None`` is the system default.
        sample_rate_hz: rate of the blocks this source yields (the model's rate).
        block_ms: audio per block (the callback granularity).
        queue_blocks: blocks held between the callback and the reader; when full the oldest
            is dropped and counted in :attr:`overruns`.
        retries: extra attempts to open (or re-open a vanished) device before giving up.
        backoff_s: delay before the first retry; doubled for each further one.

    Iterating yields 1-D float32 blocks in [-1, 1] until :meth:`stop`. Use as a context
    manager or call :meth:`start` / :meth:`stop`.
    """

    def __init__(self, device: int | str | None = None, sample_rate_hz: int = 16000,
                 block_ms: float = 80.0, queue_blocks: int = 50, *, retries: int = 4,
                 backoff_s: float = 0.5) -> None:
        if sample_rate_hz <= 0 or block_ms <= 0 or queue_blocks < 1 or retries < 0:
            raise ValueError("sample_rate_hz and block_ms must be positive, queue_blocks >= 1 "
                             "and retries >= 0")
        self.device = device
        self.sample_rate_hz = int(sample_rate_hz)
        self.block_ms = float(block_ms)
        self.queue_blocks = int(queue_blocks)
        self.retries = int(retries)
        self.backoff_s = float(backoff_s)
        self._queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=self.queue_blocks)
        self._stream: Any = None
        self._resampler: Resampler | None = None
        self._channels = 1
        self._running = False
        self._failed = threading.Event()
        self._generation = 0  # bumped per opened/closed stream
        self.overruns = 0  # blocks dropped because the reader fell behind
        self.input_overflows = 0  # PortAudio-reported overflows (audio lost before us)
        self._reported_overruns = 0
        self.device_rate_hz: float | None = None
        self.device_name: str | None = None

    # -- the real-time side -------------------------------------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio callback: copy, enqueue, never block (drop the oldest when full)."""
        if status and getattr(status, "input_overflow", False):
            self.input_overflows += 1
        block = indata.copy()
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self.overruns += 1
            try:
                self._queue.put_nowait(block)
            except queue.Full:
                self.overruns += 1

    def _finished(self, generation: int) -> None:
        # the current stream ended without stop()/close: the device failed or vanished
        if self._running and generation == self._generation:
            self._failed.set()

    # -- opening ----------------------------------------------------------------------------------
    def _open_once(self) -> None:
        sd = _sounddevice()
        info = sd.query_devices(self.device, "input")
        self.device_name = str(info["name"])
        rate: float = self.sample_rate_hz
        channels = 1
        try:
            sd.check_input_settings(device=self.device, samplerate=rate, channels=1,
                                    dtype="int16")
        except sd.PortAudioError as exc:
            if "Invalid sample rate" not in str(exc) and "channels" not in str(exc):
                raise  # not a format problem: the device is unavailable (retried by _open)
            rate = float(info["default_samplerate"])
            channels = max(1, min(2, int(info["max_input_channels"])))
            logger.info("%s: does not take %d Hz mono (%s); recording %.0f Hz with %d "
                        "channel(s) and resampling", self.device_name, self.sample_rate_hz,
                        exc, rate, channels)
        self._channels = channels
        self.device_rate_hz = rate
        self._resampler = (None if int(rate) == self.sample_rate_hz
                           else Resampler(int(rate), self.sample_rate_hz))
        blocksize = max(1, round(rate * self.block_ms / 1000.0))
        self._generation += 1
        generation = self._generation
        self._stream = sd.InputStream(device=self.device, samplerate=rate, channels=channels,
                                      dtype="int16", blocksize=blocksize,
                                      callback=self._callback,
                                      finished_callback=lambda: self._finished(generation))
        self._stream.start()

    def _open(self) -> None:
        sd = _sounddevice()
        delay = self.backoff_s
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                self._open_once()
                logger.info("microphone: %s at %.0f Hz", self.device_name, self.device_rate_hz)
                return
            except (sd.PortAudioError, ValueError) as exc:
                last = exc
                self._close_stream()
                if attempt < self.retries:
                    logger.warning("microphone %r: %s; retrying in %.2f s (%d/%d)",
                                   self.device, exc, delay, attempt + 1, self.retries)
                    time.sleep(delay)
                    delay *= 2
        raise MicrophoneError(
            f"cannot open input device {self.device if self.device is not None else 'default'!r}"
            f" after {self.retries + 1} attempt(s): {last}. Available input devices: "
            f"{_device_list_text()}. Pass device=<index or name> (CLI: --device)")

    def _close_stream(self) -> None:
        self._generation += 1  # the closing stream's finished-callback is now ignored
        stream, self._stream = self._stream, None
        if stream is not None:
            sd = _sounddevice()
            try:  # best effort: the device may already be gone
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            except sd.PortAudioError as exc:
                logger.debug("closing the input stream: %s", exc)

    def start(self) -> Self:
        """Open the device (with retries) and start recording. Returns ``self``."""
        if self._running:
            return self
        self._failed.clear()
        self._running = True
        try:
            self._open()
        except BaseException:
            self._running = False
            raise
        return self

    def stop(self) -> None:
        """Stop recording and close the device; iteration ends. Safe to call twice."""
        self._running = False
        self._close_stream()

    close = stop

    @property
    def running(self) -> bool:
        return self._running

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the reading side -------------------------------------------------------------------------
    def _convert(self, block: np.ndarray) -> np.ndarray:
        samples = block.astype(np.float32) / 32768.0
        samples = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
        if self._resampler is not None:
            samples = self._resampler.process(samples)
        return samples

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        """The next block (float32, mono, ``sample_rate_hz``), or ``None`` if ``timeout``
        seconds passed without audio or the microphone was stopped. A vanished device is
        re-opened with backoff; if that fails, :class:`MicrophoneError`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._running:
            if self._failed.is_set():
                self._recover()
            wait = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if wait <= 0:
                return None
            try:
                block = self._queue.get(timeout=wait)
            except queue.Empty:
                if self._stream is not None and not self._stream.active and self._running:
                    self._failed.set()
                continue
            if self.overruns != self._reported_overruns:
                logger.warning("microphone: the reader fell behind; %d block(s) dropped so far "
                               "(oldest first)", self.overruns)
                self._reported_overruns = self.overruns
            return self._convert(block)
        return None

    def _recover(self) -> None:
        logger.warning("microphone %s stopped delivering audio (device gone?); re-opening",
                       self.device_name)
        self._close_stream()
        self._failed.clear()
        self._open()  # raises MicrophoneError listing the devices when it cannot

    def __iter__(self) -> Iterator[np.ndarray]:
        if not self._running:
            self.start()
        while self._running:
            block = self.read(timeout=0.2)
            if block is not None and block.size:
                yield block


class FileSource:
    """An audio file as a source: 1-D float32 blocks at ``sample_rate_hz``.

    ``realtime=True`` paces the blocks at the speed of the audio (for demos and tests).
    """

    def __init__(self, path: str | os.PathLike[str], sample_rate_hz: int = 16000,
                 block_ms: float = 80.0, *, realtime: bool = False, downmix: bool = False) -> None:
        self.path = Path(path)
        self.sample_rate_hz = int(sample_rate_hz)
        self.block_samples = max(1, round(sample_rate_hz * block_ms / 1000.0))
        self.realtime = realtime
        self.downmix = downmix
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def __iter__(self) -> Iterator[np.ndarray]:
        self._stopped.clear()
        start = time.monotonic()
        sent = 0
        pending = np.zeros(0, dtype=np.float32)
        size = self.block_samples
        for samples in iter_audio(self.path, self.sample_rate_hz, downmix=self.downmix):
            pending = np.concatenate([pending, samples]) if pending.size else samples
            while pending.size >= size:
                if self._stopped.is_set():
                    return
                self._pace(start, sent)
                yield pending[:size]
                pending = pending[size:]
                sent += size
        if pending.size and not self._stopped.is_set():
            self._pace(start, sent)
            yield pending

    def _pace(self, start: float, sent: int) -> None:
        if self.realtime:
            time.sleep(max(0.0, start + sent / self.sample_rate_hz - time.monotonic()))


def iter_chunks(source: Iterable[Any] | np.ndarray | bytes, chunk_samples: int | None = None
                ) -> Iterator[np.ndarray]:
    """Normalise audio to an iterator of 1-D float32 blocks.

    ``source`` is one array (or bytes), split into ``chunk_samples`` (default 1280) blocks, or
    an iterable of arrays / s16le bytes, converted one by one and, if ``chunk_samples`` is
    given, re-cut into blocks of exactly that size (the last one may be shorter).
    """
    if isinstance(source, (np.ndarray, bytes, bytearray, memoryview)):
        samples = to_float32(source, where="iter_chunks")
        size = chunk_samples or 1280
        for i in range(0, samples.size, size):
            yield samples[i:i + size]
        return
    if chunk_samples is None:
        for item in source:
            yield to_float32(item, where="iter_chunks")
        return
    pending = np.zeros(0, dtype=np.float32)
    for item in source:
        pending = np.concatenate([pending, to_float32(item, where="iter_chunks")])
        while pending.size >= chunk_samples:
            yield pending[:chunk_samples]
            pending = pending[chunk_samples:]
    if pending.size:
        yield pending


class Listener:
    """Run a :class:`Detector` on a source; yield detections or call a callback.

    Args:
        detector: the detector to feed (its sample rate must match the source's).
        source: an iterable of audio blocks (:class:`Microphone`, :class:`FileSource`, a list
            of arrays...); ``None`` opens the default microphone at the detector's rate.
        on_detection: if given, a background thread consumes the source from ``__enter__``
            and calls it for each detection; otherwise iterate over the listener.

    Exiting the context stops the source if the listener started it and re-raises an error
    from the background thread.
    """

    def __init__(self, detector: Detector, source: Iterable[Any] | None = None, *,
                 on_detection: Callable[[Detection], None] | None = None) -> None:
        self.detector = detector
        rate = getattr(source, "sample_rate_hz", detector.sample_rate_hz)
        if rate != detector.sample_rate_hz:
            raise ValueError(f"the source delivers {rate} Hz but the model takes "
                             f"{detector.sample_rate_hz} Hz; create the source with "
                             f"sample_rate_hz={detector.sample_rate_hz}")
        self.source: Iterable[Any] = source if source is not None else Microphone(
            sample_rate_hz=detector.sample_rate_hz,
            block_ms=1000.0 * detector.chunk_samples / detector.sample_rate_hz)
        self.on_detection = on_detection
        self._started_source = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.detections = 0

    def __enter__(self) -> Self:
        start = getattr(self.source, "start", None)
        if callable(start) and not getattr(self.source, "running", False):
            start()
            self._started_source = True
        if self.on_detection is not None:
            self._thread = threading.Thread(target=self._run, name="wakeword-listener",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._started_source:
            self.source.stop()  # type: ignore[attr-defined]
        if self._error is not None and exc is None:
            raise self._error

    def stop(self) -> None:
        """Ask the listener to stop after the current block (safe from any thread)."""
        self._stop.set()
        stop = getattr(self.source, "stop", None)
        if self._started_source and callable(stop):
            stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Callback mode: wait for the source to end; return whether it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        callback = self.on_detection
        try:
            for detection in self._detections():
                if callback is not None:
                    callback(detection)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller by __exit__
            self._error = exc

    def _detections(self) -> Iterator[Detection]:
        for block in self.source:
            if self._stop.is_set():
                return
            for detection in self.detector.process(block):
                self.detections += 1
                yield detection
            if self._stop.is_set():
                return

    def __iter__(self) -> Iterator[Detection]:
        if self._thread is not None:
            raise RuntimeError("this Listener calls on_detection in the background; iterate "
                               "only over a Listener created without a callback")
        return self._detections()
