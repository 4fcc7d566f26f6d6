"""`seqkit fit|validate|test|predict`: Lightning's own command line, over any task and data.

LightningCLI does the work: `-c CONFIG` (a recipe YAML), `--print_config`, `class_path`
to choose the task, the data and the recurrent cell, and every Trainer flag
(`--trainer.accelerator gpu`, `--trainer.max_epochs 3`, ...). seqkit adds:

- `--init_from CKPT` (fit): start from a trained model's weights and keep its vocabulary
  (and, in later recipes, its label map or scalers): fine-tuning on your own data. Each
  task says what it keeps in its `init_from_checkpoint`.
- `--init_from_backward CKPT` (fit, sentiment): with `--init_from` a forward language
  model, a backward one (`--data.reverse true`) for the reverse direction of a
  bidirectional encoder.
- a summary when training ends: the best validation score and where its checkpoint is.
- runs that survive being killed (`seqkit.training.faults`): checkpoints written atomically,
  `last.ckpt` every `--checkpoint_every_n_steps` steps and after each validation,
  `--ckpt_path last` to resume the newest run under `default_root_dir` in its own folder
  (the same batches, in the same order, with the same random numbers as the lost run),
  and a clear stop when the loss turns NaN or infinite.
- one folder per run, `default_root_dir/lightning_logs/version_N`, with or without a logger:
  a second run never writes into the first one's folder.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from pathlib import Path
from typing import Optional

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.plugins.io import TorchCheckpointIO
import torch
from torch import nn

from seqkit.protocols import Finetunable, Predicts, TakesBackwardModel
from seqkit import console, packaged
from seqkit.modules import recurrent_modules, registry
from seqkit.modules.checks import machine_cores
from seqkit.training import allocator, checkpoints, faults, progress
from seqkit.errors import SeqkitError


class RunConfig(SaveConfigCallback):
    """Lightning's config saver, writing into the run's folder (`folder`, set by SeqkitCLI before
    fitting; a run without a logger has one too) and never over an earlier config (`config-1.yaml`).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{**kwargs, "save_to_log_dir": False})
        self.folder: Path | None = None

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # Rank zero only (Lightning's rule for this hook): no trainer.log_dir, which waits for the other processes.
        folder = self.folder or Path(trainer.loggers[0].log_dir if trainer.loggers else trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path, n = folder / self.config_filename, 0
        while path.exists():
            n += 1
            path = folder / f"{Path(self.config_filename).stem}-{n}{Path(self.config_filename).suffix}"
        self.parser.save(self.config, str(path), skip_unset=False, multifile=self.multifile)


def _check_run_root(root: Path) -> None:
    """Refuse a --trainer.default_root_dir that is a file, or that cannot be written, before any work."""
    if root.exists() and not root.is_dir():
        raise SeqkitError(f"--trainer.default_root_dir {root} is a file; runs need a folder there")
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK):
        raise SeqkitError(f"--trainer.default_root_dir {root}: {existing} cannot be written (read-only or not "
                          "yours); choose another folder")


