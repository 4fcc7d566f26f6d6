"""`seqkit trace`: print the hidden state at every timestep of a tiny sequence, or of a sentence.

With `--weights FILE` (JSON or YAML, parameter names as in torch.nn) a textbook exercise
can be checked by hand:

    # exercise.yaml: a 1-D input, a 2-D hidden state, three timesteps
    cell: rnn
    weight_ih_l0: [[0.5], [-1.0]]
    weight_hh_l0: [[0.1, 0.2], [0.3, 0.4]]
    bias_ih_l0: [0.0, 0.1]
    bias_hh_l0: [0.0, 0.0]
    x: [1.0, 0.5, -1.0]

    seqkit trace --weights exercise.yaml

With `--ckpt` (a sentiment checkpoint, or its run folder) and `--text`, a sentence goes
through a trained model instead: it is tokenized with the checkpoint's vocabulary, its
embeddings are traced through the encoder, the prediction is printed, and `--plot`
draws the encoder's h_t with the words under the columns:

    seqkit trace --ckpt_path runs/sentiment/lstm --text "not good, not good at all" --plot sentence.png
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from seqkit.commands import add_checkpoint, checkpoint_file, output_path
from seqkit.errors import SeqkitError

PARAMETER = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqkit trace",
        description="Run a tiny sequence through an RNN, LSTM or GRU and print x_t, the pre-activation, "
        "the gates and h_t at every timestep; or, with --ckpt and --text, a sentence through a trained sentiment "
        "model's encoder (the prediction, and h_t at every word).",
        epilog="Examples: seqkit trace --cells lstm --input_size 1 --hidden_size 2 --x 1,0.5,-1;  "
        "seqkit trace --ckpt_path runs/sentiment/lstm --text \"not good at all\" --plot sentence.png",
    )
    parser.add_argument("--cells", dest="cell",
                        help="the recurrent cell: rnn, lstm, gru or any registered cell, by short name or class path "
                        "(default: rnn, or the weights file's `cell`)")
    parser.add_argument("--nonlinearity", choices=["tanh", "relu"], help="RNN only (default tanh)")
    parser.add_argument("--input_size", type=int, default=1, help="features per timestep, without --weights (default 1)")
    parser.add_argument("--hidden_size", type=int, default=2, help="units in h_t, without --weights (default 2)")
    parser.add_argument("--num_layers", type=int, default=1, help="stacked layers, without --weights (default 1)")
    parser.add_argument("--bidirectional", action="store_true", help="add a reverse pass, without --weights")
    parser.add_argument("--weights", type=Path, help="JSON or YAML file: parameters by torch.nn name, optionally `cell`, `nonlinearity`, `x`, `h0`, `c0`")
    parser.add_argument("--x", help="the input: '1,0.5,-1' (one feature per step) or JSON '[[1,0],[0,1]]' (T x input_size)")
    add_checkpoint(parser, "sentiment (trace --text through its trained encoder instead of a tiny random or given cell)",
                   required=False)
    parser.add_argument("--text", help="with --ckpt_path: the sentence to trace, tokenized with the checkpoint's vocabulary")
    parser.add_argument("--seed", type=int, default=0, help="seed for random weights and input (default 0)")
    parser.add_argument("--precision", type=int, default=4, help="decimals shown (default 4)")
    parser.add_argument("--output", type=Path, help="also write the full table to this CSV file (vectors as JSON lists)")
    parser.add_argument("--plot", type=Path, help="also draw h_t as a heatmap, time across and units down, into this PNG "
                        "(the last layer of the first sample)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --output or --plot file")
    return parser


def _fail(message: str) -> None:
    raise SeqkitError(message)


def _read_spec(path: Path) -> dict:
    import yaml

    if not path.is_file():
        _fail(f"weights file {path} does not exist")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        _fail(f"{path} is not valid JSON or YAML: {error}")
    if not isinstance(spec, dict):
        _fail(f"{path} must hold a mapping of parameter names to values, got {type(spec).__name__}")
    return spec


def _parse_x(text: str) -> list:
    try:
        value = json.loads(text) if text.lstrip().startswith("[") else [float(v) for v in text.split(",")]
    except ValueError as error:
        _fail(f"--x must be comma-separated numbers or a JSON list, got {text!r} ({error})")
    return value


def _build(cls: type, input_size: int, hidden_size: int, nonlinearity: str | None, **kwargs):
    """A `cls` module; `nonlinearity` is the RNN's alone."""
    from seqkit.modules import RNN

    if issubclass(cls, RNN):
        kwargs["nonlinearity"] = nonlinearity or "tanh"
    elif nonlinearity is not None:
        _fail(f"--nonlinearity is the RNN's; {cls.__name__} has its own")
    return cls(input_size, hidden_size, **kwargs)


