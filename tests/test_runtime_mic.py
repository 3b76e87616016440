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
from runtime_fixtures import SAMPLE_RATE_HZ, tone, toy_model  # noqa: F401

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


@pytest.fixture
def pulse_mic():
    """A private PulseAudio daemon whose default source 'mic' reads s16le 16 kHz from a FIFO.

    Yields (fifo path, environment for clients); stops the daemon by its PID afterwards."""
    daemon, pactl = _need("pulseaudio"), _need("pactl")
    runtime = tempfile.mkdtemp(prefix="wakeword-pulse-")
    fifo = os.path.join(runtime, "mic.fifo")
    env = dict(os.environ, PULSE_RUNTIME_PATH=runtime, PULSE_STATE_PATH=runtime,
               XDG_RUNTIME_DIR=runtime, XDG_CONFIG_HOME=runtime, HOME=runtime,
               PULSE_SERVER=f"unix:{runtime}/native")
    proc = subprocess.Popen(
        [daemon, "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "-n",
         "--use-pid-file=no", "--load=module-native-protocol-unix",
         f"--load=module-pipe-source source_name=mic file={fifo} format=s16le "
         f"rate={SAMPLE_RATE_HZ} channels=1",
         "--load=module-null-sink sink_name=spk", "--load=module-always-sink"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while subprocess.run([pactl, "info"], env=env, capture_output=True).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"pulseaudio did not start: {proc.stderr.read()[-2000:]}")
            time.sleep(0.1)
        subprocess.run([pactl, "set-default-source", "mic"], env=env, check=True)
        yield fifo, env, pactl
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(runtime, ignore_errors=True)


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((time.monotonic(), line.rstrip()))


def test_listener_detects_a_burst_streamed_into_the_microphone(toy_model, pulse_mic):
    fifo, env, pactl = pulse_mic
    listener = subprocess.Popen(
        [sys.executable, "-m", "device_runtime", "listen", str(toy_model), "--device", "pulse",
         "--backend", "tflite", "--no-meter", "--seconds", "30"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout: queue.Queue = queue.Queue()
    stderr: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(listener.stdout, stdout), daemon=True).start()
    threading.Thread(target=_reader, args=(listener.stderr, stderr), daemon=True).start()
    rng = np.random.default_rng(0)
    writer = os.open(fifo, os.O_WRONLY)
    try:
        # wait until the listener's stream is recording from PulseAudio
        deadline = time.monotonic() + 30
        while b"" == subprocess.run([pactl, "list", "short", "source-outputs"], env=env,
                                    capture_output=True).stdout.strip():
            if listener.poll() is not None or time.monotonic() > deadline:
                errors = "\n".join(line for _, line in list(stderr.queue))
                pytest.fail(f"the listener did not start recording:\n{errors}")
            # keep the source flowing while the listener starts
            os.write(writer, np.zeros(int(BLOCK_S * SAMPLE_RATE_HZ), "<i2").tobytes())
            time.sleep(BLOCK_S)
        signal = rng.normal(0, 0.003, int((LEAD_S + BURST_S + TAIL_S) * SAMPLE_RATE_HZ))
        burst = tone(300, 0.5, BURST_S)
        start = int(LEAD_S * SAMPLE_RATE_HZ)
        signal[start:start + burst.size] += burst
        pcm = np.clip(np.round(signal * 32768), -32768, 32767).astype("<i2")
        block = int(BLOCK_S * SAMPLE_RATE_HZ)
        began = time.monotonic()
        burst_end = None
        for i, offset in enumerate(range(0, pcm.size, block)):
            time.sleep(max(0.0, began + i * BLOCK_S - time.monotonic()))
            os.write(writer, pcm[offset:offset + block].tobytes())
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
    print("listener stdout:", list(stdout.queue), "stderr:", errors)
    assert detected is not None, f"no detection; listener stderr:\n{errors}"
    assert detected[1].startswith("DETECTED low at "), detected[1]
    delay = detected[0] - burst_end
    assert delay < MAX_DELAY_S, f"detected {delay:.2f} s after the burst ended"
    # the detection's stream time lies inside the burst (plus one step)
    print(f"mic path: {detected[1]!r}, {delay:.2f} s after the burst was written")
