"""The modules on a CUDA GPU: seqkit's fused, loop and compiled backends against torch.nn (cuDNN).

    python benchmarks/gpu.py                 # needs a CUDA device
    python benchmarks/gpu.py --steps 20      # quicker

For each cell, a training step (forward, backward of a summed loss) on a batch of 64
sequences of 128 steps, 256 inputs, 2 layers of 512 units, float32 (TF32 off, in cuBLAS
and in cuDNN's RNN kernels) and under
bf16 autocast. Times come from CUDA events, the median of `--steps` steps after warm-up.
The `fused` backend hands the whole sequence to cuDNN, as torch.nn does; the `loop`
backend steps through time in Python (the readable cell), one small kernel launch after
another, which is where a GPU shows the cost of a Python loop most. The `compiled` backend
runs the same loop through torch.compile (Triton kernels); its first step, the compilation,
is reported in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from seqkit.modules import GRU, LSTM, RNN

CELLS = {"rnn": (RNN, torch.nn.RNN), "lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU)}


def step_ms(module: torch.nn.Module, x: torch.Tensor, steps: int, bf16: bool) -> float:
    def once() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            out, _ = module(x)
        out.float().square().mean().backward()

    for _ in range(3):
        once()
    times = []
    for _ in range(steps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        once()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--no-compiled", action="store_true", help="leave out the compiled backend")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks/gpu.py needs a CUDA device")
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    if hasattr(torch.backends, "fp32_precision"):  # torch >= 2.9: cuDNN's RNNs have their own setting, "tf32" by default
        torch.backends.cuda.matmul.fp32_precision = torch.backends.cudnn.rnn.fp32_precision = "ieee"
    x = torch.randn(args.batch, args.length, 256, device="cuda")
    tokens = args.batch * args.length
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}; batch {args.batch} x {args.length} steps, 256 -> 2 x 512\n")
    backends = ("fused", "loop") if args.no_compiled else ("fused", "loop", "compiled")
    print("| cell | precision | torch.nn ms | " + " | ".join(f"seqkit {b} ms | {b} / torch.nn" for b in backends)
          + (" | compile s" if "compiled" in backends else "") + " | torch.nn tokens/s |")
    print("|---|---|---|" + "---|---|" * len(backends) + ("---|" if "compiled" in backends else "") + "---|")
    for name, (ours, reference) in CELLS.items():
        for bf16 in (False, True):
            torch.manual_seed(0)
            ref = reference(256, 512, num_layers=2, batch_first=True).cuda()
            modules = [ref]
            for backend in backends:
                module = ours(256, 512, num_layers=2, backend=backend).cuda()
                module.load_state_dict(ref.state_dict())
                modules.append(module)
            precision = "bf16 autocast" if bf16 else "float32"
            try:
                compile_s = None
                if "compiled" in backends:
                    start = time.perf_counter()
                    step_ms(modules[-1], x, 1, bf16)  # the compilation, and the first steps
                    compile_s = time.perf_counter() - start
                times = [step_ms(m, x, args.steps, bf16) for m in modules]
            except RuntimeError as error:
                print(f"| {name} | {precision} | failed: {str(error).splitlines()[0]} |", flush=True)
                continue
            cells = " | ".join(f"{t:.2f} | {t / times[0]:.2f}" for t in times[1:])
            print(f"| {name} | {precision} | {times[0]:.2f} | {cells}" + (f" | {compile_s:.0f}" if compile_s is not None else "")
                  + f" | {tokens / times[0] * 1000:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
