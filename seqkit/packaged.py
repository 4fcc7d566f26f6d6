"""The recipes and sample files that ship with seqkit, found the same way in a wheel and in a clone.

The repository keeps them at its top level, `recipes/` and `datasets/`, where people
browse them; the wheel carries the same folders inside the package, as
`seqkit/recipes/` and `seqkit/datasets/` (see `pyproject.toml`). A recipe has a name,
its path under `recipes/` without `.yaml` (`next_word/lstm`), and can be named so from
any folder: `seqkit fit -c next_word/lstm`.
"""

from __future__ import annotations

from pathlib import Path

from seqkit.errors import SeqkitError

_PACKAGE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    """The folder `recipes` or `datasets`: inside the installed package, else beside it in a clone.

    Raises:
        SeqkitError: neither exists (a broken install).
    """
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise SeqkitError(f"seqkit's {name}/ folder is missing from this install ({_PACKAGE}); reinstall seqkit")


def sample(filename: str) -> Path:
    """A sample file shipped in `datasets/` (`reviews.csv`, `co2_weekly.csv`, ...)."""
    path = folder("datasets") / filename
    if not path.is_file():
        raise SeqkitError(f"the sample file {filename} is missing from this install ({path.parent}); reinstall seqkit")
    return path


def recipe_names() -> list[str]:
    """Every packaged recipe, by name (`forecasting/lstm`, ..., `seq2seq/dates`), sorted."""
    root = folder("recipes")
    return sorted(path.relative_to(root).with_suffix("").as_posix() for path in root.glob("*/*.yaml")
                  if not path.name.endswith(SPACE))


SPACE = ".space.yaml"  # a recipe's search space for `seqkit tune`, beside it: next_word/lstm.space.yaml


def space_path(recipe: Path) -> Path | None:
    """The search space shipped (or written) beside a recipe file, or None."""
    path = Path(recipe).with_name(Path(recipe).stem + SPACE)
    return path if path.is_file() else None


def recipe_path(name: str) -> Path | None:
    """The packaged recipe `name` (also written `recipes/next_word/lstm.yaml`), or None if there is none."""
    key = name.strip().removeprefix("./").removeprefix("recipes/").removesuffix(".yaml").removesuffix(".yml")
    path = folder("recipes") / f"{key}.yaml"
    return path if key in recipe_names() else None


def resolve_recipe(value: str) -> str:
    """The file a `-c/--config` value means: an existing file as it is, else the packaged recipe of that name.

    Raises:
        SeqkitError: neither a file nor a recipe name; the message lists the names.
    """
    if Path(value).expanduser().is_file():
        _check_config(Path(value).expanduser())
        return value
    path = recipe_path(value)
    if path is not None:
        return str(path)
    raise SeqkitError(f"no file and no recipe named {value!r}; the recipes are {', '.join(recipe_names())} "
                      "(`seqkit recipes` describes them)")


def read_recipe(path: Path):
    """A recipe's YAML as plain data, read strictly: no aliases, no key given twice.

    YAML anchors and aliases let a few lines expand to gigabytes (nested aliases, a "billion
    laughs"), and a key given twice silently keeps its last value; recipes need neither.

    Raises:
        SeqkitError: an alias, or a key given twice, with its line; invalid YAML.
        DataError: a file that is not text (`seqkit.readers.read_text`).
    """
    import yaml

    class Strict(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise SeqkitError(f"{path}: line {event.start_mark.line + 1}: the alias *{event.anchor}; seqkit reads "
                                  "recipes without YAML anchors and aliases: write the value out")
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            lines: dict = {}
            for key_node, _ in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                if key is not None and key in lines:
                    raise SeqkitError(f"{path}: line {key_node.start_mark.line + 1}: the key {key!r} is given twice "
                                      f"(first on line {lines[key]}); keep one")
                lines[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep)

    from seqkit.readers import read_text

    text = read_text(path, "YAML recipe")  # a binary file, a pipe or another encoding said as for any file
    try:
        return yaml.load(text, Loader=Strict)  # noqa: S506 -- a SafeLoader
    except yaml.YAMLError as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SeqkitError(f"{path}: not a readable YAML recipe ({detail})") from None


def run_root(value: str) -> str:
    """The run folder of a recipe (its `trainer.default_root_dir`; the current folder when it names none).

    Raises:
        SeqkitError: neither a file nor a recipe name, or not a recipe.
    """
    path = Path(resolve_recipe(value)).expanduser()
    trainer = read_recipe(path).get("trainer")
    return (trainer.get("default_root_dir") if isinstance(trainer, dict) else None) or "."


def _check_config(path: Path) -> None:
    """Refuse a config file that holds nothing, or no mapping, before LightningCLI reads it."""
    content = read_recipe(path)
    if content is None:
        raise SeqkitError(f"{path} is empty; a recipe names at least the model and the data "
                          "(`seqkit recipes copy NAME` writes one out to start from)")
    if not isinstance(content, dict):
        raise SeqkitError(f"{path} holds {type(content).__name__}, not a recipe (keys such as model:, data:, trainer:)")
