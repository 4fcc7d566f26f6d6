"""`seqkit classify`: label texts with a trained sentiment model.

    seqkit classify --ckpt_path CKPT "a gripping, beautifully shot film" "dull and far too long"
    seqkit classify --ckpt_path CKPT --input reviews.csv --text_column review --output predicted.csv
    seqkit classify --ckpt_path RUN_A --ckpt_path RUN_B "..."      # the mean of two classifiers' probabilities
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqkit.commands import add_checkpoint, checkpoint_file, device, output_path
from seqkit.errors import SeqkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit classify", description="Label texts with a checkpoint of the sentiment recipe: "
                                     "print each text's label and the probability of every label, or add them as columns to a CSV.")
    parser.add_argument("texts", nargs="*", help="texts to classify")
    add_checkpoint(parser, "sentiment", several="the mean of their probabilities (an average of classifiers)")
    parser.add_argument("--input", type=Path, help="a CSV, TSV or JSON Lines file of texts")
    parser.add_argument("--text_column", default="text", help="the column of --input holding the texts (default text)")
    parser.add_argument("--output", type=Path, help="where to write --input with the predictions added (required with --input)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    parser.add_argument("--device", default="auto", help="where to run: auto (a GPU when one is present, else the CPU; the default), cpu, cuda, cuda:1")
    return parser


def _write_table(table, path: Path) -> None:
    """Write `table` whole or not at all (faults.atomic_write_text), as CSV, TSV or JSON Lines by its suffix."""
    from seqkit.training.faults import atomic_write_text

    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        text = table.to_json(orient="records", lines=True, force_ascii=False)
    else:
        text = table.to_csv(sep="\t" if suffix == ".tsv" else ",", index=False)
    atomic_write_text(text, path)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not args.texts and args.input is None:
        raise SeqkitError("nothing to classify: give texts (seqkit classify --ckpt_path CKPT \"some text\"), or "
                          "--input FILE with --output FILE")
    if args.texts and args.input is not None:
        raise SeqkitError("give texts to classify, or --input FILE (with --output FILE), not both")
    if args.input is not None:
        if args.output is None:
            raise SeqkitError("--input needs --output (the input file is never changed)")
        args.output = output_path(args.output, "--output", (".csv", ".tsv", ".jsonl", ".json"), args.force,
                                  source=args.input)
    from seqkit.tasks.sentiment import SentimentTask

    models = [SentimentTask.from_checkpoint(checkpoint_file(args, path), map_location=device(args.device)) for path in args.ckpt_path]
    if len(models) == 1:
        model = models[0]
    else:
        from seqkit.tasks.labelling import Averaged

        model = Averaged(models)
    if args.input is None:
        import pandas as pd

        frame = model.predict_frame(pd.DataFrame({"text": args.texts}), "text", source="the texts given")
        for _, row in frame.iterrows():
            probabilities = "  ".join(f"{label}={row[f'probability_{label}']:.3f}" for label in model.labels)
            print(f"{row['predicted_label']}\t{probabilities}\t{row['text']}")
        return 0
    from seqkit.data.sentiment import read_table_of_texts

    table = model.predict_frame(read_table_of_texts(args.input), args.text_column, source=args.input,
                                option="--text_column")
    _write_table(table, args.output)
    print(f"wrote {len(table)} predictions to {args.output}")
    return 0
