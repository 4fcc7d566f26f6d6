"""`seqkit export`: a trained model as an ONNX or pt2 file that runs without seqkit.

    seqkit export --ckpt_path runs/next_word/lstm --format onnx --output lm.onnx
    seqkit export --ckpt_path runs/next_word/lstm --keyboard --int8 --output keyboard.onnx
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqkit.commands import add_checkpoint, checkpoint_file, output_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit export", description="Write a trained next-word, sentiment or "
                                     "forecasting model as a file that runs without seqkit (ONNX for onnxruntime, or "
                                     "PyTorch's pt2), with its vocabulary, labels or scaling in a JSON file beside it.")
    add_checkpoint(parser, "next_word, sentiment or forecasting")
    parser.add_argument("--format", choices=("onnx", "pt2"), default="onnx", help="onnx (the default) or pt2")
    parser.add_argument("--output", type=Path, help="the model file to write (default: TASK.onnx or TASK.pt2 here); "
                        "the JSON goes beside it")
    parser.add_argument("--keyboard", action="store_true", help="a next-word model as one step: the word typed and "
                        "the state in, the next word's log-probabilities and the new state out (ONNX)")
    parser.add_argument("--int8", action="store_true", help="ONNX with int8 weights (onnxruntime's quantizers):"
                        " under a third of the size")
    parser.add_argument("--force", action="store_true", help="overwrite an existing model file and its JSON")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from seqkit.errors import SeqkitError
    from seqkit.export import export
    from seqkit.tasks import ForecastTask, NextWordTask, SentimentTask
    from seqkit.training import checkpoints

    path = checkpoint_file(args)
    checkpoint = checkpoints.load(path)  # read once: its task picks the class, which restores from it
    task_name = checkpoint["seqkit"]["task"]
    if (args.keyboard or args.int8) and args.format != "onnx":
        raise SeqkitError(f"{'--keyboard' if args.keyboard else '--int8'} writes ONNX; drop --format {args.format}")
    if args.keyboard and task_name != "next_word":
        raise SeqkitError(f"--keyboard takes a next_word checkpoint; {path} is a {task_name!r} one")
    classes = {cls.task_name: cls for cls in (NextWordTask, SentimentTask, ForecastTask)}
    if task_name not in classes:
        raise SeqkitError(f"seqkit export takes next_word, sentiment and forecast checkpoints; {path} is a "
                          f"{task_name!r} one")
    output = output_path(args.output or Path(f"{task_name}.{args.format}"), "--output", (f".{args.format}",), args.force)
    output_path(output.with_suffix(".json"), "--output's JSON", (".json",), args.force)
    task = checkpoints.restore(classes[task_name], path, checkpoint=checkpoint)
    side = export(task, output, args.format, keyboard=args.keyboard, int8=args.int8)
    print(f"seqkit export: wrote {output} (inputs {', '.join(side['inputs'])}; outputs {', '.join(side['outputs'])}) "
          f"and {output.with_suffix('.json')}")
    return 0
