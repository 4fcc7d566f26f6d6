"""A trained model as a file that runs without seqkit: ONNX (onnxruntime, any language) or PyTorch's pt2.

    export(task, "model.onnx")   # or "model.pt2"; writes model.onnx and model.json beside it

What each file takes and gives (B: batch, T: time; ONNX takes any B and T):

| task | inputs | outputs |
|---|---|---|
| next_word | `tokens (B, T)` int64, `h0 (L, B, H)` [, `c0`] | `logits (B, T, V)`, `h_n` [, `c_n`] |
| sentiment | ONNX: `tokens (B, T)` int64, whole texts (no padding); pt2: `tokens (B, T_max)` padded and `lengths (B,)` | `probabilities (B, C)` |
| forecast  | `past (B, L, F)` [, `future (B, H, K)`], scaled | `forecast (B, H, n_targets, Q)`, scaled |
| next_word, `keyboard=True` | `word (B,)` int64, `h0 (L, B, H)` [, `c0`] | `log_probs (B, V)`, `h_n` [, `c_n`] |

The keyboard form is one step of a language model: the word just typed and the state in,
the log-probability of every next word and the new state out, which is all a phone keyboard
runs per word (`seqkit.tasks.suggester` is the same in PyTorch). `int8=True` writes ONNX with
int8 weights (onnxruntime's weight-only 8-bit MatMulNBits for the matrix products, dynamic
quantization for the rest): under a third of the file.

The JSON beside the model holds what turns text or a table into those tensors and back:
the vocabulary (`itos`, the id of unknown words) and tokenizer, the label names, the
forecaster's columns, scaling and quantiles.

ONNX goes through torch's TorchScript-based exporter, which writes each recurrent layer as
ONNX's own RNN, LSTM or GRU operator: one operator for any sequence length. (The
torch.export-based exporter unrolls the recurrence over the example's length.) For the
same reason a pt2 file of a language model takes one step, `tokens (B, 1)` and the
state, and is fed a text token by token; and a pt2 file of a sentiment model takes texts
padded to one length, `max_length` in the JSON (the data's, else 256), with each text's
length: the recurrence runs over every step and keeps each text's state once it has ended
(`Recurrent.forward_padded`), which gives the probabilities of texts read alone.

A cell without a fused kernel (one of your own) has no ONNX operator either: the exporter
would unroll its loop over the example's length, and the file would refuse every other
length. Its ONNX file therefore takes the pt2 forms too (a language model one step at a time,
a sentiment model padded texts with their lengths), which run at any length and batch size.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from seqkit.errors import SeqkitError
from seqkit.modules import recurrent_modules
from seqkit.text import PAD
from seqkit.training.faults import atomic_write, atomic_write_text

FORMATS = ("onnx", "pt2")


class _LanguageModelStep(nn.Module):
    """`RecurrentLM` with its state as plain tensors: `(tokens, h0[, c0]) -> (logits, h_n[, c_n])`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, *state: Tensor):
        logits, final = self.model(tokens, state if len(state) > 1 else state[0])
        return (logits, *final) if isinstance(final, tuple) else (logits, final)


PT2_TEXT_LENGTH = 256  # the padded length of a sentiment pt2 file when the data set no max_length


class _PaddedProbabilities(nn.Module):
    """`RecurrentClassifier` on padded texts with their lengths: `(tokens (B, T), lengths (B,)) -> probabilities (B, C)`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return torch.softmax(self.model(tokens, lengths), dim=-1)


class _Probabilities(nn.Module):
    """`RecurrentClassifier` on whole texts, with the softmax: `tokens (B, T) -> probabilities (B, C)`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor) -> Tensor:
        return torch.softmax(self.model(tokens), dim=-1)


def _plan(task) -> tuple[nn.Module, tuple[Tensor, ...], list[str], list[str], dict, dict]:
    """The module to export, example inputs, input and output names, ONNX dynamic axes, and the JSON side."""
    name = task.task_name
    if name == "next_word":
        encoder = task.model.encoder
        layers, hidden = encoder.num_layers * encoder.num_directions, encoder.hidden_size
        state = [torch.zeros(layers, 2, hidden) for _ in range(encoder.state_size)]
        states = ["h0", "c0"][: encoder.state_size]
        finals = ["h_n", "c_n"][: encoder.state_size]
        axes = {"tokens": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"},
                **{key: {1: "batch"} for key in states + finals}}
        side = {"vocab": task.vocab.to_dict(), "tokenizer": task.tokenizer_name, "reverse": task.reverse,
                "state": {"layers": layers, "hidden_size": hidden, "tensors": states}}
        return (_LanguageModelStep(task.model), (torch.zeros(2, 3, dtype=torch.long), *state), ["tokens", *states],
                ["logits", *finals], axes, side)
    if name == "sentiment":
        side = {"vocab": task.vocab.to_dict(), "tokenizer": task.tokenizer_name, "labels": list(task.labels)}
        axes = {"tokens": {0: "batch", 1: "time"}, "probabilities": {0: "batch"}}
        return (_Probabilities(task.model), (torch.zeros(2, 5, dtype=torch.long),), ["tokens"], ["probabilities"],
                axes, side)
    if name == "forecast":
        shapes = task.shapes
        inputs = (torch.zeros(2, shapes["input_length"], shapes["input_size"]),)
        names = ["past"]
        if shapes["future_size"]:
            inputs += (torch.zeros(2, shapes["horizon"], shapes["future_size"]),)
            names.append("future")
        model = task.model if shapes["future_size"] else _PastOnly(task.model, shapes["horizon"])
        axes = {key: {0: "batch"} for key in [*names, "forecast"]}
        side = {"data": task.data_state, "quantiles": list(task.quantiles), "shapes": dict(shapes)}
        return model, inputs, names, ["forecast"], axes, side
    raise SeqkitError(f"seqkit export takes next_word, sentiment and forecast checkpoints; this one is {name!r}")


