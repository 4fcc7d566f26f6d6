"""`seqkit forecast` and `seqkit backtest`: use a trained forecaster on a table of series.

    seqkit forecast --ckpt_path CKPT --input series.csv --output forecast.csv [--plot forecast.png]
    seqkit backtest --ckpt_path CKPT --input series.csv --test_size 36 [--output per_origin.csv]

`forecast` forecasts what follows the last target value of each series in the file (with
known covariates, the file also holds the horizon's rows with those filled). `backtest`
scores a forecast from every origin of the file's last steps (a rolling-origin backtest)
and prints the mean per metric beside the naive, seasonal-naive and linear baselines.
Input files are never changed; an existing output is overwritten only with `--force`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqkit.commands import add_checkpoint, checkpoint_file, device, output_path
from seqkit.errors import SeqkitError
from seqkit.training.faults import atomic_write_text



def _common(parser: argparse.ArgumentParser) -> None:
    add_checkpoint(parser, "forecasting")
    parser.add_argument("--input", required=True, type=Path, help="a CSV (or .tsv) with the columns the model was trained on")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument("--device", default="auto", help="where to run: auto (a GPU when one is present, else the CPU; the default), cpu, cuda, cuda:1")


def forecast_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit forecast", description="Forecast the steps after each series of a "
                                     "table with a checkpoint of the forecasting recipe, with quantiles when the model has them.")
    _common(parser)
    parser.add_argument("--output", type=Path, help="where to write the forecasts (CSV); printed when left out")
    parser.add_argument("--horizon", type=int, help="steps to forecast, at most the trained horizon (default: all)")
    parser.add_argument("--level", type=int, nargs="+", default=[], metavar="PERCENT",
                        help="conformal prediction intervals to add, from the validation errors: any of 50 80 90 95 "
                        "99 (columns <target>_lo80, <target>_hi80, ...)")
    parser.add_argument("--plot", type=Path, help="draw history, forecast and intervals into this PNG")
    parser.add_argument("--history", type=int, default=None,
                        help="steps of history drawn by --plot (default: 3 x the horizon)")
    return parser


def backtest_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit backtest", description="Score a trained forecaster from every origin "
                                     "of the last steps of a table (a rolling-origin backtest), beside the baselines.")
    _common(parser)
    span = parser.add_mutually_exclusive_group(required=True)
    span.add_argument("--test_size", type=float, help="the test span per series: a count of steps, or a fraction below 1")
    span.add_argument("--test_start", help="the test span from this date (ISO) to the end")
    parser.add_argument("--scaler", choices=("checkpoint", "refit"), default="checkpoint",
                        help="scale with the checkpoint's scaler (the series it was trained on) or refit one on the "
                        "steps before the test span (new series); default checkpoint")
    parser.add_argument("--output", type=Path, help="where to write one row of metrics per origin (CSV)")
    return parser




def _load(args: argparse.Namespace):
    from seqkit.tasks.forecast import ForecastTask

    return ForecastTask.from_checkpoint(checkpoint_file(args), map_location=device(args.device))


def main(argv: list[str]) -> int:
    """`seqkit forecast`."""
    args = forecast_parser().parse_args(argv)
    args.output = output_path(args.output, "--output", (".csv",), args.force, source=args.input)
    args.plot = output_path(args.plot, "--plot", (".png", ".pdf", ".svg"), args.force, source=args.input)
    from seqkit.data.forecast import read_csv

    model = _load(args)
    table = read_csv(args.input)  # messages about it name the file and its lines
    history = table.frame
    result = model.forecast(table, horizon=args.horizon, level=args.level)
    if args.output is None:
        print(result.to_string(index=False))
    else:
        atomic_write_text(result.to_csv(index=False), args.output)
        print(f"wrote {len(result)} forecast rows to {args.output}")
    if args.plot is not None:
        plot_forecast(model, history, result, args.plot, args.history, args.level)
        print(f"drew {args.plot}")
    return 0


def plot_forecast(model, history, result, path: Path, steps: int | None = None, level=()) -> None:
    """History, point forecast and the widest interval (conformal `level`, else a quantile model's), a panel per series and target."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    from matplotlib import pyplot as plt

    state = model.data_state
    time, ident, targets = state["time_column"], state["id_column"], state["target_columns"]
    steps = steps or 3 * model.shapes["horizon"]
    frame = history.copy()  # the user's table stays as it was
    frame[time] = pd.to_datetime(frame[time])
    groups = list(result.groupby(ident, sort=False)) if ident else [("", result)]
    panels = [(key, part, target) for key, part in groups for target in targets][:8]
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 2.8 * len(panels)), squeeze=False)
    levels = model.quantiles if len(model.quantiles) > 1 else []
    for ax, (key, part, target) in zip(axes[:, 0], panels):
        past = frame[frame[ident].astype(str) == str(key)] if ident else frame
        past = past[pd.to_numeric(past[target], errors="coerce").notna()].tail(steps)
        ax.plot(past[time], pd.to_numeric(past[target]), color="black", linewidth=1, label="history")
        when = pd.to_datetime(part[time])
        ax.plot(when, part[target], color="tab:blue", linewidth=1.5, label="forecast")
        if level:
            ax.fill_between(when, part[f"{target}_lo{max(level)}"], part[f"{target}_hi{max(level)}"],
                            color="tab:blue", alpha=0.2, label=f"{max(level)}% conformal interval")
        elif levels:
            low, high = f"{target}_q{round(levels[0] * 100)}", f"{target}_q{round(levels[-1] * 100)}"
            ax.fill_between(when, part[low], part[high], color="tab:blue", alpha=0.2,
                            label=f"{round(levels[0] * 100)}th to {round(levels[-1] * 100)}th percentile")
        series = f" ({ident} {key})" if ident else ""
        ax.set_title(f"{target}{series}: the last {len(past)} steps and the {len(part)}-step forecast after "
                     f"{past[time].iloc[-1]:%Y-%m-%d %H:%M}".replace(" 00:00", ""))
        ax.set(xlabel=time, ylabel=target)
        ax.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _check_span(args: argparse.Namespace, state: dict, horizon: int) -> None:
    """Refuse a test span that cannot be backtested, in backtest's own terms, before any work.

    The span must hold at least one horizon, and leave a training window (the model's input
    window and a horizon) and one step (the token validation span) before it, in the
    shortest series of the file.
    """
    import pandas as pd

    from seqkit.data.forecast import read_csv

    frame = read_csv(args.input).frame
    time, ident = state["time_column"], state["id_column"]
    if time not in frame.columns:
        return  # the DataModule names the missing column, with the file's columns
    times = pd.to_datetime(frame[time], errors="coerce", format="mixed")
    groups = [times] if ident is None or ident not in frame.columns else [t for _, t in times.groupby(frame[ident])]
    shortest = min(groups, key=lambda t: t.nunique())
    steps = sorted(shortest.dropna().unique())
    n, window = len(steps), state["input_length"]
    least, most = horizon, n - window - horizon - 1
    where = f"{args.input}" + (" (its shortest series)" if len(groups) > 1 else "")
    if most < least:
        raise SeqkitError(f"{where} has {n} steps: too few to backtest a model that reads {window} and forecasts "
                          f"{horizon} (it needs at least {window + 2 * horizon + 1})")
    if args.test_size is not None:
        size = int(args.test_size) if args.test_size >= 1 else round(args.test_size * n)
        if not least <= size <= most:
            raise SeqkitError(f"--test_size {args.test_size:g}: a test span of {size} of the {n} steps of {where}; "
                              f"give {least} to {most} steps (at least the horizon, {horizon}, and leaving "
                              f"{window + horizon + 1} steps before it: a training window and one more), or a fraction")
    else:
        size = sum(1 for step in steps if step >= pd.Timestamp(args.test_start))
        if not least <= size <= most:
            first, last = pd.Timestamp(steps[n - most]), pd.Timestamp(steps[n - least])
            raise SeqkitError(f"--test_start {args.test_start}: {size} of the {n} steps of {where} are on or after "
                              f"it; give a date from {first.date()} to {last.date()} (at least the horizon, {horizon} "
                              f"steps, after it and {window + horizon + 1} before it: a training window and one more)")


