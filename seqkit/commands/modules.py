"""`seqkit modules`: the registered cells, and seqkit's modules next to torch.nn, on this machine.

Lists every cell seqkit knows (its own, installed packages', `--import`ed ones) with where it
comes from. Then, for each cell and size: the largest relative difference from its torch.nn
twin (output and every parameter gradient, both backends; cells without a twin are skipped
here), and tokens per second for forward+backward and for forward alone, with seqkit's speed as
a fraction of torch.nn's (of torch.nn.LSTM's for a cell without a twin). A quick check that an
install works and what the readable loop costs, in seconds; `--full` times every size, and
`benchmarks/modules.py` is the full run with its repeats.
"""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit modules", description=__doc__.split("\n\n")[1].replace("\n", " "))
    parser.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells, by short name or class path "
                        "(default rnn,lstm,gru)")
    parser.add_argument("--sizes", help="comma-separated sizes among S, M, L (default S; with --full, all three)")
    parser.add_argument("--budget", type=float, help="seconds of timing per size, cell and mode (default 0.3, a check "
                        "in seconds; with --full, 2)")
    parser.add_argument("--full", action="store_true", help="the whole table: sizes S, M and L, 2 s of timing each "
                        "(minutes)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    args.sizes = args.sizes or ("S,M,L" if args.full else "S")
    args.budget = args.budget if args.budget is not None else (2.0 if args.full else 0.3)
    from seqkit.errors import SeqkitError
    from seqkit.modules import cell_class, cell_name, cells as known_cells, registry
    from seqkit.training.bench import SIZES, compare_speed, environment, max_differences, reference_class

    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    bad = [v for v in sizes if v not in SIZES]
    if bad or not sizes:
        raise SeqkitError(f"--sizes: unknown sizes {bad}; choose from {sorted(SIZES)}")
    try:
        cells = [cell_name(cell_class(c.strip())) for c in args.cells.split(",") if c.strip()]
    except SeqkitError as error:
        raise SeqkitError(f"--cells: {error}") from None
    if not cells:
        raise SeqkitError("--cells is empty; name at least one cell")

    print("Registered cells:")
    for name, cls in sorted(known_cells().items()):
        kernel = "fused kernel" if cls.fused_kernel is not None else "no fused kernel (auto runs the loop)"
        twin = f"equal to torch.nn.{cls.torch_twin.__name__}" if cls.torch_twin else "no torch.nn twin"
        print(f"  {name:8s} {registry.class_path(cls)}: {cls.gates} gate block(s), {kernel}, {twin}")
    print()
    env = environment()
    print(f"torch {env['torch']}, {env['threads']} threads")
    for name in sizes:
        s = SIZES[name]
        print(f"size {name}: batch {s.batch}, seq {s.seq}, input {s.input}, hidden {s.hidden}, layers {s.layers}")
    print("\nLargest relative difference from torch.nn, output and every parameter gradient (float32):")
    for name in sizes:
        for cell in cells:
            if cell_class(cell).torch_twin is None:
                print(f"  {name} {cell:5s} (no torch.nn twin: its tests check it against its own formula)")
                continue
            diffs = max_differences(cell, SIZES[name])
            print(f"  {name} {cell:5s} fused {diffs['fused']:.1e}   loop {diffs['loop']:.1e}")

    print("\nSpeed (tokens/s, impls interleaved, medians; x = fraction of torch.nn's speed):")
    rows = compare_speed(cells, sizes, budget=args.budget)
    print(f"  {'size':4s} {'cell':5s} {'mode':8s} {'torch.nn':>16s} {'fused':>16s} {'loop':>16s}")
    keyed = {(r["size"], r["cell"], r["mode"], r["impl"]): r for r in rows}

    def shown(row):
        return f"{'-':>16s}" if row is None else f"{row['tokens_per_s']:10,.0f} {row['vs_torch']:4.2f}x"

    for name in sizes:
        for cell in cells:
            reference = reference_class(cell)
            for mode in ("fwd+bwd", "fwd"):
                ref, fused, loop = (keyed.get((name, cell, mode, impl)) for impl in ("torch.nn", "fused", "loop"))
                print(f"  {name:4s} {cell:5s} {mode:8s} {ref['tokens_per_s']:10,.0f} {reference.__name__:>5s} "
                      f"{shown(fused)} {shown(loop)}")
    return 0
