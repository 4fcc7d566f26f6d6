"""Reading seqkit checkpoints safely, and what seqkit adds to Lightning's.

Every checkpoint seqkit writes carries a `"seqkit"` section of plain data (the task's
name, the encoder's class and arguments, the vocabulary, ...) beside Lightning's own
content, so a model can be used again without the config that trained it. Loading always
goes through `torch.load(..., weights_only=True)`: a checkpoint is data, and one whose
pickle would build arbitrary objects (and so could run code) is refused.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.pytorch.plugins.io import TorchCheckpointIO

from seqkit.errors import CheckpointError, SeqkitError
from seqkit.text import Vocab
from seqkit.training.faults import atomic_save

FORMAT = 1

# What each task reads from its section when it loads: checked in `load`, so that a section
# edited by hand or written by other code gets an error naming the file and the key, not a
# KeyError inside a task. Keys ending in "vocab" must hold what `Vocab.to_dict` writes,
# "encoder" and "decoder" what `part_spec` writes.
SECTION_KEYS = {
    "next_word": ("encoder", "vocab"),
    "sentiment": ("encoder", "vocab", "labels"),
    "forecast": ("encoder", "shapes", "data", "loss", "baseline"),
    "memory": ("encoder", "shapes"),
    "seq2seq": ("encoder", "decoder", "source_vocab", "target_vocab"),
}

# Tasks that hold their layers as `task.model` (seqkit.models): their weights are named `model.*`.
MODEL_TASKS = ("next_word", "sentiment", "forecast", "memory")


def resolve(value: str | Path, root: str | Path | None = None, prefer: str = "best", say: bool = True) -> Path:
    """The checkpoint file that `value` names: every `--ckpt` and `--ckpt_path` goes through here.

    Args:
        value: a `.ckpt` file; a run folder (a recipe's `default_root_dir`, its
            `lightning_logs/`, or one `version_N/`): the newest run under it; or `"last"` /
            `"best"`: the newest run under `root`.
        root: the folder that `"last"` and `"best"` look under (the recipe's
            `default_root_dir`).
        prefer: in a run, `"best"` (the checkpoint of the best validation score that the
            recipe monitors, `best-*.ckpt`; `last.ckpt` when the run has none) or `"last"`.
        say: print which file was taken when `value` was not a file.

    Raises:
        CheckpointError: nothing to resolve: no such file or folder, or no checkpoint in it.
    """
    from seqkit.console import say as tell

    text = str(value)
    if text in ("last", "best"):
        if root is None:
            raise CheckpointError(f"--ckpt_path {text} needs the recipe's run folder: give -c RECIPE (or a file)")
        folder, prefer = Path(root), text
    else:
        folder = Path(text).expanduser()
        if folder.is_file():
            return folder
        if not folder.is_dir():
            raise CheckpointError(f"checkpoint {folder} does not exist (give a .ckpt file, a run folder, last or best)")
    runs = [p for p in folder.rglob("checkpoints") if p.is_dir() and any(p.glob("*.ckpt"))]
    if folder.name == "checkpoints" and any(folder.glob("*.ckpt")):
        runs.append(folder)
    if not runs:
        raise CheckpointError(f"no checkpoint under {folder}; train with `seqkit fit` first, or give a .ckpt file")
    run = max(runs, key=lambda p: max(f.stat().st_mtime for f in p.glob("*.ckpt")))  # the newest run
    _check_one_recipe(folder, runs, run)
    best = sorted(run.glob("best-*.ckpt"), key=lambda f: f.stat().st_mtime)
    chosen = best[-1] if prefer == "best" and best else run / "last.ckpt"
    if not chosen.is_file():
        chosen = max(run.glob("*.ckpt"), key=lambda f: f.stat().st_mtime)
    if say:
        kind = "its best validation score" if chosen.name.startswith("best-") else "its last state"
        tell(f"seqkit: checkpoint {chosen} ({kind}, newest run under {folder})")
    return chosen


def _check_one_recipe(folder: Path, runs: list[Path], newest: Path) -> None:
    """Refuse to take the newest of runs that trained different models or data (their `config.yaml` differ)."""
    import yaml

    def recipe(run: Path) -> tuple | None:
        try:
            config = yaml.safe_load((run.parent / "config.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError):
            return None  # a run without its config (written by hand, or by Lightning alone): nothing to compare
        return (config.get("model"), config.get("data")) if isinstance(config, dict) else None

    mine = recipe(newest)
    others = [run for run in runs if run != newest and (theirs := recipe(run)) is not None and mine is not None
              and theirs != mine]
    if others:
        names = ", ".join(str(run.parent) for run in [newest, *others][:3])
        raise CheckpointError(f"{folder} holds runs of different models or data ({names}); name the run you mean "
                              f"(e.g. --ckpt_path {newest.parent}), or keep each in a folder of its own "
                              "(--trainer.default_root_dir)")


def load(path: str | Path, task: str | None = None, map_location: str | torch.device = "cpu") -> dict:
    """Load a seqkit checkpoint as plain data, on `map_location` (CPU by default).

    Args:
        path: the `.ckpt` file.
        task: if given, the task the checkpoint must belong to (`"next_word"`, ...).

    Raises:
        CheckpointError: missing, truncated or corrupt file; content other than tensors
            and plain data; not written by seqkit (or by a newer seqkit); written by
            another task; a section or state_dict that is not what seqkit writes.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): the file is empty")
    try:
        with _weights_only_forced(), warnings.catch_warnings():
            # torch's note on a pickle protocol it did not write would come before seqkit's own verdict
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        detail = _unpickling_detail(str(error))
        raise CheckpointError(
            f"refusing to load {path}: it does not load as plain data ({detail}). It is corrupt, or it holds "
            f"pickled objects, which seqkit never unpickles since that can run code"
        ) from None
    except Exception as error:  # noqa: BLE001
        # Corrupt bytes make torch's reader fail in many ways (RuntimeError, EOFError, a zip error,
        # even IndexError or KeyError from a garbled pickle); with weights_only none of them ran code
        # from the file, and every one means the same to the user: the file is not a checkpoint.
        detail = (str(error).strip().splitlines() or [type(error).__name__])[0]  # an EOFError may say nothing
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): {detail}") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("seqkit"), dict):
        raise CheckpointError(f"{path} is not a seqkit checkpoint (it has no 'seqkit' section); train it with `seqkit fit`")
    found = checkpoint["seqkit"].get("task")
    if task is not None and found != task:
        raise CheckpointError(f"{path} is a checkpoint of the {found!r} task; this needs a {task!r} checkpoint")
    if "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} has no state_dict")
    _check_contents(path, checkpoint)
    return checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, with `atomic_save` for files on a local disk (remote URLs: Lightning's own)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or not isinstance(get_filesystem(str(path)), LocalFileSystem):
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_save(checkpoint, path)

    def load_checkpoint(self, path, map_location: Any | None = None, weights_only: bool | None = None) -> dict:
        """Every checkpoint Lightning reads (a resume included) through seqkit's loader: plain data only.

        `weights_only` is ignored: seqkit never unpickles objects, whatever the caller asks.
        """
        if not isinstance(get_filesystem(str(path)), LocalFileSystem):
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        return load(path, map_location=map_location if map_location is not None else "cpu")


@contextlib.contextmanager
def _weights_only_forced():
    """Keep `weights_only=True` even where the environment tells torch to ignore it.

    torch reads TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD at every load and then unpickles anything;
    seqkit's checkpoints are plain data, so nothing it loads ever needs that.
    """
    saved = os.environ.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = saved


def _check_contents(path: Path, checkpoint: dict) -> None:
    """Refuse a seqkit section or state_dict that is not what seqkit writes, naming the file and the key."""
    section = checkpoint["seqkit"]
    version = section.get("format", FORMAT)
    if isinstance(version, bool) or not isinstance(version, int) or version > FORMAT:
        raise CheckpointError(f"{path}: its seqkit section has format {version!r}; this seqkit reads format {FORMAT} "
                              "and older (a newer seqkit wrote it?)")
    task = section.get("task")
    missing = [key for key in SECTION_KEYS.get(task, ()) if key not in section] if isinstance(task, str) else []
    if missing:
        raise CheckpointError(f"{path}: its seqkit section lacks {', '.join(map(repr, missing))}, which a "
                              f"{task!r} checkpoint holds; it was not written by seqkit (or was edited)")
    for key, value in section.items():
        if not isinstance(key, str):
            continue
        if key.endswith("vocab"):
            try:
                Vocab.from_dict(value, source=f"{path}: the checkpoint's {key!r}")
            except SeqkitError as error:
                raise CheckpointError(str(error)) from None
        elif key in ("encoder", "decoder"):
            where = f"{path}: the checkpoint's {key}"
            cls = _encoder_class(value, where)
            try:  # the arguments must fit the class; their values are checked when it is built
                inspect.signature(cls).bind(**value.get("init_args", {}))
            except TypeError as error:
                raise CheckpointError(f"{where} {value['class_path']} cannot be built from its init_args: "
                                      f"{error}") from None
        elif key in ("shapes", "data") and not isinstance(value, dict) and value is not None:
            raise CheckpointError(f"{path}: the checkpoint's {key!r} is {_short(value)}, not a mapping")
        elif key == "labels" and not (isinstance(value, list) and all(isinstance(label, str) for label in value)):
            raise CheckpointError(f"{path}: the checkpoint's 'labels' is {_short(value)}, not a list of label strings")
        elif key == "reverse" and not isinstance(value, bool):
            raise CheckpointError(f"{path}: the checkpoint's 'reverse' is {_short(value)}, not true or false")
    state_dict = checkpoint["state_dict"]
    if not isinstance(state_dict, dict):
        raise CheckpointError(f"{path}: its state_dict is {_short(state_dict)}, not a mapping of names to tensors")
    if task in MODEL_TASKS and state_dict and not any(isinstance(k, str) and k.startswith("model.") for k in state_dict):
        raise CheckpointError(f"{path} was written by a development version of seqkit (its weights are not under "
                              "model.*); train it again with `seqkit fit` and the same recipe")
    odd = [name for name, value in state_dict.items() if not isinstance(name, str) or not isinstance(value, torch.Tensor)]
    if odd:
        raise CheckpointError(f"{path}: its state_dict holds {len(odd)} entries that are not named tensors "
                              f"({', '.join(map(repr, odd[:3]))}); it was not written by seqkit (or was edited)")
    if not isinstance(checkpoint.get("hyper_parameters", {}), dict):
        raise CheckpointError(f"{path}: its hyper_parameters are {_short(checkpoint['hyper_parameters'])}, not a mapping")


def _short(value: object) -> str:
    """A value for a message: its type and at most 40 characters of it."""
    text = repr(value)
    return f"a {type(value).__name__} ({text[:40]}{'...' if len(text) > 40 else ''})"


def _unpickling_detail(text: str) -> str:
    """The one informative line of torch's long weights_only error (what it refused, or where it stopped)."""
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation")
    for line in text.splitlines():
        line = line.replace("WeightsUnpickler error:", "").strip()
        if line and not line.startswith(boilerplate):
            return line
    return text.splitlines()[0] if text else "unknown error"


def compact(path: str | Path, out: str | Path, dtype: torch.dtype = torch.float16) -> int:
    """Write a smaller copy of a seqkit checkpoint, for sharing or for `--init_from`.

    Keeps the seqkit section, the hyperparameters and the weights, with floating-point
    weights stored as `dtype` (half precision by default: loading casts them back to the
    model's dtype); drops the optimizer state and the training loops' state, so the copy
    cannot resume a run. Weights shared in the model (a tied embedding and output layer)
    stay shared in the file. Returns the size of the copy in bytes.
    """
    out = Path(out)
    if out.exists():
        raise CheckpointError(f"{out} already exists; choose a new name for the compact copy")
    checkpoint = load(path)
    converted: dict[tuple, torch.Tensor] = {}
    state_dict = {}
    for name, value in checkpoint["state_dict"].items():
        key = (value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape), tuple(value.stride()))
        if key not in converted:  # a tensor seen under another name is converted once and stays shared
            converted[key] = value.to(dtype) if value.is_floating_point() else value
        state_dict[name] = converted[key]
    atomic_save({"seqkit": checkpoint["seqkit"], "hyper_parameters": checkpoint.get("hyper_parameters", {}),
                 "state_dict": state_dict}, out)
    return out.stat().st_size


