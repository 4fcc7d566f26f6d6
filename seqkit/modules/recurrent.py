"""The machinery shared by every recurrent layer: parameters, checks, layers and directions.

A cell (`rnn.py`, `lstm.py`, `gru.py`) contributes only its *step*: a few lines that
turn one timestep's input projection and the previous state into the next state. This
file owns everything around the step, once for all cells:

- the parameters, named exactly as in `torch.nn` (`weight_ih_l0`, `bias_hh_l1_reverse`, ...);
- the input checks, with errors that name the expected and the given shapes;
- the `loop` backend: for each layer and direction, the input projection of all timesteps
  in one matmul, then a Python loop over time that calls the cell's step;
- variable-length batches (`PackedSequence`): at timestep t only the first
  `batch_sizes[t]` sequences are still running, so the state simply shrinks (forward
  direction) or grows (reverse direction); padding never reaches a step;
- the `fused` backend: the same parameters handed to torch's fused kernel (`torch._VF`,
  which runs oneDNN on CPU and cuDNN on GPU);
- the `compiled` backend: the `loop` backend's code, steps and all, through `torch.compile`;
- the `auto` backend (the default): the fused kernel where the cell has one, else the loop;
- the class's own checks: a subclass that declares its gates inconsistently is refused
  when it is defined, and every subclass enters the registry of cells (`registry.py`).

Tensors are batch-first by default, as everywhere in seqkit; inside the loop they are
time-major, `(T, B, ...)`, which is also the order of a `PackedSequence`.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Protocol

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence

from seqkit.modules.checks import check_input, check_size, initial_state
from seqkit.modules.compiled import ATTRIBUTE as _COMPILED, forward as compiled_forward
from seqkit.modules.scan import _bind, _RecurrentWeightGrad, _scan, previous_states

State = tuple[Tensor, ...]
"""A recurrent state: `(h,)` for the RNN and GRU, `(h, c)` for the LSTM."""

DEFINED: dict[str, type] = {}
"""Every subclass of `Recurrent` by lower-case class name, as its module defines it (`registry.py` reads it)."""

STEMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
"""torch.nn's parameters of a layer and direction, which every step receives by position."""

BACKENDS = ("auto", "fused", "loop", "compiled")
"""How a module runs (all give the same numbers): `auto` takes the fused kernel where the cell has
one and the readable loop elsewhere; `fused`, `loop` and `compiled` ask for one path."""


class CellStep(Protocol):
    """The contract of a cell's step function, the one piece a new cell must write.

    Args:
        x_proj: this timestep's input projection, `(B, G*H)`: `x_t @ W_ih^T + b_ih`
            (plus `b_hh` when the cell class sets `linear_recurrence`), computed for all
            timesteps at once before the loop.
        state: the previous state, a tuple of `(B, H)` tensors.
        weight_hh: the recurrent weight `W_hh`, `(G*H, H)`.
        bias_hh: the recurrent bias `b_hh`, `(G*H,)`, or None when it was folded into
            `x_proj` or the layer has no bias.

    Parameters a cell declares beyond these four (`parameter_shapes`: peephole weights,
    layer-norm gains) come as keyword arguments named by their stem.

    Returns:
        The new state (same structure as `state`; its first element is the output h_t)
        and a dict of named intermediate tensors (`"pre"` for the pre-activation, gates by
        their letters) that `seqkit.diagnostics.trace` shows. Returning them costs nothing.
    """

    def __call__(
        self, x_proj: Tensor, state: State, weight_hh: Tensor, bias_hh: Tensor | None
    ) -> tuple[State, dict[str, Tensor]]: ...


# Called after every step when diagnostics watch a run:
# observe(layer, direction, t, state, internals).
Observer = Callable[[int, int, int, State, dict[str, Tensor]], None]


