"""The stand-ins, each in its engine's command-line shape:
`boltz predict IN --out_dir OUT`, `chai fold IN OUT`, `protenix predict --input IN --out_dir OUT`,
`openfold3 predict --query_json IN --output_dir OUT` (after `python -m services.engines.sims`)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from services.engines.sims import boltz, chai, openfold3, protenix


def main(argv: list[str] | None = None) -> int:
    """Run one engine's stand-in with the engine's own command-line shape; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m services.engines.sims")
    sub = parser.add_subparsers(dest="engine", required=True)
    b = sub.add_parser("boltz").add_subparsers(dest="verb", required=True).add_parser("predict")
    b.add_argument("input", type=Path)
    b.add_argument("--out_dir", type=Path, required=True)
    b.add_argument("--diffusion_samples", type=int, default=1)
    c = sub.add_parser("chai").add_subparsers(dest="verb", required=True).add_parser("fold")
    c.add_argument("input", type=Path)
    c.add_argument("output", type=Path)
    c.add_argument("--num-diffn-samples", dest="samples", type=int, default=5)
    x = sub.add_parser("protenix").add_subparsers(dest="verb", required=True).add_parser("predict")
    x.add_argument("--input", dest="input", type=Path, required=True)
    x.add_argument("--out_dir", type=Path, required=True)
    x.add_argument("--sample", dest="samples", type=int, default=5)
    o = sub.add_parser("openfold3").add_subparsers(dest="verb", required=True).add_parser("predict")
    o.add_argument("--query_json", dest="input", type=Path, required=True)
    o.add_argument("--output_dir", type=Path, required=True)
    o.add_argument("--num_diffusion_samples", dest="samples", type=int, default=5)
    for p in (b, c, x, o):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--seconds", type=float, default=0.0, help="stand-in only: take this long, like a real run")
        p.add_argument("--use_msa_server", "--use-msa-server", action="store_true")
    args, _unknown = parser.parse_known_args(argv)
    time.sleep(args.seconds / 2)  # a stand-in's pace, so a person can watch it run; tests pass 0
    try:
        if args.engine == "boltz":
            boltz.run(args.input, args.out_dir, args.diffusion_samples, args.seed)
        elif args.engine == "chai":
            chai.run(args.input, args.output, args.samples, args.seed)
        elif args.engine == "protenix":
            protenix.run(args.input, args.out_dir, args.samples, args.seed)
        else:
            openfold3.run(args.input, args.output_dir, args.samples, args.seed)
    except (OSError, ValueError, KeyError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr, flush=True)
        return 1
    time.sleep(args.seconds / 2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