def _module_from_spec(spec: dict, cls: type, nonlinearity: str | None, path: Path):
    import torch

    from seqkit.modules import cell_name

    params = {k: v for k, v in spec.items() if PARAMETER.match(k)}
    unknown = sorted(set(spec) - set(params) - {"cell", "nonlinearity", "x", "h0", "c0"})
    if unknown:
        _fail(f"{path}: unknown keys {unknown}; expected parameter names such as weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, and cell, nonlinearity, x, h0, c0")
    if "weight_ih_l0" not in params or "weight_hh_l0" not in params:
        _fail(f"{path} must give at least weight_ih_l0 and weight_hh_l0")
    try:
        tensors = {k: torch.tensor(v, dtype=torch.float32) for k, v in params.items()}
    except (TypeError, ValueError) as error:
        _fail(f"{path}: every parameter must be a list of numbers (a matrix for weights): {error}")
    w_ih, w_hh = tensors["weight_ih_l0"], tensors["weight_hh_l0"]
    if w_ih.dim() != 2 or w_hh.dim() not in (1, 2):
        _fail(f"{path}: weight_ih_l0 must be a matrix (a list of rows), weight_hh_l0 a matrix or a vector")
    gates, cell = cls.gates, cell_name(cls)
    hidden, inputs = w_hh.shape[-1], w_ih.shape[1]  # W_hh's columns (a vector: its entries) are the hidden units
    if w_ih.shape[0] != gates * hidden:
        _fail(f"{path}: weight_ih_l0 has {w_ih.shape[0]} rows; a {cell} with hidden size {hidden} needs "
              f"{gates * hidden} ({gates} gate block(s) of {hidden})")
    layers = 1 + max(int(PARAMETER.match(k).group(2)) for k in params)
    kwargs = {"num_layers": layers, "bias": "bias_ih_l0" in params, "bidirectional": any(k.endswith("_reverse") for k in params)}
    module = _build(cls, inputs, hidden, nonlinearity or spec.get("nonlinearity"), **kwargs)
    expected = dict(module.named_parameters())
    missing = sorted(set(expected) - set(tensors))
    if missing:
        _fail(f"{path}: missing {missing} for a {layers}-layer {'bidirectional ' if kwargs['bidirectional'] else ''}{cell}")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            _fail(f"{path}: {name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name].shape)}")
    module.load_state_dict(tensors, strict=True)
    return module


def _initial_state(spec: dict, module):
    import torch

    if "h0" not in spec:
        return None
    layers = module.num_layers * module.num_directions
    parts = [torch.tensor(spec[k], dtype=torch.float32).reshape(layers, module.hidden_size) for k in ("h0", "c0") if k in spec]
    if module.state_size == 2:
        if len(parts) != 2:
            _fail(f"the initial state of a {type(module).__name__} needs both h0 and c0")
        return tuple(parts)
    return parts[0]


def format_table(table, precision: int):
    """The trace table with vectors shown as `[0.1235 -0.5]` and constant columns left out."""
    shown = table.copy()
    for column in ("sample", "layer", "direction"):
        if shown[column].nunique() == 1:
            shown = shown.drop(columns=column)

    def vector(value):
        return "[" + " ".join(f"{v:.{precision}f}" for v in value) + "]"

    for column in shown.columns:
        if shown[column].dtype == object and column != "direction":
            shown[column] = shown[column].map(vector)
    return shown.to_string(index=False)


def _write_csv(table, path: Path) -> None:
    out = table.copy()
    for column in out.columns:
        if out[column].dtype == object and column not in ("direction", "token"):
            out[column] = out[column].map(lambda v: json.dumps([round(float(a), 8) for a in v]))
    out.to_csv(path, index=False)
    print(f"\nwrote {path}")


