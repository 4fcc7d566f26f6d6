"""Hostile and broken inputs through the command line: how many get a clear one-line error.

    python benchmarks/hostile_inputs.py                   # this checkout's seqkit
    python benchmarks/hostile_inputs.py --source DIR      # another checkout's (PYTHONPATH=DIR), to compare

Each case runs one `seqkit` command in a process of its own, in a scratch folder, with a
time limit (`--timeout`, default 60 s) and an address-space limit (`--memory_gib`, default
8), and is sorted by what came back:
- clear: a non-zero exit whose last line is seqkit's own one-line error, no traceback;
- read: the command succeeded where the input is valid and should be read (a UTF-16 file
  with its byte order mark, local times across a daylight-saving change);
- wrong cause: a one-line error for an input that should have been read, or one naming
  another problem than the one given;
- traceback: Python's traceback, or the process killed by a signal;
- silent: exit 0 where the input should have been refused;
- hang: still running at the time limit.
The server's cases (slow clients, large uploads, Host headers) are in tests/test_serve.py.
Checkpoints to spoil are trained first with the shipped recipes, for a few batches.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REVIEWS = "text,label\n" + "".join(f"a good film {i},pos\na bad film {i},neg\n" for i in range(30))
SERIES = "time,y\n" + "".join(f"2020-01-{1 + i % 28:02d} {i // 28:02d}:00,{10 + i % 7}\n" for i in range(100))
TEXT = "the cat sat on the mat\nthe dog sat on the log\n" * 40
SHORT = ["--trainer.fast_dev_run", "true"]


def _dst_series() -> str:
    import pandas as pd

    local = pd.date_range("2021-03-26", periods=400, freq="h", tz="Europe/Berlin")
    stamps = local.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d\d)(\d\d)$", r"\1:\2", regex=True)
    return "date,co2\n" + "".join(f"{s},{400 + (i % 24) / 10}\n" for i, s in enumerate(stamps))


def _laughs() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, 9)]
    return "\n".join(lines) + "\nseed_everything: *a8\n"


# Words the right error names, where an error could name another cause (a binary file told it is not UTF-8).
CAUSES = {
    'recipe: nested YAML anchors (billion laughs)': 'alias',
    'hidden_size 1000000000': 'parameters',
    'num_layers 100000': 'parameters',
    'checkpoint whose hidden_size says 10**7': 'cannot be built',
    'gradient_clip_val -1': 'gradient_clip_val',
    'lr nan': 'lr',
    'lr inf': 'lr',
    'batch_size abc': 'batch_size',
    'hidden_size 32.5': 'hidden_size',
    'batch_size: true in a recipe': 'batch_size',
    'a recipe key given twice': 'twice',
    'a CSV header naming a column twice': 'twice',
    'a JSON Lines text that is an object': 'object',
    'random binary as training text': 'binary',
    '200 MB of NUL bytes as training text': 'NUL',
    'generate: a 30,000-word prompt': 'prompt',
    'max_new_tokens 1000000000': 'max_new_tokens',
    'generate: a 20,001-word prompt': 'prompt',
    'devices 64 on the CPU': 'devices',
    'sequences of 10**9 steps (adding problem)': 'GiB',
    'bptt 100000000': 'GiB',
    'batch 200 x bptt 4000 (activations over memory)': 'GiB',
    'binary data without NUL bytes': 'binary',
    'classify --input whose header names a column twice': 'twice',
    'a JSON Lines label that is an array': 'array',
    'a TSV header naming a column twice': 'twice',
    'a recipe with one plain alias': 'alias',
    'gradient_clip_val nan': 'gradient_clip_val',
    'timestamps with and without an offset': 'offset',
    'checkpoint whose num_layers says 10**6': 'cannot be built',
    'a recipe of binary bytes': 'binary',
    'forecast input: a gzip file': 'gzip',
    'forecast input: 2 GB declared by a sparse file of NUL bytes': 'NUL',
}


def cases(recipes: dict[str, Path]) -> list[tuple[str, str, list[str], dict[str, object]]]:
    """(name, expected: "refuse" or "read", argv after `seqkit`, files to write in the scratch folder)."""
    lm, sentiment, forecast = (str(recipes[k]) for k in ("lm", "sentiment", "forecast"))
    fit_memory = ["fit", "-c", "memory/adding", *SHORT]
    fit_text = ["fit", "-c", "next_word/lstm", "--data.dataset", "null", "--data.train_path"]
    fit_reviews = ["fit", "-c", "sentiment/lstm_reviews", "--data.train_path"]
    encoder = "--model.init_args.encoder.init_args."
    fit_series = ["fit", "-c", "forecasting/lstm", "--data.columns.time_column", "date", "--data.columns.target_columns",
                  "[co2]", "--data.input_length", "24", "--data.horizon", "6", "--data.train_path"]
    return [
        # --- from the issue: configurations
        ("recipe: nested YAML anchors (billion laughs)", "refuse", ["fit", "-c", "laughs.yaml", *SHORT], {"laughs.yaml": _laughs()}),
        ("hidden_size 1000000000", "refuse", [*fit_memory, encoder + "hidden_size", "1000000000"], {}),
        ("num_layers 100000", "refuse", [*fit_memory, encoder + "num_layers", "100000"], {}),
        ("checkpoint whose hidden_size says 10**7", "refuse", ["generate", "--ckpt_path", "edited.ckpt", "--prompt", "the"],
         {"edited.ckpt": ("edit", lm, "hidden_size", 10**7)}),
        ("gradient_clip_val -1", "refuse", [*fit_memory, "--trainer.gradient_clip_val", "-1"], {}),
        ("max_epochs -5", "refuse", [*fit_memory, "--trainer.max_epochs", "-5"], {}),
        ("accumulate_grad_batches 0", "refuse", [*fit_memory, "--trainer.accumulate_grad_batches", "0"], {}),
        ("accelerator gpu without a GPU", "refuse", [*fit_memory, "--trainer.accelerator", "gpu"], {}),
        ("seed_everything 1180591620717411303424", "refuse", [*fit_memory, "--seed_everything", "1180591620717411303424"], {}),
        ("lr nan", "refuse", [*fit_memory, "--model.init_args.optimizer.init_args.lr", "nan"], {}),
        ("lr inf", "refuse", [*fit_memory, "--model.init_args.optimizer.init_args.lr", "inf"], {}),
        ("batch_size abc", "refuse", [*fit_memory, "--data.batch_size", "abc"], {}),
        ("hidden_size 32.5", "refuse", [*fit_memory, encoder + "hidden_size", "32.5"], {}),
        ("batch_size: true in a recipe", "refuse", ["fit", "-c", "bool.yaml", *SHORT], {"bool.yaml": ("recipe", "batch_size: 64", "batch_size: true")}),
        ("a recipe key given twice", "refuse", ["fit", "-c", "twice.yaml", *SHORT], {"twice.yaml": ("recipe", "seed_everything: 0", "seed_everything: 0\nseed_everything: 1")}),
        ("a CSV header naming a column twice", "refuse", [*fit_reviews, "dup.csv", *SHORT], {"dup.csv": REVIEWS.replace("text,label", "text,text")}),
        ("a JSON Lines text that is an object", "refuse", ["classify", "--ckpt_path", sentiment, "--input", "in.jsonl", "--output", "out.csv"],
         {"in.jsonl": '{"text": {"a": 1}}\n{"text": "fine"}\n'}),
        # --- from the issue: files
        ("UTF-16 forecast input", "read", ["forecast", "--ckpt_path", forecast, "--input", "co2.csv", "--output", "f.csv"], {"co2.csv": ("utf-16", "co2")}),
        ("UTF-16 review CSV", "read", [*fit_reviews, "r16.csv", *SHORT], {"r16.csv": REVIEWS.encode("utf-16")}),
        ("UTF-16 training text", "read", [*fit_text, "t16.txt", *SHORT], {"t16.txt": TEXT.encode("utf-16")}),
        ("random binary as training text", "refuse", [*fit_text, "random.bin", *SHORT], {"random.bin": os.urandom(300_000)}),
        ("200 MB of NUL bytes as training text", "refuse", [*fit_text, "zeros.txt", *SHORT], {"zeros.txt": ("zeros", 200_000_000)}),
        ("local times across daylight saving", "read", [*fit_series, "dst.csv", *SHORT], {"dst.csv": _dst_series()}),
        ("classify: a 0-byte checkpoint", "refuse", ["classify", "--ckpt_path", "empty.ckpt", "good"], {"empty.ckpt": b""}),
        ("generate: a 30,000-word prompt", "refuse", ["generate", "--ckpt_path", lm, "--prompt", "x " * 30000], {}),
        # --- more of the same kinds
        ("max_new_tokens 1000000000", "refuse", ["generate", "--ckpt_path", lm, "--prompt", "the", "--max_new_tokens", "1000000000"], {}),
        ("generate: a 20,001-word prompt", "refuse", ["generate", "--ckpt_path", lm, "--prompt", "x " * 20001], {}),
        ("devices 64 on the CPU", "refuse", [*fit_memory, "--trainer.accelerator", "cpu", "--trainer.devices", "64"], {}),
        ("sequences of 10**9 steps (adding problem)", "refuse", [*fit_memory, "--data.length", "1000000000"], {}),
        ("bptt 100000000", "refuse", ["fit", "-c", "next_word/lstm", "--data.bptt", "100000000", "--trainer.max_steps", "1", "--trainer.limit_val_batches", "1"], {}),
        ("batch 200 x bptt 4000 (activations over memory)", "refuse", ["fit", "-c", "next_word/lstm", "--data.bptt", "4000", "--data.batch_size", "200",
                                                                       "--trainer.num_sanity_val_steps", "0", "--trainer.max_steps", "1"], {}),
        ("binary data without NUL bytes", "refuse", [*fit_text, "noisy.bin", *SHORT], {"noisy.bin": bytes(range(1, 256)) * 1000}),
        ("UTF-32 training text with its BOM", "read", [*fit_text, "t32.txt", *SHORT], {"t32.txt": TEXT.encode("utf-32")}),
        ("classify --input whose header names a column twice", "refuse", ["classify", "--ckpt_path", sentiment, "--input", "d.csv", "--output", "o.csv"],
         {"d.csv": "text,text\ngood,bad\n"}),
        ("a JSON Lines label that is an array", "refuse", [*fit_reviews, "lab.jsonl", *SHORT],
         {"lab.jsonl": "".join(f'{{"text": "film {i}", "label": ["pos"]}}\n' for i in range(20))}),
        ("a TSV header naming a column twice", "refuse", [*fit_reviews, "dup.tsv", *SHORT], {"dup.tsv": REVIEWS.replace(",", "\t").replace("text\tlabel", "label\tlabel")}),
        ("a recipe with one plain alias", "refuse", ["fit", "-c", "alias.yaml", *SHORT], {"alias.yaml": ("recipe", "seed_everything: 0", "seed_everything: &s 0\nx: *s")}),
        ("gradient_clip_val nan", "refuse", [*fit_memory, "--trainer.gradient_clip_val", "nan"], {}),
        ("timestamps with and without an offset", "refuse", [*fit_series, "mix.csv", *SHORT],
         {"mix.csv": _dst_series().replace("+01:00", "", 5)}),
        ("batch_size 0", "refuse", [*fit_memory, "--data.batch_size", "0"], {}),
        ("batch_size -1", "refuse", [*fit_memory, "--data.batch_size", "-1"], {}),
        ("dropout nan", "refuse", ["fit", "-c", "sentiment/lstm_reviews", "--model.init_args.dropout", "nan", *SHORT], {}),
        ("checkpoint whose num_layers says 10**6", "refuse", ["generate", "--ckpt_path", "layers.ckpt", "--prompt", "the"],
         {"layers.ckpt": ("edit", lm, "num_layers", 10**6)}),
        ("temperature inf", "refuse", ["generate", "--ckpt_path", lm, "--prompt", "the", "--temperature", "inf"], {}),
        ("num_layers 0", "refuse", [*fit_memory, encoder + "num_layers", "0"], {}),
        ("hidden_size -3", "refuse", [*fit_memory, encoder + "hidden_size", "-3"], {}),
        ("max_steps -5", "refuse", [*fit_memory, "--trainer.max_steps", "-5"], {}),
        ("a recipe that is a YAML list", "refuse", ["fit", "-c", "list.yaml", *SHORT], {"list.yaml": "- a\n- b\n"}),
        ("a recipe of binary bytes", "refuse", ["fit", "-c", "bin.yaml", *SHORT], {"bin.yaml": bytes(range(1, 256)) * 10}),
        ("a checkpoint of random bytes", "refuse", ["generate", "--ckpt_path", "noise.ckpt", "--prompt", "the"], {"noise.ckpt": os.urandom(5000)}),
        ("forecast input: a gzip file", "refuse", ["forecast", "--ckpt_path", forecast, "--input", "co2.csv.gz", "--output", "g.csv"],
         {"co2.csv.gz": b"\x1f\x8b\x08\x00" + os.urandom(500)}),
        ("forecast input: 2 GB declared by a sparse file of NUL bytes", "refuse", ["forecast", "--ckpt_path", forecast, "--input", "sparse.csv", "--output", "s.csv"],
         {"sparse.csv": ("zeros", 2_000_000_000)}),
        ("classify: a text of 2 million words (read up to a bound, and said)", "read", ["classify", "--ckpt_path", sentiment, "--input", "long.csv", "--output", "l.csv"],
         {"long.csv": "text\n" + "good " * 2_000_000 + "\n"}),
        ("seed_everything -1", "refuse", [*fit_memory, "--seed_everything", "-1"], {}),
        ("an empty recipe", "refuse", ["fit", "-c", "empty.yaml", *SHORT], {"empty.yaml": ""}),
    ]


def _write(folder: Path, name: str, spec: object, source: Path) -> None:
    path = folder / name
    if isinstance(spec, bytes):
        path.write_bytes(spec)
    elif isinstance(spec, str):
        path.write_text(spec, encoding="utf-8")
    elif spec[0] == "zeros":
        with open(path, "wb") as file:
            file.truncate(spec[1])  # a sparse file: the size without the disk
    elif spec[0] == "utf-16":
        from seqkit import packaged

        path.write_bytes(packaged.sample("co2_weekly.csv").read_text().encode("utf-16"))
    elif spec[0] == "recipe":
        text = (source / "recipes" / "memory" / "adding.yaml").read_text()
        assert spec[1] in text, spec
        path.write_text(text.replace(spec[1], spec[2], 1))
    elif spec[0] == "edit":
        import torch

        from seqkit.training import checkpoints

        checkpoint = torch.load(checkpoints.resolve(spec[1], say=False), weights_only=True)
        checkpoint["seqkit"]["encoder"]["init_args"][spec[2]] = spec[3]
        torch.save(checkpoint, path)


def _limit(memory_gib: float):
    def apply() -> None:
        limit = int(memory_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def run(argv: list[str], folder: Path, env: dict, timeout: float, memory_gib: float) -> tuple[str, str, float]:
    command = [sys.executable, "-m", "seqkit.cli", *argv]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=_limit(memory_gib))
    except subprocess.TimeoutExpired:
        return "hang", "", time.perf_counter() - start
    except OSError as error:  # the argument list itself is too long for the system
        return "too long for the shell", str(error), 0.0
    seconds = time.perf_counter() - start
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if "Traceback (most recent call last)" in done.stderr or done.returncode < 0:
        return "traceback", last, seconds
    if done.returncode == 0:
        return "ok", last, seconds
    return ("clear" if last.startswith("seqkit") and "error" in last else "other"), last, seconds


def sort(outcome: str, expected: str, last: str, cause: str | None) -> str:
    """The outcome's kind (see the module's docstring) from `run`'s outcome and the last line."""
    if outcome == "ok":
        return "read" if expected == "read" else "silent"
    if outcome in ("clear", "other") and expected == "read":
        return "wrong cause"
    if outcome == "other":
        return "traceback" if "Error" in last else "wrong cause"
    if outcome == "clear" and cause is not None and cause.lower() not in last.lower():
        return "wrong cause"
    return outcome