class SeqkitCLI(LightningCLI):
    """LightningCLI with `--init_from`, resumable runs (`seqkit.training.faults`) and a closing summary."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        if console.QUIET:  # Lightning's table of layers only when asked (--verbose, or this flag)
            parser.set_defaults({"trainer.enable_model_summary": False})
        parser.add_argument(
            "--init_from", type=Optional[str], default=None,
            help="fit only: start from the weights of this seqkit checkpoint and keep its vocabulary (fine-tuning); "
                 "a .ckpt file, or a run folder (its newest run's best checkpoint)",
        )
        parser.add_argument(
            "--init_from_backward", type=Optional[str], default=None,
            help="fit only, with --init_from a forward language model: a backward language model (trained with "
                 "--data.reverse true) whose encoder starts the reverse direction of a bidirectional encoder",
        )
        parser.add_argument(
            "--refit", type=bool, default=False,
            help="fit only, forecasting: after this fit, train a new model on the whole history (the validation span "
                 "too) for the epochs that the validation chose, in DEFAULT_ROOT_DIR_refit, with the validated "
                 "model's conformal intervals",
        )
        parser.add_argument(
            "--checkpoint_every_n_steps", type=int, default=500,
            help="fit only: also write last.ckpt every N training steps, so that a killed run resumed with "
                 "--ckpt_path last loses at most N steps (0: only after each validation)",
        )

    def _set_seed(self) -> None:
        """Refuse a seed numpy cannot take before Lightning seeds with it (its own error is a traceback)."""
        seed = self._get(self.config, "seed_everything")
        if not isinstance(seed, bool) and isinstance(seed, int) and not 0 <= seed < 2**32:
            raise SeqkitError(f"--seed_everything {seed}: a seed is a whole number from 0 to {2**32 - 1}")
        super()._set_seed()

    def instantiate_trainer(self, **kwargs) -> Trainer:
        check_trainer_options(self._get(self.config, "trainer") or {})
        if self.subcommand == "fit":
            self._own_folder_for_other_data(sys.argv[1:])
        trainer = super().instantiate_trainer(**kwargs)
        bar = trainer.progress_bar_callback
        if type(bar).__name__ == "TQDMProgressBar" and not sys.stdout.isatty():  # a log: lines, not redrawn bars
            trainer.callbacks[trainer.callbacks.index(bar)] = progress.LineProgress()
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # Lightning's default; a chosen one is kept
            trainer.strategy.checkpoint_io = checkpoints.AtomicCheckpointIO()
        if self.subcommand in (None, "fit"):  # None: built for a caller's own trainer.fit (seqkit compare)
            trainer.callbacks += [faults.StopOnDivergence(), allocator.StepMemory()]
            if trainer.checkpoint_callback is not None:  # not with enable_checkpointing=False
                every = self._get(self.config, "checkpoint_every_n_steps")
                trainer.callbacks.append(faults.LastCheckpoint(every_n_steps=every))
        return trainer

    def _own_folder_for_other_data(self, argv: list[str]) -> None:
        """A fine-tune of a run in the recipe's folder (`--init_from`) or a fit on a file named on the command line
        (`--data.train_path`) goes to a folder of its own beside the recipe's, unless `--trainer.default_root_dir`
        names one: a later `--ckpt_path RECIPE_FOLDER` must never silently take it for the recipe's own run."""
        def given(*flags: str) -> str | None:
            for k, arg in enumerate(argv):
                for flag in flags:
                    if arg == flag and k + 1 < len(argv):
                        return argv[k + 1]
                    if arg.startswith(flag + "="):
                        return arg.partition("=")[2]
            return None

        trainer = self.config_init[self.subcommand].get("trainer") or {}
        root = trainer.get("default_root_dir")
        if not root or given("--trainer.default_root_dir") is not None:
            return
        data_file, init_from = given("--data.train_path", "--data.init_args.train_path"), given("--init_from")
        if init_from is not None:  # a model of another run (a transfer, as ULMFiT's) leaves the recipe's folder its own
            try:
                source = checkpoints.resolve(init_from, say=False).resolve()
            except SeqkitError:  # said when it is read, in before_fit
                source = None
            if source is None or not source.is_relative_to(Path(root).resolve()):
                init_from = None
        if data_file is None and init_from is None:
            return
        suffix = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(data_file).stem) if data_file else "finetuned"
        own = f"{str(root).rstrip('/')}_{suffix}"
        for config in (self.config_init[self.subcommand], self.config[self.subcommand]):  # config.yaml says it too
            config["trainer"]["default_root_dir"] = own
        what = " and ".join([*([f"starts from --init_from {init_from}"] if init_from else []),
                             *([f"trains on {data_file}"] if data_file else [])])
        console.say(f"seqkit: this run {what}: it goes to {own}, and the recipe's {root} stays as it was "
                    "(--trainer.default_root_dir chooses another folder)")

    def before_fit(self) -> None:
        _check_run_root(Path(self.trainer.default_root_dir))
        trainer = self.trainer
        if trainer.max_epochs == 0 or trainer.max_steps == 0 or trainer.limit_train_batches == 0:
            raise SeqkitError("this fit would train nothing (--trainer.max_epochs, max_steps or limit_train_batches "
                              "is 0); give at least 1, or use seqkit validate to score a model without training")
        init_from = self._get(self.config, "init_from")
        if init_from:
            if not isinstance(self.model, Finetunable):
                raise SeqkitError(f"{type(self.model).__name__} does not support --init_from")
            self.model.init_from_checkpoint(checkpoints.resolve(init_from), self.datamodule)
        backward = self._get(self.config, "init_from_backward")
        if backward:
            if not init_from:
                raise SeqkitError("--init_from_backward goes with --init_from: give the forward language model too")
            if not isinstance(self.model, TakesBackwardModel):
                raise SeqkitError(f"{type(self.model).__name__} does not support --init_from_backward")
            self.model.init_backward_from_checkpoint(checkpoints.resolve(backward))
        self._choose_run_folder()
        say_backends(self.model)

    def _parse_ckpt_path(self) -> None:
        # Lightning 2.6 reads a --ckpt_path file here, right after parsing, for its hyperparameters
        # (which it merges into the model's configuration). Resolve the value first (a file, a run
        # folder, last, best: checkpoints.resolve) and read the file with seqkit's loader, once: a
        # missing, corrupt, foreign or hostile file then gets one clear line, not torch's traceback.
        # (fit's "last" is resolved later, in _choose_run_folder: with none yet, fit starts afresh.)
        subcommand = self.config.get("subcommand")
        if subcommand:
            config = self.config[subcommand]
            if config.get("weights_only") is False:
                raise SeqkitError("--weights_only false is not supported: seqkit's checkpoints are plain data and "
                                  "seqkit never unpickles objects")
            value = config.get("ckpt_path")
            root = (config.get("trainer") or {}).get("default_root_dir") or os.getcwd()
            if subcommand != "fit":
                for option in ("init_from", "init_from_backward"):
                    if config.get(option):
                        raise SeqkitError(f"--{option} belongs to `seqkit fit`; to evaluate a checkpoint use --ckpt_path")
            if subcommand == "fit":
                if value not in (None, "last"):
                    config["ckpt_path"] = str(checkpoints.resolve(value, root, prefer="last"))
            elif value is None:
                raise SeqkitError(
                    f"seqkit {subcommand} needs a trained model: --ckpt_path best (or last) for the recipe's newest run "
                    f"under {root}, a run folder, or a .ckpt file (--ckpt_path none evaluates an untrained model)")
            elif str(value).lower() == "none":
                config["ckpt_path"] = None  # asked for: the model as initialised
            else:
                config["ckpt_path"] = str(checkpoints.resolve(value, root, prefer="best"))
            if config.get("ckpt_path") not in (None, "last"):
                checkpoints.load(config["ckpt_path"], task=self._configured_task(subcommand))
        super()._parse_ckpt_path()

    def _configured_task(self, subcommand: str) -> str | None:
        """The `task_name` of the model class the configuration names (None if it names none)."""
        class_path = self.config[subcommand].get("model", {}).get("class_path")
        module_name, _, name = str(class_path or "").rpartition(".")
        try:
            return getattr(getattr(importlib.import_module(module_name), name), "task_name", None)
        except (ImportError, AttributeError, ValueError):
            return None

    def _choose_run_folder(self) -> None:
        """Resolve `--ckpt_path last`; put this run in a folder of its own, or in the one of the run it resumes."""
        trainer, config = self.trainer, self.config_init[self.subcommand]
        root = Path(trainer.default_root_dir)
        ckpt_path = config.get("ckpt_path")
        if ckpt_path == "last":
            found = faults.newest_last_checkpoint(root)
            if found is None:  # not an error, so that a job script can always pass --ckpt_path last
                print(f"seqkit: no {faults.LAST} under {root} yet: starting a new run", file=sys.stderr)
            ckpt_path = config["ckpt_path"] = str(found) if found else None
        version = faults.run_version(ckpt_path, root) if ckpt_path else None
        if version is None:
            version = faults.next_version(root)
        elif trainer.global_rank == 0:
            print(f"seqkit: resuming {ckpt_path} in {faults.run_folder(root, version)}", file=sys.stderr)
        folder = faults.run_folder(root, version)
        # A resumed run adds its checkpoints to the run's own, and puts its config and logs in
        # resume-K/: Lightning's CSVLogger would delete the metrics.csv of the part before the kill.
        logs = faults.resume_folder(folder) if folder.is_dir() else folder
        # Lightning's default logger picks its own next version; give it this run's folder.
        default_logger = self._get(self.config, "trainer.logger") in (None, True)
        if default_logger and isinstance(trainer.logger, (CSVLogger, TensorBoardLogger)):
            trainer.logger = type(trainer.logger)(save_dir=str(logs.parent), name=logs.name, version="")
        for callback in trainer.callbacks:
            if isinstance(callback, faults.LastCheckpoint):
                callback.dirpath = str(folder / "checkpoints")
            elif isinstance(callback, RunConfig):
                callback.folder = logs

    def _choose_evaluation_folder(self) -> None:
        """validate/test/predict write beside the run of their checkpoint (`version_N/test-K/`), else in a new run.

        A `--trainer.default_root_dir` on the command line that does not hold the checkpoint
        is where the output goes instead (a new run folder under it).
        """
        trainer, root = self.trainer, Path(self.trainer.default_root_dir)
        ckpt_path = self.config_init[self.subcommand].get("ckpt_path")
        checkpoint = Path(ckpt_path).resolve() if ckpt_path else None
        asked = any(arg == "--trainer.default_root_dir" or arg.startswith("--trainer.default_root_dir=")
                    for arg in sys.argv[1:])
        if asked and checkpoint is not None and not checkpoint.is_relative_to(root.resolve()):
            checkpoint = None  # the folder asked for, not the checkpoint's run
        if checkpoint is not None and checkpoint.parent.name == "checkpoints":
            folder = faults.resume_folder(checkpoint.parent.parent, prefix=self.subcommand)
        else:
            folder = faults.run_folder(root, faults.next_version(root))
        if self._get(self.config, "trainer.logger") in (None, True) and isinstance(trainer.logger, (CSVLogger, TensorBoardLogger)):
            trainer.logger = type(trainer.logger)(save_dir=str(folder.parent), name=folder.name, version="")
        for callback in trainer.callbacks:
            if isinstance(callback, RunConfig):
                callback.folder = folder
        self.evaluation_folder = folder

    def _before_evaluation(self) -> None:
        self._choose_evaluation_folder()
        if self.subcommand != "predict":  # predict runs the checkpoint's own model: it says so there
            say_backends(self.model)

    before_validate = before_test = before_predict = _before_evaluation

    def predict(self, model: LightningModule, datamodule: LightningDataModule | None = None,
                ckpt_path: str | None = None, **_) -> None:
        """`seqkit predict`: the trained model's predictions for the recipe's data, as a CSV in the run's folder.

        Each task answers in its own terms (`predict_from(datamodule)`: next words and a
        continuation per prompt, a label and its probabilities per text, a forecast per
        series, a translation per date), the same code as `seqkit generate`, `classify` and
        `forecast`, and returns a DataFrame.
        """
        if not isinstance(model, Predicts):
            raise SeqkitError(f"{type(model).__name__} has no predictions to write")
        device = self.trainer.strategy.root_device
        task = checkpoints.restore(type(model), ckpt_path, map_location=device) if ckpt_path else model.to(device)
        say_backends(task)
        frame = task.predict_from(datamodule)
        if self.trainer.global_rank != 0:
            return
        path = self.evaluation_folder / "predictions.csv"
        faults.atomic_write_text(frame.to_csv(index=False), path)
        print(frame.head(10).to_string(index=False))
        console.say(f"seqkit: wrote {len(frame)} predictions to {path}")

    def after_fit(self) -> None:
        self._summary()
        if self._get(self.config, "refit"):
            self._refit()

    def _refit(self) -> None:
        """`--refit`: a second fit on the whole history for the best epoch's count, as the run's newest model."""
        data, callback = self.datamodule, self.trainer.checkpoint_callback
        if getattr(self.model, "task_name", None) != "forecast" or not hasattr(data, "validates"):
            raise SeqkitError("--refit is for forecasting (ForecastTask on ForecastData): other tasks have no "
                              "whole history to refit on")
        if not data.validates or data.val_start is not None or self.trainer.world_size > 1:
            raise SeqkitError("--refit needs a validation span given by size (--data.val_size above 0, no "
                              "--data.val_start) and one process; otherwise fit again with --data.val_size 0 "
                              "--trainer.max_epochs E yourself")
        best = getattr(callback, "best_model_path", "")
        if not best:
            raise SeqkitError("--refit: this run chose no best epoch (no validation ended), so there is nothing to refit for")
        chosen = checkpoints.load(best)
        epochs = int(chosen["epoch"]) + 1
        args, skip = [], 0
        for arg in sys.argv[1:]:  # this command line, without --refit and --ckpt_path (the refit starts afresh)
            if skip:
                skip -= 1
            elif arg in ("--refit", "--ckpt_path"):
                skip = 1
            elif not arg.startswith(("--refit=", "--ckpt_path=")):
                args.append(arg)
        console.say(f"seqkit: --refit: the validation chose {epochs} epoch(s); now a new model on the whole "
                    "history (the validation span too) for as many")
        folder = f"{str(self.trainer.default_root_dir).rstrip('/')}_refit"  # other data: a folder of its own
        refit = build([*args, "--data.val_size", "0", "--trainer.max_epochs", str(epochs),
                       "--trainer.default_root_dir", folder])
        last = next(c.path for c in refit.trainer.callbacks if isinstance(c, faults.LastCheckpoint))
        state = checkpoints.load(last)
        state["seqkit"]["conformal"] = chosen["seqkit"].get("conformal")  # the validated model's interval radii
        faults.atomic_save(state, last)
        console.say(f"seqkit: --refit: the model to use is {last} (--ckpt_path {folder} finds it), with the "
                    f"conformal intervals of {best}")

    def _summary(self) -> None:
        callback = self.trainer.checkpoint_callback
        if self.trainer.global_rank != 0 or callback is None:
            return
        datamodule = self.datamodule
        oov = getattr(datamodule, "oov_rate", None)
        lines = ["", "seqkit: training finished"]
        if self._get(self.config, "init_from") and oov is not None:
            lines.append(f"  fine-tuned from {self._get(self.config, 'init_from')}; {oov:.2%} of the training tokens were out of its vocabulary (<unk>)")
        parameters = sum(p.numel() for p in self.model.parameters())
        device = self.trainer.strategy.root_device
        where = f"{device}, {self.trainer.num_devices} device(s)" if device.type != "cpu" else "cpu"
        lines.append(f"  model: {type(self.model).__name__}, {parameters:,} parameters, trained on {where}, "
                     f"precision {self.trainer.precision}")
        if callback.best_model_score is not None:
            lines.append(f"  best {callback.monitor}: {callback.best_model_score.item():.4g}")
        last = next((c.path for c in self.trainer.callbacks if isinstance(c, faults.LastCheckpoint)), None)
        for label, path in (("best", callback.best_model_path), ("last", last or callback.last_model_path)):
            if path and os.path.exists(path):  # fast_dev_run, for one, writes none
                lines.append(f"  {label} checkpoint: {path}")
        print("\n".join(lines), file=sys.stderr)


