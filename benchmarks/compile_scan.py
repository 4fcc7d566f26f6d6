"""A cell without a fused kernel: its readable loop, seqkit's `compiled` backend, and torch's scan operator.

    python benchmarks/compile_scan.py              # the minimal gated unit of docs/extending.md, size M
    python benchmarks/compile_scan.py --lengths 35,50 --budget 5

For one cell of one's own (the MGU of docs/extending.md, no fused kernel) at size M (batch 20,
650 -> 650, 2 layers), forward + backward:

- `loop`: the readable loop (what `backend="auto"` runs for such a cell);
- `compiled`: seqkit's compiled backend, which unrolls the loop, one graph per length;
- `step`: the loop in Python, its step function compiled alone (dynamic shapes): one graph;
- `scan`: the same steps through `torch._higher_order_ops.scan` compiled with dynamic shapes,
  one graph for every length (each layer and direction scanned as in `scan_padded`).

Prints, per length, the first call's seconds (the compilation) and the median milliseconds of
later calls, interleaved. Compilations go to a fresh cache folder, so no earlier run is reused.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def guide_cell(marker: str = "class MGU") -> type:
    """The cell class of the docs/extending.md code block that holds `marker`, run as written."""
    guide = (ROOT / "docs" / "extending.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", guide, flags=re.S) if marker in b)
    module = types.ModuleType("extending_guide")  # a real module: torch.compile looks classes up by their module
    sys.modules[module.__name__] = module
    exec(compile(code, "docs/extending.md", "exec"), module.__dict__)
    return getattr(module, marker.split()[-1])


def scan_forward(module, x):
    """`module`'s layers, each direction's walk over time through torch's scan operator: `(B, T, I) -> (B, T, D*H)`."""
    import torch
    from torch._higher_order_ops.scan import scan
    from torch.nn import functional as F

    layer_input = x.transpose(0, 1)                                         # (T, B, I)
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(module.num_directions):
            w_ih, w_hh, b_ih, b_hh = module.layer_weights(layer, direction)
            x_proj = F.linear(layer_input, w_ih, b_ih)                      # (T, B, G*H)
            h0 = x.new_zeros(x.shape[0], module.hidden_size)

            def combine(h, x_t, w_hh=w_hh, b_hh=b_hh):
                (h,), _ = module.step(x_t, (h,), w_hh, b_hh)
                return h, h.clone()

            _, hs = scan(combine, h0, x_proj.flip(0) if direction else x_proj)
            outputs.append(hs.flip(0) if direction else hs)
        layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
    return layer_input.transpose(0, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="35,50", help="sequence lengths, in order (default 35,50)")
    parser.add_argument("--budget", type=float, default=6.0, help="seconds of timing per length (default 6)")
    args = parser.parse_args()
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="seqkit-inductor-"))

    import torch

    from seqkit.training.bench import SIZES, environment, interleaved_seconds

    size = SIZES["M"]
    cell = guide_cell()
    torch.manual_seed(0)
    loop = cell(size.input, size.hidden, size.layers, backend="loop")
    compiled = cell(size.input, size.hidden, size.layers, backend="compiled")
    compiled.load_state_dict(loop.state_dict())
    stepped = cell(size.input, size.hidden, size.layers, backend="loop")
    stepped.load_state_dict(loop.state_dict())
    stepped.step = torch.compile(cell.step, dynamic=True, fullgraph=True)  # this module's step, compiled alone
    scanned = torch.compile(scan_forward, dynamic=True, fullgraph=True)
    env = environment()
    print(f"# {cell.__name__} (docs/extending.md) at M: batch {size.batch}, {size.input} -> {size.hidden}, "
          f"{size.layers} layers, forward + backward\n\ntorch {env['torch']}, {env['threads']} threads, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| length | loop ms | compiled: compile s | compiled ms | step: compile s | step ms | scan: compile s | scan ms |")
    print("|---|---|---|---|---|---|---|---|")
    for length in (int(v) for v in args.lengths.split(",")):
        x = torch.randn(size.batch, length, size.input)

        def step(run):
            def go() -> None:
                for module in (loop, compiled, stepped):
                    module.zero_grad(set_to_none=True)
                run().square().mean().backward()
            return go

        runs = {"loop": step(lambda: loop(x)[0]), "compiled": step(lambda: compiled(x)[0]),
                "step": step(lambda: stepped(x)[0]), "scan": step(lambda: scanned(loop, x))}
        first = {}
        for name in ("compiled", "step", "scan"):
            start = time.perf_counter()
            runs[name]()
            first[name] = time.perf_counter() - start
        with torch.no_grad():  # the three give the same numbers
            want = loop(x)[0]
            for name, got in (("compiled", compiled(x)[0]), ("step", stepped(x)[0]), ("scan", scanned(loop, x))):
                torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4, msg=f"{name} differs from the loop")
        seconds, _ = interleaved_seconds(runs, args.budget)
        print(f"| {length} | {seconds['loop'] * 1e3:.0f} | {first['compiled']:.0f} | {seconds['compiled'] * 1e3:.0f} | "
              f"{first['step']:.1f} | {seconds['step'] * 1e3:.0f} | {first['scan']:.1f} | {seconds['scan'] * 1e3:.0f} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
