"""Exception types. Every error the SDK raises on purpose subclasses :class:`WakewordError`.

A message says what was expected, what was found, where (file, column, field or neuron) and
how to fix it.
"""

from __future__ import annotations


class WakewordError(Exception):
    """Base class for every error raised on purpose by the host SDK."""


class ConnectomeError(WakewordError):
    """A connectome file or graph is malformed or cannot serve the request."""


class KernelError(WakewordError):
    """A kernel recipe cannot be satisfied by the graph, or a kernel bank file is invalid."""


class ConfigError(WakewordError):
    """A configuration value is out of range or inconsistent with another."""


class DataError(WakewordError):
    """Audio or a data folder cannot be used (unreadable, empty, wrong rate...)."""


class CheckpointError(WakewordError):
    """A checkpoint is missing, corrupt or from an incompatible version."""


class ExportError(WakewordError):
    """An export cannot be written or failed its parity check."""


class MissingExtraError(WakewordError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingExtraError` naming the pip extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            f"'{module}' is not installed; install it with: pip install 'wakeword[{extra}]'"
        ) from exc