def check_trainer_options(options) -> None:
    """Refuse Trainer options that would fail deep inside Lightning, or silently train wrong, naming the flag.

    A negative clipping norm flips every gradient's sign (training ascends); a NaN one clips
    nothing; `accumulate_grad_batches` 0 divides by zero.

    Raises:
        SeqkitError: the first such option.
    """
    import math

    clip = options.get("gradient_clip_val")
    if clip is not None and not (isinstance(clip, (int, float)) and math.isfinite(clip) and clip >= 0):
        raise SeqkitError(f"--trainer.gradient_clip_val {clip}: the largest gradient norm (or value) kept, a number "
                          "0 or above (0 or null: no clipping)")
    accumulate = options.get("accumulate_grad_batches")
    if accumulate is not None and not (isinstance(accumulate, int) and accumulate >= 1):
        raise SeqkitError(f"--trainer.accumulate_grad_batches {accumulate}: batches per optimizer step, 1 or more")
    devices, accelerator = options.get("devices"), str(options.get("accelerator") or "auto")
    count = int(devices) if isinstance(devices, int) or (isinstance(devices, str) and devices.isdigit()) else None
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if count is not None and on_cpu and count > machine_cores():
        raise SeqkitError(f"--trainer.devices {count}: on the CPU each device is a process of its own, and this machine "
                          f"has {machine_cores()} cores; give at most {machine_cores()} (or auto)")


