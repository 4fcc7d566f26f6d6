"""The sentiment quickstart, measured: `sentiment/lstm_reviews` on reviews it never saw.

    python benchmarks/reviews.py                 # seeds 0 to 4
    python benchmarks/reviews.py --seeds 0,1

For each seed, from a fresh folder: `seqkit fit -c sentiment/lstm_reviews` (the 334 shipped
reviews, 10% of each label held out for validation) with `--seed_everything` and
`--data.seed` set, its wall time, then `seqkit test` with the best checkpoint on the 94
held-out reviews of `datasets/reviews_test.csv` (written apart from the training sample;
no text appears in both), and `seqkit classify` on the README's two examples. Prints a
table and the mean.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = {"the staff were lovely and the food was superb": "positive", "it broke after a day": "negative"}


def seqkit(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "seqkit.cli", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    args = parser.parse_args()
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as folder:
            here = Path(folder)
            start = time.perf_counter()
            seqkit("fit", "-c", "sentiment/lstm_reviews", "--seed_everything", str(seed), "--data.seed", str(seed),
                   "--trainer.enable_progress_bar", "false", cwd=here)
            seconds = time.perf_counter() - start
            tested = seqkit("test", "-c", "sentiment/lstm_reviews", "--ckpt_path", "best", "--trainer.enable_progress_bar",
                            "false", cwd=here)
            accuracy = float(re.search(r"test/acc\s+([\d.]+)", tested)[1])
            said = seqkit("classify", "--ckpt_path", "runs/sentiment/lstm_reviews", *EXAMPLES, cwd=here)
            labels = {row[2]: row[0] for row in csv.reader(io.StringIO(said), delimiter="\t") if len(row) == 3}
            right = sum(labels.get(text) == label for text, label in EXAMPLES.items())
            rows.append((seed, seconds, accuracy, right))
            print(f"seed {seed}: fit {seconds:.0f} s, held-out accuracy {accuracy:.1%}, README examples right {right}/2",
                  flush=True)
    print("\n| seed | fit, s | held-out accuracy (94 reviews) | README examples right |\n|---|---|---|---|")
    for seed, seconds, accuracy, right in rows:
        print(f"| {seed} | {seconds:.0f} | {accuracy:.1%} | {right}/2 |")
    mean = sum(r[2] for r in rows) / len(rows)
    print(f"\nmean held-out accuracy {mean:.1%} over {len(rows)} seeds; mean fit {sum(r[1] for r in rows) / len(rows):.0f} s")


if __name__ == "__main__":
    main()
