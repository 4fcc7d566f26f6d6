"""The `seqkit` command.

Every subcommand lives in a module of its own that is imported only when the command
runs, so `seqkit --help` and `seqkit --version` answer without loading torch or
Lightning. A new subcommand is one entry in `COMMANDS`: a name, a one-line help, and
the `module:function` that receives the rest of the command line.

    seqkit fit|validate|test|predict ...   Lightning's loops (LightningCLI): -c RECIPE, --print_config
    seqkit recipes [show|copy NAME]        the recipes that ship with seqkit
    seqkit trace ...                       the hidden state at each timestep of a tiny sequence, or of a sentence
    seqkit gradients ...                   |dL/dh_t| against t for fresh RNN/LSTM/GRU: vanishing and exploding
    seqkit modules ...                     seqkit's RNN/LSTM/GRU next to torch.nn: equality and speed
    seqkit generate ...                    next-word suggestions and generated text from a checkpoint
    seqkit classify ...                    labels and probabilities for texts or a CSV from a checkpoint
    seqkit compare ...                     one recipe with each cell, same data and seed: table, CSV, plots
    seqkit forecast ...                    forecasts (and intervals, a plot) for the series of a CSV
    seqkit backtest ...                    a rolling-origin backtest of a forecaster beside the baselines
    seqkit export ...                      a trained model as an ONNX or pt2 file that runs without seqkit
    seqkit serve ...                       the phone keyboard: next-word suggestions as you type, on a local page
    seqkit tune ...                        a search over a recipe's hyperparameters (Optuna), one fit a trial
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from seqkit import __version__
from seqkit.errors import SeqkitError

LIGHTNING = ("fit", "validate", "test", "predict")

COMMANDS: dict[str, tuple[str, str]] = {
    "fit": ("seqkit.training.lightning_cli:run", "train a model from a recipe (Lightning: seqkit fit -c next_word/lstm, or -c my.yaml)"),
    "validate": ("seqkit.training.lightning_cli:run", "evaluate a model on the validation split"),
    "test": ("seqkit.training.lightning_cli:run", "evaluate a model on the test split"),
    "predict": ("seqkit.training.lightning_cli:run", "run a model over the predict split"),
    "recipes": ("seqkit.commands.recipes:main", "list the recipes that ship with seqkit; show one, or copy it out to edit"),
    "trace": ("seqkit.commands.trace:main", "print h_t (and the gates) at every timestep of a tiny sequence, or of a sentence through a sentiment checkpoint"),
    "gradients": ("seqkit.commands.gradients:main", "draw how much of a loss reaches each earlier timestep, per cell: vanishing and exploding gradients"),
    "modules": ("seqkit.commands.modules:main", "compare seqkit's RNN, LSTM and GRU with torch.nn: equality and speed"),
    "generate": ("seqkit.commands.generate:main", "suggest the next word and continue a prompt with a trained language model"),
    "classify": ("seqkit.commands.classify:main", "label texts, or a whole CSV, with a trained sentiment model"),
    "compare": ("seqkit.commands.compare:main", "train one recipe with each cell (rnn, lstm, gru) and compare: table, CSV, plots"),
    "forecast": ("seqkit.commands.forecast:main", "forecast the steps after each series of a CSV with a trained forecaster"),
    "backtest": ("seqkit.commands.forecast:backtest", "score a trained forecaster from every origin of a CSV's last steps"),
    "export": ("seqkit.commands.export:main", "write a trained model as an ONNX or pt2 file that runs without seqkit"),
    "serve": ("seqkit.commands.serve:main", "type on a local web page with next-word suggestions and the hidden state drawn"),
    "tune": ("seqkit.commands.tune:main", "search a recipe's hyperparameters with Optuna: one seqkit fit a trial, pruned early"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqkit",
        description="Sequence modeling with recurrent networks: readable RNN, LSTM and GRU modules "
        "and Lightning recipes. Run `seqkit COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"seqkit {__version__}")
    parser.add_argument("--verbose", action="store_true", help="with any command: show Lightning's and torch's "
                        "notices too (a default run prints progress bars and seqkit's own lines only)")
    parser.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                        help="with any command, repeatable: import MODULE first, so that its cells are known (a cell "
                        "of your own that is not installed); installed packages' cells load without it")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        # Options belong to the command's own parser; they are passed on untouched.
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `seqkit` console script. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in argv  # before or after the command: every notice of Lightning's and torch's
    argv = [arg for arg in argv if arg != "--verbose"]
    argv, imports = take_imports(argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)  # prints help/version or an error and exits
        parser.print_help()
        return 2 if args.command is None else 0
    name, rest = argv[0], argv[1:]
    if not verbose:
        from seqkit import console

        console.quiet()
    target, _ = COMMANDS[name]
    module_name, function_name = target.split(":")
    try:
        if name != "recipes":  # the user's code: what installed packages declare, then what --import names
            from seqkit.modules import registry

            registry.load_installed()
            registry.import_modules(imports)
        function = getattr(importlib.import_module(module_name), function_name)
        return function([name, *rest] if name in LIGHTNING else rest) or 0
    except KeyboardInterrupt:  # Ctrl-C outside training (which says itself what it saved)
        print(f"seqkit {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        cause = user_error(error)
        if cause is None:
            raise
        print(f"seqkit {name}: error: {cause}", file=sys.stderr)  # a problem the user can fix: one line
        return 2


def take_imports(argv: list[str]) -> tuple[list[str], list[str]]:
    """`argv` without its `--import MODULE` (or `--import=MODULE`) options, and the modules they name.

    They may stand before or after the command; everything after `--` is left alone.
    """
    rest, imports, k = [], [], 0
    while k < len(argv):
        arg = argv[k]
        if arg == "--":
            return rest + argv[k:], imports
        if arg == "--import" or arg.startswith("--import="):
            value = arg.partition("=")[2] if "=" in arg else (argv[k + 1] if k + 1 < len(argv) else "")
            if not value or value.startswith("-"):
                raise SystemExit("seqkit: error: --import needs a module name (--import mypackage)")
            imports.append(value)
            k += 1 if "=" in arg else 2
            continue
        rest.append(arg)
        k += 1
    return rest, imports


def user_error(error: BaseException) -> SeqkitError | None:
    """The problem the user can fix behind `error`, if any, as a SeqkitError.

    That is a SeqkitError anywhere in the chain of causes (LightningCLI and jsonargparse wrap
    the ones raised in constructors), Lightning's MisconfigurationException (a Trainer option
    it refuses), or a ValueError that seqkit's own code raised on a bad argument (the modules
    check theirs as torch.nn does, with a ValueError that names it).
    """
    seen, found = set(), None
    while error is not None and id(error) not in seen:
        if isinstance(error, SeqkitError):
            return error
        if type(error).__name__ == "MisconfigurationException":  # Lightning's word on a Trainer option
            return SeqkitError(f"{error} (check the --trainer option that sets it)")
        if type(error).__name__ == "OutOfMemoryError" or "can't allocate memory" in str(error):
            return SeqkitError(f"out of memory: {_allocation(error)}; lower the sizes that multiply into a batch's "
                               "memory (--data.batch_size, the sequence length: bptt, length, max_length or input_length) or "
                               "the model's (hidden_size, num_layers)")
        if found is None and isinstance(error, ValueError) and _raised_by_seqkit(error):
            found = SeqkitError(f"{error} (check the option that sets it)")
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return found


def _allocation(error: BaseException) -> str:
    """What the allocator was asked for, from torch's message (`... tried to allocate 33537280000 bytes`)."""
    found = re.search(r"allocate (\d+) bytes|Tried to allocate ([\d.]+ [KMGT]?i?B)", str(error))
    if found is None:
        return "the allocator refused"
    size = f"{int(found[1]) / 2**30:.1f} GiB" if found[1] else found[2]
    return f"one allocation of {size} was refused"


def _raised_by_seqkit(error: BaseException) -> bool:
    """Whether the innermost frame of `error`'s traceback is seqkit's code."""
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    from seqkit.console import from_seqkit

    return from_seqkit(tb.tb_frame.f_code.co_filename)


if __name__ == "__main__":
    sys.exit(main())
