"""`seqkit tune`: a search over a recipe's hyperparameters on Optuna, one `seqkit fit` a trial.

    seqkit tune -c forecasting/lstm_airline --trials 20
    seqkit tune -c sentiment/lstm_reviews --trials 20 --timeout 1200 --trainer.max_epochs 15
    seqkit tune -c my.yaml --space my_space.yaml --trials 40 --storage postgresql://me@db/studies

Each trial is the recipe's own `seqkit fit` with the trial's values (and every `seqkit fit`
option given here, which fixes what is not searched). Its value is its best checkpoint's
score by the metric the recipe checkpoints on, in that metric's direction; a trial whose
validation score lags the median of the earlier trials at the same epoch is stopped early
(pruned). The search space is a YAML file of the recipe's own dotted keys
(`seqkit.tuning`, docs/tuning.md); a shipped recipe brings its own. The study folder
(`--output_dir`, default runs/tune/<recipe>) holds:

    study.db          the study (SQLite), unless --storage names another database: running
                      the same command again continues it; a trial killed mid-fit is marked failed
    trial_<n>/        each trial's run: checkpoints, metrics.csv, config.yaml, fit.log
    trials.csv        one row a trial: state, value, epochs, seconds, the values tried
    best.yaml         the best trial's whole recipe: `seqkit fit -c <folder>/best.yaml` trains it again
    history.png       every trial's value and the best so far; importances.png: which values mattered
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import warnings
from pathlib import Path

from seqkit import packaged
from seqkit.errors import SeqkitError

INSTALL = 'seqkit tune needs Optuna: pip install "seqkit[tune]" (optuna and optuna-integration)'
PRUNERS = ("median", "hyperband", "none")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqkit tune", description="Search a recipe's hyperparameters with Optuna: each trial is one `seqkit fit` "
        "of the recipe with the trial's values. Every `seqkit fit` option may follow (e.g. --trainer.max_epochs 10) "
        "and fixes what is not searched.")
    parser.add_argument("-c", "--config", required=True, help="a recipe: its name (forecasting/lstm) or a YAML file")
    parser.add_argument("--space", type=Path, help="the search space, a YAML file of the recipe's dotted keys "
                        "(default: the one shipped beside the recipe, <recipe>.space.yaml)")
    parser.add_argument("--trials", type=int, required=True, help="finished trials (complete or pruned) the study "
                        "should hold; run the command again to continue to them, or with more to go on")
    parser.add_argument("--timeout", type=float, help="start no trial after this many seconds (the running one ends)")
    parser.add_argument("--study", help="the study's name (default: the recipe's name)")
    parser.add_argument("--storage", help="a database URL Optuna takes (sqlite:///..., postgresql://..., mysql://...): "
                        "every `seqkit tune` on one storage and study is a worker of it (default: sqlite in the folder)")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed: trial n draws with seed + n, so a "
                        "study is the same again, and workers never draw alike (default 0)")
    parser.add_argument("--pruner", choices=PRUNERS, default="median", help="stop unpromising trials early: median "
                        "(behind the median of earlier trials at the same epoch, after 5 trials and 2 epochs), "
                        "hyperband, or none (default median)")
    parser.add_argument("--output_dir", type=Path, help="the study folder (default runs/tune/<study>)")
    return parser


def _optuna():
    """Optuna and its Lightning callback, or the line saying how to install them."""
    try:
        import optuna
        from optuna_integration import PyTorchLightningPruningCallback
    except ImportError:
        raise SeqkitError(INSTALL) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # seqkit says what happens, one line a trial
    return optuna, PyTorchLightningPruningCallback


def storage_for(optuna, url: str):
    """Optuna's database storage at `url`, with a heartbeat: a trial whose worker stops beating is failed."""
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # wait for another worker's write
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna calls the heartbeat experimental
                return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=10, grace_period=60)
        except Exception as error:  # noqa: BLE001 - SQLAlchemy's errors name the problem; one line of it
            # Two workers creating one new database at once: one of them finds the other's tables half made.
            if type(error).__name__ in ("OperationalError", "IntegrityError") and attempt < 4:
                time.sleep(0.5 + attempt)
                continue
            raise SeqkitError(f"--storage {url}: {str(error).splitlines()[0]}") from None


