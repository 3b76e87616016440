"""`wakeword export`: a checkpoint -> a checked model folder for the device runtime."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export", help="export a checkpoint to ONNX/TFLite (+ training-step graphs)",
        description="Write a model folder (manifest.json, weights.npz, model.onnx, model.tflite, "
        "model.json, train_step.onnx/.tflite, parity.json) from a checkpoint. Every graph is "
        "checked against PyTorch on the same audio (scores within 1e-4; int8 within 0.05; "
        "training-step loss and gradients within 1e-4 relative) before the folder is moved "
        "into place; a failed export leaves nothing behind.")
    p.add_argument("checkpoint", type=Path, help="checkpoint written by `wakeword train` "
                   "(e.g. runs/computer/best.pt)")
    p.add_argument("--out", required=True, type=Path, help="model folder to create "
                   "(e.g. models/computer)")
    p.add_argument("--formats", default="onnx,tflite",
                   help="comma-separated graph formats (default: onnx,tflite)")
    p.add_argument("--no-train-step", action="store_true",
                   help="skip the training-step graphs (no on-device fine-tuning)")
    p.add_argument("--quantize", choices=["int8"], default=None,
                   help="int8 weights (float compute) in the TFLite streaming graph (default: "
                   "float32 weights)")
    p.add_argument("--force", action="store_true", help="replace an existing --out folder")
    p.add_argument("--train-batch-size", type=int, default=8,
                   help="clips per training step in the exported graph (default 8)")
    p.add_argument("--train-clip-s", type=float, default=2.0,
                   help="clip length of the training-step graph in seconds (default 2.0)")
    p.add_argument("--parity-audio", type=Path, default=None,
                   help="audio file (WAV/FLAC/OGG; resampled to the model's rate and mixed "
                   "to mono if needed) to check parity on, read in blocks, so it may be long; "
                   "checked before anything is written (default: 5 s of seeded speech-like "
                   "bursts)")
    p.add_argument("--name", default=None,
                   help="model name in the manifest (default: the keywords joined by _)")
    p.add_argument("--version", dest="model_version", default=None,
                   help="model version in the manifest (default: <wakeword version>+epoch<N>)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON summary (output folder, seconds, file sizes, parity "
                   "report) instead of the table")
    p.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from export.writer import PARITY_NAME, export_model

    if not getattr(args, "verbose", False):  # the ONNX optimiser logs every rewrite at INFO
        for name in ("onnxscript", "onnx_ir", "torch.onnx"):
            logging.getLogger(name).setLevel(logging.WARNING)

    t0 = time.perf_counter()
    # a file is checked by export_model before anything is written, then read block by block
    out = export_model(
        args.checkpoint, args.out, formats=args.formats, train_step=not args.no_train_step,
        quantize=args.quantize, overwrite=args.force, train_batch_size=args.train_batch_size,
        train_clip_s=args.train_clip_s, parity_audio=args.parity_audio, name=args.name,
        version=args.model_version)
    seconds = time.perf_counter() - t0
    report = json.loads((out / PARITY_NAME).read_text(encoding="utf-8"))
    if args.json:
        print(json.dumps({"checkpoint": str(args.checkpoint), "out": str(out),
                          "seconds": round(seconds, 3), "parity": report}, indent=2))
        return 0
    print(f"exported {args.checkpoint} -> {out} in {seconds:.1f} s")
    for name, size in report["files"].items():
        print(f"  {name:<20} {size / 1024:9.1f} KiB")
    for fmt, row in report["stream"].items():
        quant = f" ({row['quantization']})" if row["quantization"] else ""
        print(f"  parity {fmt}{quant}: max |score diff| {row['max_abs_diff']:.2e} over "
              f"{row['steps']} steps (tolerance {row['tolerance']:g})")
    step = report.get("train_step")
    if step:
        for fmt in ("onnx", "tflite"):
            if fmt in step:
                row = step[fmt]
                print(f"  parity {fmt} train step: loss {row['loss']:.6f} (torch "
                      f"{row['torch_loss']:.6f}), worst gradient rel. diff "
                      f"{row['max_rel_diff']:.2e} ({row['worst_tensor']})")
    return 0
