"""The data engine: plans, cache keys, resumable builds, keyword ends, homophones, serving."""

from __future__ import annotations

import errno
import json
import shutil

import numpy as np
import pytest

from wakeword.data import engine as engine_mod
from wakeword.data.corpus import corpus_signature, find_corpus, read_corpus, speaker_split
from wakeword.data.engine import (
    BuildConfig,
    build,
    homophone_filter,
    load_synths,
    near_miss_texts,
    phrase_bounds,
    sound_key,
    synthesis_plan,
)
from wakeword.data.pools import Pool, PoolBuilder, cached_pool, write_atomic
from wakeword.data.serve import AugmentConfig, ClipServer
from wakeword.data.tts_cache import SynthesisCache, SynthesisRequest
from wakeword.errors import ConfigError, DataError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed (apt-get install espeak-ng)")

TINY = {"n_positives": 6, "n_near_miss": 4, "kokoro_sentences": 0, "espeak_sentences": 3,
            "real_speech": False, "noise_minutes": 0.2, "kokoro_share": 0.0}


@pytest.fixture(autouse=True)
def no_shared(monkeypatch):
    """Tests never use ../shared: no manifest sentences, no recorded noise."""
    monkeypatch.setattr(engine_mod, "shared_dir", lambda: None)
    monkeypatch.setattr("wakeword.paths.shared_dir", lambda: None)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One tiny espeak-ng build shared by the tests that only read it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(engine_mod, "shared_dir", lambda: None)
        mp.setattr("wakeword.paths.shared_dir", lambda: None)
        folder = tmp_path_factory.mktemp("tiny-cache")
        return build(BuildConfig(phrase="computer", **TINY), folder, workers=2)


@pytest.fixture(scope="module")
def espeak():
    from wakeword.data.tts import EspeakSynthesizer

    return EspeakSynthesizer()


def _pool_arrays(pool: Pool) -> dict[str, np.ndarray]:
    return {"audio": pool.audio, "offsets": pool.offsets, "end": pool.end,
            "source": pool.source, "detail": pool.detail, "text": pool.text,
            "split": pool.split}


def _same(a: Pool, b: Pool) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_pool_arrays(a).values(),
                                                    _pool_arrays(b).values()))


# ------------------------------------------------------------------------- plans and keys


def test_plan_is_deterministic_and_prefix_stable():
    cfg = BuildConfig(phrase="computer", **TINY)
    synths = load_synths(cfg)
    first = synthesis_plan(cfg, synths)
    assert synthesis_plan(cfg, synths) == first
    bigger = synthesis_plan(BuildConfig(phrase="computer", **{**TINY, "n_positives": 12}),
                            synths)
    # asking for more positives keeps the first ones (and their cache entries)
    assert bigger["positives"][:6] == first["positives"]
    assert synthesis_plan(BuildConfig(phrase="computer", **{**TINY, "seed": 1}),
                          synths)["positives"] != first["positives"]


def test_cache_key_changes_with_every_input_and_nothing_else():
    base = SynthesisRequest(text="computer", voice="en-us", speed=1.0, pitch=0.0,
                            synthesizer="espeak-ng")
    key = SynthesisCache.key(base, "v1")
    assert SynthesisCache.key(SynthesisRequest(**vars(base)), "v1") == key
    for change in ({"text": "computers"}, {"voice": "en-gb"}, {"speed": 1.01},
                   {"pitch": 0.5}, {"synthesizer": "kokoro"}):
        assert SynthesisCache.key(SynthesisRequest(**{**vars(base), **change}), "v1") != key
    assert SynthesisCache.key(base, "v2") != key


def test_corpus_signature_follows_the_files(tmp_path):
    from wakeword.data.audio_io import save_wav

    folder = tmp_path / "speech"
    save_wav(folder / "a" / "1.wav", np.full(1600, 0.1, np.float32))
    sig = corpus_signature(find_corpus(folder))
    assert corpus_signature(find_corpus(folder)) == sig
    save_wav(folder / "a" / "1.wav", np.full(3200, 0.1, np.float32))
    assert corpus_signature(find_corpus(folder)) != sig


