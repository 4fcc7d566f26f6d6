"""Speed and memory of seqkit's RNN, LSTM and GRU next to torch.nn, and of a cell of one's own.

    python benchmarks/modules.py                  # S, M, L; all cells; about 25 minutes on 2 cores
    python benchmarks/modules.py --sizes S --budget 3 --no-compiled
    python benchmarks/modules.py --cells lstm,ln-lstm --no-memory
    python benchmarks/modules.py --tuned-malloc   # rerun under the glibc settings of the performance notes
    python benchmarks/modules.py --matmuls        # the LSTM's matrix products alone against torch.nn's forward

Prints Markdown tables (docs/results.md's come from here): tokens per second for
forward+backward and for forward alone (no_grad), at sizes S, M, L, for torch.nn and
seqkit's `fused`, `loop` and `compiled` backends, with seqkit's speed as a fraction of
torch.nn's, and the seconds `compiled` spent compiling each shape; the largest difference
from torch.nn; and peak memory growth at M. Every impl is timed in turns in one process on
the same input, interleaved in short blocks; medians are reported.

`--matmuls` times only the matrix products of the readable LSTM's forward (the input
projection of every step in one matmul, then one `addmm` with W_hh per step and layer),
run eagerly with torch's matmul, beside torch.nn.LSTM's whole forward: a floor under the
`loop` and `compiled` backends' inference time, whatever the code around the products.
Where torch has MKL, it also times the W_hh products on W_hh packed once per call for
MKL's GEMM (`torch.ops.mkl._mkl_linear`, the kernel of Inductor's frozen-weight inference),
packing included: the floor with the fastest matrix product torch offers for one step.

`ln-lstm` is the layer-normalised LSTM of docs/extending.md (its code block, run as
written), a cell with no fused kernel, timed beside torch.nn.LSTM, whose weights it takes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")  # compile seconds of a first run, not of a cache hit
TUNED = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "17179869184"}
ROOT = Path(__file__).resolve().parents[1]


def layer_norm_lstm() -> type:
    """The LayerNormLSTM class of docs/extending.md, from its code block."""
    import re

    guide = ROOT / "docs" / "extending.md"
    code = next(b for b in re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.S) if "class LayerNormLSTM" in b)
    code = code.split("\ncell = ")[0]  # the class, not the guide's example call
    namespace: dict = {}
    exec(compile(code, str(guide), "exec"), namespace)
    return namespace["LayerNormLSTM"]


def matmuls_alone(sizes: list[str], budget: float) -> None:
    """Print torch.nn.LSTM's forward beside the readable LSTM's matrix products alone, per size."""
    import torch

    from seqkit.training.bench import SIZES, interleaved_seconds

    print("\n## The LSTM's matrix products alone, against torch.nn.LSTM's forward (no_grad, ms per call)\n")
    mkl = torch._C.has_mkl
    print("| size | torch.nn forward | input projections | W_hh products | both | both / torch.nn "
          "| W_hh products, packed | both, packed / torch.nn |\n|---|---|---|---|---|---|---|---|")
    for name in sizes:
        s = SIZES[name]
        torch.manual_seed(0)
        reference = torch.nn.LSTM(s.input, s.hidden, s.layers, batch_first=True)
        x = torch.randn(s.batch, s.seq, s.input)
        layers = [(x.transpose(0, 1).contiguous() if k == 0 else torch.randn(s.seq, s.batch, s.hidden),
                   getattr(reference, f"weight_ih_l{k}"), getattr(reference, f"bias_ih_l{k}"),
                   getattr(reference, f"weight_hh_l{k}")) for k in range(s.layers)]
        h = torch.randn(s.batch, s.hidden)
        projected = [torch.nn.functional.linear(inp, w_ih, b) for inp, w_ih, b, _ in layers]  # (T, B, 4H) each

        def forward() -> None:
            reference(x)

        def projections() -> None:
            for inp, w_ih, b, _ in layers:
                torch.nn.functional.linear(inp, w_ih, b)  # (T, B, I) -> (T, B, 4H), every step at once

        def products() -> None:
            for steps, (_, _, _, w_hh) in zip(projected, layers):
                for step in steps.unbind(0):
                    torch.addmm(step, h, w_hh.t())  # one step's gates: x_proj_t + h W_hh^T

        def packed_products() -> None:
            for steps, (_, _, _, w_hh) in zip(projected, layers):
                packed = torch.ops.mkl._mkl_reorder_linear_weight(w_hh, s.batch)  # once per call and layer
                for step in steps.unbind(0):
                    torch.ops.mkl._mkl_linear(h, packed, w_hh, None, s.batch).add_(step)  # x_proj_t + h W_hh^T

        runs = {"forward": forward, "projections": projections, "products": products}
        if mkl:
            runs["packed"] = packed_products
        with torch.no_grad():
            seconds, _ = interleaved_seconds(runs, budget)
        ms = {k: 1e3 * v for k, v in seconds.items()}
        both = ms["projections"] + ms["products"]
        packed = (f"{ms['packed']:.2f} | {(ms['projections'] + ms['packed']) / ms['forward']:.2f}x" if mkl
                  else "no MKL in this torch | ")
        print(f"| {name} | {ms['forward']:.2f} | {ms['projections']:.2f} | {ms['products']:.2f} | {both:.2f} | "
              f"{both / ms['forward']:.2f}x | {packed} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--cells", default="rnn,lstm,gru,ln-lstm", help="of rnn, lstm, gru, ln-lstm")
    parser.add_argument("--no-compiled", action="store_true", help="leave out the compiled backend (no compilation)")
    parser.add_argument("--budget", type=float, default=12.0, help="seconds of timing per size, cell and mode (default 12)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs at M")
    parser.add_argument("--matmuls", action="store_true",
                        help="only time the LSTM's matrix products alone beside torch.nn.LSTM's forward, and stop")
    parser.add_argument("--json", type=Path, help="also write every row to this JSON file")
    parser.add_argument("--tuned-malloc", action="store_true", help="rerun this script with " + " ".join(f"{k}={v}" for k, v in TUNED.items()))
    args = parser.parse_args()
    if args.tuned_malloc and any(os.environ.get(k) != v for k, v in TUNED.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **TUNED})

    from seqkit.training.bench import IMPLS, SIZES, as_json, compare_speed, environment, max_differences, peak_memory_mib

    env = environment()
    setting = (f"torch {env['torch']}, {env['threads']} threads, MALLOC_MMAP_THRESHOLD_={env['MALLOC_MMAP_THRESHOLD_']}, "
               f"MALLOC_TRIM_THRESHOLD_={env['MALLOC_TRIM_THRESHOLD_']}; interleaved in blocks of >= 50 ms")
    if args.matmuls:
        print(f"# seqkit modules benchmark: matrix products\n\n{setting} for about {args.budget:.0f} s per size; medians")
        matmuls_alone(args.sizes.split(","), args.budget)
        return 0

    impls = IMPLS if args.no_compiled else (*IMPLS, "compiled")
    from seqkit.modules import register

    own = {"ln-lstm"}  # not torch.nn's cell: tests/modules/test_compiled.py checks it against its own loop
    if "ln-lstm" in args.cells.split(","):
        register("ln-lstm", layer_norm_lstm())  # timed beside torch.nn.LSTM, whose weights it takes
    cells = args.cells.split(",")
    sizes = args.sizes.split(",")
    print(f"# seqkit modules benchmark\n\n{setting} for about {args.budget:.0f} s per size, cell and mode; medians\n")
    for name in sizes:
        s = SIZES[name]
        print(f"- {name}: batch {s.batch}, seq {s.seq}, input {s.input}, hidden {s.hidden}, layers {s.layers}")

    print("\n## Largest relative difference from torch.nn (output and every parameter gradient, float32)\n")
    print("| size | cell | fused | loop |\n|---|---|---|---|")
    for name in sizes:
        for cell in cells:
            if cell in own:
                continue
            d = max_differences(cell, SIZES[name])
            print(f"| {name} | {cell} | {d['fused']:.1e} | {d['loop']:.1e} |")
    sys.stdout.flush()

    rows = compare_speed(cells, sizes, budget=args.budget, impls=impls)
    keyed = {(r["size"], r["cell"], r["mode"], r["impl"]): r for r in rows}

    def cell_of(size, cell, mode, impl):
        row = keyed.get((size, cell, mode, impl))
        return "-" if row is None else f"{row['tokens_per_s']:,.0f} | {row['vs_torch']:.2f}x"

    for mode in ("fwd+bwd", "fwd"):
        title = "forward + backward" if mode == "fwd+bwd" else "forward only (no_grad)"
        print(f"\n## Tokens per second, {title}\n")
        head = "| size | cell | torch.nn | seqkit fused | vs torch | seqkit loop | vs torch |"
        rule = "|---|---|---|---|---|---|---|"
        if "compiled" in impls:
            head, rule = head + " seqkit compiled | vs torch | compile s |", rule + "---|---|---|"
        print(head + "\n" + rule)
        for name in sizes:
            for cell in cells:
                ref = keyed[(name, cell, mode, "torch.nn")]
                fused = cell_of(name, cell, mode, "fused")
                line = (f"| {name} | {cell} | {ref['tokens_per_s']:,.0f} | {fused if fused != '-' else '- | -'} | "
                        f"{cell_of(name, cell, mode, 'loop')} |")
                if "compiled" in impls:
                    compiled = keyed[(name, cell, mode, "compiled")]
                    line += f" {cell_of(name, cell, mode, 'compiled')} | {compiled['first_call_s']:.0f} |"
                print(line, flush=True)

    memory = {}
    cells = [cell for cell in cells if cell not in own]
    if not args.no_memory and "M" in sizes:
        print("\n## Peak memory growth at M, forward + backward (MiB, fresh process each)\n")
        print("| cell | torch.nn | seqkit fused | seqkit loop | loop / torch.nn |\n|---|---|---|---|---|")
        for cell in cells:
            memory[cell] = {impl: peak_memory_mib(cell, impl, "M") for impl in IMPLS}
            m = memory[cell]
            print(f"| {cell} | {m['torch.nn']:.0f} | {m['fused']:.0f} | {m['loop']:.0f} | {m['loop'] / m['torch.nn']:.2f}x |")

    if args.json:
        args.json.write_text(as_json(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
