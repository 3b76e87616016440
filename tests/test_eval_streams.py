"""wakeword.eval.streams: padded noisy positives and negative streams built from audio files."""

from __future__ import annotations

import numpy as np
import pytest

from wakeword.data.audio_io import load_audio, save_wav
from wakeword.data.augment import active_power
from wakeword.data.noise import NoiseBank
from wakeword.errors import DataError
from wakeword.eval.streams import negative_stream, positive_clips

SR = 16000


def _tone(seconds: float, freq_hz: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


@pytest.fixture
def keyword_dir(tmp_path):
    folder = tmp_path / "computer"
    for i, (seconds, amp) in enumerate([(0.6, 0.3), (0.9, 0.2), (0.75, 0.25)]):
        save_wav(folder / f"{i}.wav", _tone(seconds, 440.0 + 100 * i, amp))
    return folder


def test_positives_are_padded_with_silence_on_both_sides(keyword_dir):
    clips = positive_clips(keyword_dir, pad_s=0.5, snr_db=None)
    recordings = [load_audio(p) for p in sorted(keyword_dir.iterdir())]
    assert len(clips) == 3
    for clip, recording in zip(clips, recordings, strict=True):
        pad = SR // 2
        assert clip.audio.dtype == np.float32
        assert clip.audio.size == recording.size + 2 * pad
        assert not np.any(clip.audio[:pad]) and not np.any(clip.audio[-pad:])
        np.testing.assert_array_equal(clip.audio[pad:-pad], recording)
        assert clip.keyword_start_s == 0.5
        assert clip.keyword_end_s == pytest.approx(0.5 + recording.size / SR)
        assert clip.source is not None and clip.source.parent == keyword_dir


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_noise_is_mixed_at_the_requested_snr(keyword_dir, snr_db):
    clean = positive_clips(keyword_dir, pad_s=1.0, snr_db=None)
    noisy = positive_clips(keyword_dir, pad_s=1.0, snr_db=snr_db, seed=3)
    for c, n in zip(clean, noisy, strict=True):
        noise = n.audio.astype(np.float64) - c.audio
        measured = 10 * np.log10(active_power(c.audio) / np.mean(noise**2))
        assert measured == pytest.approx(snr_db, abs=0.01)


def test_noise_is_seeded_and_taken_from_the_bank(keyword_dir):
    bank = NoiseBank([_tone(0.3, 97.0, 0.5)], recording_probability=1.0)  # a short hum, looped
    a = positive_clips(keyword_dir, noise=bank, seed=1)
    b = positive_clips(keyword_dir, noise=bank, seed=1)
    c = positive_clips(keyword_dir, noise=bank, seed=2)
    assert all(np.array_equal(x.audio, y.audio) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x.audio, z.audio) for x, z in zip(a, c, strict=True))
    # the padding now holds the hum: a 97 Hz peak in its spectrum
    head = a[0].audio[:SR]
    spectrum = np.abs(np.fft.rfft(head))
    assert np.argmax(spectrum) == pytest.approx(97, abs=2)


def test_loud_mix_is_scaled_down_instead_of_clipping(tmp_path):
    save_wav(tmp_path / "loud" / "0.wav", _tone(0.5, 300.0, 0.99))
    clip = positive_clips(tmp_path / "loud", snr_db=-10.0)[0]
    assert np.max(np.abs(clip.audio)) == pytest.approx(1.0, abs=1e-6)


def test_negative_stream_joins_files_and_folders_and_counts_hours(tmp_path):
    speech = tmp_path / "speech"
    for i in range(4):
        save_wav(speech / f"{i}.wav", _tone(1.0, 200.0 + 50 * i, 0.1))
    music = tmp_path / "music.wav"
    save_wav(music, _tone(2.5, 330.0, 0.1))
    stream = negative_stream([speech, music])
    assert stream.seconds == pytest.approx(6.5)
    assert stream.hours == pytest.approx(6.5 / 3600)
    assert len(stream.segments) == 1  # short clips play back to back
    # with short segments the clips are packed into several, none split
    packed = negative_stream([speech, music], segment_s=2.0)
    assert [s.size / SR for s in packed.segments] == [2.0, 2.0, 2.5]
    assert packed.seconds == stream.seconds


def test_negative_stream_names_a_missing_source(tmp_path):
    with pytest.raises(DataError, match=r"nowhere\.wav"):
        negative_stream([tmp_path / "nowhere.wav"])
    with pytest.raises(DataError, match="no negative sources"):
        negative_stream([])
