"""The ``wakeword`` command line: one console script with subcommands.

Each subcommand lives in its own module under ``wakeword.cli`` (or ``device_runtime.cli``
for the torch-free runtime commands) and exposes ``register(subparsers)``; the registered
handler receives the parsed arguments and returns an exit code.

Only the module of the command being run is imported, so a device install (numpy and an
interpreter) runs ``detect``, ``demo`` and the other runtime commands, and a host-only command
there says which extra to install instead of failing with an import traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any

from wakeword import __version__
from wakeword.errors import WakewordError
from wakeword.progress import set_progress

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

EXIT_CODES = (
    "exit codes: 0 success; 1 the run completed with a negative verdict (enroll: the new model "
    "validated worse; listen --list-devices: no input device); 2 an error: bad arguments, "
    "unreadable or invalid input, a missing optional dependency (the message on stderr names "
    "the problem and the fix); 130 interrupted (Ctrl-C)."
)

# command -> (module that registers it, one-line help, the extra it needs beyond the device
# install or None). The help shown in `wakeword --help` comes from here, so listing the
# commands imports none of them.
COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "demo": ("wakeword.cli.demo",
             "run the shipped default model on its example clip (ONNX and LiteRT)", None),
    "example": ("wakeword.cli.demo", "synthesise an example clip containing a phrase", "train"),
    "detect": ("device_runtime.cli", "detect keywords in audio files or standard input", None),
    "listen": ("device_runtime.cli", "detect keywords live from a microphone", "mic"),
    "bench": ("device_runtime.cli", "measure latency, CPU and memory per backend", None),
    "enroll": ("device_runtime.cli", "fine-tune a model on your own keyword clips", None),
    "calibrate": ("device_runtime.cli", "set the threshold from audio that must not trigger",
                  None),
    "connectome": ("wakeword.cli.connectome", "inspect a connectome file or folder", "train"),
    "kernels": ("wakeword.cli.kernels", "build frozen convolution kernels from a connectome",
                "train"),
    "model": ("wakeword.cli.model", "inspect model configurations (size and cost)", "train"),
    "data": ("wakeword.cli.data", "build and inspect training data (cached, resumable)",
             "train"),
    "train": ("wakeword.cli.train",
              "train a model for a phrase from synthetic and recorded speech", "train"),
    "eval": ("wakeword.cli.eval",
             "measure false rejects and false accepts per hour; write a DET curve", "train"),
    "export": ("wakeword.cli.export",
               "export a checkpoint to ONNX/TFLite (+ training-step graphs)", "export"),
    "convert-checkpoint": ("wakeword.cli.checkpoint",
                           "convert a pickled checkpoint of an older wakeword", "train"),
}

# Top-level module of an optional dependency -> the extra that installs it.
EXTRA_OF_MODULE: dict[str, str] = {
    "torch": "train", "torchaudio": "train", "scipy": "train", "tqdm": "train",
    "matplotlib": "train", "pyroomacoustics": "train", "kokoro_onnx": "train",
    "onnx": "export", "onnxscript": "export", "litert_torch": "export",
    "onnxruntime": "onnx", "ai_edge_litert": "litert", "tflite_runtime": "tflite",
    "sounddevice": "mic", "soundfile": "audio",
}

_GLOBAL_FLAGS = {"-v", "--verbose", "--no-progress", "-h", "--help", "--version"}


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default, unless its help already states one or there is none to
    show (no value, or an on/off flag)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default is None or default is argparse.SUPPRESS
                or isinstance(default, bool) or default == [] or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)"


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose help shows defaults and the exit codes (sub-commands too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("epilog", EXIT_CODES)
        super().__init__(*args, **kwargs)


def missing_extra_message(exc: ModuleNotFoundError, command: str | None) -> str | None:
    """The user-facing message for a missing optional dependency, or None when ``exc`` is not
    about one (a real bug, re-raised)."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    command_extra = COMMANDS.get(command or "", ("", "", None))[2]
    if command_extra in ("train", "export"):  # a host command: its extra brings all it needs
        extra = command_extra
    what = f"`wakeword {command}`" if command else "this command"
    return (f"{what} needs the optional package '{top}', which is not installed; install the "
            f"'{extra}' extra: pip install 'wakeword[{extra}]' (in a clone: "
            f"pip install -e '.[{extra}]')")


def find_command(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not a global flag)."""
    for word in argv:
        if word in _GLOBAL_FLAGS:
            continue
        return None if word.startswith("-") else word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the full options of ``command`` (only its module is imported) and a
    one-line entry for every other command. ``command=None`` imports no command module."""
    parser = ArgumentParser(
        prog="wakeword",
        description="Wake-word detection with connectome-derived kernels: build kernels, "
        "train from text, export to ONNX/TFLite, detect and fine-tune on the device. "
        "A command marked [EXTRA] needs that extra (pip install 'wakeword[EXTRA]'); the "
        "others run on a device install (numpy plus the onnx or litert extra).",
    )
    parser.add_argument("--version", action="version", version=f"wakeword {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    registered: set[str] = set()
    if command in COMMANDS:
        module = importlib.import_module(COMMANDS[command][0])
        before = set(sub.choices)
        module.register(sub)
        registered = set(sub.choices) - before
    for name, (_, help_text, extra) in COMMANDS.items():
        if name not in registered:
            label = f"{help_text} [{extra}]" if extra else help_text
            sub.add_parser(name, help=label, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = find_command(argv)
    try:
        parser = build_parser(command)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc, command)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
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
        return EXIT_ERROR
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc, args.command)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # The runtime's own error base class; imported lazily to keep the CLI light.
        from device_runtime.errors import DeviceRuntimeError

        if isinstance(exc, DeviceRuntimeError):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
