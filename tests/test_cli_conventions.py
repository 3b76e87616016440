"""CLI conventions: --version, '-' for standard input, defaults and exit codes in --help,
shipped models by name, and commands that import their heavy dependencies only when they run
(a host-only command on a device install names its extra)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest
import runtime_fixtures
from runtime_fixtures import SAMPLE_RATE_HZ, stream_with_events, tone

import wakeword
from device_runtime.audio import write_wav
from device_runtime.audio_file import AudioFile, iter_audio
from device_runtime.detector import MODELS_DIR, resolve_model
from device_runtime.errors import ModelError
from wakeword.cli.main import COMMANDS, main

toy_model = runtime_fixtures.toy_model  # the shared session-scoped fixture

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "models" / "computer" / "example.wav"

# What a device install (numpy + onnxruntime + ai-edge-litert) does not have.
DEVICE_BLOCKER = textwrap.dedent(
    """
    import sys
    class _Block:
        BLOCKED = ("torch", "torchaudio", "scipy", "matplotlib", "tqdm", "onnx", "onnxscript",
                   "litert_torch", "soundfile", "sounddevice", "pyroomacoustics", "kokoro_onnx")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _Block())
    from wakeword.cli.main import main
    try:
        code = main(sys.argv[1:])
    finally:
        print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in _Block.BLOCKED))
    sys.exit(code)
    """
)


def _device_install(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """``wakeword ARGV`` where the training and export dependencies cannot be imported."""
    return subprocess.run([sys.executable, "-c", DEVICE_BLOCKER, *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def hit_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stdin") / "hit.wav"
    write_wav(path, stream_with_events(4.0, [(1.0, tone(300, 0.5, 0.5))]), SAMPLE_RATE_HZ)
    return path


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


# -- --version, help -------------------------------------------------------------------------
def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"wakeword {wakeword.__version__}"


def test_help_lists_every_command_and_documents_exit_codes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name in COMMANDS:
        assert name in out
    assert "exit codes: 0 success; 1" in out and "2 an error" in out
    assert "[train]" in out and "[export]" in out


def test_command_help_shows_defaults_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["enroll", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "seed for split and augmentation (default: 0)" in out
    assert "training epochs (default 30)" in out  # stated once, not twice
    assert "exit codes:" in out


# -- standard input --------------------------------------------------------------------------
def test_detect_reads_wav_and_raw_pcm_from_stdin_like_the_file(toy_model, hit_wav, capsys,
                                                               monkeypatch):
    assert main(["detect", str(toy_model), str(hit_wav), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)["files"][0]
    assert [d["keyword"] for d in from_file["detections"]] == ["low"]

    _stdin(monkeypatch, hit_wav.read_bytes())
    assert main(["detect", str(toy_model), "-", "--json"]) == 0
    from_wav = json.loads(capsys.readouterr().out)["files"][0]

    with wave.open(str(hit_wav)) as w:
        pcm = w.readframes(w.getnframes())
    _stdin(monkeypatch, pcm)
    assert main(["detect", str(toy_model), "-", "--json"]) == 0
    from_raw = json.loads(capsys.readouterr().out)["files"][0]

    for entry in (from_wav, from_raw):
        assert entry["path"] == "-"
        assert entry["detections"] == from_file["detections"]
        assert entry["duration_s"] == from_file["duration_s"]


def test_stdin_can_be_named_only_once(toy_model, capsys, monkeypatch):
    _stdin(monkeypatch, b"\0\0" * 1600)
    assert main(["detect", str(toy_model), "-", "-"]) == 2
    assert "standard input ('-') can be read only once" in capsys.readouterr().err


def test_stream_reader_resamples_a_wav_stream_and_keeps_raw_pcm_at_the_given_rate(tmp_path):
    audio = (0.3 * np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    path = tmp_path / "8k.wav"
    write_wav(path, audio, 8000)
    from_file = np.concatenate(list(iter_audio(path, 16000)))
    from_stream = np.concatenate(list(iter_audio(io.BytesIO(path.read_bytes()), 16000)))
    np.testing.assert_array_equal(from_stream, from_file)

    ints = (audio * 32767).astype("<i2")
    with AudioFile.from_stream(io.BytesIO(ints.tobytes()), raw_sample_rate_hz=8000) as raw:
        assert (raw.container, raw.sample_rate_hz, raw.channels) == ("RAW", 8000, 1)
        blocks = np.concatenate([b[:, 0] for b in raw.blocks(1000)])
    np.testing.assert_array_equal(blocks, ints.astype(np.float32) / 32768.0)


# -- shipped models by name --------------------------------------------------------------------
def test_a_shipped_model_is_found_by_name_and_a_path_always_wins(tmp_path, monkeypatch):
    assert resolve_model("computer") == MODELS_DIR / "computer"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "computer").mkdir()
    assert resolve_model("computer") == Path("computer")  # the local folder
    with pytest.raises(ModelError, match="no shipped model has that name; shipped models: .*"
                       "'computer'"):
        resolve_model("no_such_model")


# -- a device install: heavy dependencies only when a command runs ----------------------------
def test_help_and_detect_run_where_torch_and_scipy_cannot_be_imported(tmp_path):
    out = _device_install("--help")
    assert out.returncode == 0, out.stderr
    assert "train" in out.stdout and "LOADED []" in out.stdout

    out = _device_install("detect", "computer", str(EXAMPLE), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.split("LOADED")[0])
    assert [d["keyword"] for d in report["files"][0]["detections"]] == ["computer"]
    assert "LOADED []" in out.stdout


def test_demo_runs_on_a_device_install_and_skips_only_the_plot(tmp_path):
    out = _device_install("demo", "--out", str(tmp_path / "demo"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "onnx      'computer' at" in out.stdout and "tflite    'computer' at" in out.stdout
    assert "plot      skipped: drawing" in out.stdout and "needs matplotlib" in out.stdout
    assert json.loads((tmp_path / "demo" / "detections.json").read_text())["onnx"]


@pytest.mark.parametrize(("argv", "extra"), [
    (["train", "--phrase", "computer", "--out", "run"], "train"),
    (["connectome", "inspect", "graph.csv"], "train"),
    (["eval", "best.pt", "--positives", "p", "--negatives", "n"], "train"),
    (["export", "best.pt", "--out", "m"], "export"),
])
def test_a_host_command_on_a_device_install_names_the_extra(argv, extra, tmp_path):
    (tmp_path / "best.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "p").mkdir()
    (tmp_path / "n").mkdir()
    out = _device_install(*argv, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "needs the optional package" in out.stderr
    assert f"pip install 'wakeword[{extra}]'" in out.stderr
    assert "Traceback" not in out.stderr


def test_tflite_runtime_built_for_numpy_1_is_reported_not_raised(monkeypatch):
    import importlib.abc
    import importlib.machinery

    from device_runtime import backends
    from device_runtime.errors import BackendUnavailableError

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        """No ai-edge-litert; a tflite-runtime whose import fails as it does with numpy 2."""

        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if top == "ai_edge_litert":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            if top == "tflite_runtime":
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            raise SystemError("initialization of _pywrap_tensorflow_interpreter_wrapper raised "
                              "unreported exception")

    for name in [m for m in sys.modules if m.split(".")[0] in ("ai_edge_litert", "tflite_runtime")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    assert "tflite" not in backends.available_formats()
    with pytest.raises(BackendUnavailableError, match=r"it needs numpy<2 .* 'litert' extra"):
        backends._litert_interpreter()
