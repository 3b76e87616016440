"""The step recipe: keyword-end labels, the gated FIG. 4B network, the fast clip path, diverse
kernels, the learning-rate and negative-weight schedules, held-out selection, the feature bank
and a resumable run end to end (tiny data, no ../shared)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from wakeword.errors import ConfigError
from wakeword.features.mel import FrontendConfig
from wakeword.kernels.bank import load_default_bank
from wakeword.model.config import NetworkConfig
from wakeword.model.network import KeywordNetwork, _WindowedNetwork, diverse_order
from wakeword.model.wakeword_model import WakeWordModel
from wakeword.train.labels import IGNORE, keyword_end_loss, step_targets
from wakeword.train.selection import operating_point
from wakeword.train.steps import learning_rate_at, negative_weight_at
from wakeword.train.trainer import TrainConfig

GATED = {"channels": 8, "window_frames": 12, "input_taps": 5, "gated": True,
         "kernel_selection": "diverse"}


@pytest.fixture(scope="module")
def bank():
    return load_default_bank()


def _model(bank, **kw):
    torch.manual_seed(0)
    return WakeWordModel(FrontendConfig(), NetworkConfig(**kw), bank.kernels, bank.path)


# -- labels ---------------------------------------------------------------------------------
def test_targets_put_the_positive_window_just_after_the_end():
    step = 1280  # 80 ms
    # phrase from 0.40 s to 1.00 s; 200 ms window after the end
    t = step_targets(np.array([6400, -1]), np.array([16000, -1]), n_steps=25,
                     step_samples=step, after_end_samples=3200)
    heard = (np.arange(25) + 1) * step
    assert set(np.flatnonzero(t[0] == 1)) == set(np.flatnonzero((heard >= 16000)
                                                                  & (heard <= 19200)))
    assert (t[0][heard < 6400] == 0).all()  # before the phrase: background
    assert (t[0][(heard >= 6400) & (heard < 16000)] == IGNORE).all()  # inside: ignored
    assert (t[0][heard > 19200] == IGNORE).all()  # long after: ignored
    assert (t[1] == 0).all()  # a negative clip: background everywhere


def test_a_phrase_ending_in_the_last_step_still_gets_a_positive_step():
    t = step_targets(np.array([1000]), np.array([31900]), n_steps=25, step_samples=1280,
                     after_end_samples=3200)
    assert t[0, -1] == 1 and (t[0] == 1).sum() == 1


def test_loss_ignores_steps_inside_the_phrase_and_rewards_the_window():
    targets = torch.tensor([[0, 0, IGNORE, IGNORE, 1, 1, IGNORE], [0] * 7])
    logits = torch.zeros(2, 7, 2, requires_grad=True)
    loss = keyword_end_loss(logits, targets, negative_weight=2.0)
    loss.backward()
    grad = logits.grad[..., 1] - logits.grad[..., 0]
    assert torch.all(grad[0, 2:4] == 0) and grad[0, 6] == 0  # ignored steps get no gradient
    assert grad[0, 4:6].sum() < 0  # the window is pushed up
    assert torch.all(grad[1] >= 0) and grad[1].sum() > 0  # negatives are pushed down
    better = torch.zeros(2, 7, 2)
    better[0, 5, 1] = 5.0
    assert keyword_end_loss(better, targets, 2.0) < loss


# -- the network ----------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{}, GATED, {**GATED, "gated": False},
                                {"channels": 4, "input_taps": 3},
                                {"architecture": "gru", "gru_hidden": 6}])
def test_fast_clip_path_equals_the_step_loop_and_the_stream(bank, kw):
    model = _model(bank, **kw).eval()
    audio = torch.randn(2, 1280 * 9) * 0.1
    with torch.no_grad():
        mel = model.features(audio)
        fast = model.network(mel)
        loop = _WindowedNetwork.forward(model.network, mel)
        stream = model.stream(audio)
    assert torch.allclose(fast, loop, atol=1e-5)
    if hasattr(model.network, "strided_input"):  # the exporters' path: matrix products only
        model.network.strided_input = False
        with torch.no_grad():
            assert torch.allclose(model.network(mel), loop, atol=1e-5)
    assert torch.allclose(torch.softmax(fast, -1), stream, atol=1e-5)
    model.train()  # dropout: the same random masks, drawn in the same order, as the loop
    if hasattr(model.network, "strided_input"):
        model.network.strided_input = True
    torch.manual_seed(5)
    fast = model.network(mel)
    torch.manual_seed(5)
    loop = _WindowedNetwork.forward(model.network, mel)
    assert torch.allclose(fast, loop, atol=1e-5)
    model.eval()


def test_gate_closed_keeps_the_state(bank):
    model = _model(bank, **GATED).eval()
    net = model.network
    assert isinstance(net, KeywordNetwork) and net.gate is not None
    with torch.no_grad():
        net.gate.bias.fill_(-80.0)  # keep = sigmoid(-80) ~ 0: the state never moves
        net.gate.weight.zero_()
        state = net.initial_state(1)
        window = torch.randn(1, net.config.window_frames, net.config.n_mels)
        _, (hidden, _) = net.step(window, state)
    assert torch.allclose(hidden, state[0], atol=1e-20)


def test_gated_network_counts_its_gate_and_stays_in_budget(bank):
    from wakeword.model.summary import summarize

    plain = summarize(_model(bank, **{**GATED, "gated": False}))
    gated = summarize(_model(bank, **GATED))
    c = GATED["channels"]
    assert gated.trained_parameters - plain.trained_parameters == 2 * c * c + c
    assert gated.network_macs_per_step > plain.network_macs_per_step
    big = summarize(_model(bank, channels=24, window_frames=24, input_taps=5, gated=True))
    assert big.trained_parameters <= 25_000


def test_config_rejects_even_taps_and_gate_without_a_trained_440():
    with pytest.raises(ConfigError, match="input_taps"):
        NetworkConfig(input_taps=4)
    with pytest.raises(ConfigError, match="gated"):
        NetworkConfig(gated=True, combination="add")


def test_diverse_kernels_are_less_alike_than_the_first_rows(bank):
    def mean_cosine(k):
        r = np.abs(np.fft.rfft(k, n=32, axis=1))
        r /= np.linalg.norm(r, axis=1, keepdims=True)
        c = r @ r.T
        return c[~np.eye(len(c), dtype=bool)].mean()

    order = diverse_order(bank.kernels, 32)
    assert sorted(order.tolist()) == list(range(len(bank.kernels)))
    assert mean_cosine(bank.kernels[order[:16]]) < mean_cosine(bank.kernels[:16])
    net = _model(bank, **GATED).network
    assert torch.equal(net.bio_input.taps[0], torch.from_numpy(bank.kernels[order[:8]]))


# -- schedules and selection ----------------------------------------------------------------
def test_learning_rate_warms_up_then_decays_and_negative_weight_ramps():
    cfg = TrainConfig(steps=1000, warmup_steps=100, learning_rate=0.01,
                      negative_weight_start=1.0, negative_weight_end=9.0)
    assert learning_rate_at(0, cfg) < learning_rate_at(99, cfg) == pytest.approx(0.01)
    assert learning_rate_at(500, cfg) < 0.01
    assert learning_rate_at(999, cfg) == pytest.approx(0.0002, rel=0.05)
    assert negative_weight_at(0, cfg) == 1.0 and negative_weight_at(600, cfg) == 9.0
    assert negative_weight_at(300, cfg) == pytest.approx(5.0)


def test_operating_point_meets_the_false_accept_target():
    rng = np.random.default_rng(0)
    streams = [rng.uniform(0, 0.3, 4500) for _ in range(8)]  # 8 x 6 min at 80 ms = 48 min
    streams[0][100] = 0.9  # one loud false accept
    pos = np.array([0.95, 0.92, 0.8, 0.5, 0.1])
    point = operating_point(streams, pos, hours=0.8, step_s=0.08, refractory_s=2.0,
                            target_fa_per_hour=0.5)
    assert point["threshold"] > 0.9 and point["fa_per_hour"] == 0.0
    assert point["recall"] == pytest.approx(0.4)
    loose = operating_point(streams, pos, hours=0.8, step_s=0.08, refractory_s=2.0,
                            target_fa_per_hour=2.0)
    assert 0.3 <= loose["threshold"] <= 0.9 and loose["recall"] == pytest.approx(0.8)


# -- end to end on a tiny build ---------------------------------------------------------------
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_step_recipe_end_to_end_and_resume(tmp_path, monkeypatch):
    from wakeword.data import engine as engine_mod
    from wakeword.data.engine import BuildConfig, build
    from wakeword.data.serve import AugmentConfig
    from wakeword.train.checkpoint import KernelSource, load_checkpoint
    from wakeword.train.feature_bank import FeatureBank
    from wakeword.train.pipeline import train_phrase

    monkeypatch.setattr(engine_mod, "shared_dir", lambda: None)
    monkeypatch.setattr("wakeword.paths.shared_dir", lambda: None)
    torch.set_num_threads(1)
    config = BuildConfig(phrase="computer", n_positives=40, n_near_miss=6, kokoro_sentences=0,
                         espeak_sentences=40, real_speech=False, noise_minutes=0.2,
                         kokoro_share=0.0, val_speaker_fraction=0.3)
    build(config, tmp_path / "cache", workers=2)
    net = NetworkConfig(keywords=("computer",), **GATED)
    train = TrainConfig(steps=6, eval_every=3, warmup_steps=2, batch_size=8, bank_epochs=1,
                        mine_every=4, spec_augment=True)
    kernels = KernelSource.from_bank(load_default_bank())
    augment = AugmentConfig(negatives_per_positive=1.0)
    run = train_phrase(config, net, train, tmp_path / "run", kernels=kernels,
                       cache_dir=tmp_path / "cache", augment=augment)
    saved = load_checkpoint(run.result.best_checkpoint)
    history = saved["metrics"]["history"]
    assert [row["step"] for row in history][:1] == [2]
    assert 0.0 < saved["metrics"]["threshold"] < 1.0
    assert "held-out" in saved["metrics"]["selection"]["measure"]
    banks = list((tmp_path / "cache" / "features").iterdir())
    assert len(banks) == 1 and not banks[0].name.endswith(".partial")
    bank = FeatureBank.load(banks[0])
    assert bank.mel.dtype == np.float16 and bank.labels.sum() > 0
    pos = bank.labels == 1
    assert (bank.ends[pos] > bank.starts[pos]).all() and (bank.ends[~pos] == -1).all()
    # a longer run resumes from last.pt, reusing the cached bank
    longer = TrainConfig(**{**train.to_dict(), "steps": 9})
    run2 = train_phrase(config, net, longer, tmp_path / "run", kernels=kernels,
                        cache_dir=tmp_path / "cache", augment=augment, resume=True)
    last = load_checkpoint(run2.result.last_checkpoint)
    assert last["epoch"] == 8
    assert [row["step"] for row in last["metrics"]["history"]] == [2, 5, 8]


def test_gated_network_exports_with_parity_and_training_step_graphs(tmp_path):
    """The recipe's network (gated 440, 420 over 5 Mel bins) exports to ONNX and TFLite, and
    its training-step graphs (matrix products only) match PyTorch."""
    import json

    from export import export_model
    from wakeword.train.checkpoint import KernelSource, save_checkpoint

    rng = np.random.default_rng(0)
    kernels = rng.standard_normal((64, 9)).astype(np.float32)
    path = np.arange(8)
    torch.manual_seed(0)
    model = WakeWordModel(FrontendConfig(), NetworkConfig(**GATED), kernels, path).eval()
    source = KernelSource(kernels=kernels, path=path, fingerprint="sha256:test-bank",
                          recipe={"name": "seeded-random"}, attribution="seeded random kernels")
    ckpt = save_checkpoint(tmp_path / "best.pt", model, kernels=source,
                           metrics={"threshold": 0.7}, epoch=1)
    export_model(ckpt, tmp_path / "computer", train_clip_s=0.64)
    parity = json.loads((tmp_path / "computer" / "parity.json").read_text())
    assert set(parity["stream"]) == {"onnx", "tflite"}
    assert all(v["max_abs_diff"] < 1e-4 for v in parity["stream"].values())
    assert parity.get("train_step"), "no training-step parity was recorded"


def test_channel_augment_is_an_exact_per_band_gain():
    from wakeword.train.channel import channel_augment

    frontend = FrontendConfig()
    audio = torch.randn(6, 16000) * 0.1
    model = WakeWordModel(frontend, NetworkConfig(), np.zeros((64, 9), np.float32),
                          np.arange(8))
    mel = model.features(audio)
    gen = torch.Generator().manual_seed(0)
    out = channel_augment(mel, frontend, gen, probability=1.0)
    assert out.shape == mel.shape and torch.isfinite(out).all()
    # the change per band is the same at every frame where the signal is far above the floor
    diff = (out - mel)[:, 20:-20]
    assert torch.allclose(diff, diff[:, :1].expand_as(diff), atol=1e-3)
    assert diff.abs().max() > 0.05  # something changed
    unchanged = channel_augment(mel, frontend, gen, probability=0.0)
    assert torch.allclose(unchanged, mel, atol=1e-5)


def test_vocal_tract_warp_moves_a_spectral_peak_and_keeps_identity():
    from wakeword.train.channel import vocal_tract_warp

    frontend = FrontendConfig()
    mel = torch.full((2, 5, 32), -0.5)
    mel[:, :, 16] = 2.0  # a formant-like peak in band 16
    gen = torch.Generator().manual_seed(0)
    up = vocal_tract_warp(mel, frontend, gen, probability=1.0, low=1.15, high=1.15)
    down = vocal_tract_warp(mel, frontend, gen, probability=1.0, low=0.85, high=0.85)
    assert int(up[0, 0].argmax()) > 16 > int(down[0, 0].argmax())
    same = vocal_tract_warp(mel, frontend, gen, probability=0.0)
    assert torch.allclose(same, mel, atol=1e-3)
