"""Augmentation: noise at the requested SNR, reverb, level, shifts and SpecAugment masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wakeword.data.augment import (
    Augmenter,
    RirBank,
    active_power,
    apply_gain,
    apply_rir,
    mix_at_snr,
    spec_augment,
    time_shift,
)
from wakeword.data.noise import NoiseBank, coloured_noise, rms
from wakeword.errors import ConfigError, DataError


def _speechlike(n: int = 32000, seed: int = 0) -> np.ndarray:
    """A 1-s burst of amplitude-modulated harmonics in the middle of silence."""
    t = np.arange(16000) / 16000
    burst = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900), 1))
    burst *= 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) * 0.2
    out = np.zeros(n, np.float32)
    out[8000:24000] = burst
    return out


@pytest.fixture(scope="module")
def rir_bank(tmp_path_factory):
    return RirBank(seed=0, n_rooms=3, cache_dir=tmp_path_factory.mktemp("rirs"))


@pytest.mark.parametrize("color", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
def test_mixed_noise_is_within_half_a_db_of_the_requested_snr(color, snr_db):
    rng = np.random.default_rng(1)
    signal = 0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000).astype(np.float32)
    noise = coloured_noise(color, 32000, rng)
    mixed = mix_at_snr(signal, noise, snr_db)
    added = mixed - signal
    measured = 10 * np.log10(np.mean(signal.astype(np.float64) ** 2) / np.mean(added**2.0))
    assert abs(measured - snr_db) < 0.5


def test_snr_refers_to_the_active_part_of_a_padded_keyword():
    signal = _speechlike()
    noise = coloured_noise("white", signal.size, np.random.default_rng(2))
    added = mix_at_snr(signal, noise, 10.0) - signal
    speech = signal[8000:24000].astype(np.float64)
    measured = 10 * np.log10(np.mean(speech**2) / np.mean(added**2.0))
    assert abs(measured - 10.0) < 0.5
    assert active_power(np.zeros(100, np.float32)) == 0.0
    with pytest.raises(DataError, match="same length"):
        mix_at_snr(signal, noise[:-1], 10.0)


def test_coloured_noise_has_the_right_level_and_slope():
    rng = np.random.default_rng(3)
    slopes = {}
    for color in ("white", "pink", "brown"):
        noise = coloured_noise(color, 64000, rng)
        assert noise.dtype == np.float32 and abs(rms(noise) - 0.1) < 0.01
        power = np.abs(np.fft.rfft(noise)) ** 2
        freqs = np.fft.rfftfreq(noise.size, 1 / 16000)
        low = power[(freqs > 200) & (freqs < 400)].mean()
        high = power[(freqs > 3200) & (freqs < 6400)].mean()
        slopes[color] = 10 * np.log10(low / high) / 4  # dB per octave (4 octaves apart)
    assert abs(slopes["white"]) < 1.0
    assert 2.0 < slopes["pink"] < 4.0
    assert 5.0 < slopes["brown"] < 7.0


def test_reverb_changes_the_signal_and_keeps_its_length(rir_bank):
    signal = _speechlike()
    rir = rir_bank.sample(np.random.default_rng(0))
    assert rir.ndim == 1 and np.argmax(np.abs(rir)) <= 2  # starts at the direct path
    wet = apply_rir(signal, rir)
    assert wet.shape == signal.shape and wet.dtype == np.float32
    assert not np.allclose(wet, signal, atol=1e-3)
    # The tail spills into the silence after the burst; the level is kept.
    assert rms(wet[24000:26000]) > 10 * rms(signal[24000:26000]) + 1e-4
    assert abs(10 * np.log10(active_power(wet) / active_power(signal))) < 1.0


def test_rir_bank_is_seeded_and_cached_on_disk(tmp_path):
    first = RirBank(seed=5, n_rooms=2, cache_dir=tmp_path).rirs
    assert list((tmp_path / "rirs").glob("*.npz"))
    again = RirBank(seed=5, n_rooms=2, cache_dir=tmp_path).rirs
    fresh = RirBank(seed=5, n_rooms=2).rirs
    for a, b, c in zip(first, again, fresh):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_augmenter_is_deterministic_given_the_generator(rir_bank):
    augmenter = Augmenter(noise_bank=NoiseBank(), rir_bank=rir_bank, reverb_probability=1.0,
                          noise_probability=1.0, snr_db_range=(5.0, 5.0),
                          peak_db_range=(-6.0, -6.0))
    clip = _speechlike()
    a = augmenter.augment(clip, np.random.default_rng(9))
    b = augmenter.augment(clip, np.random.default_rng(9))
    c = augmenter.augment(clip, np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == clip.shape and a.dtype == np.float32
    assert abs(20 * np.log10(np.abs(a).max()) + 6.0) < 0.01
    silent = augmenter.augment(np.zeros(32000, np.float32), np.random.default_rng(1))
    assert np.abs(silent).max() > 0.0  # noise, not NaN from a 0/0 SNR


def test_augmenter_validates_its_ranges():
    with pytest.raises(ConfigError, match="snr_db_range"):
        Augmenter(noise_bank=NoiseBank(), rir_bank=None, reverb_probability=0.0,
                  snr_db_range=(20.0, 5.0))
    with pytest.raises(ConfigError, match="rir_bank"):
        Augmenter(noise_bank=NoiseBank(), rir_bank=None, reverb_probability=0.5)


def test_gain_and_time_shift():
    x = np.linspace(-0.5, 0.5, 10, dtype=np.float32)
    np.testing.assert_allclose(apply_gain(x, -6.0206), x / 2, atol=1e-5)
    assert np.abs(apply_gain(x, 20.0)).max() == 1.0
    np.testing.assert_array_equal(time_shift(x, 3)[3:], x[:-3])
    np.testing.assert_array_equal(time_shift(x, 3)[:3], 0)
    np.testing.assert_array_equal(time_shift(x, -4)[:-4], x[4:])
    np.testing.assert_array_equal(time_shift(x, 20), 0)


def test_noise_bank_draws_recorded_segments_and_generated_noise():
    recording = np.sin(np.arange(5000) * 0.3).astype(np.float32)
    bank = NoiseBank([recording], recording_probability=1.0)
    segment = bank.sample(12000, np.random.default_rng(0))
    assert segment.size == 12000 and abs(rms(segment) - 0.1) < 1e-3
    generated = NoiseBank().sample(1000, np.random.default_rng(0))
    assert generated.size == 1000


def test_spec_augment_masks_the_expected_number_of_bins():
    features = torch.randn(4, 100, 32) + 5.0  # [batch, frames, n_mels], never 0
    gen = torch.Generator().manual_seed(0)
    out = spec_augment(features, generator=gen, n_freq_masks=1, freq_mask_width=(3, 3),
                       n_time_masks=1, time_mask_width=(7, 7), mask_value=0.0)
    assert out.shape == features.shape
    masked = out == 0.0
    for example in masked:
        assert int(example.all(dim=0).sum()) == 3  # Mel bins masked in every frame
        assert int(example.all(dim=1).sum()) == 7  # frames masked in every bin
    assert not torch.equal(out, features) and bool((features != 0).all())  # input untouched


def test_spec_augment_is_seeded_and_respects_width_ranges():
    features = torch.ones(8, 50, 20)
    a = spec_augment(features, generator=torch.Generator().manual_seed(3),
                     n_freq_masks=2, freq_mask_width=(0, 4), n_time_masks=0, mask_value=-1.0)
    b = spec_augment(features, generator=torch.Generator().manual_seed(3),
                     n_freq_masks=2, freq_mask_width=(0, 4), n_time_masks=0, mask_value=-1.0)
    assert torch.equal(a, b)
    bins = (a == -1.0).all(dim=1).sum(dim=1)
    assert int(bins.max()) <= 8 and int(bins.min()) >= 0
    none = spec_augment(features, generator=torch.Generator(), n_freq_masks=0, n_time_masks=0)
    assert torch.equal(none, features)
    # torchaudio's [..., n_mels, frames] layout through the dims arguments.
    swapped = spec_augment(torch.ones(2, 20, 50), generator=torch.Generator().manual_seed(0),
                           n_freq_masks=1, freq_mask_width=(5, 5), n_time_masks=0,
                           mask_value=0.0, freq_dim=-2, time_dim=-1)
    assert int((swapped == 0).all(dim=2).sum(dim=1)[0]) == 5
    with pytest.raises(ConfigError):
        spec_augment(features, generator=torch.Generator(), freq_mask_width=(5, 2))