def fail_dead_trials(study, storage, state) -> list[int]:
    """Mark failed the running trials of this machine whose process is gone (killed); their numbers.

    Another machine's dead trials are failed by the heartbeat, after its grace period.
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    dead = []
    for trial in study.get_trials(deepcopy=False, states=(state.RUNNING,)):
        pid, host = trial.user_attrs.get("pid"), trial.user_attrs.get("host")
        if host != socket.gethostname() or pid is None or _alive(int(pid)):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        storage.set_trial_user_attr(trial_id, "error", "stopped without finishing: its process is gone (killed)")
        storage.set_trial_state_values(trial_id, state.FAIL)
        dead.append(trial.number)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def main(argv: list[str]) -> int:
    args, overrides = build_parser().parse_known_args(argv)
    if args.trials < 1:
        raise SeqkitError(f"--trials {args.trials}: a study needs at least 1 trial")
    if args.timeout is not None and args.timeout <= 0:
        raise SeqkitError(f"--timeout {args.timeout:g}: give a number of seconds above 0")
    stray = [arg for arg in overrides if arg.startswith("-") and not arg.startswith("--")]
    if stray:
        raise SeqkitError(f"{stray[0]}: not an option of seqkit tune (`seqkit tune --help`); seqkit fit's options "
                          "are written in full, e.g. --trainer.max_epochs 10")
    optuna, pruning_callback = _optuna()
    from seqkit import tuning

    config = Path(packaged.resolve_recipe(args.config))
    name = args.study or (args.config if args.config in packaged.recipe_names() else config.stem)
    space_file = args.space or packaged.space_path(config)
    if space_file is None:
        raise SeqkitError(f"{args.config} ships no search space; write one (docs/tuning.md) and give it with --space")
    space = tuning.read_space(space_file, packaged.read_recipe(config) or {})
    space = tuning.without_fixed(space, overrides)
    out = args.output_dir or Path("runs") / "tune" / name
    out.mkdir(parents=True, exist_ok=True)
    monitor, mode = tuning.check_trial(config, space, overrides, space_file)
    storage = storage_for(optuna, args.storage or f"sqlite:///{(out / 'study.db').resolve()}")
    pruner = {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
              "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1),
              "none": lambda: optuna.pruners.NopPruner()}[args.pruner]()
    study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True, pruner=pruner,
                                direction="minimize" if mode == "min" else "maximize")
    if study.user_attrs.get("monitor", monitor) != monitor:
        raise SeqkitError(f"the study {name!r} in {args.storage or out / 'study.db'} optimises "
                          f"{study.user_attrs['monitor']}, this recipe {monitor}; choose another --study or --output_dir")
    study.set_user_attr("monitor", monitor)
    state = optuna.trial.TrialState
    dead = fail_dead_trials(study, storage, state)
    if dead:
        print(f"tune: trial {', '.join(map(str, dead))} stopped without finishing (the process is gone): marked failed",
              file=sys.stderr)
    finished = (state.COMPLETE, state.PRUNED)
    done = len(study.get_trials(deepcopy=False, states=finished))
    start = time.perf_counter()
    interrupted = False
    trial_runner = tuning.TrialRunner(config, space, overrides, out, monitor, args.seed,
                                      lambda trial: pruning_callback(trial, monitor))
    if done >= args.trials:
        print(f"tune: the study {name!r} already has {done} finished trials (--trials {args.trials}); give more "
              "to go on", file=sys.stderr)
    else:
        print(f"tune: study {name!r}, {args.trials} trials of {config.name} ({done} already), "
              f"{len(space)} values searched ({', '.join(tuning.short(k) for k in space)}), {monitor} "
              f"{'lowest' if mode == 'min' else 'highest'} wins; in {out}", file=sys.stderr)
        stop = optuna.study.MaxTrialsCallback(args.trials, states=finished)
        report = tuning.Progress(args.trials, monitor, start)
        try:
            study.optimize(trial_runner, timeout=args.timeout, catch=(Exception,), callbacks=[stop, report],
                           gc_after_trial=False)
        except KeyboardInterrupt:
            interrupted = True
            print("tune: interrupted; the finished trials are kept (run the same command to go on)", file=sys.stderr)
        if report.error is not None:
            raise SeqkitError(report.error)
    wrote = tuning.write_results(study, out, monitor)
    print(f"\ntune: in {out}: " + ", ".join(p.name for p in wrote), file=sys.stderr)
    return 130 if interrupted else 0
