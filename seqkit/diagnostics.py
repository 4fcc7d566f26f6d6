"""Instruments for seeing inside a recurrent network: what a textbook only describes.

- `trace`: the hidden state, pre-activation and gates at every timestep, as a table.
- `gradient_norms`: the norm of dL/dh_t for every timestep t, the quantity behind
  vanishing and exploding gradients under backpropagation through time.
- `gradients_at_init`: that curve for fresh RNN/LSTM/GRU layers side by side (what
  `seqkit gradients` draws); `exploding_demo`: plain SGD on an RNN whose gradients
  explode, with and without gradient clipping.
- `GradientNormLogger`: a Lightning callback that measures the same curve while a task
  trains, with the norm of every parameter's gradient.
- `plot_gradient_norms`, `plot_hidden_states`: the pictures (need matplotlib).

`trace` and `gradient_norms` run the module's readable loop path, whatever its `backend`:
only the loop has an h_t for every timestep to look at (the fused kernel keeps them inside
C++). They use the module's own parameters and leave it as they found it (mode, backend,
gradients).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from seqkit.errors import SeqkitError
from seqkit.modules.recurrent import Recurrent, State

DIRECTIONS = ("forward", "reverse")


def _as_input(module: Recurrent, x: Tensor | list) -> tuple[Tensor, bool]:
    """`x` as a batched tensor in the module's layout and dtype, and whether it was unbatched."""
    if not isinstance(module, Recurrent):
        raise ValueError(f"expected a seqkit recurrent module (RNN, LSTM, GRU, ...), got {type(module).__name__}")
    weight = module.weight_ih_l0
    if not isinstance(x, Tensor):
        x = torch.as_tensor(x, dtype=weight.dtype, device=weight.device)
        if x.dim() == 1:  # a plain list of numbers: one feature per timestep
            x = x.unsqueeze(-1)
    module._check_input(x, weight, packed=False)
    unbatched = x.dim() == 2
    if unbatched:
        x = x.unsqueeze(0 if module.batch_first else 1)
    return x, unbatched


@contextmanager
def _loop_in_eval(module: Recurrent) -> Iterator[None]:
    """Run `module` on its loop path without dropout, then restore backend and mode."""
    backend, training = module.backend, module.training
    module.backend = "loop"
    module.train(False)
    try:
        yield
    finally:
        module.backend = backend
        module.train(training)


def _run_observed(module: Recurrent, x: Tensor, hx, observe) -> tuple[Tensor, State]:
    state = module._initial_state(hx, x.size(0 if module.batch_first else 1), False, module.weight_ih_l0)
    return module._forward_loop(x, None, state, observe=observe)


