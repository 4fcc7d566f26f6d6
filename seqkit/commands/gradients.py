"""`seqkit gradients`: how much of a loss on the last step reaches each earlier step, per cell.

No dataset and no training: fresh one-layer cells read the same random sequence, the loss
is the sum of the last output, and backpropagation through time gives |dL/dh_t| for every
t. A tanh RNN's curve falls geometrically (vanishing gradients); `--radius` rescales its
recurrent matrix so that the curve grows instead (exploding gradients); `--exploding`
also trains such an RNN with and without gradient clipping.

    seqkit gradients                                   # rnn and lstm, 100 steps -> gradients.png
    seqkit gradients --cells rnn,lstm,gru --forget-bias 1 --output cells.png --csv cells.csv
    seqkit gradients --radius 2 --exploding --output exploding.png
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from seqkit.commands import output_path
from seqkit.errors import SeqkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqkit gradients",
        description="Draw |dL/dh_t| against t, on a log scale, for fresh RNN/LSTM/GRU layers at "
        "initialisation, with a loss that reads only the last output (the sum of h_{T-1}): the signal from "
        "the end that still reaches step t. Prints the norm at t = 0, T/2 and T-1 for each cell. Needs no dataset.",
        epilog="Example: seqkit gradients --cells rnn,lstm,gru --forget_bias 1 --radius 2 --exploding --plot grads.png",
    )
    parser.add_argument("--cells", default="rnn,lstm", help="comma-separated cells: rnn (tanh), lstm, gru or any registered "
                        "cell, by short name or class path (default rnn,lstm)")
    parser.add_argument("--length", type=int, default=100, help="timesteps T (default 100)")
    parser.add_argument("--hidden_size", type=int, default=64, help="units in h_t (default 64)")
    parser.add_argument("--input_size", type=int, default=8, help="features of the random input x_t ~ N(0, 1) (default 8)")
    parser.add_argument("--batch", type=int, default=32, help="sequences in the batch (default 32)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the input (default 0)")
    parser.add_argument("--radius", type=float, help="rescale the RNN's weight_hh_l0 to this spectral radius first; above 1 "
                        "(e.g. 2) the curve grows backwards in time: exploding gradients. Also the radius of --exploding")
    parser.add_argument("--forget_bias", type=float, default=0.0, help="add this to the LSTM's forget-gate bias (default 0: "
                        "torch's initialisation, forget gate near 0.5; 1 is the usual remedy)")
    parser.add_argument("--exploding", action="store_true", help="also train a 64-unit tanh RNN at spectral radius --radius "
                        "(default 1.5) to predict the sum of 50 inputs, plain SGD (lr 0.05, 100 steps), without and with "
                        "gradient clipping at norm 1: print both loss curves and draw them as a second panel of --plot")
    parser.add_argument("--plot", type=Path, default=Path("gradients.png"), help="the picture (default gradients.png)")
    parser.add_argument("--output", type=Path, help="also write the norms to this CSV file: columns t and one per cell")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --plot or --output file")
    return parser


def _cells(text: str) -> list[str]:
    from seqkit.modules import cell_class

    cells = [c.strip() for c in text.split(",") if c.strip()]
    if not cells:
        raise SeqkitError(f"--cells takes cell names separated by commas (rnn,lstm), got {text!r}")
    for cell in cells:
        try:
            cell_class(cell)
        except SeqkitError as error:
            raise SeqkitError(f"--cells: {error}") from None
    return cells


def _short(values: list[float], every: int) -> str:
    """Every `every`-th loss, and where the run stopped being finite."""
    import math

    shown = " ".join(f"{v:.3g}" for v in values[::every] if math.isfinite(v))
    broken = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    return shown + (f"  -> {values[broken]} at step {broken}" if broken is not None else "")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    cells = _cells(args.cells)
    for name, value in (("--length", args.length), ("--hidden_size", args.hidden_size),
                        ("--input_size", args.input_size), ("--batch", args.batch)):
        if value < 1 or (name == "--length" and value < 2):
            raise SeqkitError(f"{name} must be at least {2 if name == '--length' else 1}, got {value}")
    if args.radius is not None and not (math.isfinite(args.radius) and args.radius > 0):
        raise SeqkitError(f"--radius must be a positive number, got {args.radius}")
    if not math.isfinite(args.forget_bias):
        raise SeqkitError(f"--forget_bias must be a number, got {args.forget_bias}")
    args.plot = output_path(args.plot, "--plot", (".png", ".pdf", ".svg"), args.force)
    args.output = output_path(args.output, "--output", (".csv",), args.force)

    from seqkit.diagnostics import exploding_demo, gradients_at_init, plot_gradient_norms

    curves = gradients_at_init(cells, length=args.length, hidden_size=args.hidden_size, input_size=args.input_size,
                               batch=args.batch, seed=args.seed, radius=args.radius, forget_bias=args.forget_bias)
    T, middle = args.length, args.length // 2
    print(f"seqkit gradients: |dL/dh_t| at initialisation, L = sum of the last output h_{{T-1}}; T = {T}, "
          f"hidden size {args.hidden_size}, input size {args.input_size}, batch {args.batch}, seed {args.seed}")
    width = max(len(label) for label in curves)
    print(f"{'cell':<{width}}  {'t=0':>9}  {f't={middle}':>9}  {f't={T - 1}':>9}  {'first/last':>10}")
    for label, norms in curves.items():
        ratio = norms[0] / norms[-1] if norms[-1] > 0 else float("inf")
        print(f"{label:<{width}}  {norms[0]:9.2e}  {norms[middle]:9.2e}  {norms[-1]:9.2e}  {ratio:10.2e}")

    losses = None
    if args.exploding:
        radius = args.radius if args.radius is not None else 1.5
        losses = {"no clipping": exploding_demo(radius=radius), "clip norm 1": exploding_demo(radius=radius, clip=1.0)}
        print(f"\nexploding gradients: tanh RNN with W_hh at spectral radius {radius:g}, predicting the sum of 50 inputs, "
              f"plain SGD; loss every 10 steps")
        for label, values in losses.items():
            print(f"  {label:<12} {_short(values, 10)}")

    title = f"|dL/dh_t|, loss on the last of {T} steps, at initialisation"
    plot_gradient_norms(curves, args.plot, title=title, losses=losses)
    print(f"\nwrote {args.plot}")
    if args.output:
        import pandas as pd

        pd.DataFrame({"t": range(T), **curves}).to_csv(args.output, index=False)
        print(f"wrote {args.output}")
    return 0
