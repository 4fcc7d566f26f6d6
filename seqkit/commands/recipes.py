"""`seqkit recipes`: the recipes that ship with seqkit, one a line; show one, or copy it out to edit.

    seqkit recipes                         name and one-line description of every recipe (tune: it
                                           ships a search space for `seqkit tune`)
    seqkit recipes show next_word/lstm     its YAML
    seqkit recipes copy next_word/lstm     write it to ./next_word_lstm.yaml, to edit and run with -c
    seqkit recipes copy reviews.csv        write out a sample file that ships with seqkit (datasets/)

A recipe's description is the first line of its opening comment; it says whether the
recipe runs offline (the shipped corpus and samples, generated data) or downloads a
catalog dataset once (`ptb`, `sst2`, ...: into ~/.cache/seqkit, or read from SEQKIT_DATA).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqkit import packaged
from seqkit.errors import SeqkitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqkit recipes", description="List the recipes that ship with seqkit, print one, or copy one out to "
        "edit. Any command that takes -c/--config takes a recipe's name (seqkit fit -c next_word/lstm).")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.add_parser("list", help="name and description of every recipe (the default)")
    show = sub.add_parser("show", help="print a recipe's YAML")
    show.add_argument("name", help="a recipe name, e.g. next_word/lstm")
    copy = sub.add_parser("copy", help="write a recipe out as a file to edit, or a shipped sample file")
    copy.add_argument("name", help="a recipe name (e.g. next_word/lstm) or a sample file (e.g. reviews.csv)")
    copy.add_argument("dest", nargs="?", default=".", type=Path,
                      help="a folder (the file is named after the recipe, e.g. next_word_lstm.yaml) or a .yaml "
                           "file name (default: the current folder)")
    copy.add_argument("--force", action="store_true", help="replace the file if it exists")
    return parser


def describe(path: Path) -> str:
    """The first line of the recipe's opening comment."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") and line.strip("# "):
            return line.lstrip("# ").strip()
    return ""


def samples() -> list[str]:
    """The sample files that ship with seqkit (`datasets/*.csv`)."""
    return sorted(path.name for path in packaged.folder("datasets").glob("*.csv"))


def _path(name: str) -> Path:
    path = packaged.recipe_path(name)
    if path is None:
        raise SeqkitError(f"no recipe named {name!r}; the recipes are {', '.join(packaged.recipe_names())} "
                          f"(and the sample files {', '.join(samples())})")
    return path


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.action in (None, "list"):
        names, root = packaged.recipe_names(), packaged.folder("recipes")
        width = max(map(len, names))
        for name in names:
            tunable = "tune" if packaged.space_path(root / f"{name}.yaml") else ""
            print(f"{name:<{width}}  {tunable:<4}  {describe(root / f'{name}.yaml')}")
        print(f"\nsample files: {', '.join(samples())} (seqkit recipes copy NAME writes one out)", file=sys.stderr)
        print("seqkit fit -c NAME trains one; `seqkit recipes show NAME` prints it, `seqkit recipes copy NAME` "
              "writes it out to edit. Recipes marked 'downloaded once' fetch their data into ~/.cache/seqkit "
              "(sha256-checked), or read it from SEQKIT_DATA or --data.root. Recipes marked tune ship a search space "
              "(NAME.space.yaml) for `seqkit tune -c NAME --trials N`.", file=sys.stderr)
        return 0
    if args.action == "copy" and args.name in samples():
        return _copy(packaged.sample(args.name), args.name, args.dest, args.force, "")
    path = _path(args.name)
    if args.action == "show":
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return 0
    name = path.relative_to(packaged.folder("recipes")).with_suffix("").as_posix()
    return _copy(path, f"{name.replace('/', '_')}.yaml", args.dest, args.force, "edit it, then: seqkit fit -c {}")


def _copy(source: Path, filename: str, dest: Path, force: bool, then: str) -> int:
    """Copy `source` to `dest` (a file, or a folder to put `filename` in); never over a file unless `force`."""
    if dest.is_dir() or dest.suffix != Path(filename).suffix:
        dest = dest / filename
    if dest.exists() and not force:
        raise SeqkitError(f"{dest} exists; pass --force to replace it, or give another file or folder")
    if not dest.parent.is_dir():
        raise SeqkitError(f"{dest.parent} is not a folder; create it first or give another destination")
    try:
        dest.write_bytes(source.read_bytes())
    except OSError as error:
        raise SeqkitError(f"cannot write {dest}: {error.strerror}") from None
    print(f"wrote {dest}" + (f"; {then.format(dest)}" if then else ""))
    return 0
