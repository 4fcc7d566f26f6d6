"""The parts of `seqkit tune`: the search space as data, one trial as one `seqkit fit`, the study's results.

A search space is a YAML mapping from a recipe's own dotted keys (the names `seqkit fit`
takes after `--`) to a range or a choice:

    model.init_args.encoder.init_args.hidden_size: {int: [16, 128], log: true}
    model.init_args.optimizer.init_args.lr: {float: [0.0005, 0.02], log: true}
    data.init_args.input_length: {int: [12, 48], step: 12}
    model.init_args.encoder.class_path: {choice: [rnn, lstm, gru]}

`int` and `float` take `[low, high]` (both included) and optionally `log: true` (drawn
evenly on a log scale) or `step`; `choice` takes a list of two or more values. A cell in a
`class_path` choice is named as in recipes (`lstm`, `mgu`, or a class path). Optuna
(https://optuna.org) draws the values; this module turns them into a recipe's options.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import signal
import socket
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from seqkit.errors import SeqkitError

KINDS = ("int", "float", "choice")


@dataclass(frozen=True)
class Dimension:
    """One searched option: `kind` int, float or choice; `low`/`high` (a range) or `values` (a choice)."""

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    values: tuple = ()

    @property
    def name(self) -> str:
        return short(self.key)

    def first(self):
        """The value the recipe is checked with before any trial: the range's low end, the first choice."""
        return self.values[0] if self.kind == "choice" else (int(self.low) if self.kind == "int" else self.low)

    def suggest(self, trial):
        """The trial's value, drawn by Optuna."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.values))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)


def short(key: str) -> str:
    """A key as people say it: `model.init_args.encoder.init_args.hidden_size` -> `model.encoder.hidden_size`."""
    return ".".join(part for part in key.split(".") if part != "init_args")


def flat_keys(recipe, prefix: str = "") -> list[str]:
    """Every dotted key of a recipe's nested mappings, inner and leaf."""
    keys = []
    for key, value in (recipe.items() if isinstance(recipe, dict) else ()):
        keys.append(f"{prefix}{key}")
        keys += flat_keys(value, f"{prefix}{key}.")
    return keys


def read_space(path: Path, recipe: dict) -> dict[str, Dimension]:
    """The search space in `path`, checked entry by entry (one line naming the key and the fix).

    Raises:
        SeqkitError: not a mapping, an unknown kind or option, an empty or one-value range,
            a choice of fewer than two values, `log` with a low end at or below 0 or with `step`.
    """
    from seqkit import packaged

    data = packaged.read_recipe(path)
    example = "model.init_args.optimizer.init_args.lr: {float: [0.0001, 0.01], log: true}"
    if not isinstance(data, dict) or not data:
        raise SeqkitError(f"{path}: a search space maps the recipe's keys to ranges or choices, e.g. {example}")
    space = {}
    for key, spec in data.items():
        key = str(key).removeprefix("--")
        space[key] = _dimension(path, key, spec)
    names = [d.name for d in space.values()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SeqkitError(f"{path}: {twice[0]} is searched twice (with and without init_args); keep one")
    return space


def _dimension(path: Path, key: str, spec) -> Dimension:
    where = f"{path}: {key}"
    if not isinstance(spec, dict) or sum(kind in spec for kind in KINDS) != 1:
        raise SeqkitError(f"{where}: write {{int: [LOW, HIGH]}}, {{float: [LOW, HIGH], log: true}} or "
                          f"{{choice: [A, B, ...]}}, not {spec!r}")
    kind = next(kind for kind in KINDS if kind in spec)
    unknown = set(spec) - {kind, "log", "step"}
    if unknown:
        raise SeqkitError(f"{where}: unknown option {sorted(unknown)[0]!r}; a range takes log: true or step: N")
    value = spec[kind]
    if kind == "choice":
        if not isinstance(value, list) or len(value) < 2 or len(set(map(repr, value))) < len(value):
            raise SeqkitError(f"{where}: a choice lists two or more different values, e.g. {{choice: [rnn, lstm, gru]}}"
                              "; to fix one value, set it in the recipe or on the command line instead")
        if set(spec) != {"choice"}:
            raise SeqkitError(f"{where}: log and step belong to ranges ({{int: ...}} or {{float: ...}}), not choices")
        return Dimension(key, kind, values=tuple(value))
    numbers = (int,) if kind == "int" else (int, float)
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(v, numbers) and not isinstance(v, bool)
                                                                 for v in value):
        one = " (a choice of one value? fix it in the recipe or on the command line instead)" if (
            isinstance(value, list) and len(value) == 1) else ""
        raise SeqkitError(f"{where}: a range is [LOW, HIGH], two {'whole ' if kind == 'int' else ''}numbers, "
                          f"not {value!r}{one}")
    low, high = value
    if not low < high:
        raise SeqkitError(f"{where}: the range [{low}, {high}] is empty or one value: LOW must be below HIGH "
                          "(to fix one value, set it in the recipe or on the command line)")
    log, step = spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        raise SeqkitError(f"{where}: log is true or false, not {log!r}")
    if log and low <= 0:
        raise SeqkitError(f"{where}: a log scale needs LOW above 0, not {low}")
    if step is not None:
        if log:
            raise SeqkitError(f"{where}: give log: true or step, not both")
        if not isinstance(step, numbers) or isinstance(step, bool) or not 0 < step <= high - low:
            raise SeqkitError(f"{where}: step is a number above 0 and at most HIGH - LOW ({high - low}), not {step!r}")
    return Dimension(key, kind, low=low, high=high, log=log, step=step)


