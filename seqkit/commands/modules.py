"""`seqkit modules`: seqkit's RNN, LSTM and GRU next to torch.nn, on this machine.

For each cell and size: the largest relative difference from torch.nn (output and
every parameter gradient, both backends), and tokens per second for forward+backward and for
forward alone, with seqkit's speed as a fraction of torch.nn's. A quick check that an
install works and what the readable loop costs; `benchmarks/modules.py` is the full run.
"""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit modules", description=__doc__.split("\n\n")[1].replace("\n", " "))
    parser.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (default rnn,lstm,gru)")
    parser.add_argument("--sizes", default="S", help="comma-separated sizes among S, M, L (default S)")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of timing per size, cell and mode (default 2)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from seqkit.training.bench import SIZES, compare_speed, environment, max_differences
    from seqkit.modules import CELLS

    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    for name, known, values in (("cells", CELLS, cells), ("sizes", SIZES, sizes)):
        bad = [v for v in values if v not in known]
        if bad or not values:
            raise SystemExit(f"seqkit modules: error: unknown {name} {bad}; choose from {sorted(known)}")

    env = environment()
    print(f"torch {env['torch']}, {env['threads']} threads")
    for name in sizes:
        s = SIZES[name]
        print(f"size {name}: batch {s.batch}, seq {s.seq}, input {s.input}, hidden {s.hidden}, layers {s.layers}")
    print("\nLargest relative difference from torch.nn, output and every parameter gradient (float32):")
    for name in sizes:
        for cell in cells:
            diffs = max_differences(cell, SIZES[name])
            print(f"  {name} {cell:5s} fused {diffs['fused']:.1e}   loop {diffs['loop']:.1e}")

    print("\nSpeed (tokens/s, impls interleaved, medians; x = fraction of torch.nn's speed):")
    rows = compare_speed(cells, sizes, budget=args.budget)
    print(f"  {'size':4s} {'cell':5s} {'mode':8s} {'torch.nn':>10s} {'fused':>16s} {'loop':>16s}")
    keyed = {(r["size"], r["cell"], r["mode"], r["impl"]): r for r in rows}
    for name in sizes:
        for cell in cells:
            for mode in ("fwd+bwd", "fwd"):
                ref, fused, loop = (keyed[(name, cell, mode, impl)] for impl in ("torch.nn", "fused", "loop"))
                print(f"  {name:4s} {cell:5s} {mode:8s} {ref['tokens_per_s']:10,.0f} "
                      f"{fused['tokens_per_s']:10,.0f} {fused['vs_torch']:4.2f}x "
                      f"{loop['tokens_per_s']:10,.0f} {loop['vs_torch']:4.2f}x")
    return 0
