"""The checks a recurrent module runs on what it is given: input and initial state, each error naming expected and given.

Functions of the module they check, so that `recurrent.py` keeps to the layers and the loop.
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor

State = tuple[Tensor, ...]


def check_input(module, x: Tensor, weight: Tensor, packed: bool) -> None:
    """Refuse input of the wrong rank, feature size, dtype or device for `module`, a recurrent module (a ValueError)."""
    name = type(module).__name__
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} expects a tensor or a PackedSequence as input, got {type(x).__name__}")
    ranks = (2,) if packed else (2, 3)
    if x.dim() not in ranks:
        layout = "(B, T, input_size)" if module.batch_first else "(T, B, input_size)"
        raise ValueError(
            f"{name} expects input of shape {layout} or (T, input_size) for one sequence; "
            f"got a {x.dim()}-D tensor of shape {tuple(x.shape)}"
        )
    if x.size(-1) != module.input_size:
        raise ValueError(
            f"{name} was built with input_size={module.input_size}, but the input's last "
            f"dimension is {x.size(-1)} (shape {tuple(x.shape)})"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{name} expects floating-point input, got {x.dtype}; token ids go through "
            f"an nn.Embedding first, other data through x.float()"
        )
    if x.dtype != weight.dtype and not torch.is_autocast_enabled(x.device.type):
        raise ValueError(
            f"{name} input dtype {x.dtype} does not match its weights ({weight.dtype}); "
            f"convert the input with x.to({weight.dtype}) or the module with .to({x.dtype})"
        )
    if x.device != weight.device:
        raise ValueError(
            f"{name} input is on {x.device} but its weights are on {weight.device}; "
            f"move one of them with .to(...)"
        )

def initial_state(module, hx: Tensor | State | None, batch: int, unbatched: bool, weight: Tensor) -> State:
    """The initial state as a tuple of `(L*D, B, H)` tensors (zeros when `hx` is None)."""
    name = type(module).__name__
    layers = module.num_layers * module.num_directions
    if hx is None:
        zeros = torch.zeros(layers, batch, module.hidden_size, dtype=weight.dtype, device=weight.device)
        return (zeros,) * module.state_size
    if module.state_size > 1:
        if not isinstance(hx, (tuple, list)) or len(hx) != module.state_size:
            raise ValueError(f"{name} expects hx as a tuple (h_0, c_0) of {module.state_size} tensors, got {type(hx).__name__}")
        parts = tuple(hx)
    else:
        if not isinstance(hx, Tensor):
            raise ValueError(f"{name} expects hx as one tensor h_0, got {type(hx).__name__}")
        parts = (hx,)
    expected = (layers, module.hidden_size) if unbatched else (layers, batch, module.hidden_size)
    for label, part in zip(("h_0", "c_0"), parts):
        if not isinstance(part, Tensor) or tuple(part.shape) != expected:
            given = tuple(part.shape) if isinstance(part, Tensor) else type(part).__name__
            raise ValueError(
                f"{name} expects {label} of shape {expected} "
                f"(num_layers * num_directions, {'' if unbatched else 'batch, '}hidden_size), got {given}"
            )
        if part.dtype != weight.dtype and not torch.is_autocast_enabled(part.device.type):
            raise ValueError(f"{name} expects {label} of dtype {weight.dtype}, got {part.dtype}")
        if part.device != weight.device:
            raise ValueError(f"{name} expects {label} on {weight.device}, got it on {part.device}")
    return tuple(p.unsqueeze(1) for p in parts) if unbatched else parts


def machine_memory() -> int | None:
    """This machine's physical memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def machine_cores() -> int:
    """The CPU cores this process may run on (its affinity, where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_size(module, shapes: list[dict[str, tuple[int, ...]]], dtype: torch.dtype | None) -> None:
    """Refuse parameters that would not fit in this machine's memory, before any is allocated (a ValueError).

    `shapes` holds each layer and direction's `parameter_shapes`. A mistyped `hidden_size` (1e9)
    or `num_layers` would otherwise ask the allocator for terabytes and end in a traceback or
    the out-of-memory killer.
    """
    count = sum(math.prod(shape) for layer in shapes for shape in layer.values())
    size = count * torch.empty((), dtype=dtype).element_size()
    memory = machine_memory()
    if memory is not None and size > memory:
        raise ValueError(f"{type(module).__name__}(input_size={module.input_size}, hidden_size={module.hidden_size}, "
                         f"num_layers={module.num_layers}) would hold {count:,} parameters ({size / 2**30:,.1f} GiB), "
                         f"more than this machine's {memory / 2**30:,.1f} GiB of memory")