def restore(task_class: type, path: str | Path, map_location: str | torch.device = "cpu",
            checkpoint: dict | None = None):
    """A trained task from a checkpoint: its `from_checkpoint` and Lightning's `load_from_checkpoint`.

    `path` is a `.ckpt` file or a run folder (its best checkpoint). The checkpoint is read
    as plain data (`load`; or `checkpoint`, the file's content already loaded by `load`),
    the task rebuilds its layers from the checkpoint's seqkit section
    (`assemble`), the weights are loaded strictly, and the model comes back in
    eval mode on `map_location`.
    """
    path = resolve(path, say=False)
    if checkpoint is None:
        checkpoint = load(path, task=task_class.task_name, map_location=map_location)
    elif checkpoint["seqkit"].get("task") != task_class.task_name:
        raise CheckpointError(f"{path} is a checkpoint of the {checkpoint['seqkit'].get('task')!r} task; this needs a "
                              f"{task_class.task_name!r} checkpoint")
    try:
        task = assemble(task_class, checkpoint)
    except CheckpointError as error:  # a part that cannot be built: say which file holds it
        raise CheckpointError(str(error) if str(error).startswith(str(path)) else f"{path}: {error}") from None
    load_weights(task, checkpoint["state_dict"], f"checkpoint {path}")
    return task.to(map_location).eval()


