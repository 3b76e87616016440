"""The ``wakeword`` command line: one console script with subcommands.

Each subcommand lives in its own module under ``wakeword.cli`` (or ``device_runtime.cli``
for the torch-free runtime commands) and exposes ``register(subparsers)``; the registered
handler receives the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from wakeword.errors import WakewordError
from wakeword.progress import set_progress

# device_runtime.cli imports no torch and also runs as `python -m device_runtime`.
COMMAND_MODULES: tuple[str, ...] = (
    "wakeword.cli.demo",
    "wakeword.cli.connectome",
    "wakeword.cli.kernels",
    "wakeword.cli.model",
    "wakeword.cli.data",
    "wakeword.cli.train",
    "wakeword.cli.eval",
    "wakeword.cli.export",
    "wakeword.cli.checkpoint",
    "device_runtime.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wakeword",
        description="Wake-word detection with connectome-derived kernels: build kernels, "
        "train from text, export to ONNX/TFLite, detect and fine-tune on the device.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside the module: a real error
                raise
            continue  # command not built into this install
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    set_progress(not args.no_progress)
    try:
        return int(args.handler(args) or 0)
    except WakewordError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # The runtime's own error base class; imported lazily to keep the CLI light.
        from device_runtime.errors import DeviceRuntimeError

        if isinstance(exc, DeviceRuntimeError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