def test_speaker_split_is_by_speaker_and_near_the_fraction():
    splits = [speaker_split("c", f"s{i}", 0.2) for i in range(2000)]
    assert 0.15 < splits.count("val") / len(splits) < 0.25
    assert speaker_split("c", "s7", 0.2) == speaker_split("c", "s7", 0.2)


# ------------------------------------------------------------------------------- builds


def test_build_then_cached_build_is_identical_and_synthesises_nothing(tiny):
    cfg = BuildConfig(phrase="computer", **TINY)
    first, tmp_path = tiny, tiny.cache_dir
    assert not first.cached
    again = build(cfg, tmp_path, workers=2)
    assert again.cached
    for name in engine_mod.POOL_NAMES:
        assert _same(first.pools[name], again.pools[name]), name
    stats = again.stats()
    assert stats["positives"] == 6 and stats["positives_by_source"] == {"espeak-ng": 6}
    assert set(stats["negative_hours_by_source"]) >= {"near_miss", "espeak_speech", "noise"}
    log = engine_mod.build_log(tmp_path, cfg)
    assert log["stages"]["synthesis:positives"]["work"] == 6


def test_resumed_build_equals_an_uninterrupted_one(tmp_path):
    cfg = BuildConfig(phrase="alexa", **TINY)
    whole = build(cfg, tmp_path / "whole")
    # An interrupted build: half the positives made, nothing packed yet.
    synths = load_synths(cfg)
    plan = synthesis_plan(cfg, synths)
    from wakeword.data.synth_pool import synthesize_to_cache

    cache = SynthesisCache(tmp_path / "resumed")
    synthesize_to_cache(plan["positives"][:3], cache, synths.versions, workers=1)
    resumed = build(cfg, tmp_path / "resumed")
    for name in engine_mod.POOL_NAMES:
        assert _same(whole.pools[name], resumed.pools[name]), name