# Every task saves and reads its checkpoint section the same way. A task names its recurrent
# parts in `parts` (`("encoder",)` unless it says otherwise), takes them as its first
# arguments, and has two methods: `_adopt(section)` takes what the section records (the
# vocabulary, the labels, the data's sizes) and `_build_layers()` builds the model from it.


def section(task, **fields) -> dict:
    """The `checkpoint["seqkit"]` a task writes: the format, the task, its parts' specs, and `fields`."""
    parts = getattr(task, "parts", ("encoder",))
    return {"format": FORMAT, "task": task.task_name, **{part: part_spec(getattr(task, part)) for part in parts},
            **fields}


def section_of(task, checkpoint: dict) -> dict:
    """The seqkit section of a checkpoint that Lightning loads into `task` (resuming, testing).

    Raises:
        CheckpointError: not a seqkit checkpoint, or one of another task.
    """
    section = checkpoint.get("seqkit")
    if section is None:
        raise CheckpointError("not a seqkit checkpoint (no 'seqkit' section)")
    if section.get("task") != task.task_name:
        raise CheckpointError(f"a checkpoint of the {section.get('task')!r} task cannot load into {task.task_name!r}")
    return section


def assemble(task_class: type, checkpoint: dict):
    """The untrained task a checkpoint describes: its parts and arguments, its layers built, no weights yet."""
    section = checkpoint["seqkit"]
    parts = getattr(task_class, "parts", ("encoder",))
    arguments = {k: v for k, v in saved_arguments(task_class, checkpoint).items() if k not in parts}
    task = task_class(*(build_encoder(section[part]) for part in parts), **arguments)
    task._adopt(section)
    task._build_layers()
    return task