def say_backends(model: LightningModule) -> None:
    """One line before a run whose recurrent modules do not all run the fused kernel: which path they take, and why.

    `backend="compiled"`: torch.compile compiles before the first batch of each new sequence
    length, while the progress bar waits. `backend="auto"` for a cell without a fused kernel:
    the readable loop.
    """
    modules = task_recurrent_modules(model)
    compiled = sorted({type(m).__name__ for m in modules if m.backend == "compiled"})
    looping = sorted({type(m).__name__ for m in modules if m.backend == "auto" and not m.has_kernel})
    if compiled:
        console.say(f"seqkit: {', '.join(compiled)} run with backend='compiled': torch.compile compiles the loop over "
                    "time before the first batch of each new sequence length (from seconds to minutes on a CPU; "
                    "the progress bar waits meanwhile), then runs it from its cache")
    if looping:
        console.say(f"seqkit: {', '.join(looping)} has no fused kernel: backend='auto' runs its readable loop "
                    "(backend='compiled' compiles that loop, worth it for long fixed-length training)")


def task_recurrent_modules(model: LightningModule) -> list[nn.Module]:
    """The seqkit recurrent modules in `model`, a task.

    Before `configure_model` builds a task's model, its recurrent parts (`parts`, as its
    checkpoint names them: `task.encoder`, ...) are not yet submodules, so they are looked
    at by name too.
    """
    parts = [getattr(model, name, None) for name in getattr(model, "parts", ("encoder",))]
    return recurrent_modules(model, *(part for part in parts if isinstance(part, nn.Module)))


