"""Reading seqkit checkpoints safely, and what seqkit adds to Lightning's.

Every checkpoint seqkit writes carries a `"seqkit"` section of plain data (the task's
name, the encoder's class and arguments, the vocabulary, ...) beside Lightning's own
content, so a model can be used again without the config that trained it. Loading always
goes through `torch.load(..., weights_only=True)`: a checkpoint is data, and one whose
pickle would build arbitrary objects (and so could run code) is refused.
"""

from __future__ import annotations

import importlib
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
