"""Reading seqkit checkpoints safely, and what seqkit adds to Lightning's.

Every checkpoint seqkit writes carries a `"seqkit"` section of plain data (the task's
name, the encoder's class and arguments, the vocabulary, ...) beside Lightning's own
content, so a model can be used again without the config that trained it. Loading always
goes through `torch.load(..., weights_only=True)`: a checkpoint is data, and one whose
pickle would build arbitrary objects (and so could run code) is refused.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import sys
import zipfile
from pathlib import Path

import torch

from seqkit.errors import CheckpointError

FORMAT = 1


def load(path: str | Path, task: str | None = None, map_location: str | torch.device = "cpu") -> dict:
    """Load a seqkit checkpoint as plain data, on `map_location` (CPU by default).

    Args:
        path: the `.ckpt` file.
        task: if given, the task the checkpoint must belong to (`"next_word"`, ...).

    Raises:
        CheckpointError: missing, truncated or corrupt file; content other than tensors
            and plain data; not written by seqkit; written by another task.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        detail = _unpickling_detail(str(error))
        raise CheckpointError(
            f"refusing to load {path}: it does not load as plain data ({detail}). It is corrupt, or it holds "
            f"pickled objects, which seqkit never unpickles since that can run code"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): {str(error).splitlines()[0]}") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("seqkit"), dict):
        raise CheckpointError(f"{path} is not a seqkit checkpoint (it has no 'seqkit' section); train it with `seqkit fit`")
    found = checkpoint["seqkit"].get("task")
    if task is not None and found != task:
        raise CheckpointError(f"{path} is a checkpoint of the {found!r} task; this needs a {task!r} checkpoint")
    if "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} has no state_dict")
    return checkpoint


def _unpickling_detail(text: str) -> str:
    """The one informative line of torch's long weights_only error (what it refused, or where it stopped)."""
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation")
    for line in text.splitlines():
        line = line.replace("WeightsUnpickler error:", "").strip()
        if line and not line.startswith(boilerplate):
            return line
    return text.splitlines()[0] if text else "unknown error"


def saved_arguments(task_class: type, checkpoint: dict) -> dict:
    """The task's own constructor arguments from a checkpoint's `hyper_parameters`.

    Lightning stores them there; LightningCLI adds bookkeeping (`_class_path`,
    `_instantiator`) and the encoder's config, which the task rebuilds separately.
    """
    accepted = set(inspect.signature(task_class.__init__).parameters) - {"self", "encoder"}
    return {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if k in accepted}


def encoder_spec(encoder: torch.nn.Module) -> dict:
    """`{"class_path": ..., "init_args": {...}}` of a seqkit recurrent module, as plain data."""
    cls = type(encoder)
    return {"class_path": f"{cls.__module__}.{cls.__qualname__}", "init_args": encoder.init_args()}


def build_encoder(spec: dict) -> torch.nn.Module:
    """Rebuild an encoder from `encoder_spec`'s output.

    Only classes from seqkit itself or from modules the program has already imported are
    accepted: importing a module named in a file would run that module's code.
    """
    from seqkit.modules import Recurrent

    class_path = spec.get("class_path", "")
    module_name, _, name = class_path.rpartition(".")
    if not module_name.startswith("seqkit.") and module_name not in sys.modules:
        raise CheckpointError(
            f"the checkpoint's encoder is {class_path}; import {module_name} before loading it "
            f"(seqkit does not import modules named in a checkpoint)"
        )
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise CheckpointError(f"the checkpoint's encoder class {class_path} cannot be found") from None
    if not (isinstance(cls, type) and issubclass(cls, Recurrent)):
        raise CheckpointError(f"the checkpoint's encoder {class_path} is not a seqkit recurrent module")
    return cls(**spec.get("init_args", {}))


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