def resolve_configs(args: list[str]) -> list[str]:
    """`args` as LightningCLI takes them: recipe names made files, and seqkit's short names made long.

    - a `-c/--config` value that is a recipe name (`next_word/lstm`) becomes its file; a value
      that is neither a file nor a recipe gets one line naming the recipes (a SeqkitError),
      not LightningCLI's usage screen;
    - a `--model....class_path` that is a registered cell's short name (`mgu`) becomes its class
      path (`mypackage.MGU`);
    - `--seed`, the name the other commands use, becomes Lightning's `--seed_everything`.
    """
    resolved, i = [], 0
    while i < len(args):
        arg = args[i]
        option, eq, value = arg.partition("=")
        if not eq and i + 1 < len(args) and not args[i + 1].startswith("-"):
            value = args[i + 1]
        if option == "--seed":
            resolved.append("--seed_everything" + eq + value if eq else "--seed_everything")
        elif option in ("-c", "--config"):
            if not value:
                raise SeqkitError(f"{option} needs a recipe name or a YAML file (`seqkit recipes` lists the recipes)")
            resolved += [option, packaged.resolve_recipe(value)]
            i += 0 if eq else 1
        elif option.startswith("--model.") and option.endswith(".class_path") and value.lower() in registry.cells():
            resolved += [option, registry.class_path(registry.cells()[value.lower()])]
            i += 0 if eq else 1
        else:
            resolved.append(arg)
        i += 1
    return resolved


