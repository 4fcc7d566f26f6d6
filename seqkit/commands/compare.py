"""`seqkit compare`: one recipe, several cells, same data, seed and budget; a table and pictures.

    seqkit compare -c recipes/sentiment/lstm.yaml --cells rnn,lstm,gru --seeds 3
    seqkit compare -c recipes/memory/adding.yaml --cells rnn,lstm --sweep data.length=10,25,50,100,200
    seqkit compare -c recipes/next_word/lstm.yaml --cells rnn,lstm -- --trainer.max_epochs 2

Each run is the recipe's own `seqkit fit` (LightningCLI, in this process) with the
encoder's class swapped, then `seqkit test` of its best checkpoint when the data has a
test split. Options after `--` go to every run unchanged. Results go to a folder:

    results.csv        one row per run: cell, seed, swept value, parameters, seconds per
                       epoch, timesteps per second, best validation score, test metrics,
                       the gradient ratio |dL/dh_first| / |dL/dh_last| at the end of training
    summary.md         per cell (and swept value): mean and spread over seeds
    learning_curves.png   the validation score after each epoch, per cell
    gradients.png      |dL/dh_t| against t per cell (seed 0), at initialisation and after training
    sweep.png          with --sweep: the test score against the swept value, per cell
    <cell>-<value>-seed<k>/   each run's checkpoints and metrics.csv
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from pathlib import Path

from seqkit import packaged
from seqkit.errors import SeqkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqkit compare", description="Train one recipe with each cell on the same data, seed and budget, and "
        "write a table (Markdown and CSV) and learning-curve plots. Options after `--` go to every run "
        "(e.g. -- --trainer.max_epochs 2).")
    parser.add_argument("-c", "--config", required=True, type=Path, help="a recipe: its name (memory/adding) or a YAML file")
    parser.add_argument("--cells", default="rnn,lstm", help="cells to compare: rnn, lstm, gru or any registered cell, by "
                        "short name or class path (default rnn,lstm)")
    parser.add_argument("--seeds", type=int, default=1, help="runs per cell, seeds 0..N-1 (default 1)")
    parser.add_argument("--sweep", help="KEY=V1,V2,...: repeat every cell over these values of one option, "
                        "e.g. data.length=10,25,50,100")
    parser.add_argument("--output_dir", type=Path, help="the results folder (default runs/compare/<recipe name>, e.g. runs/compare/forecasting/lstm)")
    parser.add_argument("--force", action="store_true", help="replace an existing results folder")
    return parser


def _cells(text: str) -> dict[str, str]:
    """`{short name: class path}` of the cells `text` names; a class path named here is imported (the user named it)."""
    from seqkit.modules import registry

    cells = {}
    for name in (part.strip() for part in text.split(",") if part.strip()):
        if "." in name and name.lower() not in registry.cells():
            registry.import_modules([name.rpartition(".")[0]])
        try:
            cls = registry.cell_class(name)
        except SeqkitError as error:
            raise SeqkitError(f"--cells: {error}") from None
        cells[registry.cell_name(cls)] = registry.class_path(cls)
    if not cells:
        raise SeqkitError("--cells is empty; name at least one cell")
    return cells


def _check_cells(cells: dict[str, str], config: Path, extra: list[str]) -> None:
    """Build every cell with the recipe's backend and run it once, before the first run trains.

    A cell that cannot run as the recipe asks (a backend it lacks) fails here, in one line,
    instead of after the runs before it have trained.
    """
    import torch

    from seqkit.modules import cell_class

    recipe = packaged.read_recipe(config) or {}
    encoder = ((recipe.get("model") or {}).get("init_args") or {}).get("encoder") or {}
    backend = (encoder.get("init_args") or {}).get("backend", "auto")
    flag = "--model.init_args.encoder.init_args.backend"
    for k, arg in enumerate(extra):
        if arg == flag and k + 1 < len(extra):
            backend = extra[k + 1]
        elif arg.startswith(flag + "="):
            backend = arg.partition("=")[2]
    for name, path in cells.items():
        try:
            module = cell_class(path)(2, 3, backend="loop" if backend == "compiled" else backend)
            output, _ = module(torch.zeros(1, 2, 2))
            output.sum().backward()
        except (TypeError, ValueError, RuntimeError) as error:
            raise SeqkitError(f"--cells {name}: {path} cannot run with this recipe (backend={backend!r}): {error}; "
                              "nothing was trained") from None


def _sweep(text: str | None) -> tuple[str | None, list[str]]:
    if text is None:
        return None, [""]
    key, _, values = text.partition("=")
    values_list = [v.strip() for v in values.split(",") if v.strip()]
    if not key or not values_list:
        raise SeqkitError(f"--sweep {text!r}: write KEY=V1,V2,... (e.g. data.length=10,25,50)")
    return key.strip().lstrip("-"), values_list


def timesteps(batch) -> int:
    """How many sequence steps a batch holds: real tokens of padded text, else batch x time."""
    lengths = getattr(batch, "lengths", None)
    if lengths is not None:
        return int(lengths.sum())
    for value in batch:
        if hasattr(value, "ndim") and value.ndim >= 2:
            return int(value.shape[0] * value.shape[1])
    return 0


def _clock():
    import lightning.pytorch as pl

    class Clock(pl.Callback):
        """Seconds and timesteps of each training epoch, and the monitored score after each validation."""

        def __init__(self) -> None:
            self.epochs: list[dict] = []
            self._start = 0.0
            self._steps = 0

        def on_train_epoch_start(self, trainer, module) -> None:
            self._start, self._steps = time.perf_counter(), 0

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            self._steps += timesteps(batch)

        def on_train_epoch_end(self, trainer, module) -> None:
            seconds = time.perf_counter() - self._start
            callback = trainer.checkpoint_callback
            score = trainer.callback_metrics.get(callback.monitor) if callback is not None else None
            self.epochs.append({"epoch": trainer.current_epoch, "seconds": seconds, "timesteps": self._steps,
                                "score": float(score) if score is not None else math.nan})

    return Clock()


def run_one(config: Path, class_path: str, seed: int, folder: Path, extra: list[str]) -> dict:
    """Fit (and test) the recipe once with `class_path` as its encoder; what the table needs."""
    from seqkit.training import lightning_cli
    from seqkit.diagnostics import GradientNormLogger

    args = ["-c", str(config), "--model.init_args.encoder.class_path", class_path, "--seed_everything", str(seed),
            "--trainer.default_root_dir", str(folder), "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.init_args.save_dir", str(folder), *extra]
    clock, gradients = _clock(), GradientNormLogger()
    # `seqkit fit` itself (its run folders, --init_from and resumable checkpoints), with two listeners added.
    cli = lightning_cli.build(["fit", *args], trainer_defaults={"callbacks": [clock, gradients]})
    callback = cli.trainer.checkpoint_callback
    row = {"parameters": sum(p.numel() for p in cli.model.parameters()), "monitor": callback.monitor,
           "best_val": float(callback.best_model_score) if callback.best_model_score is not None else math.nan}
    epochs = clock.epochs
    seconds = sum(e["seconds"] for e in epochs)
    row.update({"epochs": len(epochs), "s_per_epoch": seconds / max(len(epochs), 1),
                "timesteps_per_s": sum(e["timesteps"] for e in epochs) / seconds if seconds else math.nan,
                "curve": [e["score"] for e in epochs]})
    row["grad_ratio"] = math.nan
    row["grad_curves"] = {}
    if gradients.curves:
        curve = gradients.curves[-1][1]
        # 0 where the gradient reaching the first step vanished (underflowed); not applicable (n/a) where it
        # reaches the last step only.
        reaching = sum(1 for v in curve if v > 0)
        row["grad_ratio"] = float(curve[0] / curve[-1]) if curve[-1] > 0 and reaching > 1 else math.nan
        # The first measured step is the network at initialisation; the last, after training.
        row["grad_curves"] = {"at initialisation": gradients.curves[0][1], "after training": curve}
    try:
        cli.datamodule.setup("test")
        has_test = len(cli.datamodule.test_dataloader()) > 0
    except Exception:  # noqa: BLE001 - a recipe without a test split is compared on validation only
        has_test = False
    if has_test and callback.best_model_path:
        results = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=callback.best_model_path,
                                   verbose=False)
        row.update({key: float(value) for key, value in (results[0] if results else {}).items()})
    return row


def _mean_spread(values: list[float]) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "n/a"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.4g}"
    spread = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.4g} ± {spread:.2g}"


def summarise(rows: list[dict], key: str | None) -> str:
    """The Markdown table: one line per cell (and swept value), mean ± standard deviation over seeds."""
    monitor = rows[0]["monitor"]
    test_metric = monitor.replace("val/", "test/", 1) if monitor else None
    shown = [test_metric] if test_metric and any(test_metric in r for r in rows) else []
    header = ["cell"] + ([key] if key else []) + ["parameters", "s per epoch", "timesteps/s", f"best {monitor}",
                                                    *shown, "grad ratio first/last"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["cell"], row["value"]), []).append(row)
    for (cell, value), group in groups.items():
        cells = [cell] + ([value] if key else []) + [f"{group[0]['parameters']:,}",
                                                     _mean_spread([r["s_per_epoch"] for r in group]),
                                                     _mean_spread([r["timesteps_per_s"] for r in group]),
                                                     _mean_spread([r["best_val"] for r in group])]
        cells += [_mean_spread([r.get(m, math.nan) for r in group]) for m in shown]
        cells.append(_mean_spread([r["grad_ratio"] for r in group]))
        lines.append("| " + " | ".join(cells) + " |")
    notes = []
    if any(r["grad_ratio"] == 0 for r in rows):
        notes.append("grad ratio 0: the gradient vanished before it reached the first step (below float32's "
                     "smallest number); gradients.png shows where")
    if any(math.isnan(r["grad_ratio"]) for r in rows):
        notes.append("grad ratio n/a: no gradient was measured beyond the last step")
    lines += ["", *notes] if notes else []
    return "\n".join(lines)


def plot(rows: list[dict], key: str | None, out: Path) -> list[Path]:
    """Learning curves (and, with a sweep, the test score against the swept value)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    written = []
    monitor = rows[0]["monitor"]
    figure, axes = plt.subplots(figsize=(7, 4))
    # One colour per cell (and swept value), one line per seed; one legend entry per colour.
    groups = list(dict.fromkeys((r["cell"], r["value"]) for r in rows))
    seeds = {group: sum(1 for r in rows if (r["cell"], r["value"]) == group) for group in groups}
    dots = max(len(r["curve"]) for r in rows) <= 30  # markers only where they can be told apart
    for row in rows:
        group = (row["cell"], row["value"])
        first = row is next(r for r in rows if (r["cell"], r["value"]) == group)
        label = (f"{row['cell']}" + (f" {key}={row['value']}" if key else "")
                 + (f" ({seeds[group]} seeds)" if seeds[group] > 1 else "")) if first else None
        axes.plot(range(1, len(row["curve"]) + 1), row["curve"], color=f"C{groups.index(group) % 10}",
                  marker="o" if dots else None, linewidth=1.2, alpha=0.8, label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel(monitor)
    axes.set_title(f"{monitor} after each epoch, " + ", ".join(dict.fromkeys(r["cell"] for r in rows)))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(out / "learning_curves.png", dpi=100)
    plt.close(figure)
    written.append(out / "learning_curves.png")
    curves = {f"{r['cell']}" + (f" {key}={r['value']}" if key else "") + f", {when}": norms
              for r in rows if r["seed"] == 0 for when, norms in r["grad_curves"].items()
              if sum(1 for v in norms if math.isfinite(v) and v > 0) >= 2}  # a curve a log scale can draw
    if not curves:
        print("compare: no gradients.png: no |dL/dh_t| curve was measured above zero in this recipe's training",
              file=sys.stderr)
    else:
        from seqkit.diagnostics import plot_gradient_norms

        written.append(plot_gradient_norms(curves, out / "gradients.png",
                                           title="|dL/dh_t| of the top layer, at initialisation and after training"))
    test_metric = monitor.replace("val/", "test/", 1)
    if key and any(test_metric in r for r in rows):
        figure, axes = plt.subplots(figsize=(7, 4))
        for cell in dict.fromkeys(r["cell"] for r in rows):
            points: dict[float, list[float]] = {}
            for r in rows:
                if r["cell"] == cell and test_metric in r:
                    points.setdefault(float(r["value"]), []).append(r[test_metric])
            xs = sorted(points)
            axes.plot(xs, [sum(points[x]) / len(points[x]) for x in xs], marker="o", label=cell)
        if all(float(r["value"]).is_integer() for r in rows):
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # a whole-number option (a length, a size)
        axes.set_xlabel(key)
        axes.set_ylabel(test_metric)
        axes.set_title(f"{test_metric} against {key}")
        axes.legend()
        figure.tight_layout()
        figure.savefig(out / "sweep.png", dpi=100)
        plt.close(figure)
        written.append(out / "sweep.png")
    return written


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    given = str(args.config)
    args.config = Path(packaged.resolve_recipe(given))  # a file, or a recipe name (next_word/lstm)
    cells = _cells(args.cells)
    _check_cells(cells, args.config, extra)
    key, values = _sweep(args.sweep)
    if args.seeds < 1:
        raise SeqkitError(f"--seeds must be at least 1, got {args.seeds}")
    # A shipped recipe's whole name (forecasting/lstm, not lstm: two jobs have an lstm), else the file's name.
    out = args.output_dir or Path("runs") / "compare" / (given if given in packaged.recipe_names() else args.config.stem)
    if out.exists() and any(out.iterdir()):
        if not args.force:
            raise SeqkitError(f"{out} already holds results; pass --force to replace them or choose --output_dir")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    plan = [(cell, value, seed) for value in values for cell in cells for seed in range(args.seeds)]
    rows = []
    for k, (cell, value, seed) in enumerate(plan, 1):
        swept = [f"--{key}", value] if key else []
        name = f"{cell}{'-' + value if key else ''}-seed{seed}"
        print(f"compare: [{k}/{len(plan)}] {name}", file=sys.stderr, flush=True)
        row = run_one(args.config, cells[cell], seed, out / name, [*extra, *swept])
        rows.append({"cell": cell, "value": value, "seed": seed, **row})
        pd.DataFrame([{k: v for k, v in r.items() if k not in ("curve", "grad_curves")} for r in rows]).to_csv(
            out / "results.csv", index=False)
    table = summarise(rows, key)
    (out / "summary.md").write_text(f"# seqkit compare: {args.config}\n\n{table}\n")
    written = plot(rows, key, out)
    print(table)
    print(f"\nresults in {out}: results.csv, summary.md" + "".join(f", {p.name}" for p in written))
    return 0
