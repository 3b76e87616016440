"""device_runtime must import and run its CLI help where torch and torchaudio cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BLOCKER = textwrap.dedent(
    """
    import sys
    class _Block:
        BLOCKED = ("torch", "torchaudio", "wakeword", "litert_torch", "onnx", "scipy")
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.BLOCKED:
                raise ImportError(f"{name} is blocked: device_runtime must not import it")
            return None
    sys.meta_path.insert(0, _Block())
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )


def test_device_runtime_imports_with_torch_blocked():
    result = _run(
        """
        import device_runtime, pkgutil, importlib
        names = [m.name for m in pkgutil.iter_modules(device_runtime.__path__)]
        for name in names:
            importlib.import_module("device_runtime." + name)
        print("IMPORTED", len(names))
        try:
            import torch  # noqa: F401
        except ImportError:
            print("TORCH-BLOCKED")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "TORCH-BLOCKED" in result.stdout  # proves the blocker really blocks
    count = int(result.stdout.split("IMPORTED")[1].split()[0])
    assert count >= 5, result.stdout  # manifest, detector, backends, stream, finetune, ...


def test_python_m_device_runtime_help_runs_without_torch():
    result = _run(
        """
        import runpy, sys
        sys.argv = ["device_runtime", "--help"]
        try:
            runpy.run_module("device_runtime", run_name="__main__")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        """
    )
    assert result.returncode == 0, result.stderr
    assert "detect" in result.stdout and "listen" in result.stdout
