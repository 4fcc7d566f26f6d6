"""`GradientNormLogger`: the gradient that reaches each timestep, measured while a task trains (a Lightning callback)."""

from __future__ import annotations

import math

import numpy as np
import torch
from lightning.pytorch import Callback
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from seqkit.diagnostics.gradients import _detached, hidden_gradient_norms
from seqkit.errors import SeqkitError
from seqkit.modules.recurrent import Recurrent


class GradientNormLogger(Callback):
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
        norms = hidden_gradient_norms(pl_module.encoder, capture["input"], capture["hx"], capture["grad"])
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