def resort(table: Path) -> None:
    """Sort again the outcomes of a table this script printed (`--resort FILE`), with today's CAUSES."""
    counts: dict[str, int] = {}
    for line in table.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        if len(cells) != 5 or cells[0] in ("case", "---"):
            continue
        name, expected, outcome, _, last = cells
        raw = {"read": "ok", "silent": "ok", "wrong cause": "clear" if last.startswith("seqkit") else "other"}.get(outcome, outcome)
        kind = sort(raw, expected, last, CAUSES.get(name))
        counts[kind] = counts.get(kind, 0) + 1
        print(f"| {name} | {expected} | {kind} | {last[:120]} |")
    print(f"\n{sum(counts.values())} cases: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a seqkit checkout to run instead of the installed one")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--memory_gib", type=float, default=8)
    parser.add_argument("--only", help="run the cases whose name holds this text")
    parser.add_argument("--resort", type=Path, help="sort again the outcomes of a table printed before, and stop")
    args = parser.parse_args()
    if args.resort:
        return resort(args.resort)
    source = (args.source or Path(__file__).resolve().parents[1]).resolve()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("SEQKIT_DATA", None)
    if args.source is not None:
        env["PYTHONPATH"] = str(source)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        recipes = {}
        for key, recipe in (("lm", "next_word/lstm"), ("sentiment", "sentiment/lstm_reviews"), ("forecast", "forecasting/lstm")):
            folder = root / key
            subprocess.run([sys.executable, "-m", "seqkit.cli", "fit", "-c", recipe, "--trainer.max_steps", "2",
                            "--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false",
                            "--trainer.default_root_dir", str(folder)], env=env, check=True, capture_output=True, cwd=root)
            recipes[key] = folder
        counts: dict[str, int] = {}
        print("| case | expected | outcome | seconds | last line |\n|---|---|---|---|---|")
        for k, (name, expected, argv, files) in enumerate(cases(recipes)):
            if args.only and args.only not in name:
                continue
            folder = root / f"case{k}"
            folder.mkdir()
            for file, spec in files.items():
                _write(folder, file, spec, source)
            outcome, last, seconds = run(argv, folder, env, args.timeout, args.memory_gib)
            outcome = sort(outcome, expected, last, CAUSES.get(name))
            counts[outcome] = counts.get(outcome, 0) + 1
            shown = last.replace("|", "\\|")[:160]
            print(f"| {name} | {expected} | {outcome} | {seconds:.1f} | {shown} |", flush=True)
        total = sum(counts.values())
        print(f"\n{total} cases: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