def test_damaged_cache_entries_are_rebuilt_never_used(tmp_path, caplog):
    cfg = BuildConfig(phrase="computer", **TINY)
    good = build(cfg, tmp_path)
    synths = load_synths(cfg)
    plan = synthesis_plan(cfg, synths)
    cache = SynthesisCache(tmp_path)
    wav = cache.path(plan["positives"][0], synths.versions["espeak-ng"])
    wav.write_bytes(wav.read_bytes()[: wav.stat().st_size // 2])  # cut short
    pool_file = next((tmp_path / "pools").glob("positives-*.npz"))
    pool_file.write_bytes(pool_file.read_bytes()[:1000])  # a damaged pool
    rebuilt = build(cfg, tmp_path)
    assert not rebuilt.cached
    assert _same(good.pools["positives"], rebuilt.pools["positives"])
    assert "damaged" in caplog.text


def test_pool_digest_catches_changed_audio(tmp_path):
    builder = PoolBuilder()
    builder.add(np.full(100, 0.5, np.float32), source="x")
    path = tmp_path / "p.npz"
    pool = builder.build()
    path.write_bytes(pool.to_bytes())
    assert len(Pool.load(path)) == 1
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["audio"] = arrays["audio"].copy()
    arrays["audio"][3] += 1
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="digest"):
        Pool.load(path)


def test_full_disk_names_the_folder_and_keeps_what_was_there(tmp_path, monkeypatch):
    path = tmp_path / "pools" / "keep.npz"
    write_atomic(path, b"old")

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("wakeword.data.pools.os.replace", full)
    with pytest.raises(DataError, match="disk is full.*resumes"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["keep.npz"]  # no temporary left
    monkeypatch.undo()
    called = []
    with pytest.raises(DataError):
        monkeypatch.setattr("wakeword.data.pools.os.replace", full)
        cached_pool(tmp_path, "x", {"a": 1}, lambda: called.append(1) or PoolBuilder().build())


@pytest.mark.parametrize("phrase", ["", "   ", "1234", "?!"])
def test_empty_or_unpronounceable_phrase_is_a_clear_error(phrase):
    with pytest.raises(ConfigError, match="wake phrase"):
        BuildConfig(phrase=phrase)


def test_missing_kokoro_named_explicitly_is_an_error_else_a_fallback(tmp_path, caplog):
    with pytest.raises(DataError, match="Kokoro files missing"):
        load_synths(BuildConfig(phrase="computer", tts_dir=str(tmp_path)))
    monkey = BuildConfig(phrase="computer")
    import os

    old = os.environ.get("WAKEWORD_TTS_DIR")
    os.environ["WAKEWORD_TTS_DIR"] = str(tmp_path)
    try:
        synths = load_synths(monkey)
    finally:
        if old is None:
            os.environ.pop("WAKEWORD_TTS_DIR")
        else:
            os.environ["WAKEWORD_TTS_DIR"] = old
    assert synths.kokoro is None
    assert "espeak-ng" in caplog.text and "Kokoro" in caplog.text
    assert synthesis_plan(BuildConfig(phrase="computer", **{**TINY, "kokoro_share": 0.85}),
                          synths)["positives"][0].synthesizer == "espeak-ng"


def test_cached_only_build_refuses_to_synthesise(tmp_path):
    with pytest.raises(DataError, match="not built yet.*wakeword data build"):
        build(BuildConfig(phrase="computer", **TINY), tmp_path, cached_only=True)


# --------------------------------------------------------------------- keyword ends, text


def test_keyword_end_matches_the_audio_energy(tiny):
    data = tiny
    pool = data.pools["positives"]
    for i in range(len(pool)):
        audio, end = pool.clip(i), int(pool.end[i])
        assert 0 < end <= audio.size
        before = np.mean(audio[max(0, end - 800):end] ** 2)
        after = np.mean(audio[end:end + 800] ** 2) if end < audio.size else 0.0
        assert after < 1e-3 * before  # speech stops at `end`: 40 dB quieter after it
        assert np.abs(audio[end - 160:end]).max() > 0.01 * np.abs(audio).max()
    # served positives carry the end where it was placed
    server = ClipServer(data, AugmentConfig(reverb_probability=0.0,
                                            background_probability=0.0, warp_probability=0.0))
    kinds, items = server.plan(0)
    j = int(np.flatnonzero(kinds == 0)[0])
    clip, end = server.render(0, j, 0, int(items[j]))
    lo, hi = AugmentConfig().keyword_end_range
    assert lo * clip.size - 1 <= end <= hi * clip.size + 1
    assert np.mean(clip[end:end + 800] ** 2) < 1e-3 * np.mean(clip[end - 800:end] ** 2)


def test_phrase_bounds_on_a_tone():
    audio = np.zeros(1000, np.float32)
    audio[200:700] = 0.5
    assert phrase_bounds(audio) == (200, 700)
    assert phrase_bounds(np.zeros(10, np.float32)) == (0, 0)


@pytest.mark.parametrize("phrase,homophones", [
    ("computer", ["computa", "komputer", "come puter", "computor"]),
    ("alexa", ["alexah", "allexa", "alecksa"]),
    ("hey jarvis", ["hey jarvus", "hay jarvis"]),
])
def test_no_homophone_among_the_near_misses(espeak, phrase, homophones):
    cfg = BuildConfig(phrase=phrase)
    near = near_miss_texts(cfg, espeak)
    assert near, phrase
    for voice in ("en-us", "en-gb"):
        target = sound_key(espeak.phonemes([phrase], voice=voice)[0])
        keys = espeak.phonemes(near, voice=voice)
        assert all(sound_key(k) != target for k in keys), voice
    # known homophones are recognised as such whenever they sound like the phrase
    kept = homophone_filter(phrase, homophones, espeak)
    for text in kept:
        assert all(sound_key(espeak.phonemes([text], voice=v)[0])
                   != sound_key(espeak.phonemes([phrase], voice=v)[0]) for v in ("en-us", "en-gb"))
    assert "computa" not in homophone_filter("computer", ["computa", "compuder"], espeak)


# ------------------------------------------------------------------------------- serving


def test_augmentation_differs_between_epochs_and_repeats_within_one(tiny, tmp_path):
    from wakeword.data.augment import RirBank

    data = tiny
    server = ClipServer(data, seed=3, rir_bank=RirBank(seed=0, n_rooms=2, cache_dir=tmp_path))
    item = int(server.positives[0])
    a0, _ = server.render(0, 5, 0, item)
    b0, _ = server.render(0, 5, 0, item)
    a1, _ = server.render(1, 5, 0, item)
    assert np.array_equal(a0, b0)
    assert not np.allclose(a0, a1)
    # the epoch plans differ in order and negatives, and labels follow the kinds
    k0, i0 = server.plan(0)
    k1, i1 = server.plan(1)
    assert not (np.array_equal(k0, k1) and np.array_equal(i0, i1))
    audio, labels, ends = next(server.batches(0, 8))
    assert audio.shape == (8, 32000) and audio.dtype == np.float32
    assert np.all((labels == 1) == (ends >= 0))
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0


def test_speech_naming_the_phrase_is_never_served(tmp_path):
    import soundfile as sf

    folder = tmp_path / "corpus"
    (folder / "spk1").mkdir(parents=True)
    (folder / "spk2").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("spk1/a.wav", "spk2/b.wav"):
        sf.write(folder / name, (rng.standard_normal(8000) * 0.1).astype(np.float32), 16000)
    sf.write(folder / "spk2" / "c.opus", (rng.standard_normal(16000) * 0.1).astype(np.float32),
             16000, format="OGG", subtype="OPUS")
    (folder / "manifest.csv").write_text(
        "path,speaker,text\nspk1/a.wav,one,HELLO MY COMPUTER\nspk2/b.wav,two,HELLO THERE\n"
        "spk2/c.opus,two,GOOD MORNING\n")
    cfg = BuildConfig(phrase="computer", **{**TINY, "speech_dirs": (str(folder),),
                                            "val_speaker_fraction": 0.0})
    data = build(cfg, tmp_path / "cache")
    speech = data.pools["speech"]
    real = np.flatnonzero(speech.source == "real_speech")
    assert len(real) == 3  # the Opus file is read too
    server = ClipServer(data)
    served_texts = {str(speech.text[i]) for i in server.speech}
    assert "HELLO MY COMPUTER" not in served_texts and "HELLO THERE" in served_texts
    stats = data.stats()
    assert stats["negative_hours_by_source"]["real_speech"] > 0


def test_corpus_without_manifest_is_searched_recursively(tmp_path):
    from wakeword.data.audio_io import load_folder, save_wav

    save_wav(tmp_path / "x" / "y" / "deep.wav", np.full(1600, 0.1, np.float32))
    corpus = find_corpus(tmp_path)
    assert [p.name for p in corpus.files] == ["deep.wav"]
    assert corpus.speakers == ("x/y",)
    assert len(read_corpus(corpus, val_fraction=0.0)) == 1
    with pytest.raises(DataError, match="no audio files"):
        load_folder(tmp_path)
    clips, _paths = load_folder(tmp_path, recursive=True)
    assert len(clips) == 1


def test_stats_json_from_the_cli(tmp_path, capsys, monkeypatch):
    from wakeword.cli.main import main

    args = ["data", "build", "--phrase", "computer", "--cache-dir", str(tmp_path),
            "--n-positives", "6", "--n-near-miss", "4", "--kokoro-sentences", "0",
            "--espeak-sentences", "3", "--no-real-speech", "--noise-minutes", "0.2",
            "--kokoro-share", "0"]
    assert main(["--no-progress", *args, "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["positives"] == 6
    stats_args = ["data", "stats", "--phrase", "computer", *args[4:], "--json"]
    assert main(["--no-progress", *stats_args]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["negative_hours"] == pytest.approx(built["negative_hours"])
    # not built: a clear error, exit 2, no traceback
    assert main(["--no-progress", "data", "stats", "--phrase", "alexa", "--cache-dir",
                 str(tmp_path / "empty")]) == 2
    assert "wakeword data build" in capsys.readouterr().err
    # clear refuses a folder that is not a cache
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["data", "clear", "--cache-dir", str(tmp_path), "--yes"]) == 2
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_training_on_served_clips_end_to_end(tiny, tmp_path, capsys):
    """`train_phrase` with the engine: clips served every epoch, validation on held-out
    syntheses, the data config in run.json, and `wakeword data stats RUN` reads it back."""
    import torch

    from wakeword.cli.main import main
    from wakeword.kernels.bank import load_default_bank
    from wakeword.model.config import NetworkConfig
    from wakeword.train.checkpoint import KernelSource, load_checkpoint
    from wakeword.train.pipeline import train_phrase
    from wakeword.train.trainer import TrainConfig

    torch.set_num_threads(1)
    config = tiny.config
    run = train_phrase(config, NetworkConfig(keywords=("computer",)),
                       TrainConfig(epochs=2, batch_size=8, val_fraction=0.15), tmp_path / "run",
                       kernels=KernelSource.from_bank(load_default_bank()),
                       cache_dir=tiny.cache_dir,
                       augment=AugmentConfig(negatives_per_positive=1.0))
    assert run.result.epochs_run == 2
    assert run.kinds["positives"] + run.kinds["val_positives"] == 6
    report = json.loads((tmp_path / "run" / "run.json").read_text())
    assert report["data"]["phrase"] == "computer" and report["data_stats"]["positives"] == 6
    saved = load_checkpoint(run.result.best_checkpoint)
    assert saved["data"]["augment"]["snr_db_range"] == [-5.0, 20.0]
    history = saved["metrics"]["history"]
    assert len(history) >= 1 and np.isfinite(history[0]["train_loss"])
    assert main(["--no-progress", "data", "stats", str(tmp_path / "run"), "--cache-dir",
                 str(tiny.cache_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["positives"] == 6


def test_opus_roundtrip_keeps_length_and_alignment():
    from wakeword.data.engine import opus_roundtrip

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 300 * t) * (t > 0.5)).astype(np.float32)
    audio[8000:8400] += 0.2 * rng.standard_normal(400).astype(np.float32)
    out = opus_roundtrip(audio, 0.8)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert not np.array_equal(out, audio)
    lags = range(-40, 41)
    corr = [float(np.dot(np.roll(out, -lag), audio)) for lag in lags]
    assert abs(list(lags)[int(np.argmax(corr))]) <= 2
    onset = np.flatnonzero(np.abs(out) > 0.05)[0]
    assert abs(onset - 8000) < 80


def test_music_like_is_pitched_and_bounded():
    from wakeword.data.engine import music_like

    music = music_like(16000 * 5, np.random.default_rng(2))
    assert music.shape == (80000,) and np.abs(music).max() == pytest.approx(0.5, abs=1e-6)
    spectrum = np.abs(np.fft.rfft(music))
    assert spectrum.max() > 20 * np.median(spectrum)  # tonal peaks, not noise


def test_a_second_phrase_reuses_the_phrase_independent_pools(tiny, tmp_path):
    """Sentences and noise are built once per machine: another phrase in the same cache packs
    only its own positives and near misses."""
    cache = tmp_path / "cache"
    shutil.copytree(tiny.cache_dir, cache)
    other = BuildConfig(phrase="hey jarvis", **TINY)
    data = build(other, cache)
    stages = engine_mod.build_log(cache, other)["stages"]
    assert {"pool:positives", "pool:near_miss"} <= set(stages)
    assert "pool:sentences" not in stages and "pool:noise" not in stages
    assert _same(data.pools["noise"], tiny.pools["noise"])
    assert set(data.pools["positives"].text.tolist()) != set(tiny.pools["positives"].text.tolist())


def test_user_recordings_join_the_positives_with_their_end(tiny, tmp_path):
    from wakeword.data.audio_io import save_wav

    folder = tmp_path / "mine" / "session1"
    rng = np.random.default_rng(5)
    for i in range(2):
        audio = (0.002 * rng.standard_normal(24000)).astype(np.float32)  # room noise
        audio[8000:16000] += 0.3 * np.sin(np.arange(8000) * 0.2).astype(np.float32)
        save_wav(folder / f"take{i}.wav", audio)
    cache = tmp_path / "cache"
    shutil.copytree(tiny.cache_dir, cache)
    config = BuildConfig(phrase="computer", **{**TINY, "positive_dirs": (str(tmp_path / "mine"),)})
    data = build(config, cache)
    pool = data.pools["positives"]
    user = np.flatnonzero(pool.source == "user")
    assert len(user) == 2 and len(pool) == 8
    for i in user:
        clip, end = pool.clip(int(i)), int(pool.end[i])
        # the tone ends 16000 samples into the file; the clip starts 800 before it starts
        assert abs(end - (16000 - 8000 + 800)) <= 200
        assert np.abs(clip[end - 400:end]).max() > 0.2
