"""`wakeword convert-checkpoint`: a pickled checkpoint of an older wakeword -> the data format.

Checkpoints are read as data only (no unpickling). A checkpoint written by an older wakeword
is a pickle, which can run code when loaded; this command converts one such file, once, and
only with ``--trust-pickle``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wakeword.errors import CheckpointError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "convert-checkpoint", help="convert a pickled checkpoint of an older wakeword (trusted "
        "files only)",
        description="Rewrite a checkpoint saved by an older wakeword (a torch pickle) in the "
        "current data-only format. Unpickling can run code hidden in the file, so this needs "
        "--trust-pickle: use it only for checkpoints you made or got from someone you trust.")
    p.add_argument("checkpoint", type=Path, help="the old .pt checkpoint")
    p.add_argument("--out", type=Path, required=True,
                   help="where to write the converted checkpoint (may be the same path: it is "
                   "replaced atomically)")
    p.add_argument("--trust-pickle", action="store_true",
                   help="I made this file or trust its source: unpickle it")
    p.set_defaults(handler=_convert)


def _convert(args: argparse.Namespace) -> int:
    from wakeword.train.checkpoint import load_checkpoint
    from wakeword.train.checkpoint_format import convert_pickled

    if not args.trust_pickle:
        raise CheckpointError(
            f"{args.checkpoint}: converting unpickles the file, and a pickle can run any code "
            "on this machine; rerun with --trust-pickle only if you made this checkpoint or "
            "trust where it came from")
    if args.out.exists() and args.out.resolve() != args.checkpoint.resolve():
        raise CheckpointError(f"{args.out}: already exists; choose another --out (or the same "
                              "path as the input to convert in place)")
    print(f"warning: unpickling {args.checkpoint}; this runs any code the file holds, so it "
          "must be a file you trust", file=sys.stderr)
    out = convert_pickled(args.checkpoint, args.out, trust_pickle=True)
    payload = load_checkpoint(out)
    print(f"converted {args.checkpoint} -> {out} (schema {payload['schema_version']}, epoch "
          f"{payload.get('epoch')}); it now loads without unpickling")
    return 0