def without_fixed(space: dict[str, Dimension], overrides: list[str]) -> dict[str, Dimension]:
    """`space` without the keys a command-line option fixes (said once each)."""
    given = {short(arg[2:].partition("=")[0]) for arg in overrides if arg.startswith("--")}
    kept = {}
    for key, dimension in space.items():
        if dimension.name in given:
            print(f"tune: --{key} is given on the command line: fixed there, not searched", file=sys.stderr)
        else:
            kept[key] = dimension
    if not kept:
        raise SeqkitError("the command line fixes every key of the search space; nothing is left to search")
    return kept


def as_args(values: dict[str, object]) -> list[str]:
    """`seqkit fit` options that set `values` (`{key: value}`); a cell named by its short name becomes its class path."""
    from seqkit.modules import registry

    args = []
    for key, value in values.items():
        if key.endswith("class_path") and isinstance(value, str) and value.lower() in registry.cells():
            value = registry.class_path(registry.cell_class(value))
        if isinstance(value, bool) or value is None:
            text = {True: "true", False: "false", None: "null"}[value]
        else:
            text = repr(value) if isinstance(value, float) else str(value)
        args += [f"--{key}", text]
    return args


@contextlib.contextmanager
def into(log: Path | None):
    """Everything printed inside goes to the file `log` (a trial's fit.log); None: nowhere."""
    with open(log if log is not None else os.devnull, "a", encoding="utf-8") as stream:
        with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
            yield


def check_trial(config: Path, space: dict[str, Dimension], overrides: list[str], space_file: Path) -> tuple[str, str]:
    """Build the recipe once with the space's first values, before any trial trains; its (monitor, mode).

    Raises:
        SeqkitError: a key the recipe does not take (naming the nearest keys of the recipe),
            a value it refuses, or a recipe that checkpoints on no metric.
    """
    from lightning.pytorch.callbacks import ModelCheckpoint

    from seqkit import packaged
    from seqkit.training import lightning_cli

    point = {key: dimension.first() for key, dimension in space.items()}
    try:
        with into(None):
            cli = lightning_cli.build(["-c", str(config), *overrides, *as_args(point)], run=False)
    except SeqkitError as error:
        try:  # refused: by the command line alone (a misspelt option is the command line's), or by the space
            with into(None):
                lightning_cli.build(["-c", str(config), *overrides], run=False)
        except SeqkitError as alone:
            raise SeqkitError(f"{alone}; seqkit tune's own options: `seqkit tune --help`") from None
        known = flat_keys(packaged.read_recipe(config) or {})
        for key in space:
            leaf = key.rsplit(".", 1)[-1]  # jsonargparse names the key, or its last part ('hiden_size')
            if key in str(error) or f"'{leaf}'" in str(error):
                near = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
                raise SeqkitError(f"{space_file}: {key} is not an option of {config.name}"
                                  + (f"; nearest keys of the recipe: {', '.join(near)}" if near else "")) from None
        raise SeqkitError(f"{space_file}: the recipe refuses the space's first values ({error})") from None
    cli.model.trainer = cli.trainer
    found = [c for c in [*cli.model.configure_callbacks(), *cli.trainer.callbacks]
             if isinstance(c, ModelCheckpoint) and c.monitor]
    if not found:
        raise SeqkitError(f"{config.name} keeps no best checkpoint by a metric (a ModelCheckpoint with monitor); "
                          "seqkit tune scores each trial by it")
    return found[0].monitor, found[0].mode


def _fit_clock():
    import lightning.pytorch as pl

    class FitClock(pl.Callback):
        """Seconds inside Trainer.fit and epochs trained, also for a fit that stops by an exception (pruned)."""

        def __init__(self) -> None:
            self.seconds, self.epochs, self._start = 0.0, 0, None

        def on_fit_start(self, trainer, module) -> None:
            self._start = time.perf_counter()

        def on_train_epoch_end(self, trainer, module) -> None:
            self.epochs = trainer.current_epoch + 1

        def _stop(self) -> None:
            if self._start is not None:
                self.seconds, self._start = time.perf_counter() - self._start, None

        def on_fit_end(self, trainer, module) -> None:
            self._stop()

        def on_exception(self, trainer, module, exception) -> None:
            self._stop()

    return FitClock()


