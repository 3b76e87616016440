"""The real microphone path: PulseAudio with a pipe source as the microphone, PortAudio via
sounddevice, the Listener inside `python -m device_runtime listen`.

A keyword-like burst for the toy model (a loud 300 Hz tone) is written into the pipe in real
time; the listener must print the detection within MAX_DELAY_S after the burst ends. Needs the
pulseaudio binary and the ALSA pulse plugin (`make system`): skipped without them, except under
CI (env CI set), where their absence is a failure.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, tone

toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture

pytestmark = pytest.mark.mic

REPO = Path(__file__).resolve().parent.parent
MAX_DELAY_S = 1.5  # burst end written -> "DETECTED" line read (pipe, PulseAudio, PortAudio)
BLOCK_S = 0.1  # writer pacing: 3,200 bytes every 0.1 s
LEAD_S, BURST_S, TAIL_S = 2.0, 0.5, 3.0


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = (f"{binary} is not installed; the microphone test needs Debian's pulseaudio, "
                   "libportaudio2 and libasound2-plugins (run `make system`)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


class PulseMic:
    """A private PulseAudio daemon whose default source 'mic' reads s16le 16 kHz from a FIFO.

    ``start()`` / ``stop()`` run and stop the daemon by its PID; ``env`` is the environment
    its clients need."""

    def __init__(self) -> None:
        self.daemon, self.pactl = _need("pulseaudio"), _need("pactl")
        self.runtime = tempfile.mkdtemp(prefix="wakeword-pulse-")
        self.fifo = os.path.join(self.runtime, "mic.fifo")
        self.env = dict(os.environ, PULSE_RUNTIME_PATH=self.runtime, PULSE_STATE_PATH=self.runtime,
                        XDG_RUNTIME_DIR=self.runtime, XDG_CONFIG_HOME=self.runtime,
                        HOME=self.runtime, PULSE_SERVER=f"unix:{self.runtime}/native")
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(self.runtime) / "pulseaudio.log"
        self.log = self.log_path.open("a")  # not a pipe: a chatty daemon must never block

    def pactl_out(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.pactl, *args], env=self.env, capture_output=True,
                              check=False)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.daemon, "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "-n",
             "--use-pid-file=no", "--load=module-native-protocol-unix",
             (f"--load=module-pipe-source source_name=mic file={self.fifo} format=s16le "
              f"rate={SAMPLE_RATE_HZ} channels=1"),
             "--load=module-null-sink sink_name=spk", "--load=module-always-sink"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.log, text=True)
        deadline = time.monotonic() + 15
        while self.pactl_out("info").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.flush()
                pytest.fail(f"pulseaudio did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        self.pactl_out("set-default-source", "mic")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def recording(self) -> bool:
        """Whether a client is recording from the source."""
        return self.pactl_out("list", "short", "source-outputs").stdout.strip() != b""


@pytest.fixture
def pulse_mic():
    mic = PulseMic()
    try:
        mic.start()
        yield mic
    finally:
        mic.stop()
        mic.log.close()
        shutil.rmtree(mic.runtime, ignore_errors=True)


def _listen(model: Path, env: dict[str, str], *extra: str
            ) -> tuple[subprocess.Popen, queue.Queue, queue.Queue]:
    listener = subprocess.Popen(
        [sys.executable, "-m", "device_runtime", "listen", str(model), "--device", "pulse",
         "--backend", "tflite", "--no-meter", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout: queue.Queue = queue.Queue()
    stderr: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(listener.stdout, stdout), daemon=True).start()
    threading.Thread(target=_reader, args=(listener.stderr, stderr), daemon=True).start()
    return listener, stdout, stderr


def _silence() -> bytes:
    return np.zeros(int(BLOCK_S * SAMPLE_RATE_HZ), "<i2").tobytes()


def _wait_recording(mic: PulseMic, writer: int, listener: subprocess.Popen,
                    stderr: queue.Queue) -> None:
    """Feed silence (the source blocks without data) until the listener records."""
    deadline = time.monotonic() + 30
    while not mic.recording():
        if listener.poll() is not None or time.monotonic() > deadline:
            errors = "\n".join(line for _, line in list(stderr.queue))
            pytest.fail(f"the listener did not start recording:\n{errors}")
        os.write(writer, _silence())
        time.sleep(BLOCK_S)


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((time.monotonic(), line.rstrip()))


def test_listener_detects_a_burst_streamed_into_the_microphone(toy_model, pulse_mic):
    listener, stdout, stderr = _listen(toy_model, pulse_mic.env, "--seconds", "30")
    rng = np.random.default_rng(0)
    writer = os.open(pulse_mic.fifo, os.O_WRONLY)
    try:
        _wait_recording(pulse_mic, writer, listener, stderr)
        signal = rng.normal(0, 0.003, int((LEAD_S + BURST_S + TAIL_S) * SAMPLE_RATE_HZ))
        burst = tone(300, 0.5, BURST_S)
        start = int(LEAD_S * SAMPLE_RATE_HZ)
        signal[start:start + burst.size] += burst
        pcm = np.clip(np.round(signal * 32768), -32768, 32767).astype("<i2")
        block = int(BLOCK_S * SAMPLE_RATE_HZ)
        began = time.monotonic()
        burst_start = burst_end = None
        for i, offset in enumerate(range(0, pcm.size, block)):
            time.sleep(max(0.0, began + i * BLOCK_S - time.monotonic()))
            os.write(writer, pcm[offset:offset + block].tobytes())
            if burst_start is None and offset + block > start:
                burst_start = time.monotonic()
            if burst_end is None and offset + block >= start + burst.size:
                burst_end = time.monotonic()
        detected = None
        wait_until = time.monotonic() + MAX_DELAY_S + 2
        while detected is None and time.monotonic() < wait_until:
            try:
                when, line = stdout.get(timeout=0.1)
            except queue.Empty:
                continue
            if line.startswith("DETECTED"):
                detected = (when, line)
    finally:
        os.close(writer)
        listener.terminate()
        listener.wait(timeout=10)
    errors = "\n".join(line for _, line in list(stderr.queue))
    assert detected is not None, f"no detection; listener stderr:\n{errors}"
    assert detected[1].startswith("DETECTED low at "), detected[1]
    assert detected[0] > burst_start, "a detection before the burst reached the microphone"
    delay = detected[0] - burst_end
    assert delay < MAX_DELAY_S, f"detected {delay:.2f} s after the burst ended"
    print(f"mic path: {detected[1]!r} {detected[0] - burst_start:.2f} s after the burst began, "
          f"{delay:+.2f} s relative to its end")


def test_vanished_microphone_is_reopened_then_reported_with_the_devices(toy_model, pulse_mic):
    """The sound server dies: the listener re-opens the device with backoff when it comes
    back; when it stays away, the command ends with an error that lists the devices."""
    listener, _stdout, stderr = _listen(toy_model, pulse_mic.env)
    try:
        writer = os.open(pulse_mic.fifo, os.O_WRONLY)
        try:
            _wait_recording(pulse_mic, writer, listener, stderr)
        finally:
            os.close(writer)
        pulse_mic.stop()  # the microphone vanishes ...
        time.sleep(1.0)
        pulse_mic.start()  # ... and comes back within the backoff schedule
        writer = os.open(pulse_mic.fifo, os.O_WRONLY)
        try:
            _wait_recording(pulse_mic, writer, listener, stderr)
        finally:
            os.close(writer)
        pulse_mic.stop()  # gone for good: retries 0.5 + 1 + 2 + 4 s, then an error
        code = listener.wait(timeout=60)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    lines = [line for _, line in list(stderr.queue)]
    text = "\n".join(lines)
    assert sum("re-opening" in line for line in lines) == 2, text
    assert sum("microphone: pulse at 16000 Hz" in line for line in lines) == 2, text
    assert code == 2, text
    error = next(line for line in lines if line.startswith("error: "))
    assert "cannot open input device 'pulse' after 5 attempt(s)" in error
    assert "Available input devices:" in error and "--device" in error