_KEY = re.compile(r'Parser key "([^"]+)"')
_EXPECTED = re.compile(r"Expected an? <class '(\w+)'>")
_VALUE = re.compile(r"(?:Given|Got) value: ([^\s(]+?)\.?(?:\s|$)")
_REFUSED_CLASS = re.compile(r'Parser key "([^"]+)": Does not validate against any of the Union subtypes .*?'
                            r"Problem with given class_path '([^']+)': (.*?)(?: - Expected a <class 'NoneType'>.*)?$")


def condensed(message: str) -> str:
    """jsonargparse's refusal of a class argument, as the one reason that matters.

    It explains a refused `--model`/`--data` once per member of their `X | None` type; the
    first says why (`Option 'lr' is not accepted`), the second that it is not None. Other
    messages are kept as they are.
    """
    found = _REFUSED_CLASS.match(message)
    if found is not None and not found.group(3).startswith(("Parser key", "Type ")):
        key, class_path, reason = found.groups()
        return f"--{key} {class_path}: {condensed(reason.strip())}"
    keys = _KEY.findall(message)
    last = message.rfind(f'Parser key "{keys[-1]}"') if keys else -1
    expected, value = _EXPECTED.search(message, max(last, 0)), _VALUE.search(message, max(last, 0))
    if not keys or expected is None or value is None:  # not a value of the wrong type: as jsonargparse says it
        return message if found is None else f"--{found.group(1)} {found.group(2)}: {found.group(3).strip()}"
    kind = {"int": "a whole number", "float": "a finite number", "bool": "true or false", "str": "a string"}
    return (f"--{'.init_args.'.join(keys)} {value.group(1)}: expected "
            f"{kind.get(expected.group(1), 'a ' + expected.group(1))}")


