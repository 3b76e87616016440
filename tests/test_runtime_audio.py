"""Audio in: WAV via the standard library, resampling with a note, channel and value checks."""

from __future__ import annotations

import logging
import wave

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, stream_with_events, tone

from device_runtime import AudioError, Detector, Resampler, read_audio, resample, to_float32
from device_runtime.audio import write_wav

toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture


def _write(path, samples: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> None:
    data = np.asarray(samples, dtype=np.float64)
    if width == 2:
        raw = np.clip(np.round(data * 32768), -32768, 32767).astype("<i2").tobytes()
    else:  # 24-bit
        ints = np.clip(np.round(data * 2**23), -2**23, 2**23 - 1).astype("<i4")
        raw = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(channels)
        wf.setsampwidth(width)
        wf.setframerate(rate)
        wf.writeframes(raw)


@pytest.mark.parametrize(("from_hz", "to_hz"), [(8000, 16000), (44100, 16000), (48000, 16000),
                                                 (16000, 8000)])
def test_resample_is_band_limited_and_accurate(from_hz, to_hz):
    t = np.arange(2 * from_hz) / from_hz
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t)
    if from_hz > 2 * 9000:
        x = x + 0.2 * np.sin(2 * np.pi * 9000 * t)  # above the new Nyquist: must vanish
    y = resample(x.astype(np.float32), from_hz, to_hz)
    assert y.dtype == np.float32 and y.size == int(np.ceil(x.size * to_hz / from_hz))
    tt = np.arange(y.size) / to_hz
    ref = 0.5 * np.sin(2 * np.pi * 440 * tt) + 0.2 * np.sin(2 * np.pi * 3000 * tt)
    inner = slice(200, -200)
    assert np.max(np.abs(y[inner] - ref[inner])) < 1e-3


def test_streaming_resampler_equals_whole_signal():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, 44100).astype(np.float32)
    whole = resample(x, 44100, 16000)
    r = Resampler(44100, 16000)
    parts, i = [], 0
    while i < x.size:
        n = int(rng.integers(1, 4000))
        parts.append(r.process(x[i:i + n]))
        i += n
    parts.append(r.flush())
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_wrong_rate_wav_is_resampled_with_a_note(toy_model, tmp_path, caplog):
    audio = stream_with_events(5.0, [(2.0, tone(300, 0.5, 0.5))])
    native = tmp_path / "native.wav"
    write_wav(native, audio, SAMPLE_RATE_HZ)
    t = np.arange(int(5.0 * 44100)) / 44100
    at_44k = np.interp(t, np.arange(audio.size) / SAMPLE_RATE_HZ, audio)
    other = tmp_path / "cd.wav"
    _write(other, at_44k, 44100)
    det = Detector(toy_model)
    expected = det.process_file(native)
    with caplog.at_level(logging.INFO, logger="device_runtime"):
        found = det.process_file(other)
    assert "resampling 44100 Hz -> 16000 Hz" in caplog.text and "cd.wav" in caplog.text
    assert [d.keyword for d in found] == [d.keyword for d in expected] == ["low"]
    assert abs(found[0].time_s - expected[0].time_s) <= 0.08


def test_stereo_file_is_an_error_with_the_fix(toy_model, tmp_path):
    x = tone(300, 0.5, 1.0)
    path = tmp_path / "stereo.wav"
    _write(path, np.stack([x, x * 0.5], axis=1).reshape(-1), SAMPLE_RATE_HZ, channels=2)
    det = Detector(toy_model)
    with pytest.raises(AudioError, match=r"stereo.wav: has 2 channels .* mono.*downmix=True"):
        det.process_file(path)
    det.process_file(path, downmix=True)
    mono = read_audio(path, downmix=True)
    np.testing.assert_allclose(mono, x * 0.75, atol=1e-4)


def test_24_bit_and_flac_files_are_read(tmp_path):
    x = tone(440, 0.3, 0.5)
    _write(tmp_path / "a24.wav", x, SAMPLE_RATE_HZ, width=3)
    np.testing.assert_allclose(read_audio(tmp_path / "a24.wav"), x, atol=1e-6)
    soundfile = pytest.importorskip("soundfile")
    soundfile.write(tmp_path / "a.flac", x, SAMPLE_RATE_HZ, subtype="PCM_16")
    np.testing.assert_allclose(read_audio(tmp_path / "a.flac"), x, atol=1e-4)


def test_unreadable_files_name_the_file(tmp_path):
    bad = tmp_path / "junk.wav"
    bad.write_bytes(b"RIFF....not a wav at all")
    with pytest.raises(AudioError, match="junk.wav: not a readable WAV"):
        read_audio(bad)
    with pytest.raises(AudioError, match="nothing.wav: no such file"):
        read_audio(tmp_path / "nothing.wav")


def test_sample_format_conversion():
    ints = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    np.testing.assert_allclose(to_float32(ints), [0, 0.5, -1, 32767 / 32768])
    np.testing.assert_array_equal(to_float32(ints.astype("<i2").tobytes()), to_float32(ints))
    with pytest.raises(AudioError, match="not a whole number of s16le samples"):
        to_float32(b"\x00\x01\x02")
    with pytest.raises(AudioError, match="NaN"):
        to_float32(np.array([0.0, np.nan]))