def backtest(argv: list[str]) -> int:
    """`seqkit backtest`."""
    args = backtest_parser().parse_args(argv)
    args.output = output_path(args.output, "--output", (".csv",), args.force, source=args.input)
    if args.test_start is not None:
        import pandas as pd

        try:
            pd.Timestamp(args.test_start)
        except (ValueError, TypeError):
            raise SeqkitError(f"--test_start {args.test_start!r} is not a date; write it as 1958-01 or "
                              "1958-01-01 (or 1958-01-01 06:00 for hours)") from None
    if args.test_size is not None and not args.test_size > 0:
        raise SeqkitError(f"--test_size must be a number of steps (or a fraction below 1) above 0, got {args.test_size}")
    from seqkit.data import Columns, ForecastData
    from seqkit.forecasting import format_table

    model = _load(args)
    state = model.data_state
    size = None
    if args.test_size is not None:
        size = int(args.test_size) if args.test_size >= 1 else args.test_size
    span = {"test_size": size} if size is not None else {"val_start": None, "test_start": args.test_start}
    horizon = state["horizon"]
    if args.test_start is not None:
        import pandas as pd
        from pandas.tseries.frequencies import to_offset

        span["val_start"] = str(pd.Timestamp(args.test_start) - to_offset(state["freq"]))
    _check_span(args, state, horizon)
    # Training is everything before the test span (less one step, a token validation span the
    # DataModule needs): the linear baseline is fitted on it and MASE is scaled by it.
    data = ForecastData(train_path=str(args.input), columns=Columns(time_column=state["time_column"], target_columns=list(state["target_columns"]), id_column=state["id_column"], observed_columns=list(state["observed_columns"]), known_columns=list(state["known_columns"]), calendar=list(state["calendar"])), freq=state["freq"], missing=state["missing"], input_length=state["input_length"], horizon=horizon, scale=state["scale"], target_transform=state.get("target_transform", "none"), val_size=1, short_validation=True, **span)
    if args.scaler == "checkpoint":
        data.load_state_dict(state)
    data.setup("test")
    per_origin, table, notes = model.backtest(data)
    print(f"rolling-origin backtest: {len(per_origin)} origins over the last steps of {args.input}, "
          f"each forecasting {horizon} steps; metrics on the original scale")
    print(format_table(table, notes))
    if args.output is not None:
        atomic_write_text(per_origin.to_csv(index=False), args.output)
        print(f"wrote one row per origin to {args.output}")
    return 0
