"""`seqkit generate`: suggest the next word and continue a prompt with a trained language model.

    seqkit generate --ckpt_path runs/next_word/lstm --prompt "and god said"     # a run folder: its best checkpoint
"""

from __future__ import annotations

import argparse

from seqkit.commands import add_checkpoint, checkpoint_file, device



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit generate", description="Suggest the next words after a prompt and continue it by sampling, with a checkpoint of the next-word recipe.")
    add_checkpoint(parser, "next_word")
    parser.add_argument("--prompt", required=True, help="the text to continue")
    parser.add_argument("--k", type=int, default=5, help="how many next-word suggestions (default 5)")
    parser.add_argument("--max_new_tokens", type=int, default=30, help="words to generate (default 30; 0 for suggestions only)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    parser.add_argument("--top_k", type=int, default=None, help="sample among the k most likely words only")
    parser.add_argument("--seed", type=int, default=None, help="make the sample repeatable")
    parser.add_argument("--device", default="auto", help="where to run: auto (a GPU when one is present, else the CPU; the default), cpu, cuda, cuda:1")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from seqkit.tasks.next_word import NextWordTask

    model = NextWordTask.from_checkpoint(checkpoint_file(args), map_location=device(args.device))
    # A backward model (trained with --data.reverse true) suggests the word before and writes what precedes.
    # Every option is checked before anything is printed (generate refuses a bad one even for 0 words).
    text = model.generate(args.prompt, args.max_new_tokens, args.temperature, args.top_k, args.seed)
    suggestions = model.predict_next(args.prompt, k=args.k)
    print(f"{'word before' if model.reverse else 'next word after'} {args.prompt!r}:")
    for word, probability in suggestions:
        print(f"  {word:20s} {probability:.3f}")
    if args.max_new_tokens != 0:
        print(f"\n{text} {args.prompt}" if model.reverse else f"\n{args.prompt} {text}")
    return 0
