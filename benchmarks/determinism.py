"""Is training repeatable on this machine? The same network trained twice from one seed, per setting.

    python benchmarks/determinism.py                                   # CPU, and CUDA when there is one
    CUBLAS_WORKSPACE_CONFIG=:4096:8 python benchmarks/determinism.py --deterministic
    python benchmarks/determinism.py --checkpoints RUN1/last.ckpt RUN2/last.ckpt  # two `seqkit fit` runs

A network shaped like the language model (embedding 2,000 x 128, a 2-layer seqkit LSTM of
256 units with dropout between its layers and on its output, a linear decoder over the
2,000 words, cross-entropy) is trained for 30 Adam steps on seeded random tokens (batch
32, 35 steps), twice in this process from the same seed. Each row says whether the two
runs end with bit-for-bit the same weights, and the largest difference between them.

Settings: the device (cpu, cuda); the backend (`fused`: oneDNN on the CPU, cuDNN on
CUDA; `loop`: seqkit's readable per-step code); dropout 0 or 0.3; float32 or bf16
autocast (CUDA). `--deterministic` first calls `torch.use_deterministic_algorithms(True)`
and sets `torch.backends.cudnn.deterministic = True`, `benchmark = False`, which is what
`--trainer.deterministic true` does in Lightning; cuBLAS also needs
`CUBLAS_WORKSPACE_CONFIG=:4096:8` in the environment before CUDA starts (Lightning sets
it for you when the Trainer is built; this script does not, so set it yourself), and
the script refuses to run without it. A setting that raises under `--deterministic`
(an operation with no deterministic implementation) is reported as such.

Prints a Markdown table. `--checkpoints A B` instead compares the weights of two
checkpoints (say, the same `seqkit fit` command run twice): bit for bit, and the largest
difference.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqkit.modules import LSTM  # noqa: E402

VOCAB, EMBED, HIDDEN, BATCH, LENGTH, STEPS = 2000, 128, 256, 32, 35, 30


class LanguageModel(nn.Module):
    """embedding -> dropout -> 2-layer LSTM (dropout between layers) -> dropout -> decoder."""

    def __init__(self, backend: str, dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.encoder = LSTM(EMBED, HIDDEN, num_layers=2, dropout=dropout, backend=backend)
        self.drop = nn.Dropout(dropout)
        self.decoder = nn.Linear(HIDDEN, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        output, _ = self.encoder(self.drop(self.embedding(tokens)))  # (B, T, H)
        return self.decoder(self.drop(output))                      # (B, T, V)


def train_once(device: str, backend: str, dropout: float, bf16: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """The weights after STEPS steps from `seed`."""
    torch.manual_seed(seed)
    model = LanguageModel(backend, dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.Generator().manual_seed(seed + 1)
    for _ in range(STEPS):
        tokens = torch.randint(VOCAB, (BATCH, LENGTH + 1), generator=data).to(device)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            logits = model(tokens[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1).float(), tokens[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {name: p.detach().float().cpu().clone() for name, p in model.named_parameters()}


def compare(device: str, backend: str, dropout: float, bf16: bool) -> str:
    try:
        first = train_once(device, backend, dropout, bf16)
        second = train_once(device, backend, dropout, bf16)
    except RuntimeError as error:  # e.g. an operation without a deterministic implementation
        return f"| {device} | {backend} | {dropout} | {'bf16' if bf16 else 'fp32'} | error | {str(error).splitlines()[0][:90]} |"
    same = all(torch.equal(first[name], second[name]) for name in first)
    largest = max((first[name] - second[name]).abs().max().item() for name in first)
    return f"| {device} | {backend} | {dropout} | {'bf16' if bf16 else 'fp32'} | {'yes' if same else 'no'} | {largest:.2e} |"


def compare_checkpoints(first: str, second: str) -> str:
    """Whether two seqkit checkpoints hold bit-for-bit the same weights, and the largest difference."""
    from seqkit.training import checkpoints

    a, b = checkpoints.load(first)["state_dict"], checkpoints.load(second)["state_dict"]
    if a.keys() != b.keys():
        return f"{first} and {second} hold different tensors"
    same = all(torch.equal(a[name], b[name]) for name in a)
    largest = max((a[name].float() - b[name].float()).abs().max().item() for name in a)
    return f"same weights: {'yes' if same else 'no'}; largest difference {largest:.2e} over {len(a)} tensors"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs=2, metavar="CKPT", help="compare the weights of two checkpoints instead")
    parser.add_argument("--devices", default="cpu,cuda", help="comma-separated, of cpu and cuda (cuda only where present)")
    parser.add_argument("--deterministic", action="store_true",
                        help="torch.use_deterministic_algorithms(True), cudnn.deterministic (needs CUBLAS_WORKSPACE_CONFIG)")
    args = parser.parse_args(argv)
    if args.checkpoints:
        print(compare_checkpoints(*args.checkpoints))
        return 0
    if args.deterministic:
        if torch.cuda.is_available() and "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
            raise SystemExit("set CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment before running with --deterministic")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    devices = [d for d in args.devices.split(",") if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version() if torch.cuda.is_available() else '-'}, "
          f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device'}; "
          f"deterministic algorithms: {args.deterministic}; {STEPS} Adam steps, trained twice from seed 0")
    print()
    print("| device | backend | dropout | precision | same weights | largest difference |")
    print("|---|---|---:|---|---|---:|")
    for device in devices:
        for backend in ("fused", "loop"):
            for dropout in (0.0, 0.3):
                print(compare(device, backend, dropout, bf16=False), flush=True)
        if device == "cuda":
            print(compare(device, "fused", 0.3, bf16=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