def trace_sentence(args) -> int:
    """`--ckpt` and `--text`: one sentence through a trained sentiment model's encoder."""
    import numpy as np
    import torch

    from seqkit.diagnostics import DIRECTIONS, plot_hidden_states, trace
    from seqkit.modules import cell_name
    from seqkit.tasks.sentiment import SentimentTask

    path = checkpoint_file(args)
    model = SentimentTask.from_checkpoint(path)
    ids = model.encode([args.text])[0]                             # (T,), unknown words as <unk>
    tokens = model.vocab.lookup_tokens(ids.tolist())               # what the model reads
    with torch.no_grad():
        x = model.embedding(ids)                                   # (T, E): the encoder's input
    table = trace(model.encoder, x)
    result = model.predict([args.text])[0]
    encoder = model.encoder
    cell = cell_name(type(encoder))
    top = encoder.num_layers - 1
    print(f"seqkit trace: {args.text!r} through the {'bidirectional ' if encoder.bidirectional else ''}{cell} "
          f"encoder of {path} ({encoder.num_layers} layer(s), hidden size {encoder.hidden_size}, "
          f"{model.hparams.pooling} pooling)")
    probabilities = "  ".join(f"{label}={p:.3f}" for label, p in result["probabilities"].items())
    print(f"prediction: {result['label']}  ({probabilities})\n")
    # One line per token: the size of h_t in the top layer and how far each gate opens on
    # average (the internals of the cell's step that lie in [0, 1]: an LSTM's input gate says
    # how much of this word is written, its forget gate how much of the past is kept).
    rows = table[table.layer == top]
    gates = [name for name in rows.columns if name not in ("sample", "layer", "direction", "t", "x", "pre", "h", "c")
             and all(value.min() >= 0 and value.max() <= 1 for value in rows[name])]
    lines = {"t": list(range(len(tokens))), "token": tokens}
    for direction in DIRECTIONS[: encoder.num_directions]:
        part = rows[rows.direction == direction].sort_values("t")
        suffix = "" if encoder.num_directions == 1 else {"forward": " fwd", "reverse": " rev"}[direction]
        lines[f"|h_t|{suffix}"] = [f"{np.linalg.norm(h):.3f}" for h in part.h]
        for gate in gates:
            lines[f"mean {gate}{suffix}"] = [f"{v.mean():.3f}" for v in part[gate]]
    import pandas as pd

    print(pd.DataFrame(lines).to_string(index=False))
    if args.output:
        words = dict(enumerate(tokens))
        full = table.copy()
        full.insert(4, "token", full.t.map(words))
        _write_csv(full, args.output)
    if args.plot:
        label, p = result["label"], result["probabilities"][result["label"]]
        plot_hidden_states(table, args.plot, tokens=tokens,
                           title=f"h_t of the {cell} encoder, layer {top}; predicted {label} (p = {p:.2f})")
        print(f"\nwrote {args.plot}")
    return 0


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.ckpt_path is not None or args.text is not None:
        if args.ckpt_path is None or args.text is None:
            _fail("--ckpt_path and --text go together: a sentiment checkpoint and the sentence to trace through it")
        given = [f"--{'cells' if name == 'cell' else name}" for name in ("weights", "x", "cell", "nonlinearity")
                 if getattr(args, name) is not None]
        if given:
            _fail(f"{', '.join(given)} cannot be used with --ckpt_path: the checkpoint gives the cell, weights and input")
        if not args.text.strip():
            _fail("--text is empty; give the sentence to trace")
    for flag in ("input_size", "hidden_size", "num_layers"):
        if getattr(args, flag) < 1:
            _fail(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    if not 0 <= args.precision <= 12:
        _fail(f"--precision is the number of decimals shown, from 0 to 12; got {args.precision}")
    args.output = output_path(args.output, "--output", (".csv",), args.force)
    args.plot = output_path(args.plot, "--plot", (".png", ".pdf", ".svg"), args.force)
    if args.ckpt_path is not None:
        return trace_sentence(args)
    spec = _read_spec(args.weights) if args.weights else {}
    import torch

    from seqkit.diagnostics import trace
    from seqkit.modules import cell_class, cell_name

    cls = cell_class(str(args.cell or spec.get("cell", "rnn")))
    cell = cell_name(cls)
    torch.manual_seed(args.seed)
    if args.weights:
        module = _module_from_spec(spec, cls, args.nonlinearity, args.weights)
    else:
        module = _build(cls, args.input_size, args.hidden_size, args.nonlinearity, num_layers=args.num_layers,
                        bidirectional=args.bidirectional)
    if args.x is not None:
        x = _parse_x(args.x)
    elif "x" in spec:
        x = spec["x"]
    else:
        x = torch.randn(3, module.input_size).tolist()
    try:
        x = torch.tensor(x, dtype=torch.float32)
    except (TypeError, ValueError) as error:
        _fail(f"the input x must be a list of numbers or of equal-length rows: {error}")
    if x.dim() == 1:
        x = x.unsqueeze(-1) if module.input_size == 1 else x.unsqueeze(0)
    try:
        table = trace(module, x, _initial_state(spec, module))
    except ValueError as error:
        _fail(str(error))

    activation = getattr(module, "nonlinearity", "tanh")
    print(f"seqkit trace: {cell}, input size {module.input_size}, hidden size {module.hidden_size}, "
          f"{module.num_layers} layer(s){', bidirectional' if module.bidirectional else ''}, {x.shape[0]} timesteps")
    # The cell's equations as its class declares them, else the first line of its docstring.
    for line in module.formula or (cls.__doc__ or cls.__name__).strip().splitlines()[:1]:
        print("  " + line.replace("{act}", activation))
    print()
    print(format_table(table, args.precision))
    if args.output:
        _write_csv(table, args.output)
    if args.plot:
        from seqkit.diagnostics import plot_hidden_states
        from seqkit.errors import SeqkitError

        # One feature per step: its value labels the column.
        tokens = [f"{v:.3g}" for v in x[:, 0].tolist()] if module.input_size == 1 and x.dim() == 2 else None
        try:
            plot_hidden_states(table, args.plot, tokens=tokens, title=f"h_t of an untrained {cell}, layer "
                               f"{module.num_layers - 1}, at each step of the input",
                               xlabel="input x_t at each step" if tokens is not None else "timestep t")
        except SeqkitError as error:
            _fail(str(error))
        print(f"\nwrote {args.plot}")
    return 0