def trace(module: Recurrent, x: Tensor | list, hx: Tensor | State | None = None) -> pd.DataFrame:
    """Every timestep of every layer and direction, as a table a student can check by hand.

    Args:
        module: a seqkit `RNN`, `LSTM`, `GRU` (or a cell built on `Recurrent`).
        x: one sequence `(T, input_size)` or a batch in the module's layout; a list of
            numbers is one sequence with one feature per step.
        hx: the initial state, as for `forward` (zeros if None).

    Returns:
        One row per (sample, layer, direction, t), sorted in that order, with columns
        `sample, layer, direction, t, x, pre, h` and the cell's own: `i, f, g, o, c` for
        the LSTM, `r, z, n` for the GRU. Each value column holds a NumPy vector:
        `x` is the layer's input x_t, `pre` the pre-activation (for gated cells, all
        gate pre-activations stacked as in `weight_hh`), `h` the state h_t. For the last
        layer, the rows of the final timestep (t = T-1 forward, t = 0 reverse) hold
        exactly the `h_n` that `forward` returns. Runs without dropout.
    """
    x, unbatched = _as_input(module, x)
    if unbatched and hx is not None:
        hx = tuple(s.unsqueeze(1) for s in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(1)
    records: list[dict] = []

    def observe(layer: int, direction: int, t: int, state: State, internals: dict[str, Tensor]) -> None:
        values = {"h": state[0]}
        if len(state) > 1:
            values["c"] = state[1]
        values.update(internals)
        arrays = {k: v.detach().cpu().numpy() for k, v in values.items()}
        for sample in range(state[0].shape[0]):
            records.append({"sample": sample, "layer": layer, "direction": DIRECTIONS[direction], "t": t,
                            **{k: a[sample].copy() for k, a in arrays.items()}})

    with torch.no_grad(), _loop_in_eval(module):
        _run_observed(module, x, hx, observe)

    table = pd.DataFrame.from_records(records)
    # x_t of layer 0 is the input; of layer k, the h_t of layer k-1, directions concatenated.
    inputs = x.detach().cpu().numpy()
    if not module.batch_first:
        inputs = inputs.transpose(1, 0, 2)
    h_by_key = {(r["sample"], r["layer"], r["direction"], r["t"]): r["h"] for r in records}
    table.insert(4, "x", [
        inputs[s, t].copy() if layer == 0 else
        np.concatenate([h_by_key[(s, layer - 1, d, t)] for d in DIRECTIONS[: module.num_directions]])
        for s, layer, t in zip(table["sample"], table["layer"], table["t"])
    ])
    order = ["sample", "layer", "direction", "t", "x", "pre", "h"]
    order += [c for c in table.columns if c not in order]
    return table[order].sort_values(["sample", "layer", "direction", "t"], kind="stable").reset_index(drop=True)


def gradient_norms(
    module: Recurrent,
    x: Tensor | list,
    loss_fn: Callable[[Tensor], Tensor],
    hx: Tensor | State | None = None,
) -> pd.DataFrame:
    """The norm of dL/dh_t at every timestep: how much the loss still hears from step t.

    Under backpropagation through time, the gradient reaching h_t is multiplied by the
    Jacobian dh_{t+1}/dh_t once per step it travels back. For a tanh RNN that Jacobian is
    `diag(1 - h_{t+1}^2) W_hh`: if its norm stays below 1 the gradient vanishes
    geometrically, above 1 it explodes. An LSTM's cell state offers a path whose
    Jacobian is just the forget gate, so its curve stays flatter.

    Args:
        module: a seqkit recurrent module.
        x: input as for `trace`.
        loss_fn: maps the module's output `(B, T, D*H)` (batch-first layout, or the
            module's layout) to a scalar loss, e.g. `lambda out: out[:, -1].sum()` for a
            loss that only reads the last step.
        hx: the initial state, as for `forward`.

    Returns:
        One row per (layer, direction, t) with `grad_norm`, the Frobenius norm over batch
        and units of the total derivative dL/dh_t (through the output at t and through
        every later step), and for the LSTM `cell_grad_norm`, the same for c_t. The
        module's parameter gradients are not touched.
    """
    x, unbatched = _as_input(module, x)
    if unbatched and hx is not None:
        hx = tuple(s.unsqueeze(1) for s in hx) if isinstance(hx, (tuple, list)) else hx.unsqueeze(1)
    keys: list[tuple[int, str, int]] = []
    states: list[State] = []

    def observe(layer: int, direction: int, t: int, state: State, internals: dict[str, Tensor]) -> None:
        keys.append((layer, DIRECTIONS[direction], t))
        states.append(state)

    with torch.enable_grad(), _loop_in_eval(module):
        # The states must be part of a graph even when nothing in the module is trainable.
        x = x.detach().requires_grad_(True)
        output, _ = _run_observed(module, x, hx, observe)
        loss = loss_fn(output.squeeze(0 if module.batch_first else 1) if unbatched else output)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise ValueError("loss_fn must return a scalar tensor (for example out[:, -1].sum())")
        flat = [s for state in states for s in state]
        grads = torch.autograd.grad(loss, flat, allow_unused=True)

    per_state = len(states[0])
    rows = []
    for i, (layer, direction, t) in enumerate(keys):
        row = {"layer": layer, "direction": direction, "t": t}
        for k, column in enumerate(("grad_norm", "cell_grad_norm")[:per_state]):
            grad = grads[i * per_state + k]
            row[column] = 0.0 if grad is None else grad.norm().item()
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["layer", "direction", "t"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------- fresh cells side by side


def _scale_to_spectral_radius(weight: Tensor, radius: float) -> None:
    """Rescale a square matrix in place so that its largest |eigenvalue| is `radius`."""
    with torch.no_grad():
        weight.mul_(radius / torch.linalg.eigvals(weight).abs().max())


def gradients_at_init(
    cells: Sequence[str] = ("rnn", "lstm"),
    length: int = 100,
    hidden_size: int = 64,
    input_size: int = 8,
    batch: int = 32,
    seed: int = 0,
    radius: float | None = None,
    forget_bias: float = 0.0,
) -> dict[str, np.ndarray]:
    """|dL/dh_t| at every t for fresh one-layer cells, with a loss on the last output only.

    The loss `L = sum of h_{T-1}` reads nothing but the last step, so dL/dh_t is the signal
    from the end that still reaches step t after backpropagation through time has
    multiplied it by one Jacobian dh_{t+1}/dh_t per step. Every cell reads the same input
    x ~ N(0, 1) and starts from torch's initialisation drawn after `torch.manual_seed(seed)`
    (the caller's random state is restored afterwards). Runs in float64 so that norms below
    float32's 1e-38 do not underflow to 0.

    Args:
        cells: names from `seqkit.modules.CELLS` ("rnn" is the tanh RNN).
        length, hidden_size, input_size, batch: the sizes of the input `(batch, length,
            input_size)` and of h_t.
        radius: if set, the RNN's `weight_hh_l0` is first rescaled to this spectral radius.
            Above 1 the curve can grow backwards in time instead of fading: exploding gradients.
        forget_bias: added to the LSTM's forget-gate bias b_if. torch's initialisation puts
            the forget gate near sigmoid(0) = 0.5, so at first the cell path halves the
            gradient at every step too; 1.0 (Gers et al. 2000, Jozefowicz et al. 2015) keeps
            far more of it.

    Returns:
        `{label: norms}` with `norms` of shape `(length,)`: the Frobenius norm over the batch
        and the units of dL/dh_t for t = 0 .. length-1. A label is the cell's name, followed
        by the radius or forget bias when one was set, e.g. `"rnn (radius 1.5)"`.
    """
    from seqkit.modules import CELLS

    unknown = [cell for cell in cells if cell not in CELLS]
    if unknown:
        raise SeqkitError(f"unknown cells {unknown}; choose from {sorted(CELLS)}")
    curves = {}
    with torch.random.fork_rng(devices=[]):
        x = torch.randn(batch, length, input_size, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(seed))
        for cell in cells:
            torch.manual_seed(seed)
            module = CELLS[cell](input_size, hidden_size).double()
            label = cell
            if cell == "rnn" and radius is not None:
                _scale_to_spectral_radius(module.weight_hh_l0, radius)
                label += f" (radius {radius:g})"
            if cell == "lstm" and forget_bias:
                with torch.no_grad():
                    module.bias_ih_l0[hidden_size : 2 * hidden_size] += forget_bias  # the f block of [i f g o]
                label += f" (forget bias {forget_bias:g})"
            norms = gradient_norms(module, x, lambda out: out[:, -1].sum())
            curves[label] = norms.grad_norm.to_numpy()
    return curves


def exploding_demo(
    radius: float = 1.5,
    length: int = 50,
    steps: int = 100,
    lr: float = 0.05,
    clip: float | None = None,
    seed: int = 0,
    hidden_size: int = 64,
) -> list[float]:
    """Plain SGD on a tanh RNN whose recurrent matrix starts at spectral radius `radius`.

    The task: read `length` numbers x_t ~ N(0, 1) and predict their sum (divided by
    sqrt(length), so the target has unit variance) from the last hidden state, mean squared
    error, a fresh batch of 32 sequences at every step. Above radius 1, with enough units,
    the tanh network is chaotic: a change of h_t grows along the sequence, and so do the
    gradients that backpropagation through time carries back. One SGD step then throws the
    weights far away and the loss overflows to inf and NaN. Clipping the gradient's norm to
    `clip` (as pytorch/examples' word_language_model does) bounds every step by `lr * clip`,
    and the same run trains.

    Args:
        radius: the spectral radius `weight_hh_l0` is rescaled to before training.
        length: timesteps per sequence. steps: SGD steps. lr: the learning rate.
        clip: the maximum gradient norm (`torch.nn.utils.clip_grad_norm_`), None for none.
        seed: the seed of the weights and the data (the caller's random state is restored).
        hidden_size: units in h_t.

    Returns:
        The loss before each step's update, `steps` values. Once one is inf or NaN the
        weights are NaN, so the remaining steps are not run and read NaN.
    """
    from seqkit.modules import RNN

    losses: list[float] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        rnn, head = RNN(1, hidden_size), nn.Linear(hidden_size, 1)
        _scale_to_spectral_radius(rnn.weight_hh_l0, radius)
        parameters = [*rnn.parameters(), *head.parameters()]
        optimizer = torch.optim.SGD(parameters, lr=lr)
        data = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            x = torch.randn(32, length, 1, generator=data)                 # (B, T, 1)
            target = x.sum(dim=1) / math.sqrt(length)                      # (B, 1), unit variance
            output, _ = rnn(x)                                             # (B, T, H)
            loss = nn.functional.mse_loss(head(output[:, -1]), target)
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                break
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(parameters, clip)
            optimizer.step()
    return losses + [math.nan] * (steps - len(losses))


# ---------------------------------------------------------------------- while a task trains


def _detached(value):
    """A tensor, PackedSequence, state tuple or None, cut from the graph."""
    if value is None:
        return None
    if isinstance(value, PackedSequence):
        return value._replace(data=value.data.detach())
    if isinstance(value, (tuple, list)):
        return tuple(v.detach() for v in value)
    return value.detach()


def _hidden_gradient_norms(module: Recurrent, x: Tensor | PackedSequence, hx, output_grad: Tensor) -> np.ndarray:
    """Mean over the batch of |dL/dh_t|, top layer, forward direction, by replaying the module.

    The module's output only receives the part of dL/dh_t that comes from step t's own
    consumer (the head); the part that travels back through h_{t+1}, h_{t+2}, ... stays
    inside the module, on h_t tensors the fused kernel never shows. So the module is run
    again on its loop path from the same input and initial state, and the gradient its
    output received is pushed back through that run (a vector-Jacobian product): the total
    derivative at every h_t. The replay has no dropout: exact for one layer, an
    approximation when dropout between layers changed the top layer's input in the real
    step. For a PackedSequence, the mean at step t is over the sequences still running.
    """
    packed = isinstance(x, PackedSequence)
    data, batch_sizes = (x.data, x.batch_sizes) if packed else (x, None)
    top, states = module.num_layers - 1, {}

    def observe(layer: int, direction: int, t: int, state: State, internals: dict[str, Tensor]) -> None:
        if layer == top and direction == 0:
            states[t] = state[0]                                           # (B_t, H)

    with torch.enable_grad(), _loop_in_eval(module):
        data = data.detach().requires_grad_(True)
        batch = int(batch_sizes[0]) if packed else data.size(0 if module.batch_first else 1)
        state = module._initial_state(hx, batch, False, module.weight_ih_l0)
        if packed and x.sorted_indices is not None:
            state = tuple(s.index_select(1, x.sorted_indices) for s in state)  # the packed data is sorted by length
        output, _ = module._forward_loop(data, batch_sizes, state, observe=observe)
        steps = sorted(states)
        grads = torch.autograd.grad(output, [states[t] for t in steps], grad_outputs=output_grad, allow_unused=True)
    norms = [torch.zeros((), dtype=output.dtype) if g is None else g.norm(dim=-1).mean().cpu() for g in grads]
    return torch.stack(norms).numpy()


class _GradientNormHooks:
    """A Lightning callback: |dL/dh_t| against t, and every parameter's gradient norm, while training.

    Works with any task whose LightningModule has an `encoder` that is a seqkit recurrent
    module (NextWordTask, SentimentTask, ForecastTask). Every `every_n_steps` optimizer steps
    it keeps the encoder's input and the gradient that reaches the encoder's output in
    the real training step, then replays the encoder to get dL/dh_t for every t of its top
    layer (forward direction), averaged over the batch, and logs with `pl_module.log`:

    - `grad/h_first`, `grad/h_last`: that norm at t = 0 and at the last step;
    - `grad/ratio_first_last`: their ratio. With a loss on the last step only it measures
      vanishing (far below 1) or exploding (far above 1) gradients. With a loss at every
      step (a language model) dL/dh_0 also collects the losses of all later steps, so a
      ratio near 1 means almost nothing of them reaches t = 0, and a ratio well above 1 that
      it does;
    - `grad/<parameter name>`: the norm of each parameter's gradient (before clipping, and
      still scaled by the loss scaler under 16-bit mixed precision).

    `curves` keeps `(global_step, norms)` for each measured step, `norms` of shape `(T,)`,
    for `plot_gradient_norms`. Training is unchanged: the replay draws no random numbers
    and touches no `.grad`, and nothing is kept past the step but `curves`.

    In a recipe: `trainer: callbacks: [{class_path: seqkit.diagnostics.GradientNormLogger,
    init_args: {every_n_steps: 50}}]`.

    Args:
        every_n_steps: measure the steps whose `trainer.global_step` is a multiple of this.
    """

    def __init__(self, every_n_steps: int = 50) -> None:
        if every_n_steps < 1:
            raise SeqkitError(f"every_n_steps must be at least 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.curves: list[tuple[int, np.ndarray]] = []
        self._hook = None            # the forward hook on the encoder, while fitting
        self._armed = False          # measure the batch now running
        self._last_step: int | None = None
        self._capture: dict | None = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage != "fit":
            return
        encoder = getattr(pl_module, "encoder", None)
        if not isinstance(encoder, Recurrent):
            raise SeqkitError(f"GradientNormLogger needs a task whose `encoder` is a seqkit recurrent module; "
                              f"{type(pl_module).__name__}.encoder is {type(encoder).__name__}")
        self._hook = encoder.register_forward_hook(self._keep, with_kwargs=True)

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._hook is not None:
            self._hook.remove()
        self._hook, self._capture, self._armed = None, None, False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        step = trainer.global_step
        # Under gradient accumulation several batches share a global step: measure the first.
        self._armed = step % self.every_n_steps == 0 and step != self._last_step
        self._capture = None

    def _keep(self, module: Recurrent, args: tuple, kwargs: dict, result: tuple) -> None:
        """Forward hook: the encoder's input and initial state, and a hook for its output's gradient."""
        if not self._armed or self._capture is not None or not (module.training and torch.is_grad_enabled()):
            return
        output = result[0]
        data = output.data if isinstance(output, PackedSequence) else output  # (B, T, D*H) or packed (N, D*H)
        if not data.requires_grad:
            return
        capture = {"input": _detached(args[0] if args else kwargs["input"]),
                   "hx": _detached(args[1] if len(args) > 1 else kwargs.get("hx")), "grad": None}

        def keep_grad(grad: Tensor) -> None:
            capture["grad"] = grad.detach()

        data.register_hook(keep_grad)  # lives and dies with this step's graph
        self._capture = capture

    def on_after_backward(self, trainer, pl_module) -> None:
        capture, self._capture = self._capture, None
        if capture is None or capture["grad"] is None:
            return
        self._armed, self._last_step = False, trainer.global_step
        norms = _hidden_gradient_norms(pl_module.encoder, capture["input"], capture["hx"], capture["grad"])
        self.curves.append((trainer.global_step, norms))
        first, last = float(norms[0]), float(norms[-1])
        values = {"grad/h_first": first, "grad/h_last": last,
                  "grad/ratio_first_last": first / last if last > 0 else math.inf}
        for name, parameter in pl_module.named_parameters():
            if parameter.grad is not None:  # named as in the model the task holds: grad/encoder.weight_hh_l0
                values[f"grad/{name.removeprefix('model.')}"] = parameter.grad.detach().norm()
        for name, value in values.items():
            pl_module.log(name, value, on_step=True, on_epoch=False, batch_size=1)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._capture = None  # a step that skipped backward leaves nothing behind


def __getattr__(name: str):
    # `GradientNormLogger` is a Lightning Callback, and importing Lightning takes seconds
    # that `seqkit trace` and `seqkit gradients` should not pay: the class is made on first
    # use (PEP 562). All its code is in `_GradientNormHooks` above.
    if name != "GradientNormLogger":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from lightning.pytorch import Callback

    logger = type("GradientNormLogger", (_GradientNormHooks, Callback),
                  {"__module__": __name__, "__doc__": _GradientNormHooks.__doc__})
    globals()[name] = logger
    return logger


# ---------------------------------------------------------------------- pictures


def _figure(width: float, height: float):
    """A matplotlib Figure drawn by Agg, without pyplot (so no global backend or figure list is touched)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def plot_gradient_norms(
    curves: dict[str, np.ndarray],
    path: str | Path,
    title: str = "gradient reaching h_t from the loss",
    losses: dict[str, Sequence[float]] | None = None,
) -> Path:
    """Draw |dL/dh_t| against t on a log scale, one line per label, into a PNG.

    Args:
        curves: `{label: norms}`, e.g. from `gradients_at_init`, or
            `{"step 0": GradientNormLogger.curves[0][1], ...}`; norms of 0 are left out
            (a log scale has no 0).
        path: the image file (its suffix picks the format: .png, .svg, .pdf).
        title: the panel's title.
        losses: optional `{label: loss per step}` (e.g. `exploding_demo`'s), drawn as a
            second panel on a log scale; where a run turns inf or NaN a dotted line marks
            the step.

    Returns:
        `path` as a Path.

    Raises:
        SeqkitError: matplotlib is not installed.
    """
    figure = _figure(11.5 if losses else 6.5, 4.2)
    axes = figure.subplots(1, 2 if losses else 1, squeeze=False)[0]
    ax = axes[0]
    for label, norms in curves.items():
        norms = np.asarray(norms, dtype=float)
        ax.plot(np.arange(len(norms)), np.where(norms > 0, norms, np.nan), label=label)
    ax.set_yscale("log")
    ax.set(xlabel="timestep t", ylabel="|dL/dh_t|", title=title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    if losses:
        ax = axes[1]
        for label, values in losses.items():
            values = np.asarray(values, dtype=float)
            finite = np.isfinite(values)
            (line,) = ax.plot(np.where(finite, values, np.nan), label=label)
            if not finite.all():
                step = int(np.argmin(finite))
                ax.axvline(step, color=line.get_color(), linestyle=":", label=f"{label}: inf/NaN at step {step}")
        ax.set_yscale("log")
        ax.set(xlabel="SGD step", ylabel="training loss", title="training loss")
        ax.grid(True, alpha=0.3)
        ax.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return Path(path)


def plot_hidden_states(
    frame_or_array: pd.DataFrame | np.ndarray,
    path: str | Path,
    tokens: Sequence[str] | None = None,
    title: str = "hidden state h_t",
    sample: int = 0,
    layer: int | None = None,
) -> Path:
    """Draw h_t as a heatmap, time across and units down, into a PNG.

    Args:
        frame_or_array: `trace()`'s table (one sample and layer is drawn; with two
            directions their units are stacked, forward first) or an array `(T, H)`.
        path: the image file.
        tokens: labels for the T timesteps (the words of a sentence), shown under the columns.
        title: the picture's title.
        sample, layer: which rows of a `trace()` table to draw (layer: the last by default).

    Returns:
        `path` as a Path.

    Raises:
        ValueError: an array that is not 2-D, a sample or layer the table lacks, or as many
            tokens as timesteps.
        SeqkitError: matplotlib is not installed.
    """
    if isinstance(frame_or_array, pd.DataFrame):
        table = frame_or_array
        layer = int(table.layer.max()) if layer is None else layer
        rows = table[(table["sample"] == sample) & (table.layer == layer)]
        if rows.empty:
            raise ValueError(f"the table has no rows for sample {sample}, layer {layer}")
        per_direction = [np.stack(rows[rows.direction == d].sort_values("t").h.tolist())
                         for d in DIRECTIONS if (rows.direction == d).any()]
        states = np.concatenate(per_direction, axis=1)                    # (T, D*H)
        boundary = per_direction[0].shape[1] if len(per_direction) == 2 else None
    else:
        boundary = None
        states = np.asarray(frame_or_array, dtype=float)
        if states.ndim != 2:
            raise ValueError(f"expected an array (T, H), got shape {states.shape}")
    steps, units = states.shape
    if tokens is not None and len(tokens) != steps:
        raise ValueError(f"{len(tokens)} tokens for {steps} timesteps")
    figure = _figure(min(max(4 + 0.3 * steps, 6), 16), min(max(1.5 + 0.2 * units, 3), 10))
    ax = figure.subplots()
    scale = max(1.0, float(np.abs(states).max()))  # tanh-bounded states share one colour scale, -1 .. 1
    image = ax.imshow(states.T, aspect="auto", cmap="RdBu_r", vmin=-scale, vmax=scale, interpolation="nearest")
    ax.set(xlabel="token" if tokens is not None else "timestep t", title=title,
           ylabel="unit" if boundary is None else "unit (forward, then reverse)")
    if boundary is not None:  # a line between the two directions' units
        ax.axhline(boundary - 0.5, color="black", linewidth=1.5)
    if tokens is not None:
        ax.set_xticks(range(steps), labels=list(tokens), rotation=90 if max(map(len, tokens), default=0) > 4 else 0)
    figure.colorbar(image, ax=ax, label="h_t")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return Path(path)