def sampler_for(seed: int, number: int):
    """Trial `number`'s sampler: Optuna's TPE seeded with seed + number, so that a study draws the same values
    again on one machine, and two workers, whose trials have different numbers, never draw alike."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed + number)


class TrialRunner:
    """Optuna's objective: one `seqkit fit` of the recipe with the trial's values, in `out/trial_<n>/`."""

    def __init__(self, config: Path, space: dict[str, Dimension], overrides: list[str], out: Path, monitor: str,
                 seed: int, pruning) -> None:
        self.config, self.space, self.overrides, self.out = config, space, overrides, out
        self.monitor, self.seed, self.pruning = monitor, seed, pruning

    def __call__(self, trial) -> float:
        import optuna

        from seqkit.cli import user_error
        from seqkit.training import lightning_cli

        trial.study.sampler = sampler_for(self.seed, trial.number)
        values = {key: dimension.suggest(trial) for key, dimension in self.space.items()}
        folder = self.out / f"trial_{trial.number}"
        folder.mkdir(parents=True, exist_ok=True)
        for key, value in (("host", socket.gethostname()), ("pid", os.getpid()), ("folder", str(folder))):
            trial.set_user_attr(key, value)
        args = ["fit", "-c", str(self.config), *self.overrides, *as_args(values), "--trainer.default_root_dir", str(folder)]
        clock, start = _fit_clock(), time.perf_counter()
        try:
            with into(folder / "fit.log"):
                cli = lightning_cli.build(args, trainer_defaults={"callbacks": [self.pruning(trial), clock]})
        except optuna.TrialPruned:
            raise
        except SystemExit:  # Lightning's answer to Ctrl-C in a fit: it ignores SIGINT from then on and exits
            trial.set_user_attr("error", "interrupted (Ctrl-C)")
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt from None
        except Exception as error:
            cause = user_error(error)
            trial.set_user_attr("error", str(cause) if cause else f"{type(error).__name__}: {str(error).splitlines()[0]}")
            raise
        finally:  # the whole `seqkit fit` (building it, reading the data), and its Trainer.fit alone
            trial.set_user_attr("run_seconds", round(time.perf_counter() - start, 3))
            trial.set_user_attr("fit_seconds", round(clock.seconds, 3))
            trial.set_user_attr("epochs", clock.epochs)
        saved = next((c.folder for c in cli.trainer.callbacks if isinstance(c, lightning_cli.RunConfig)), None)
        if saved is not None and (saved / "config.yaml").is_file():
            trial.set_user_attr("config", str(saved / "config.yaml"))
        callback = cli.trainer.checkpoint_callback
        score = callback.best_model_score if callback is not None else None
        if score is None or not math.isfinite(float(score)):
            trial.set_user_attr("error", f"no finite best {self.monitor} (fit.log says why)")
            raise SeqkitError(f"no finite best {self.monitor}")
        trial.set_user_attr("checkpoint", str(callback.best_model_path))
        return float(score)


class Progress:
    """A line per finished trial (Optuna's callback): which of how many, its value, the best so far, the time."""

    def __init__(self, trials: int, monitor: str, start: float) -> None:
        self.trials, self.monitor, self.start = trials, monitor, start
        self.failed_here, self.error = 0, None

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        if trial.state == TrialState.COMPLETE:
            epochs = trial.user_attrs.get("epochs", "?")
            what = f"{self.monitor} {trial.value:.4g} after {epochs} epoch{'' if epochs == 1 else 's'}"
        elif trial.state == TrialState.PRUNED:
            what = f"pruned at epoch {pruned_epoch(trial)} ({self.monitor} {trial.value:.4g})" if trial.value \
                is not None else f"pruned at epoch {pruned_epoch(trial)}"
        else:
            self.failed_here += 1
            error = trial.user_attrs.get("error", "stopped")
            what = f"failed: {error} (log: {trial.user_attrs.get('folder', '?')}/fit.log)"
            if self.failed_here >= 3 and not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                self.error = f"3 trials failed and none finished; the last: {error}"
                study.stop()
        best = ""
        with contextlib.suppress(ValueError):  # no complete trial yet
            best = f" | best {study.best_value:.4g} (#{study.best_trial.number})"
        elapsed = time.perf_counter() - self.start
        of = f"of {self.trials}" if finished <= self.trials else f"({self.trials} asked: other workers' trials ended too)"
        print(f"tune: trial {finished} {of} (#{trial.number}): {what}{best} | {elapsed / 60:.1f} min",
              file=sys.stderr, flush=True)


def pruned_epoch(trial) -> int | str:
    """The epoch (counted from 1) after which a pruned trial stopped."""
    return max(trial.intermediate_values) + 1 if trial.intermediate_values else "?"


def table(study):
    """The study's trials as a DataFrame: number, state, value, epochs, seconds, the values tried."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        state = trial.state.name.lower()
        rows.append({"trial": trial.number, "state": state if state != "fail" else "failed", "value": trial.value,
                     "epochs": pruned_epoch(trial) if state == "pruned" else trial.user_attrs.get("epochs"),
                     "seconds": round(trial.duration.total_seconds(), 1) if trial.duration else None,
                     "run_seconds": trial.user_attrs.get("run_seconds"), "fit_seconds": trial.user_attrs.get("fit_seconds"),
                     **trial.params,
                     "folder": trial.user_attrs.get("folder"), "error": trial.user_attrs.get("error")})
    return pd.DataFrame(rows)


def write_results(study, out: Path, monitor: str) -> list[Path]:
    """Print the best trial and the table of trials; write trials.csv, best.yaml and the pictures. What was written."""
    from optuna.trial import TrialState

    frame = table(study)
    written = []
    if frame.empty:
        print("tune: no trial has run yet", file=sys.stderr)
        return written
    frame.to_csv(out / "trials.csv", index=False)
    written.append(out / "trials.csv")
    shown = frame.drop(columns=["folder", "run_seconds", "fit_seconds"] + (["error"] if frame["error"].isna().all() else []))
    print(shown.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"))
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    counts = frame["state"].value_counts()
    print(f"\ntune: {len(frame)} trials: " + ", ".join(f"{n} {state}" for state, n in counts.items()), file=sys.stderr)
    if not complete:
        return written
    best = study.best_trial
    values = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in best.params.items())
    print(f"tune: best trial #{best.number}: {monitor} {best.value:.4g} with {values}")
    best_yaml = _best_recipe(best, out, monitor, study.study_name)
    if best_yaml is not None:
        written.append(best_yaml)
        print(f"tune: `seqkit fit -c {best_yaml}` trains it again (into {out / 'best'})", file=sys.stderr)
    written += _pictures(study, out, monitor)
    return written


def _best_recipe(trial, out: Path, monitor: str, name: str) -> Path | None:
    """best.yaml: the best trial's whole configuration (as its fit saved it), training into `out/best`."""
    import yaml

    saved = trial.user_attrs.get("config")
    if not saved or not Path(saved).is_file():
        print(f"tune: the best trial ran on {trial.user_attrs.get('host', 'another machine')}; its config.yaml is in "
              f"{trial.user_attrs.get('folder')} there", file=sys.stderr)
        return None
    config = yaml.safe_load(Path(saved).read_text(encoding="utf-8"))
    config.setdefault("trainer", {})["default_root_dir"] = str(out / "best")
    header = (f"# the best trial (#{trial.number}, {monitor} {trial.value:.4g}) of the study {name!r} (seqkit tune)\n"
              f"#   seqkit fit -c {out / 'best.yaml'}\n")
    path = out / "best.yaml"
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _pictures(study, out: Path, monitor: str) -> list[Path]:
    """history.png (every trial's value, the best so far) and importances.png (fANOVA, from 2 complete trials)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator
    from optuna.visualization import matplotlib as plots

    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        axes = plots.plot_optimization_history(study, target_name=monitor)
        axes.set_title(f"{monitor} of each complete trial, study {study.study_name}")
        for line in axes.get_lines():
            if line.get_label() == "Best Value":
                line.set_label("best so far")
        axes.legend(loc="best")
        axes.set_xlabel("trial")
        axes.set_ylabel(monitor)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are whole numbers
        axes.figure.set_size_inches(8, 4.5)
        axes.figure.tight_layout()
        axes.figure.savefig(out / "history.png", dpi=100)
        plt.close(axes.figure)
        written.append(out / "history.png")
        complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        if len(complete) >= 2 and len(study.best_trial.params) >= 1:
            try:
                axes = plots.plot_param_importances(study, target_name=monitor)
            except (RuntimeError, ValueError) as error:  # e.g. every complete trial had the same values
                print(f"tune: no importances.png: {error}", file=sys.stderr)
                return written
            axes.set_title("", loc="left")  # Optuna's own title, which would stand over seqkit's
            axes.set_title(f"importance for {monitor}, {len(complete)} complete trials (fANOVA)")
            if axes.get_legend() is not None:
                axes.get_legend().remove()
            axes.set_xlabel(f"importance (share of the variance of {monitor})")
            axes.set_ylabel("searched value")
            axes.figure.set_size_inches(8, 4.5)
            axes.figure.tight_layout()
            axes.figure.savefig(out / "importances.png", dpi=100)
            plt.close(axes.figure)
            written.append(out / "importances.png")
    return written
