"""README.md and docs/: every `seqkit` command in a code block runs, page by page, in a fresh folder.

The commands of a page run in order in one folder, as a reader would type them, so that
`seqkit generate --ckpt_path runs/next_word/lstm` finds what `seqkit fit -c next_word/lstm`
wrote. Training is cut to a few batches (the same command with `--trainer.limit_*_batches`
added), `compare` to one epoch. A command is left out, and said so, only when it needs
what a test machine does not have: a GPU, a corpus that is not in `SEQKIT_DATA`, or a
checkpoint that only a long training makes (`LM.ckpt`). docs/textbook.md has its own test.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from seqkit import packaged
from seqkit.cli import main
from seqkit.data import catalog

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "textbook.md")]
QUICK = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2",
         "--trainer.limit_test_batches", "2", "--trainer.limit_predict_batches", "2",
         "--trainer.enable_progress_bar", "false"]
UNAVAILABLE = {"LM.ckpt", "FORWARD.ckpt", "BACKWARD.ckpt"}  # made by trainings of an hour and more


def commands(page: Path) -> list[str]:
    """The `seqkit ...` commands of a page's bash and console blocks, in order."""
    found = []
    for kind, block in re.findall(r"```(bash|console)\n(.*?)```", page.read_text(), flags=re.S):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            if kind == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            for part in line.split("&&"):
                part = part.strip()
                if part.startswith("seqkit "):
                    found.append(part)
    return found


def _user_files(folder: Path) -> None:
    """The files the pages tell a reader to bring, and the code docs/extending.md tells them to write.

    That is an installed package `mypackage` (the guide's MGU, declared by an entry point in
    a `.dist-info` folder, as `pip install` leaves it), `mydata.py` (the guide's DataModule),
    and the text files its commands read.
    """
    (folder / "my.txt").write_text("".join(f"the text of line {i} is my own text\n" for i in range(400)))
    shutil.copy(packaged.sample("reviews.csv"), folder / "my_reviews.csv")
    shutil.copy(packaged.sample("co2_weekly.csv"), folder / "my_series.csv")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "extending.md").read_text(), flags=re.S)
    (folder / "mypackage").mkdir()
    (folder / "mypackage" / "__init__.py").write_text(next(b for b in blocks if "class MGU" in b))
    info = folder / "mypackage-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypackage\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[seqkit.modules]\nmgu = mypackage:MGU\n")
    (folder / "mydata.py").write_text(next(b for b in blocks if "class LinesData" in b))
    words = "the cat sat on a mat and the dog ran to the park while birds sang in the tall green trees".split()
    (folder / "corpus.txt").write_text("".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(5 + i % 7)) + "\n"
                                               for i in range(400)))
    (folder / "prompts.txt").write_text("the cat\na dog ran\n")


def _recipe_data(args: list[str]) -> str | None:
    """The catalog dataset the command's recipe reads (None: shipped or generated data, or a file given)."""
    if "-c" not in args or "--data.train_path" in args:
        return None
    path = packaged.recipe_path(args[args.index("-c") + 1])
    if path is None:
        return None
    dataset = ((yaml.safe_load(path.read_text()).get("data") or {}).get("init_args") or {}).get("dataset")
    if "--data.dataset" in args:
        dataset = args[args.index("--data.dataset") + 1]
    return dataset if catalog.fetched(dataset) else None


def _why_not(args: list[str]) -> str | None:
    """Why this machine cannot run the command, or None."""
    if "gpu" in args and not torch.cuda.is_available():
        return "needs a GPU"
    if args[:1] == ["serve"]:
        return "serves a page until stopped (tests/test_serve.py and tests/test_browser.py run the server)"
    if UNAVAILABLE & set(args):
        return "needs a checkpoint of a long training"
    if "--ckpt_path" in args and not Path(args[args.index("--ckpt_path") + 1]).exists():
        return "reads the checkpoint of a command that was left out"
    dataset = _recipe_data(args)
    if dataset is not None:
        try:
            catalog.locate(dataset, root=catalog.data_folder(), download=False)
        except Exception:
            return f"needs {dataset} in SEQKIT_DATA"
    return None


def _newest_checkpoint(folder: Path) -> str | None:
    found = sorted(folder.glob("runs/**/last.ckpt"), key=lambda p: p.stat().st_mtime)
    return str(found[-1]) if found else None


def test_the_pages_hold_the_commands_a_reader_needs():
    readme = commands(ROOT / "README.md")
    for job in ("next_word/", "sentiment/", "forecasting/"):
        assert sum(f"-c {job}" in c for c in readme) >= 1, job
    assert sum(c.startswith(("seqkit generate", "seqkit classify", "seqkit forecast", "seqkit trace")) for c in readme) >= 4
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250
    for page in PAGES[1:]:
        text = page.read_text()
        assert not re.search(r"-c recipes/", text), page.name  # recipes by name: the commands work from an install


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_command_on_the_page_runs(page, tmp_path, monkeypatch, capsys, only_seqkit_cells, request):
    monkeypatch.chdir(tmp_path)
    request.addfinalizer(lambda: [sys.modules.pop(name, None) for name in ("mypackage", "mydata")])
    monkeypatch.setenv("SEQKIT_CACHE", str(tmp_path / "cache"))  # nothing is downloaded: data comes from SEQKIT_DATA
    monkeypatch.setenv("SEQKIT_DATA", str(catalog.data_folder()))
    _user_files(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # the folder's package, installed
    (tmp_path / "exercise.yaml").write_text(
        re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "seeing-inside.md").read_text(), flags=re.S)[0])
    ran, skipped = [], []
    for k, command in enumerate(commands(page)):
        args = shlex.split(command, comments=True)[1:]
        if "CKPT" in args:
            newest = _newest_checkpoint(tmp_path)
            if newest is None:
                skipped.append((command, "no checkpoint from an earlier command of the page"))
                continue
            args = [newest if a == "CKPT" else a for a in args]
        reason = _why_not(args)
        if reason:
            skipped.append((command, reason))
            continue
        if args[0] in ("fit", "validate", "test", "predict") and "--trainer.fast_dev_run" not in args:
            args += QUICK
        elif args[0] == "compare":
            extra = QUICK if "--" in args else ["--", *QUICK]
            args += ["--output_dir", str(tmp_path / f"compare-{k}"), "--force", *extra]
        elif args[0] == "tune":  # two trials of a few batches each
            if "--trials" in args:
                args[args.index("--trials") + 1] = "2"
            args += QUICK
        elif args[0] == "modules":
            args += ["--budget", "0.05"]
        code = main(args)
        captured = capsys.readouterr()
        assert code == 0, f"{page.name}: `{command}` exited {code}:\n{captured.err[-3000:]}"
        ran.append(command)
        for word in args:
            if word.endswith(".png") and args[0] != "compare":
                assert (tmp_path / word).stat().st_size > 5_000, word
    print(f"{page.name}: ran {len(ran)}, left out {len(skipped)}: {skipped}")
    if not ran and not skipped:
        pytest.skip(f"{page.name} has no seqkit commands")
