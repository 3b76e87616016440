"""`wakeword train`: train a wake phrase from text (plus optional recordings)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

from wakeword.errors import ConfigError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from wakeword.cli.data import add_build_options

    p = sub.add_parser(
        "train", help="train a model for a phrase from synthetic and recorded speech",
        description="Build (or reuse from the cache) the phrase's training data with the data "
        "engine (`wakeword data build`: 20,000 synthesised positives, mostly Kokoro voices; "
        "hours of recorded and synthetic speech, near misses and noise), serve it augmented "
        "anew every epoch (rooms, noise and speech at -5..20 dB SNR, level, speed), and train "
        "the trained layers of the network; the connectome kernels stay frozen. Validation uses "
        "speakers and syntheses never trained on. Writes best.pt, last.pt, metrics.json and "
        "run.json into --out.")
    p.add_argument("--phrase", required=True, help='the wake phrase, e.g. "computer"')
    p.add_argument("--out", required=True, type=Path, help="run folder (e.g. runs/computer)")
    p.add_argument("--positives", type=Path, action="append", default=[],
                   help="folder of your own recordings of the phrase (any rate; sub-folders "
                   "searched; repeatable)")
    p.add_argument("--negatives", type=Path, action="append", default=[],
                   help="folder of recordings that must NOT trigger: speech, your room, TV "
                   "(sub-folders searched; a manifest.csv with path,speaker,text is used; "
                   "repeatable)")
    p.add_argument("--preset", default="default",
                   help="network preset (default, fig4b-gated, gru-reference, random-kernels, trained-kernels, gru, fig4a, fig3, schedule)")
    p.add_argument("--network-config", type=Path, help="JSON of NetworkConfig fields (overrides --preset)")
    p.add_argument("--kernels", type=Path, help="kernel bank .npz (default: the embedded FlyWire bank)")
    p.add_argument("--epochs", type=int, default=None, help="passes over the positives (default 30)")
    p.add_argument("--batch-size", type=int, default=None, help="clips per step (default 64)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="Adam learning rate (default 0.01)")
    p.add_argument("--false-accept-weight", type=float, default=None,
                   help="loss weight of negatives relative to positives (default 1.0; raise it "
                   "to trade misses for fewer false accepts)")
    p.add_argument("--negative-step-weight", type=float, default=None,
                   help="weight of a loss on every step of negative clips, besides their most "
                   "keyword-like step (default 1.0; 0 turns it off)")
    p.add_argument("--negative-step-start", type=int, default=None,
                   help="first epoch of that every-step loss (default 4: the clip loss alone "
                   "first; from epoch 0 it can hold the network at chance)")
    p.add_argument("--steps", type=int, default=None,
                   help="the step recipe: this many training steps on a cached feature bank, "
                   "labels at the keyword's end, selection by recall at --target-fa-per-hour "
                   "on held-out speech (0 = the epoch recipe; default of --preset)")
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="steps of linear learning-rate warm-up before the cosine decay")
    p.add_argument("--eval-every", type=int, default=None,
                   help="steps between held-out evaluations (checkpoint selection)")
    p.add_argument("--bank-epochs", type=int, default=None,
                   help="augmented renderings of the training data in the feature bank")
    p.add_argument("--target-fa-per-hour", type=float, default=None,
                   help="false accepts per hour on held-out speech at the shipped threshold")
    p.add_argument("--channel-augment", type=float, default=None,
                   help="step recipe: probability of a random microphone channel per clip "
                   "(EQ, rumble, band limit; default 0)")
    p.add_argument("--vtlp", type=float, default=None,
                   help="step recipe: probability of a vocal tract length perturbation per clip "
                   "(spectrum stretched by 0.85-1.15; default 0)")
    p.add_argument("--spec-augment", action="store_true",
                   help="SpecAugment: mask a random band of Mel bins and a random span of "
                   "frames in every training clip")
    p.add_argument("--negatives-per-positive", type=float, default=None,
                   help="negative clips served per positive in each epoch (default 1.5)")
    p.add_argument("--snr", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="SNR range in dB of the backgrounds mixed into clips (default -5 20)")
    p.add_argument("--seed", type=int, default=0, help="seed for data synthesis and training")
    p.add_argument("--train-seed", type=int, default=None,
                   help="seed for weight initialisation and batches only (default: --seed); "
                   "retry with another value if a run stays at chance")
    p.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice; use 1 when running "
                   "several jobs on a small machine)")
    add_build_options(p)
    p.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from wakeword.kernels.bank import KernelBank, load_default_bank
    from wakeword.model.config import NetworkConfig
    from wakeword.model.summary import PRESETS
    from wakeword.train.checkpoint import KernelSource
    from wakeword.train.pipeline import train_phrase
    from wakeword.train.trainer import TrainConfig

    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise ConfigError(f"--threads is {args.threads}; use 1 or more")
        torch.set_num_threads(args.threads)
    phrase = args.phrase.strip().lower()
    if not phrase:
        raise ConfigError("--phrase is empty; give the wake phrase, e.g. --phrase computer")
    if args.network_config:
        net_dict = json.loads(args.network_config.read_text())
    else:
        if args.preset not in PRESETS:
            raise ConfigError(f"--preset {args.preset!r} is unknown; use one of {list(PRESETS)}")
        net_dict = dict(PRESETS[args.preset])
    net_dict["keywords"] = [phrase]
    network = NetworkConfig.from_dict(net_dict)
    bank = KernelBank.load(args.kernels) if args.kernels else load_default_bank()
    from wakeword.cli.data import build_config
    from wakeword.data.serve import AugmentConfig

    args.speech = [*args.speech, *args.negatives]
    data = build_config(args, phrase, args.seed)
    if args.positives:
        data = dataclasses.replace(data, positive_dirs=tuple(str(p) for p in args.positives))
    augment_kw: dict[str, object] = {}
    if args.negatives_per_positive is not None:
        augment_kw["negatives_per_positive"] = args.negatives_per_positive
    if args.snr is not None:
        augment_kw["snr_db_range"] = tuple(args.snr)
    augment = AugmentConfig(**augment_kw)
    train_kw = {"seed": args.seed if args.train_seed is None else args.train_seed}
    if args.spec_augment:
        train_kw["spec_augment"] = True
    for name in ("epochs", "batch_size", "learning_rate", "false_accept_weight",
                 "negative_step_weight", "negative_step_start", "steps", "warmup_steps",
                 "eval_every", "bank_epochs", "target_fa_per_hour", "channel_augment", "vtlp"):
        if getattr(args, name) is not None:
            train_kw[name] = getattr(args, name)
    run = train_phrase(data, network, TrainConfig(**train_kw), args.out,
                       kernels=KernelSource.from_bank(bank), cache_dir=args.cache_dir,
                       resume=args.resume, augment=augment)
    val = run.result.metrics.get("val", {})
    print(f"phrase          {phrase}")
    print(f"clips           {run.n_train} train / {run.n_val} validation  {run.kinds}")
    print(f"data            {run.data_seconds:.1f} s   training {run.train_seconds:.1f} s "
          f"({run.result.epochs_run} epochs, best {run.result.best_epoch})")
    print(f"parameters      {run.summary['trained_parameters']} trained, "
          f"{run.summary['frozen_parameters']} frozen (connectome)")
    print(f"validation      loss {val.get('loss', float('nan')):.4f}  "
          f"FRR@0.5 {val.get('frr_at_0.5', float('nan')):.3f}  "
          f"FA-clips@0.5 {val.get('far_at_0.5', float('nan')):.3f}  "
          f"threshold {run.result.metrics.get('threshold', 0.5):.3f}")
    print(f"checkpoint      {run.result.best_checkpoint}")
    print(f"next            wakeword export {run.result.best_checkpoint} --out models/{phrase.replace(' ', '_')}")
    return 0
