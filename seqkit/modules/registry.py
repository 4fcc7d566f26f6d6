"""The one table of recurrent cells that every command reads: seqkit's own and the user's.

A cell enters it in one of three ways, each one the user's own doing:

- it is defined: every subclass of `Recurrent` is known under its lower-case class name
  when its module runs (`recurrent.DEFINED`: seqkit's `rnn`, `lstm`, `gru`; a module the user
  imported with `seqkit --import MODULE`, or that a recipe's `class_path` imported);
- it is installed: a package declares it in the entry-point group `seqkit.modules`
  (`mgu = "mypackage:MGU"`), and `load_installed` imports it under that name;
- it is registered by hand: `register("mgu", MGU)`.

`trace`, `gradients`, `compare`, `modules`, `export` and checkpoint loading all look cells
up here, by short name or by class path. A checkpoint never adds to the table: it only
names a class, which must already be here (see `seqkit.training.checkpoints`).
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib import metadata

from seqkit.errors import SeqkitError
from seqkit.modules.recurrent import DEFINED, Recurrent

GROUP = "seqkit.modules"
"""The entry-point group in which an installed package declares its cells."""

OPT_IN = (f"install a package that declares it in the entry-point group {GROUP!r}, or name its module with "
          "`seqkit --import MODULE` (docs/extending.md)")
"""The two ways to make a cell known, for error messages."""

_REGISTERED: dict[str, type] = {}  # by entry point or `register`: these names win over DEFINED's
_installed_loaded = False


def class_path(cls: type) -> str:
    """`package.module.Class` of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def register(name: str, cls: type) -> type:
    """Make `cls` known by the short `name` (lower case, as the command line writes it); returns `cls`.

    A name given here (or by an entry point) wins over a class that is only defined under it.

    Raises:
        SeqkitError: `cls` is not a seqkit recurrent module, or `name` is registered for another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, Recurrent)):
        raise SeqkitError(f"cell {name!r}: {cls!r} is not a subclass of seqkit.modules.Recurrent")
    name = name.lower()
    known = _REGISTERED.get(name)
    if known is not None and known is not cls:
        raise SeqkitError(f"cell name {name!r} is taken by {class_path(known)}; {class_path(cls)} needs another name")
    _REGISTERED[name] = cls
    return cls


def load_installed() -> None:
    """Import the cells that installed packages declare in the `seqkit.modules` entry-point group (once).

    Raises:
        SeqkitError: an entry point that fails to import or names no seqkit cell, in one
            line naming the package and the error.
    """
    global _installed_loaded
    if _installed_loaded:
        return
    _installed_loaded = True
    for point in metadata.entry_points(group=GROUP):
        package = point.dist.name if point.dist is not None else "an installed package"
        try:
            loaded = point.load()
        except Exception as error:  # noqa: BLE001 -- whatever the package raised, said in one line
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise SeqkitError(f"the package {package} declares the seqkit cell {point.name} = {point.value}, which "
                              f"fails to import: {type(error).__name__}: {reason} (fix or uninstall {package})") from None
        try:
            register(point.name, loaded)
        except SeqkitError as error:
            raise SeqkitError(f"the package {package} declares {point.name} = {point.value}: {error}") from None


def import_modules(names: list[str]) -> None:
    """`seqkit --import MODULE`: import each named module, whose cells then register themselves.

    The current folder is searched first, as `python -m` does, then the rest of `sys.path`.

    Raises:
        SeqkitError: a module that cannot be found or fails to import, naming it.
    """
    if names and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # a module in the current folder, as `python -m` finds it
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and name.startswith(error.name):
                raise SeqkitError(f"--import {name}: no module named {error.name!r}; install it, or run seqkit from "
                                  "the folder that holds it (or add that folder to PYTHONPATH)") from None
            raise SeqkitError(f"--import {name}: importing it failed: {error}") from None
        except Exception as error:  # noqa: BLE001 -- the user's module raised: one line, theirs to fix
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise SeqkitError(f"--import {name}: importing it failed: {type(error).__name__}: {reason}") from None


def cells() -> dict[str, type]:
    """Every known cell by short name: seqkit's, installed packages', and those defined so far."""
    load_installed()
    return {**DEFINED, **_REGISTERED}


def cell_class(name: str) -> type:
    """The cell a short name (`lstm`, `mgu`) or a class path (`mypackage.MGU`) names.

    A class path is looked up only in modules already imported: a name given here never
    causes an import (`--import` or an entry point does that).

    Raises:
        SeqkitError: no such cell, with the known names and the two ways to add one.
    """
    known = cells()
    if name.lower() in known:
        return known[name.lower()]
    for cls in known.values():
        if class_path(cls) == name:
            return cls
    module_name, _, attribute = name.rpartition(".")
    module = sys.modules.get(module_name)
    found = getattr(module, attribute, None) if module is not None else None
    if isinstance(found, type) and issubclass(found, Recurrent):
        return found
    if found is not None:
        raise SeqkitError(f"{name} is not a seqkit cell (a subclass of seqkit.modules.Recurrent)")
    raise SeqkitError(f"unknown cell {name!r}; known: {', '.join(sorted(known))}. For a cell of your own, {OPT_IN}")


def cell_name(cls: type) -> str:
    """The short name under which `cls` is known, else its class name."""
    return next((name for name, known in cells().items() if known is cls), cls.__name__)
