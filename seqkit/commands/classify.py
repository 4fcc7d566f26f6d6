"""`seqkit classify`: label texts with a trained sentiment model.

    seqkit classify --ckpt CKPT "a gripping, beautifully shot film" "dull and far too long"
    seqkit classify --ckpt CKPT --input reviews.csv --text-column review --output predicted.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from seqkit.errors import DataError, SeqkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit classify", description="Label texts with a checkpoint of the sentiment recipe: "
                                     "print each text's label and the probability of every label, or add them as columns to a CSV.")
    parser.add_argument("texts", nargs="*", help="texts to classify")
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `seqkit fit` with a sentiment recipe, or a run folder (its newest last.ckpt)")
    parser.add_argument("--input", type=Path, help="a CSV, TSV or JSON Lines file of texts")
    parser.add_argument("--text-column", default="text", help="the column of --input holding the texts (default text)")
    parser.add_argument("--output", type=Path, help="where to write --input with the predictions added (required with --input)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    parser.add_argument("--device", default="cpu", help="where to run (default cpu; e.g. cuda)")
    return parser


def _read_table(path: Path):
    import pandas as pd

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=True, dtype=False)
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte {error.start}); re-save it as UTF-8") from None
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path} could not be read as {suffix.lstrip('.') or 'CSV'}: {str(error).splitlines()[0]}") from None


def _write_table(table, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        table.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        table.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if bool(args.texts) == bool(args.input):
        raise SeqkitError("give texts to classify, or --input FILE (with --output FILE), not both")
    if args.input is not None:
        if args.output is None:
            raise SeqkitError("--input needs --output (the input file is never changed)")
        if args.output.resolve() == args.input.resolve():
            raise SeqkitError("--output must differ from --input (the input file is never changed)")
        if args.output.exists() and not args.force:
            raise SeqkitError(f"{args.output} exists; pass --force to overwrite it")
    from seqkit.commands.generate import newest_checkpoint
    from seqkit.tasks.sentiment import SentimentTask

    model = SentimentTask.from_checkpoint(newest_checkpoint(args.ckpt), map_location=args.device)
    if args.input is None:
        for text, result in zip(args.texts, model.predict(args.texts)):
            probabilities = "  ".join(f"{label}={p:.3f}" for label, p in result["probabilities"].items())
            print(f"{result['label']}\t{probabilities}\t{text}")
        return 0
    table = _read_table(args.input)
    if args.text_column not in table.columns:
        raise DataError(f"{args.input} has no column {args.text_column!r}; its columns are {list(table.columns)} (set --text-column)")
    results = model.predict(table[args.text_column].astype(str).tolist())
    table["predicted_label"] = [r["label"] for r in results]
    for label in model.labels:
        table[f"probability_{label}"] = [r["probabilities"][label] for r in results]
    _write_table(table, args.output)
    print(f"wrote {len(table)} predictions to {args.output}")
    return 0