def lightning_loader(task_class: type, checkpoint_path, map_location=None, hparams_file=None, strict=None, **kwargs):
    """`Task.load_from_checkpoint`, Lightning's name and arguments, answered by `restore`.

    A seqkit checkpoint holds everything the model needs, so `hparams_file` and argument
    overrides are refused rather than half-applied; `strict` may only be True (the default).
    """
    if hparams_file is not None or kwargs or strict is False:
        given = ", ".join([*(["hparams_file"] if hparams_file is not None else []), *kwargs,
                           *(["strict=False"] if strict is False else [])])
        raise SeqkitError(f"{task_class.__name__}.load_from_checkpoint takes a checkpoint and map_location only "
                          f"(got {given}): a seqkit checkpoint carries its own configuration")
    return restore(task_class, checkpoint_path, "cpu" if map_location is None else map_location)


def saved_arguments(task_class: type, checkpoint: dict) -> dict:
    """The task's own constructor arguments from a checkpoint's `hyper_parameters`.

    Lightning stores them there; LightningCLI adds bookkeeping (`_class_path`,
    `_instantiator`) and the encoder's config, which the task rebuilds separately.
    """
    # The optimizer and scheduler are the recipe's, not the model's (earlier checkpoints held "sgd", lr, ...).
    accepted = set(inspect.signature(task_class.__init__).parameters) - {"self", "optimizer", "lr_scheduler"}
    accepted -= set(getattr(task_class, "parts", ("encoder",)))
    return {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if k in accepted}


