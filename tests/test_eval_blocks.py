"""Evaluation and export parity read audio in blocks (issue 15): the same scores as the
whole-file path, memory flat in the file's length.

* ``StreamResampler`` / ``iter_audio_blocks`` give ``resample`` / ``load_audio``'s samples;
* a negative stream of real 48 kHz WAV files scores the same block by block as the old
  whole-file path (``load_audio`` + ``score``), for the runtime and the PyTorch scorer, and
  ``evaluate`` reports the same curve;
* scoring (and export parity on) a 10-minute 48 kHz file peaks no higher than a 1-minute one.

Bad files through the CLI are in ``test_safety_fuzz.py``.
"""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from wakeword.data.audio_io import (
    StreamResampler,
    count_samples,
    iter_audio_blocks,
    load_audio,
    resample,
    save_wav,
)
from wakeword.errors import DataError

REPO = Path(__file__).resolve().parent.parent
COMPUTER = REPO / "models" / "computer"
SR = 16000


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests share the machine: torch on one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _speechlike(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """A voiced, syllable-rate modulated tone in noise, with louder bursts now and then."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    pitch = 150 + 50 * np.sin(2 * np.pi * 0.5 * t)
    x = 0.2 * envelope * np.sin(2 * np.pi * pitch * t) + rng.normal(0, 0.02, t.size)
    x[(t % 7.0) < 0.6] *= 3.0  # bursts
    return np.clip(x, -0.99, 0.99).astype(np.float32)


def _long_wav(path: Path, seconds: int, rate: int) -> Path:
    """A 16-bit mono WAV of ``seconds`` written as a repeated 10 s block (fast to make)."""
    block = (_speechlike(10.0, rate) * 32767).astype("<i2").tobytes()
    size = len(block) * (seconds // 10)
    with path.open("wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt "
                 + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
                 + b"data" + struct.pack("<I", size))
        for _ in range(seconds // 10):
            fh.write(block)
    return path


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


def _kernels() -> np.ndarray:
    rng = np.random.default_rng(0)
    kernels = rng.standard_normal((64, 9)).astype(np.float32)
    kernels /= np.linalg.norm(kernels, axis=1, keepdims=True)
    return kernels


def _tiny_model():
    """The default network with random weights (as test_safety_fuzz's tiny checkpoint)."""
    import torch

    from wakeword.features.mel import FrontendConfig
    from wakeword.model import NetworkConfig, WakeWordModel

    torch.manual_seed(0)
    return WakeWordModel(FrontendConfig(), NetworkConfig(), _kernels(), np.arange(8)).eval()


# -- reading --------------------------------------------------------------------------------------
@pytest.mark.parametrize("orig,target", [(48000, 16000), (44100, 16000), (8000, 16000),
                                         (22050, 16000), (16000, 16000), (384000, 16000)])
def test_stream_resampler_equals_resample_for_any_split(orig, target):
    rng = np.random.default_rng(orig)
    for n in (0, 1, 7, 999, 50_000):
        x = (0.3 * rng.standard_normal(n)).astype(np.float32)
        resampler = StreamResampler(orig, target)
        parts, pos = [], 0
        while pos < n:
            step = int(rng.integers(1, 7000))
            parts.append(resampler.process(x[pos:pos + step]))
            pos += step
        parts.append(resampler.flush())
        got = np.concatenate(parts)
        want = resample(x, orig, target)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("rate,channels,suffix", [(48000, 1, ".wav"), (44100, 2, ".wav"),
                                                  (16000, 1, ".wav"), (48000, 2, ".flac")])
def test_blocks_join_to_load_audio(tmp_path, rate, channels, suffix):
    import soundfile

    mono = _speechlike(7.3, rate)
    data = np.stack([mono, 0.5 * mono[::-1]], axis=1) if channels == 2 else mono
    path = tmp_path / f"clip{suffix}"
    soundfile.write(path, data, rate, subtype="PCM_16")
    blocks = list(iter_audio_blocks(path, SR, block_frames=4096))
    assert len(blocks) > 5 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    joined = np.concatenate(blocks)
    whole = load_audio(path)
    assert joined.shape == whole.shape
    np.testing.assert_allclose(joined, whole, atol=1e-6)
    assert count_samples(path, SR) == whole.size


def test_reading_refuses_bad_files_with_the_file_and_a_fix(tmp_path):
    cases = {
        "text.wav": (b"not audio at all\n" * 50, "not a readable WAV"),
        "empty.wav": (b"", "truncated"),
        "rate.wav": (b"RIFF" + struct.pack("<I", 36 + 4) + b"WAVE" + b"fmt "
                     + struct.pack("<IHHIIHH", 16, 1, 1, 1, 2, 2, 16) + b"data"
                     + struct.pack("<I", 4) + b"\x00\x01\x00\x02", "outside 4000-384000 Hz"),
    }
    for name, (content, text) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        for read in (lambda p: list(iter_audio_blocks(p)), count_samples):
            with pytest.raises(DataError, match=text) as info:
                read(path)
            assert name in str(info.value) and ("sox" in str(info.value))
    with pytest.raises(DataError, match="no such audio file"):
        count_samples(tmp_path / "missing.wav")


# -- scores: block by block == whole file ---------------------------------------------------------
@pytest.fixture(scope="module")
def wav48(tmp_path_factory) -> list[Path]:
    """Two real 48 kHz WAV files (22.5 s and 9.7 s: neither a whole number of blocks)."""
    folder = tmp_path_factory.mktemp("neg48")
    paths = [folder / "a.wav", folder / "b.wav"]
    save_wav(paths[0], _speechlike(22.5, 48000, seed=1), sample_rate_hz=48000)
    save_wav(paths[1], _speechlike(9.7, 48000, seed=2), sample_rate_hz=48000)
    return paths


def _whole_file_scores(scorer, paths: list[Path]) -> np.ndarray:
    """Yesterday's path: load every file whole, join them, score the joined audio at once."""
    from wakeword.eval.evaluate import keyword_scores

    audio = np.concatenate([load_audio(p) for p in paths])
    return keyword_scores(scorer, audio, 1, "whole")


def test_runtime_scores_block_by_block_equal_the_whole_file(wav48):
    from wakeword.eval.evaluate import stream_keyword_scores
    from wakeword.eval.scorer import RuntimeScorer, open_stream
    from wakeword.eval.streams import negative_stream

    scorer = RuntimeScorer(COMPUTER)
    try:
        stream = negative_stream(wav48)
        assert stream.n_segments == 1 and stream.files == tuple(wav48)
        assert open_stream(scorer) is not None
        blocks = stream_keyword_scores(scorer, stream.blocks(0), 1, "blocks")
        whole = _whole_file_scores(scorer, wav48)
    finally:
        scorer.close()
    assert blocks.shape == whole.shape == (int(32.2 * SR) // 1280,)
    assert whole.max() > 0.0  # the detector became ready and scored something
    np.testing.assert_allclose(blocks, whole, atol=1e-6)


def test_torch_scores_block_by_block_equal_the_whole_file(wav48):
    from wakeword.eval.evaluate import stream_keyword_scores
    from wakeword.eval.scorer import TorchStream, open_stream
    from wakeword.eval.streams import negative_stream
    from wakeword.train.checkpoint import TorchScorer

    scorer = TorchScorer(_tiny_model())
    assert isinstance(open_stream(scorer), TorchStream)
    stream = negative_stream(wav48)
    blocks = stream_keyword_scores(scorer, stream.blocks(0), 1, "blocks")
    whole = _whole_file_scores(scorer, wav48)  # the clip path: softmax(model(audio))
    assert blocks.shape == whole.shape
    np.testing.assert_allclose(blocks, whole, atol=1e-5)


def test_evaluate_reports_the_same_curve_from_files_as_from_arrays(wav48):
    from wakeword.eval.evaluate import evaluate
    from wakeword.eval.scorer import RuntimeScorer
    from wakeword.eval.streams import NegativeStream, PositiveClip, negative_stream

    files = negative_stream(wav48, segment_s=20.0)  # a.wav alone, then b.wav
    assert files.n_segments == 2
    arrays = NegativeStream(segments=tuple(load_audio(p) for p in wav48))
    assert files.segment_samples == arrays.segment_samples
    assert files.hours == pytest.approx(arrays.hours)
    audio = np.concatenate([np.zeros(SR, np.float32), _speechlike(1.0, SR, seed=9),
                            np.zeros(SR, np.float32)])
    positives = [PositiveClip(audio=audio, keyword_start_s=1.0, keyword_end_s=2.0)]
    scorer = RuntimeScorer(COMPUTER)
    try:
        a = evaluate(scorer, positives, files, max_latency_s=None)
        b = evaluate(scorer, positives, arrays, max_latency_s=None)
    finally:
        scorer.close()
    assert a.negative_hours == pytest.approx(b.negative_hours)
    np.testing.assert_allclose(a.curve.false_accepts_per_hour, b.curve.false_accepts_per_hour)
    np.testing.assert_array_equal(a.curve.false_reject_rate, b.curve.false_reject_rate)


def test_a_scorer_that_cannot_stream_gets_the_joined_audio(wav48):
    from wakeword.eval.evaluate import stream_keyword_scores
    from wakeword.eval.streams import negative_stream

    class Peak:
        keywords = ("computer",)
        step_s = 0.08

        def score(self, audio):
            steps = audio.size // 1280
            peak = np.abs(audio[: steps * 1280]).reshape(steps, 1280).max(axis=1)
            return np.stack([1 - peak, peak], axis=1)

    stream = negative_stream(wav48)
    got = stream_keyword_scores(Peak(), stream.blocks(0), 1, "x")
    np.testing.assert_array_equal(got, _whole_file_scores(Peak(), wav48))


# -- memory: flat in the file's length ------------------------------------------------------------
def test_scoring_a_long_file_takes_no_more_memory_than_a_short_one(tmp_path):
    from wakeword.eval.evaluate import stream_keyword_scores
    from wakeword.eval.scorer import RuntimeScorer
    from wakeword.eval.streams import negative_stream

    short = _long_wav(tmp_path / "one_minute.wav", 60, 48000)
    long = _long_wav(tmp_path / "ten_minutes.wav", 600, 48000)  # 58 MB of int16
    scorer = RuntimeScorer(COMPUTER)
    results = {}

    def score(path):
        def run():
            stream = negative_stream([path])
            results[path.name] = stream_keyword_scores(scorer, stream.blocks(0), 1, "x")
        return run

    try:
        score(short)()  # warm-up: filter kernel cache, interpreter buffers
        peak_short = _peak_bytes(score(short))
        peak_long = _peak_bytes(score(long))
    finally:
        scorer.close()
    assert results["ten_minutes.wav"].size == 600 * SR // 1280
    # the whole-file path held 115 MB of float32 samples at 48 kHz (plus 38 MB resampled);
    # block by block: a few blocks plus 8 bytes of score per 80 ms step
    assert peak_long < peak_short + 1024 * 1024, (peak_short, peak_long)
    assert peak_long < 6 * 1024 * 1024, peak_long


def test_export_parity_on_a_long_file_takes_no_more_memory_than_a_short_one(tmp_path):
    from export.parity import check_stream
    from export.spec import build_spec

    spec = build_spec(_tiny_model())
    short = _long_wav(tmp_path / "half_a_minute.wav", 30, 48000)
    long = _long_wav(tmp_path / "five_minutes.wav", 300, 48000)
    check_stream(spec, {}, short)  # warm-up
    peak_short = _peak_bytes(lambda: check_stream(spec, {}, short))
    peak_long = _peak_bytes(lambda: check_stream(spec, {}, long))
    assert peak_long < peak_short + 1024 * 1024, (peak_short, peak_long)
    assert peak_long < 6 * 1024 * 1024, peak_long


# -- export parity from a file --------------------------------------------------------------------
def test_export_parity_audio_file_is_streamed_and_matches_the_array_path(tmp_path, capsys):
    from export.parity import check_stream
    from export.spec import build_spec
    from wakeword.cli.main import main
    from wakeword.train.checkpoint import KernelSource, save_checkpoint

    model = _tiny_model()
    ckpt = save_checkpoint(tmp_path / "run" / "best.pt", model,
                           kernels=KernelSource(kernels=_kernels(), path=np.arange(8)))
    parity = tmp_path / "speech48.wav"
    save_wav(parity, _speechlike(12.34, 48000, seed=4), sample_rate_hz=48000)
    out = tmp_path / "model"
    code = main(["--no-progress", "export", str(ckpt), "--out", str(out), "--formats", "onnx",
                 "--no-train-step", "--parity-audio", str(parity)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    report = json.loads((out / "parity.json").read_text())
    assert report["audio"]["source"] == str(parity)
    assert report["audio"]["seconds"] == pytest.approx(12.34, abs=1e-4)
    steps = int(12.34 * SR) // 1280
    assert report["stream"]["onnx"]["steps"] == steps
    # the same figures as the whole-array path on load_audio's samples
    spec = build_spec(model)
    from_file = check_stream(spec, {"onnx": out / "model.onnx"}, parity)
    from_array = check_stream(spec, {"onnx": out / "model.onnx"}, load_audio(parity))
    assert from_file["onnx"]["steps"] == from_array["onnx"]["steps"] == steps
    assert from_file["onnx"]["max_abs_diff"] == pytest.approx(
        from_array["onnx"]["max_abs_diff"], abs=1e-6)
