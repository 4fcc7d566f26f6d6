"""seqkit's own subcommands, one module each, imported only when the command runs.

One vocabulary of flags across them (docs/command-line.md): underscores as in Lightning's
(`--ckpt_path`, `--text_column`), `--input` for what is read, `--output` for a table
written, `--plot` for a picture, `--output_dir` for a folder, `--device auto` by default.
"""

from __future__ import annotations

from seqkit.errors import SeqkitError


def add_checkpoint(parser, recipe_family: str, required: bool = True, several: str | None = None) -> None:
    """`--ckpt_path` and `-c/--config` on an inference command, the way `fit`/`test` have them.

    `--ckpt_path` takes a file, a run folder, `last` or `best`; the last two look under the
    run folder of the recipe given with `-c` (its `trainer.default_root_dir`). With
    `several` (what a command does with more than one, in words) it may be given again,
    and `args.ckpt_path` is a list.
    """
    more = {"action": "append"} if several else {}
    parser.add_argument("--ckpt_path", required=required, **more,
                        help=f"a checkpoint written by `seqkit fit` with a {recipe_family} recipe; a run folder (the best "
                        "checkpoint of its newest run); or best / last of the run folder of the recipe given with -c"
                        + (f"; given more than once, {several}" if several else ""))
    parser.add_argument("-c", "--config", help="the recipe that was trained (a file or a packaged name, as for "
                        "`seqkit fit -c`): with --ckpt_path best or last, its run folder is searched")


def checkpoint_file(args, path: str | None = None):
    """The checkpoint file that `args.ckpt_path` (or `path`) names (see `add_checkpoint`), said when it was not a file."""
    from seqkit import packaged
    from seqkit.training import checkpoints

    root = packaged.run_root(args.config) if getattr(args, "config", None) else None
    return checkpoints.resolve(path if path is not None else args.ckpt_path, root=root)


def device(value: str) -> str:
    """The device a `--device` value means: `auto` is a CUDA GPU when one is present, else the CPU.

    Raises:
        SeqkitError: a CUDA device asked for where there is none.
    """
    import torch

    if value == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if value.startswith("cuda") and not torch.cuda.is_available():
        raise SeqkitError(f"--device {value}: this machine has no CUDA device that torch can use; "
                          "use --device cpu (or auto)")
    return value


def output_path(path, flag: str, suffixes: tuple[str, ...], force: bool, source=None):
    """Check an output file before any work: its format, its folder, and that nothing is overwritten unasked.

    Args:
        path: the path given (None: no such output).
        flag: the option that gave it, for messages (`--plot`).
        suffixes: the formats it may have, the first being the default: a path without a
            suffix gets it (`forecast` -> `forecast.png`), and is then checked like any other.
        force: whether an existing file may be replaced.
        source: the command's input file, which is never written over.

    Returns:
        The path to write (with its suffix), or None.

    Raises:
        SeqkitError: an unknown format, a folder, an existing file without `force`, the
            input file, or a folder that does not exist or cannot be written.
    """
    import os
    from pathlib import Path

    if path is None:
        return None
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(suffixes[0])
    if path.suffix.lower() not in suffixes:
        raise SeqkitError(f"{flag} {path}: seqkit writes {' or '.join(suffixes)} here, not {path.suffix}")
    if source is not None and path.resolve() == Path(source).resolve():
        raise SeqkitError(f"{flag} {path} is the input file; write elsewhere (the input is never changed)")
    if path.is_dir():
        raise SeqkitError(f"{flag} {path} is a folder; give a file name")
    if path.exists() and not force:
        raise SeqkitError(f"{path} exists; pass --force to overwrite it, or choose another {flag}")
    folder = path.parent
    if not folder.is_dir():
        raise SeqkitError(f"{flag} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise SeqkitError(f"{flag} {path}: the folder {folder} cannot be written (read-only or not yours)")
    return path