def build(args: list[str], **kwargs) -> SeqkitCLI:
    """SeqkitCLI over any task and data, from `args` as a command line (recipe names resolved).

    `kwargs` go to LightningCLI (e.g. `run=False` to build the model, data and trainer only).
    """
    args = resolve_configs(args)
    # LightningCLI reads sys.argv itself when given no args (and warns when given both).
    saved, sys.argv = sys.argv, [sys.argv[0], *args]
    try:
        # allow_abbrev off: a misspelt key (--trainer.max_epoch) is refused, never taken for another;
        # exit_on_error off: refused in one line, not after a usage screen of every option.
        return SeqkitCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                         **{"save_config_callback": RunConfig,
                            "parser_kwargs": {"allow_abbrev": False, "exit_on_error": False}, **kwargs})
    except argparse.ArgumentError as error:
        command = args[0] if args and not args[0].startswith("-") else "fit"
        message = condensed(" ".join(str(error).split()))  # jsonargparse's message, on one line
        raise SeqkitError(f"{message} (`seqkit {command} --help` lists the options)") from None
    finally:
        sys.argv = saved


def run(args: list[str]) -> int:
    """Run the CLI with `args` (the subcommand first, e.g. `["fit", "-c", "next_word/lstm"]`)."""
    allocator.tune()  # a training loop's large blocks stay in the heap (see seqkit.training.allocator)
    build(args)
    return 0