class _KeyboardStep(nn.Module):
    """One step of `RecurrentLM`: `(word (B,), h0[, c0]) -> (log_probs (B, V), h_n[, c_n])`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, word: Tensor, *state: Tensor):
        logits, final = self.model(word[:, None], state if len(state) > 1 else state[0])   # (B, 1, V)
        log_probs = torch.log_softmax(logits[:, 0], dim=-1)                                # (B, V)
        return (log_probs, *final) if isinstance(final, tuple) else (log_probs, final)


class _PastOnly(nn.Module):
    """A forecaster without known future covariates, taking the past only."""

    def __init__(self, model: nn.Module, horizon: int) -> None:
        super().__init__()
        self.model, self.horizon = model, horizon

    def forward(self, past: Tensor) -> Tensor:
        return self.model(past, past.new_zeros(past.shape[0], self.horizon, 0))


def _keyboard_plan(task) -> tuple[nn.Module, tuple[Tensor, ...], list[str], list[str], dict, dict]:
    if task.task_name != "next_word":
        raise SeqkitError(f"the keyboard form is a language model's; this is a {task.task_name} model")
    if task.reverse:
        raise SeqkitError("a backward language model predicts the word before; the keyboard form needs a forward one")
    _, (tokens, *state), names, finals, axes, side = _plan(task)
    names, finals = ["word", *names[1:]], ["log_probs", *finals[1:]]
    axes = {"word": {0: "batch"}, "log_probs": {0: "batch"}, **{key: {1: "batch"} for key in names[1:] + finals[1:]}}
    from seqkit.tasks.suggester import Suggester

    hidden = Suggester(task).hidden  # what a keyboard never offers: <unk>, <eos>, <pad>, punctuation
    return (_KeyboardStep(task.model), (tokens[:, 0], *state), names, finals, axes,
            {**side, "keyboard": True, "hidden_ids": hidden})


def _quantized(write: callable) -> callable:
    """A writer of the int8 form of the ONNX model that `write` writes (see `_quantize`)."""
    try:
        from onnxruntime.quantization import matmul_nbits_quantizer  # noqa: F401 -- needs onnx_ir too
    except ImportError:
        raise SeqkitError('int8 export needs onnxruntime 1.22 or later and onnx_ir: pip install "seqkit[export]"') from None

    def write_int8(file) -> None:
        with tempfile.TemporaryDirectory() as folder:
            paths = [Path(folder) / f"{name}.onnx" for name in ("float", "matmul", "int8")]
            with open(paths[0], "wb") as handle:
                write(handle)
            _quantize(*paths)
            file.write(paths[2].read_bytes())
    return write_int8


def _quantize(float_path: Path, matmul_path: Path, int8_path: Path) -> None:
    """int8 weights in two passes of onnxruntime's quantizers.

    1. Each matrix product with a constant weight (the input weights of a cell, the output
       layer) becomes MatMulNBits with 8-bit weights, one scale and zero point per 32 weights
       of a row, and int8 arithmetic (accuracy level 4) that quantizes the activations in
       blocks of 32 as well.
    2. What is left (the embedding, the recurrent weights written as Gemm, ONNX's LSTM
       operator) gets dynamic quantization, one scale per output channel.

    For the keyboard files this keeps 97.7% (default model) and 97.5% (PTB) of float32's
    top-3 suggestions, against 97.5% and 96.9% with dynamic quantization alone, whose
    one scale for a whole activation vector is what loses them (benchmarks/keyboard.py).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    config = DefaultWeightOnlyQuantConfig(block_size=32, is_symmetric=False, accuracy_level=4, bits=8,
                                          op_types_to_quantize=("MatMul",))
    quantizer = MatMulNBitsQuantizer(onnx.load(float_path), bits=8, block_size=32, is_symmetric=False,
                                     accuracy_level=4, algo_config=config, op_types_to_quantize=("MatMul",))
    with _quiet_quantizer():
        quantizer.process()
        quantizer.model.save_model_to_file(str(matmul_path), False)
        quantize_dynamic(matmul_path, int8_path, weight_type=QuantType.QInt8, per_channel=True)


