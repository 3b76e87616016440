"""`wakeword model summary`: trained/frozen parameters and multiply-accumulates per configuration."""

from __future__ import annotations

import argparse
import json

from wakeword.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="inspect model configurations (size and cost)",
                       description="Inspect model configurations.")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION")
    msub.required = True
    s = msub.add_parser(
        "summary", help="trained and frozen parameter counts and MACs per second of audio",
        description="Print trained/frozen parameter counts and multiply-accumulates (MACs) per "
        "second of audio for one or more configurations. The network's MACs count the "
        "bio-convolutions as direct convolutions; 'as run' counts the band-matrix multiplies the "
        "exported graphs execute. The log-Mel front end is reported separately.")
    s.add_argument("--config", action="append", default=[],
                   help="a JSON file of NetworkConfig fields, or a preset name "
                   "(default, fig4b-gated, gru-reference, random-kernels, trained-kernels, gru, "
                   "fig4a, fig3, schedule); "
                   "repeatable. Default: every preset")
    s.add_argument("--kernels", help="kernel bank .npz (default: the embedded FlyWire bank)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(handler=_summary)


def _summary(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wakeword.kernels.bank import KernelBank, load_default_bank
    from wakeword.model.config import NetworkConfig
    from wakeword.model.summary import PRESETS, build_preset, summarize

    bank = KernelBank.load(args.kernels) if args.kernels else load_default_bank()
    names = args.config or list(PRESETS)
    rows = []
    for name in names:
        if name in PRESETS:
            model = build_preset(name, bank.kernels, bank.path)
        else:
            path = Path(name)
            if not path.is_file():
                raise ConfigError(f"--config {name}: neither a preset ({', '.join(PRESETS)}) nor "
                                  "a JSON file")
            try:
                cfg = NetworkConfig.from_dict(json.loads(path.read_text()))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
            from wakeword.features.mel import FrontendConfig
            from wakeword.model.wakeword_model import WakeWordModel

            model = WakeWordModel(FrontendConfig(), cfg, bank.kernels, bank.path)
        rows.append(summarize(model, name).to_dict())
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'config':<16}{'arch':<7}{'kernels':<12}{'trained':>8}{'frozen':>8}" \
             f"{'MAC/step':>10}{'net MAC/s':>12}{'as run':>12}{'front MAC/s':>13}"
    print(header)
    for r in rows:
        print(f"{r['name']:<16}{r['architecture']:<7}{r['kernel_source']:<12}"
              f"{r['trained_parameters']:>8}{r['frozen_parameters']:>8}"
              f"{r['network_macs_per_step']:>10}{r['network_macs_per_second']:>12.0f}"
              f"{r['network_macs_per_step_as_run'] * r['steps_per_second']:>12.0f}"
              f"{r['frontend_macs_per_second']:>13.0f}")
    return 0
