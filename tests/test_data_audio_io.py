"""Audio files in, float32 mono 16 kHz out; unreadable files are skipped with one warning."""

from __future__ import annotations

import logging
import struct

import numpy as np
import pytest
import soundfile as sf

from wakeword.data.audio_io import list_audio_files, load_audio, load_folder, resample, save_wav
from wakeword.errors import DataError, WakewordError

ALEXA_CORRUPT = {"32.flac", "34.flac", "126.flac", "128.flac", "142.flac", "144.flac",
                 "272.flac", "274.flac"}


def _tone(freq_hz: float, rate_hz: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _peak_hz(audio: np.ndarray, rate_hz: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.fft.rfftfreq(audio.size, 1 / rate_hz)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate_hz", [24000, 44100, 48000, 8000])
def test_load_audio_resamples_to_16k_keeping_duration_and_pitch(tmp_path, rate_hz):
    path = tmp_path / f"tone_{rate_hz}.wav"
    sf.write(path, _tone(440.0, rate_hz, 1.5), rate_hz, subtype="PCM_16")
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == 24000  # 1.5 s at 16 kHz
    assert abs(_peak_hz(audio) - 440.0) < 2.0
    assert np.abs(audio).max() <= 1.0


def test_resample_matches_torchaudio():
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torchaudio.functional")
    x = np.random.default_rng(0).standard_normal(44100).astype(np.float32) * 0.1
    ours = resample(x, 44100, 16000)
    theirs = functional.resample(torch.from_numpy(x), 44100, 16000).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_stereo_is_mixed_down_by_the_channel_mean(tmp_path):
    left, right = _tone(300.0, 16000), np.zeros(16000, np.float32)
    sf.write(tmp_path / "stereo.flac", np.stack([left, right], axis=1), 16000)
    audio = load_audio(tmp_path / "stereo.flac")
    np.testing.assert_allclose(audio, left / 2, atol=1e-4)


def _write_corrupt_files(folder):
    good = _tone(220.0, 16000, 0.5)
    sf.write(folder / "good_1.wav", good, 16000)
    sf.write(folder / "good_2.flac", good, 16000)
    sf.write(folder / "good_3.ogg", good, 16000)
    # Random bytes named .flac.
    (folder / "noise_bytes.flac").write_bytes(np.random.default_rng(0).bytes(5000))
    # A WAV cut inside its header (no data chunk).
    sf.write(folder / "full.wav", good, 16000, subtype="PCM_16")
    raw = (folder / "full.wav").read_bytes()
    (folder / "full.wav").unlink()
    (folder / "truncated.wav").write_bytes(raw[:30])
    # A WAV header that promises data that is not there.
    header = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) + b"data" + struct.pack("<I", 0)
    (folder / "header_only.wav").write_bytes(header)
    (folder / "notes.txt").write_text("not audio")
    return {"noise_bytes.flac", "truncated.wav", "header_only.wav"}


def test_load_folder_skips_corrupt_files_with_one_warning(tmp_path, caplog):
    bad = _write_corrupt_files(tmp_path)
    with caplog.at_level(logging.WARNING):
        clips, paths = load_folder(tmp_path)
    assert [p.name for p in paths] == ["good_1.wav", "good_2.flac", "good_3.ogg"]
    assert all(c.dtype == np.float32 and c.size == 8000 for c in clips)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert all(name in warnings[0].getMessage() for name in bad)
    assert "good_1.wav" not in warnings[0].getMessage()


def test_load_audio_names_the_unreadable_file(tmp_path):
    _write_corrupt_files(tmp_path)
    for name in ("noise_bytes.flac", "truncated.wav", "header_only.wav"):
        with pytest.raises(DataError, match=name):
            load_audio(tmp_path / name)


def test_all_files_bad_is_an_error(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "b.flac").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="all 2 audio files are unreadable"):
        load_folder(tmp_path)


def test_empty_folder_error_says_what_to_do(tmp_path):
    with pytest.raises(DataError) as info:
        load_folder(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "empty" in message and ".wav" in message
    assert isinstance(info.value, WakewordError)


def test_missing_folder_and_folder_without_audio_are_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "nope")
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="no audio files"):
        load_folder(tmp_path)


def test_files_are_listed_in_natural_order(tmp_path):
    for name in ("10.wav", "2.wav", "1.wav"):
        sf.write(tmp_path / name, np.zeros(160, np.float32), 16000)
    assert [p.name for p in list_audio_files(tmp_path)] == ["1.wav", "2.wav", "10.wav"]


def test_save_wav_round_trips_and_leaves_no_temp_file(tmp_path):
    audio = _tone(500.0, 16000, 0.25)
    path = save_wav(tmp_path / "sub" / "x.wav", audio, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), audio)
    save_wav(path, audio * 0.5)  # overwrite in place, 16-bit
    np.testing.assert_allclose(load_audio(path), audio * 0.5, atol=1e-4)
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.wav"]
    with pytest.raises(DataError, match="1-D"):
        save_wav(tmp_path / "y.wav", np.zeros((2, 10), np.float32))


def test_shared_alexa_folder_skips_exactly_the_corrupt_files(shared, caplog):
    folder = shared / "data" / "keywords" / "alexa"
    if not folder.is_dir():
        pytest.skip("../shared/data/keywords/alexa is not present")
    with caplog.at_level(logging.WARNING):
        clips, paths = load_folder(folder)
    all_names = {p.name for p in list_audio_files(folder)}
    assert all_names - {p.name for p in paths} == ALEXA_CORRUPT
    assert len(clips) == len(all_names) - 8
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert all(name in warnings[0] for name in ALEXA_CORRUPT)
