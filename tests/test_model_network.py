"""The FIG. 4B network, its variants and baselines: clip/stream agreement, frozen kernels, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchaudio

from wakeword.errors import ConfigError
from wakeword.features.mel import FrontendConfig, LogMel
from wakeword.model import NetworkConfig, WakeWordModel
from wakeword.model.bioconv import BioConv, band_matrices
from wakeword.model.summary import PRESETS, build_preset, summarize


@pytest.fixture(scope="module")
def bank():
    rng = np.random.default_rng(7)
    kernels = rng.normal(size=(64, 9)).astype(np.float32)
    kernels /= np.linalg.norm(kernels, axis=1, keepdims=True)
    return kernels, np.arange(10)


def _audio(seconds: float = 2.0, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    n = int(16000 * seconds)
    t = torch.arange(n) / 16000
    tone = 0.3 * torch.sin(2 * torch.pi * 440 * t) * (torch.sin(2 * torch.pi * 1.5 * t) > 0)
    return (tone + 0.02 * torch.randn(n, generator=gen))[None]


def test_log_mel_matches_torchaudio_melspectrogram():
    cfg = FrontendConfig()
    audio = _audio(1.0)
    ours = LogMel(cfg)(audio)
    ref = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000, n_fft=400, win_length=400, hop_length=160, f_min=cfg.f_min_hz,
        f_max=cfg.f_max_hz, n_mels=cfg.n_mels, center=False, power=2.0, mel_scale="htk",
    )(torch.cat([torch.zeros(1, cfg.overlap_samples), audio], 1))
    ref = ((torch.log(ref + cfg.log_floor) - cfg.log_mean) / cfg.log_std).transpose(1, 2)
    assert ours.shape == ref.shape == (1, 100, 32)
    assert torch.allclose(ours, ref, atol=1e-4), (ours - ref).abs().max()


def test_log_mel_streaming_equals_whole_clip():
    mel = LogMel()
    audio = _audio(1.28)
    whole = mel(audio)
    overlap = torch.zeros(1, mel.config.overlap_samples)
    parts = []
    for start in range(0, audio.shape[1], 1280):
        frames, overlap = mel.stream(audio[:, start:start + 1280], overlap)
        parts.append(frames)
    assert torch.allclose(torch.cat(parts, 1), whole, atol=1e-5)


def test_band_matrix_equals_conv1d():
    kernels = torch.randn(4, 9)
    x = torch.randn(3, 4, 32)
    ref = torch.nn.functional.conv1d(x, kernels[:, None], padding=4, groups=4)
    ours = torch.matmul(x.unsqueeze(2), band_matrices(kernels, 32)).squeeze(2)
    assert torch.allclose(ours, ref, atol=1e-5)


@pytest.mark.parametrize("preset", list(PRESETS) + ["concat", "multiply", "add", "separate",
                                                    "batchnorm", "mlp_readout"])
def test_forward_and_step_agree_step_for_step(bank, preset):
    kernels, path = bank
    extra = {"concat": {"combination": "concat", "channels": 16}, "multiply": {"combination": "multiply"},
             "add": {"combination": "add"}, "separate": {"separate_output": True},
             "batchnorm": {"bound": "batchnorm"},
             "mlp_readout": {"readout_hidden": 8}}.get(preset)
    if extra is None:
        model = build_preset(preset, kernels, path)
    else:
        model = WakeWordModel(FrontendConfig(), NetworkConfig(**extra), kernels, path)
    model.eval()
    audio = torch.cat([_audio(2.0, 1), _audio(2.0, 2)])
    with torch.no_grad():
        clip = torch.softmax(model(audio), -1)
        streamed = model.stream(audio)
        # the network's own step() on windows equals its forward() on the Mel sequence
        mel = model.features(audio)
        windows = model.network.windows(mel)
        state = model.network.initial_state(2)
        for t in range(windows.shape[1]):
            logits, state = model.network.step(windows[:, t], state)
            assert torch.allclose(logits, model.network(mel)[:, t], atol=1e-5)
    assert clip.shape == (2, 25, 2)
    assert torch.allclose(clip, streamed, atol=1e-5)


def test_batch_matches_items_one_by_one(bank):
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), *bank).eval()
    audio = torch.cat([_audio(1.6, 3), _audio(1.6, 4)])
    with torch.no_grad():
        batch = model(audio)
        single = torch.cat([model(audio[i:i + 1]) for i in range(2)])
    assert torch.allclose(batch, single, atol=1e-5)


def test_kernel_schedule_changes_kernels_each_step(bank):
    kernels, path = bank
    model = WakeWordModel(FrontendConfig(), NetworkConfig(kernel_schedule=True), kernels, path)
    taps = model.network.bio_input.taps
    assert taps.shape == (len(path), 16, 9)
    # step t, channel c uses path neuron (t + c) mod T
    assert torch.equal(taps[3, 0], torch.from_numpy(kernels[path[3]]))
    assert torch.equal(taps[2, 5], torch.from_numpy(kernels[path[7]]))


def test_connectome_kernels_are_the_bank_rows(bank):
    kernels, path = bank
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), kernels, path)
    assert torch.equal(model.network.bio_input.taps[0], torch.from_numpy(kernels[:16]))
    assert torch.equal(model.network.bio_hidden.taps[0], torch.from_numpy(kernels[16:32]))


def test_random_kernels_match_shape_norm_and_values_but_not_order(bank):
    kernels, path = bank
    model = WakeWordModel(FrontendConfig(), NetworkConfig(kernel_source="random"), kernels, path)
    taps = model.network.bio_input.taps[0].numpy()
    assert taps.shape == (16, 9)
    np.testing.assert_allclose(np.linalg.norm(taps, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.sort(taps, axis=1), np.sort(kernels[:16], axis=1))
    assert not np.allclose(taps, kernels[:16])


def test_frozen_kernels_stay_bit_identical_through_an_optimisation_step(bank):
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), *bank)
    frozen_before = {k: v.clone() for k, v in model.frozen_kernels().items()}
    bands_before = model.network.bio_input.bands.clone()
    trained_before = {k: v.detach().clone() for k, v in model.trained_parameters().items()}
    assert frozen_before and not any("taps" in n for n in trained_before)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = torch.nn.functional.cross_entropy(model.clip_logits(_audio(2.0)), torch.tensor([1]))
    loss.backward()
    opt.step()
    for name, value in model.frozen_kernels().items():
        assert torch.equal(value, frozen_before[name]), name
    assert torch.equal(model.network.bio_input.bands, bands_before)
    changed = [n for n, p in model.trained_parameters().items()
               if not torch.equal(p.detach(), trained_before[n])]
    assert set(changed) == set(trained_before)


def test_trained_kernel_baseline_trains_the_taps(bank):
    model = WakeWordModel(FrontendConfig(), NetworkConfig(kernel_source="trained"), *bank)
    assert "network.bio_input.taps" in model.trained_parameters()
    assert not model.frozen_kernels()


def test_default_configuration_meets_size_and_cost_targets(bank):
    s = summarize(WakeWordModel(FrontendConfig(), NetworkConfig(), *bank))
    assert s.trained_parameters <= 10_000
    assert s.network_macs_per_second < 1_000_000
    gru = summarize(build_preset("gru", *bank))
    # baselines keep the same trained-parameter budget (within 5 %)
    assert abs(gru.trained_parameters - s.trained_parameters) / s.trained_parameters < 0.05


def test_hidden_readout_adds_exactly_its_layer(bank):
    linear = summarize(WakeWordModel(FrontendConfig(), NetworkConfig(), *bank))
    mlp = summarize(WakeWordModel(FrontendConfig(), NetworkConfig(readout_hidden=8), *bank))
    in_features = 16 * 32  # channels x Mel bins
    expected = linear.trained_parameters - (in_features * 2 + 2) + (in_features * 8 + 8) + (8 * 2 + 2)
    assert mlp.trained_parameters == expected
    assert mlp.frozen_parameters == linear.frozen_parameters
    with pytest.raises(ConfigError, match="readout_hidden"):
        NetworkConfig(readout_hidden=-1)


def test_bank_too_small_for_channels_names_the_fix(bank):
    kernels, path = bank
    with pytest.raises(ConfigError, match="needs 64.*lower network.channels"):
        WakeWordModel(FrontendConfig(), NetworkConfig(channels=32), kernels[:40], path)


def test_unknown_combination_mode_lists_the_choices():
    with pytest.raises(ConfigError, match=r"combination is 'mean'.*'trained', 'add'"):
        NetworkConfig(combination="mean")


def test_window_longer_than_input_raises(bank):
    model = WakeWordModel(FrontendConfig(), NetworkConfig(), *bank)
    with pytest.raises(ConfigError, match="one step needs 1280"):
        model(torch.zeros(1, 800))
    with pytest.raises(ConfigError, match="stride_frames .* larger than window_frames"):
        NetworkConfig(window_frames=4, stride_frames=8)


def test_kernel_longer_than_mel_axis_raises():
    with pytest.raises(ConfigError, match="exceeds the convolved length"):
        BioConv(torch.zeros(1, 2, 40), 32)


def test_config_round_trip_and_strict_loading():
    cfg = NetworkConfig(keywords=("hey jarvis",), kernel_schedule=True)
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown key"):
        NetworkConfig.from_dict({**cfg.to_dict(), "hidden": 3})
    fe = FrontendConfig(n_mels=40)
    assert FrontendConfig.from_dict(fe.to_dict()) == fe