class Recurrent(nn.Module):
    """A stack of recurrent layers over one cell; subclasses say which cell.

    A subclass sets the class attributes below and the step function; see
    `seqkit/modules/gru.py` for a complete example and `docs/extending.md` for the guide.

    Attributes:
        gates: how many blocks of H rows `weight_ih` and `weight_hh` stack (RNN 1, LSTM 4, GRU 3).
        state_size: tensors in the state (1 for `h`, 2 for `(h, c)`).
        linear_recurrence: the step's first line is `x_proj + h_{t-1} @ W_hh^T` and W_hh
            is used nowhere else (true for RNN and LSTM; GRU multiplies part of the
            recurrent term by r_t). Then seqkit adds `b_hh` to the hoisted projection and
            computes W_hh's gradient in one matmul over all timesteps, not one per step.
        step: the cell's step function (see `CellStep`).
        fused_kernel: the matching `torch._VF` function, or None if the cell has none
            (then `backend="fused"` is refused and `"auto"` runs the loop).
        cudnn_mode: the name cuDNN knows the cell by (`"LSTM"`, ...), for weight flattening.
        gate_names: optional, one letter or word per gate block of `weight_hh`, in order
            (`("i", "f", "g", "o")`): the names `seqkit trace` shows the blocks by.
        formula: optional lines of the cell's equations, which `seqkit trace` prints.
        torch_twin: the torch.nn module that computes the same thing with the same
            parameters, if any (`seqkit modules` checks equality against it and times
            both; a cell without one is timed beside torch.nn.LSTM).
    """

    gates: int = 1
    state_size: int = 1
    linear_recurrence: bool = True
    step: CellStep
    fused_kernel: Callable | None = None
    cudnn_mode: str | None = None
    gate_names: tuple[str, ...] | None = None
    formula: tuple[str, ...] = ()
    torch_twin: type[nn.Module] | None = None

    def __init_subclass__(cls, **kwargs) -> None:
        """Check what a new cell class declares, then enter it in the registry of cells."""
        super().__init_subclass__(**kwargs)
        problems = []
        if isinstance(cls.gates, bool) or not isinstance(cls.gates, int) or cls.gates < 1:
            problems.append(f"gates must be a positive integer, got {cls.gates!r}")
        elif cls.gate_names is not None and len(cls.gate_names) != cls.gates:
            problems.append(f"gate_names {tuple(cls.gate_names)} names {len(cls.gate_names)} blocks but gates = {cls.gates}")
        if isinstance(cls.state_size, bool) or not isinstance(cls.state_size, int) or cls.state_size < 1:
            problems.append(f"state_size must be a positive integer, got {cls.state_size!r}")
        if not callable(getattr(cls, "step", None)) and not isinstance(getattr(cls, "step", None), property):
            problems.append("it has no step function (step = staticmethod(my_step))")
        if problems:
            raise TypeError(f"{cls.__module__}.{cls.__qualname__}: {'; '.join(problems)} (docs/extending.md)")
        # A class defined again by the same module (a script run twice, a notebook) takes the
        # place of the earlier one; one of the same name from another module keeps its class path only.
        known = DEFINED.setdefault(cls.__name__.lower(), cls)
        if (known.__module__, known.__qualname__) == (cls.__module__, cls.__qualname__):
            DEFINED[cls.__name__.lower()] = cls

    def parameter_shapes(self, layer_input: int) -> dict[str, tuple[int, ...]]:
        """The parameters of one layer and direction by stem, in order: what a cell owns.

        torch.nn's layout by default: `weight_ih (G*H, I)`, `weight_hh (G*H, H)` and, with
        `bias`, `bias_ih (G*H,)` and `bias_hh (G*H,)`. A cell of other shapes overrides
        this (an IndRNN's `weight_hh` is one recurrent weight per unit, `(H,)`); `weight_ih`
        comes first and the step receives whatever `weight_hh` and `bias_hh` are. Stems of
        its own (`peephole`) reach the step as keyword arguments of the same name.
        """
        rows, hidden = self.gates * self.hidden_size, self.hidden_size
        shapes = {"weight_ih": (rows, layer_input), "weight_hh": (rows, hidden)}
        if self.bias:
            shapes.update(bias_ih=(rows,), bias_hh=(rows,))
        return shapes

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        backend: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.backend = backend  # checked by __setattr__ below

        factory = {"device": device, "dtype": dtype}
        directions = 2 if bidirectional else 1
        shapes = [self.parameter_shapes(input_size if layer == 0 else hidden_size * directions)
                  for layer in range(num_layers) for _ in range(directions)]
        check_size(self, shapes, dtype)
        # The parameters, in torch.nn's order and with its names, so that state dicts
        # move between seqkit and torch.nn in both directions.
        self._weight_names: list[tuple[str, ...]] = []  # one tuple per (layer, direction)
        for layer in range(num_layers):
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                names = []
                for stem, shape in shapes[layer * directions + direction].items():
                    self.register_parameter(stem + suffix, nn.Parameter(torch.empty(shape, **factory)))
                    names.append(stem + suffix)
                self._weight_names.append(tuple(names))
        self.reset_parameters()

    def __setattr__(self, name: str, value: object) -> None:
        if name == "backend":
            if value not in BACKENDS:
                raise ValueError(f"backend must be one of {BACKENDS}, got {value!r}")
            if value == "fused" and type(self).fused_kernel is None:  # a property (the RNN's) decides per instance
                raise ValueError(f"{type(self).__name__} has no fused kernel; use backend='auto' (the default) or "
                                 "'loop', or 'compiled' for fixed-length training")
        super().__setattr__(name, value)

    @property
    def has_kernel(self) -> bool:
        """Whether torch has a fused kernel for this cell (what `backend="auto"` takes)."""
        return self.fused_kernel is not None

    def path(self, steps: int, device_type: str = "cpu", packed: bool = False) -> str:
        """The path that runs `steps` timesteps here: `"fused"`, `"compiled"` or `"loop"`. The one rule of `forward`.

        - `compiled` runs its compiled loop, except for one step or inside another compilation
          (which traces the loop itself) or an export (which takes the kernel, one op for any
          length, where the cell has one).
        - `fused` and `auto` run the kernel where the cell has one, except for one step on
          the CPU (oneDNN's setup costs more than the step itself: 0.6 ms against 0.3 ms for a
          1 x 256 LSTM, and a keyboard or a sampler feeds one word at a time) and under
          torch.compile, to which the kernel is opaque: it traces the loop and fuses the steps.
        - everything else is the readable loop.
        """
        exporting = torch.compiler.is_exporting() or torch.jit.is_tracing()
        compiling = torch.compiler.is_compiling() and not exporting
        if self.backend == "compiled" and steps > 1 and not (exporting or compiling):
            return "compiled"
        one_cpu_step = not packed and steps == 1 and device_type == "cpu"
        if self.backend != "loop" and self.has_kernel and not (one_cpu_step or compiling):
            return "fused"
        return "loop"

    def init_args(self) -> dict:
        """The constructor arguments as plain data (what a checkpoint stores to rebuild the module)."""
        return {
            "input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
            "bias": self.bias, "batch_first": self.batch_first, "dropout": self.dropout,
            "bidirectional": self.bidirectional, "backend": self.backend,
        }

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        for name, default in (("num_layers", 1), ("bias", True), ("batch_first", True), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text + f", backend={self.backend!r}"

    def layer_weights(self, layer: int, direction: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """`(W_ih, W_hh, b_ih, b_hh)` of one layer and direction (biases None without bias)."""
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return tuple(getattr(self, stem + suffix, None) for stem in STEMS)

    def layer_extras(self, layer: int, direction: int) -> dict[str, Tensor]:
        """The parameters a cell declares beyond torch.nn's four (peepholes, gains), by stem: its step's keywords."""
        suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        names = self._weight_names[layer * self.num_directions + direction]
        return {name.removesuffix(suffix): getattr(self, name) for name in names if name.removesuffix(suffix) not in STEMS}

    # ------------------------------------------------------------------ forward

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | State | None = None):
        """Run the stack over a sequence.

        Args:
            input: `(B, T, input_size)` with `batch_first=True` (seqkit's default),
                `(T, B, input_size)` otherwise, `(T, input_size)` for one unbatched
                sequence, or a `PackedSequence` of variable-length sequences.
            hx: the initial state, zeros if None: `h_0` of shape
                `(num_layers * num_directions, B, H)` (`(num_layers * num_directions, H)`
                for unbatched input); for the LSTM the pair `(h_0, c_0)`.

        Returns:
            `(output, h_n)`, or `(output, (h_n, c_n))` for the LSTM. `output` holds the
            last layer's h_t for every t, directions concatenated: `(B, T, D*H)` (or a
            `PackedSequence` when the input was one); `h_n` and `c_n` hold the final state
            of every layer and direction, `(num_layers * num_directions, B, H)`.

        Raises:
            ValueError: for input of the wrong rank, feature size, dtype or device, or a
                state of the wrong shape; the message names the expected and the given.
        """
        weight = self.weight_ih_l0
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_indices, unsorted_indices = input
            check_input(self, data, weight, packed=True)
            batch, unbatched = int(batch_sizes[0]), False
        else:
            check_input(self, input, weight, packed=False)
            unbatched = input.dim() == 2
            if unbatched:
                input = input.unsqueeze(0 if self.batch_first else 1)
            batch = input.size(0 if self.batch_first else 1)
            batch_sizes = sorted_indices = unsorted_indices = None

        state = initial_state(self, hx, batch, unbatched, weight)
        if sorted_indices is not None:
            # hx follows the user's batch order; the packed data is sorted by length.
            state = tuple(s.index_select(1, sorted_indices) for s in state)

        steps = len(batch_sizes) if batch_sizes is not None else input.size(1 if self.batch_first else 0)
        series = data if batch_sizes is not None else input
        path = self.path(steps, series.device.type, packed=batch_sizes is not None)
        if path == "compiled":
            output, state = compiled_forward(self, series, batch_sizes, state)  # seqkit/modules/compiled.py
        elif path == "fused":
            output, state = self._forward_fused(series, batch_sizes, state)
        else:
            output, state = self._forward_loop(series, batch_sizes, state)

        if batch_sizes is not None:
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                state = tuple(s.index_select(1, unsorted_indices) for s in state)
        elif unbatched:
            output = output.squeeze(0 if self.batch_first else 1)
            state = tuple(s.squeeze(1) for s in state)
        return output, (state if self.state_size > 1 else state[0])

    def _forward_fused(self, input: Tensor, batch_sizes: Tensor | None, state: State) -> tuple[Tensor, State]:
        """The fused kernel over the same parameters (oneDNN on CPU, cuDNN on GPU)."""
        if self.fused_kernel is None:
            raise ValueError(f"{type(self).__name__} has no fused kernel; build it with backend='loop'")
        weights = [getattr(self, name) for names in self._weight_names for name in names]
        hx = state if self.state_size > 1 else state[0]
        flags = (self.bias, self.num_layers, self.dropout, self.training, self.bidirectional)
        if batch_sizes is None:
            result = self.fused_kernel(input, hx, weights, *flags, self.batch_first)
        else:
            result = self.fused_kernel(input, batch_sizes, hx, weights, *flags)
        return result[0], tuple(result[1:])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop(_COMPILED, None)  # bound to this instance; a copy compiles its own
        return state

    def _forward_loop(
        self, input: Tensor, batch_sizes: Tensor | None, state: State, observe: Observer | None = None,
        lengths: Tensor | None = None, scan: Callable | None = None,
    ) -> tuple[Tensor, State]:
        """The readable path: layers, directions, and a Python loop over time.

        `input` is `(B, T, I)` / `(T, B, I)`, or the `(N, I)` data of a PackedSequence
        with its `batch_sizes`; or padded with each sequence's `lengths (B,)`. Returns the
        output in the same layout and the final state. `scan`, for padded input, replaces
        the loop over time of each layer and direction: `seqkit.modules.scan.scan_padded`
        with the step bound, compiled (the `compiled` backend).
        """
        packed = batch_sizes is not None
        alive = alive_mask = None
        if packed:
            step_sizes = batch_sizes.tolist()
        elif self.batch_first:
            # (B, T, I) -> (T, B, I): time-major inside, and contiguous so that every
            # timestep's slice of the projection below is one contiguous block.
            input = input.transpose(0, 1).contiguous()
        if lengths is not None:
            time = torch.arange(input.shape[0], device=input.device)
            alive_mask = (time[:, None] < lengths.to(input.device)[None, :]).unsqueeze(-1)  # (T, B, 1)
            alive = alive_mask.unbind(0)
        layer_input = input
        finals: list[State] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                w_ih, w_hh, b_ih, b_hh = self.layer_weights(layer, direction)
                extras = self.layer_extras(layer, direction)  # a cell's own parameters, passed to its step by name
                step = partial(self.step, **extras) if extras else self.step
                if self.linear_recurrence and b_ih is not None:
                    b_ih, b_hh = b_ih + b_hh, None
                # Hoisting: x_t @ W_ih^T + b for every timestep in one matmul.
                x_proj = F.linear(layer_input, w_ih, b_ih)  # (T, B, G*H) or (N, G*H)
                h_prev = None
                if (self.linear_recurrence and w_hh.requires_grad and torch.is_grad_enabled()
                        and not torch.compiler.is_compiling()):  # a list filled after forward: not traceable
                    # W_hh's gradient as one matmul over all timesteps (see _RecurrentWeightGrad);
                    # the loop itself sees W_hh as a constant.
                    h_prev = []
                    x_proj = _RecurrentWeightGrad.apply(x_proj, w_hh, h_prev)
                    w_hh = w_hh.detach()
                index = layer * self.num_directions + direction
                initial = tuple(s[index] for s in state)
                if scan is None:
                    # unbind/split, never x_proj[t] in the loop: indexing would make each step's
                    # backward write a zero tensor the size of x_proj (quadratic in T).
                    steps = x_proj.split(step_sizes) if packed else x_proj.unbind(0)
                    watch = None if observe is None else _bind(observe, layer, direction)
                    hs, final = _scan(step, steps, initial, w_hh, b_hh, direction == 1, watch, h_prev, alive)
                    hs = torch.cat(hs) if packed else torch.stack(hs)  # (N, H) or (T, B, H)
                else:  # the same walk over time as one compiled graph, which leaves h_prev to be filled here
                    hs, final = scan(x_proj, initial, w_hh, b_hh, direction == 1, alive_mask, extras)  # (T, B, H)
                    if h_prev is not None:
                        h_prev.append(previous_states(hs, initial[0], direction == 1).flatten(0, 1))
                outputs.append(hs)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                # As torch.nn: dropout on the outputs of every layer but the last.
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output = layer_input if packed or not self.batch_first else layer_input.transpose(0, 1)
        state = tuple(torch.stack([final[k] for final in finals]) for k in range(self.state_size))
        return output, state

    def run_observed(self, input: Tensor, hx: Tensor | State | None = None, observe: Observer | None = None,
                     batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None) -> tuple[Tensor, State]:
        """The readable loop path, whatever the backend, calling `observe` after every step.

        The hook through which `seqkit.diagnostics` reads the recurrence: `observe(layer,
        direction, t, state, internals)` sees each step's new state and the step function's
        internals (gates, pre-activations).

        Args:
            input: a batched `(B, T, I)` (`(T, B, I)` without `batch_first`), or the data of a
                PackedSequence with its `batch_sizes` (and `sorted_indices`, which `hx`
                follows as the user's batch order).
            hx: the initial state as `forward` takes it; zeros if None.

        Returns:
            The output in the layout of `input`, and the final state as a tuple.
        """
        weight = self.weight_ih_l0
        check_input(self, input, weight, packed=batch_sizes is not None)
        batch = int(batch_sizes[0]) if batch_sizes is not None else input.size(0 if self.batch_first else 1)
        state = initial_state(self, hx, batch, False, weight)
        if sorted_indices is not None:
            state = tuple(s.index_select(1, sorted_indices) for s in state)
        return self._forward_loop(input, batch_sizes, state, observe=observe)

    def forward_padded(self, input: Tensor, lengths: Tensor, hx: Tensor | State | None = None):
        """`forward` over a padded batch whose sequences end at their `lengths (B,)`: packing without packing.

        The readable loop runs every sequence over all T steps and keeps each one's state
        where its sequence has ended (going forwards) or not yet begun (backwards), so the
        final states equal those of a PackedSequence and the output at each real step too;
        the output past a sequence's length repeats its last state (forwards) and is best
        masked. Every shape is fixed by T alone, which `torch.export` needs: it is the
        form a sentiment model takes into a pt2 file.

        Returns:
            `(output (B, T, D*H), h_n)` as `forward` (`(h_n, c_n)` for the LSTM).
        """
        check_input(self, input, self.weight_ih_l0, packed=False)
        state = initial_state(self, hx, input.size(0 if self.batch_first else 1), False, self.weight_ih_l0)
        output, state = self._forward_loop(input, None, state, lengths=lengths)
        return output, (state if self.state_size > 1 else state[0])

    def check_input(self, x: Tensor, packed: bool = False) -> None:
        """Refuse input of the wrong rank, feature size, dtype or device, as `forward` does (a ValueError)."""
        check_input(self, x, self.weight_ih_l0, packed)

    # ------------------------------------------------------------------ cuDNN

    def flatten_parameters(self) -> None:
        """Put the weights in one contiguous block so cuDNN needs no copy (a no-op on CPU).

        Called after every `.to()`/`.cuda()`, as `torch.nn` does.
        """
        weights = [getattr(self, name) for names in self._weight_names for name in names]
        first = weights[0]
        if (
            self.cudnn_mode is None
            or not first.is_cuda
            or any(w.dtype != first.dtype or not torch.backends.cudnn.is_acceptable(w) for w in weights)
            or len({w.data_ptr() for w in weights}) != len(weights)
            or not torch._use_cudnn_rnn_flatten_weight()
        ):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        with torch.cuda.device_of(first), torch.no_grad():
            # Rewrites the parameters in place as views into one buffer.
            torch._cudnn_rnn_flatten_weight(
                weights, 4 if self.bias else 2, self.input_size, cudnn_rnn.get_cudnn_mode(self.cudnn_mode),
                self.hidden_size, 0, self.num_layers, self.batch_first, self.bidirectional,
            )

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result


def recurrent_modules(*models: nn.Module) -> list[Recurrent]:
    """The seqkit recurrent modules inside `models`, each once, in the order met."""
    found = {id(m): m for model in models for m in model.modules() if isinstance(m, Recurrent)}
    return list(found.values())
