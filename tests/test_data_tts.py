"""Text-to-speech: espeak-ng always (a Debian package), Kokoro when its files are present."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from wakeword.data.tts import (
    EspeakSynthesizer,
    KokoroSynthesizer,
    Synthesizer,
    available_synthesizers,
    blend,
    parse_wav_stream,
    resolve_kokoro_dir,
)
from wakeword.errors import ConfigError, DataError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def _active_seconds(audio: np.ndarray, rate_hz: int = 16000) -> float:
    frames = audio[: audio.size // 160 * 160].reshape(-1, 160)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    active = np.flatnonzero(level > level.max() - 40)
    return (active[-1] - active[0] + 1) * 160 / rate_hz


@pytest.fixture(scope="module")
def espeak():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return EspeakSynthesizer()


def test_espeak_speaks_a_word_as_16k_float_audio_of_plausible_length(espeak):
    audio = espeak.synthesize("computer", voice="en-us", speed=1.0, pitch=0.0)
    assert isinstance(espeak, Synthesizer)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.abs(audio).max() > 0.05 and np.abs(audio).max() <= 1.0
    assert 0.35 < _active_seconds(audio) < 1.2  # "computer" at 175 words per minute


def _f0_hz(audio: np.ndarray, rate_hz: int = 16000) -> float:
    """Fundamental frequency of the middle of a sustained vowel, by autocorrelation."""
    middle = audio[audio.size // 3: audio.size // 3 + 2048].astype(np.float64)
    middle -= middle.mean()
    corr = np.correlate(middle, middle, "full")[middle.size - 1:]
    low, high = rate_hz // 400, rate_hz // 70
    return rate_hz / (low + int(np.argmax(corr[low:high])))


def test_espeak_speed_and_pitch_change_the_audio(espeak):
    slow = espeak.synthesize("good morning everyone", voice="en-gb+f3", speed=0.7)
    fast = espeak.synthesize("good morning everyone", voice="en-gb+f3", speed=1.5)
    assert _active_seconds(slow) > 1.5 * _active_seconds(fast)
    low = espeak.synthesize("aaaah", voice="en-us+f3", speed=0.6, pitch=-4.0)
    high = espeak.synthesize("aaaah", voice="en-us+f3", speed=0.6, pitch=4.0)
    semitones = 12 * np.log2(_f0_hz(high) / _f0_hz(low))
    assert 6.0 < semitones < 10.0  # 8 semitones asked for


def test_espeak_voices_combine_english_accents_and_variants(espeak):
    voices = espeak.voices()
    assert {"en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029"} <= set(voices)
    assert "en-us+m3" in voices and "en-gb-scotland+f2" in voices and "en-us+klatt" in voices
    assert len(voices) > 100
    audio = espeak.synthesize("yes", voice="en-029+klatt", speed=1.2, pitch=2.0)
    assert np.abs(audio).max() > 0.05


def test_espeak_rejects_out_of_range_prosody_and_unknown_voices(espeak):
    with pytest.raises(ConfigError, match="speed"):
        espeak.synthesize("yes", voice="en-us", speed=3.0)
    with pytest.raises(ConfigError, match="empty"):
        espeak.synthesize("  ", voice="en-us")
    with pytest.raises(DataError, match="voice"):
        espeak.synthesize("yes", voice="xx-notavoice")


def test_espeak_phonemes_one_per_text(espeak):
    phonemes = espeak.phonemes(["computer", "computor", "-x", "copper"])
    assert len(phonemes) == 4
    assert phonemes[0] == phonemes[1] and phonemes[0] != phonemes[3]


def test_parse_wav_stream_ignores_placeholder_sizes():
    samples = (np.array([0, 16384, -16384, 32767], dtype="<i2")).tobytes()
    fmt = b"fmt " + (16).to_bytes(4, "little") + np.array(
        [1, 1], dtype="<u2").tobytes() + (22050).to_bytes(4, "little") + (44100).to_bytes(
        4, "little") + np.array([2, 16], dtype="<u2").tobytes()
    raw = b"RIFF" + b"\xff\xff\xff\x7f" + b"WAVE" + fmt + b"data" + b"\xf0\xff\xff\x7f" + samples
    audio, rate = parse_wav_stream(raw, source="test")
    assert rate == 22050
    np.testing.assert_allclose(audio, [0.0, 0.5, -0.5, 32767 / 32768])
    with pytest.raises(DataError, match="not a WAV"):
        parse_wav_stream(b"hello", source="test")


def test_missing_espeak_names_the_apt_command():
    with pytest.raises(DataError, match="apt-get install"):
        EspeakSynthesizer(executable="espeak-ng-not-installed")


def test_missing_kokoro_files_name_the_folder_and_the_fix(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path)) as info:
        KokoroSynthesizer(tts_dir=tmp_path)
    assert "WAKEWORD_TTS_DIR" in str(info.value)


def test_kokoro_dir_comes_from_argument_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WAKEWORD_TTS_DIR", str(tmp_path / "env"))
    assert resolve_kokoro_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_kokoro_dir() == tmp_path / "env"


@needs_espeak
def test_available_synthesizers_always_include_espeak(tmp_path):
    synths = available_synthesizers(tmp_path)  # no Kokoro files here
    assert [s.name for s in synths] == ["espeak-ng"]


def test_blend_names_mix_two_voices():
    assert blend("af_bella", "am_adam", 0.3) == "af_bella*0.70+am_adam*0.30"
    with pytest.raises(ConfigError):
        blend("af_bella", "am_adam", 1.0)


@pytest.fixture(scope="module")
def kokoro():
    folder = resolve_kokoro_dir()
    if not (folder / "kokoro-v1.0.int8.onnx").is_file():
        pytest.skip(f"Kokoro files are not in {folder}")
    pytest.importorskip("kokoro_onnx")
    return KokoroSynthesizer(tts_dir=folder)


def test_kokoro_speaks_one_word_with_english_voices_and_blends(kokoro):
    voices = kokoro.voices()
    assert all(v.split("*")[0][:3] in ("af_", "am_", "bf_", "bm_") for v in voices)
    assert len(kokoro.base_voices()) == 28
    assert any("+" in v for v in voices)
    audio = kokoro.synthesize("yes", voice=blend("bf_emma", "am_adam", 0.5), speed=1.1,
                              pitch=1.0)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.abs(audio).max() > 0.05
    assert 0.15 < _active_seconds(audio) < 1.2
    with pytest.raises(ConfigError, match="not one of the English voices"):
        kokoro.synthesize("yes", voice="jf_alpha")