def part_spec(part: object) -> dict | None:
    """`{"class_path": ..., "init_args": {...}}` of a part chosen by class, as plain data (None stays None).

    A seqkit recurrent module, a forecast loss or baseline: `init_args()` where the part has it.
    """
    if part is None:
        return None
    cls = type(part)
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}",
            "init_args": part.init_args() if hasattr(part, "init_args") else {}}


def build_part(spec: dict | None, allowed: tuple[type, ...]) -> object:
    """The part a `part_spec` describes, built only from the `allowed` classes (None stays None).

    Raises:
        CheckpointError: a class that is not one of `allowed`.
    """
    if spec is None:
        return None
    for cls in allowed:
        if spec.get("class_path") == f"{cls.__module__}.{cls.__qualname__}":
            return cls(**spec.get("init_args", {}))
    raise CheckpointError(f"the checkpoint names {spec.get('class_path')!r}, which is none of "
                          f"{', '.join(c.__name__ for c in allowed)}")


def build_encoder(spec: dict) -> torch.nn.Module:
    """Rebuild an encoder from `part_spec`'s output.

    Only classes from seqkit itself or from modules the program has already imported are
    accepted: importing a module named in a file would run that module's code.
    """
    cls = _encoder_class(spec, "the checkpoint's encoder")
    try:
        return cls(**spec.get("init_args", {}))
    except (TypeError, ValueError) as error:  # arguments the class does not take, or values it refuses
        raise CheckpointError(f"the checkpoint's encoder {spec['class_path']} cannot be built from its init_args: "
                              f"{error}") from None


def _encoder_class(spec: object, where: str) -> type:
    """The seqkit recurrent class that a `part_spec` names; `where` names the spec in messages.

    The class must already be known (`seqkit.modules.registry`): seqkit's own, an installed
    package's, or one in a module the program imported. Naming a module never imports it:
    a checkpoint is data, and importing a module named in a file would run that module's code.

    Raises:
        CheckpointError: not a spec, a class nothing made known (naming both ways to do so),
            or a class that is not a seqkit recurrent module.
    """
    from seqkit.modules import registry

    if not (isinstance(spec, dict) and isinstance(spec.get("class_path"), str)
            and isinstance(spec.get("init_args", {}), dict)):
        raise CheckpointError(f"{where} is {_short(spec)}, not a class_path with init_args as seqkit writes it")
    class_path = spec["class_path"]
    module_name = class_path.rpartition(".")[0]
    try:
        return registry.cell_class(class_path)
    except SeqkitError:
        if module_name in sys.modules:
            raise CheckpointError(f"{where} {class_path} is not a seqkit recurrent module") from None
    raise CheckpointError(f"{where} is {class_path}, which nothing installed or imported provides (a checkpoint never "
                          f"makes seqkit import code); to load it, {registry.OPT_IN}")


def load_weights(module: torch.nn.Module, state_dict: dict, source: str, only: tuple[str, ...] | None = None) -> list[str]:
    """Copy checkpoint weights into `module`, with an error that says what does not fit.

    Args:
        module: the model to fill.
        state_dict: the checkpoint's `state_dict`.
        source: how to name the checkpoint in messages.
        only: if given, load just the entries under these prefixes (for example
            `("embedding.", "encoder.")` when a new head is trained on a pretrained body);
            the entries that fit are loaded and the others left as initialised.

    Returns:
        The names of the loaded entries.

    Raises:
        CheckpointError: without `only`, any missing, unexpected or differently shaped entry.
    """
    own = module.state_dict()
    if only is None:
        mismatched = [k for k, v in state_dict.items() if k in own and own[k].shape != v.shape]
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if mismatched or missing or unexpected:
            raise CheckpointError(
                f"the {source} does not fit this model (missing {missing[:3]}, unexpected {unexpected[:3]}, "
                f"other shape {mismatched[:3]}); use the recipe that trained it"
            )
        module.load_state_dict(state_dict, strict=True)
        return list(state_dict)
    chosen = {k: v for k, v in state_dict.items() if k.startswith(only) and k in own and own[k].shape == v.shape}
    module.load_state_dict(chosen, strict=False)
    return list(chosen)