@contextlib.contextmanager
def _quiet_quantizer():
    """onnxruntime's quantizers log each node they visit, and advise a pre-processing step seqkit's graphs do not need."""
    loggers = [logging.getLogger(), logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _fixed_shapes(task, module, inputs, input_names, axes, side):
    """The forms whose recurrence runs over a length fixed in the file: pt2's, and ONNX's for a cell without a kernel.

    A language model takes one step, `tokens (B, 1)` and the state (a text is fed token by
    token); a sentiment model takes texts padded to `max_length` and their lengths.
    """
    if task.task_name == "sentiment":  # padded texts and their lengths (see the module's docstring)
        length = task.max_length or PT2_TEXT_LENGTH
        module = _PaddedProbabilities(task.model).eval()
        inputs = (torch.ones(2, length, dtype=torch.long), torch.tensor([length, 1]))
        input_names = ["tokens", "lengths"]
        axes = {"tokens": {0: "batch"}, "lengths": {0: "batch"}, "probabilities": {0: "batch"}}
        side = {**side, "max_length": length, "pad_id": task.vocab[PAD] if PAD in task.vocab else 0}
    if task.task_name == "next_word":  # one step from the carried state: a text is fed token by token
        inputs = (inputs[0][:, :1], *inputs[1:])
        axes = {**axes, "tokens": {0: "batch"}, "logits": {0: "batch"}}
        side = {**side, "steps": 1}
    return module, inputs, input_names, axes, side


def export(task, path: str | Path, format: str | None = None, keyboard: bool = False, int8: bool = False) -> dict:
    """Write `task`'s model to `path` (`.onnx` or `.pt2`) and its vocabulary, labels or scaling to `path.json`.

    Each file is written whole or not at all (a temporary file, then a rename).

    Args:
        task: a trained task (`NextWordTask`, `SentimentTask` or `ForecastTask`), e.g. from
            `from_checkpoint`.
        path: the model file to write; the JSON goes beside it with the suffix `.json`.
        format: `"onnx"` or `"pt2"`; by default the suffix of `path`.
        keyboard: a language model as one step from a word and a state to the next word's
            log-probabilities and the new state (ONNX).
        int8: ONNX with int8 weights (onnxruntime's quantizers, see `_quantize`).

    Returns:
        What was written into the JSON file.

    Raises:
        SeqkitError: an unknown format, a task without such an export, or the `onnx`
            package missing for ONNX (`pip install "seqkit[export]"`).
    """
    path = Path(path)
    format = format or path.suffix.lstrip(".")
    if format not in FORMATS:
        raise SeqkitError(f"seqkit exports to {' or '.join(FORMATS)}, not {format!r}")
    if (keyboard or int8) and format != "onnx":
        raise SeqkitError(f"{'the keyboard form' if keyboard else 'int8'} is written as ONNX; use --format onnx")
    module, inputs, input_names, output_names, axes, side = _keyboard_plan(task) if keyboard else _plan(task)
    module = module.cpu().eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on the exporter it is about to replace
        if format == "onnx":
            try:
                import onnx  # noqa: F401 -- torch needs it to write the file
            except ImportError:
                raise SeqkitError('ONNX export needs the onnx package: pip install "seqkit[export]"') from None
            if not keyboard and not all(m.has_kernel for m in recurrent_modules(task.model)):
                module, inputs, input_names, axes, side = _fixed_shapes(task, module, inputs, input_names, axes, side)

            def write(file) -> None:
                torch.onnx.export(module, inputs, file, dynamo=False, input_names=input_names,
                                  output_names=output_names, dynamic_axes=axes, opset_version=17)
            atomic_write(path, _quantized(write) if int8 else write)
        else:
            module, inputs, input_names, axes, side = _fixed_shapes(task, module, inputs, input_names, axes, side)
            batch = torch.export.Dim("batch", min=1)
            if task.task_name == "next_word":  # forward(tokens, *state): the state's tensors as one group
                dynamic = ({0: batch}, tuple({1: batch} for _ in inputs[1:]))
            else:
                dynamic = tuple({0: batch} for _ in inputs)
            program = torch.export.export(module, inputs, dynamic_shapes=dynamic)
            atomic_write(path, lambda file: torch.export.save(program, file))
    side = {"format": "seqkit.export", "version": 1, "task": task.task_name, "model": path.name, "int8": int8,
            "inputs": input_names, "outputs": output_names, **side}
    atomic_write_text(json.dumps(side, indent=1) + "\n", path.with_suffix(".json"))
    return side
