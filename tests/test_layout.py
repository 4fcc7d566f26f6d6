"""The house's rules that a reader relies on: no import cycles, no import up the floors, models without Lightning,
files of a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "seqkit"


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each seqkit module's seqkit imports at module level (not those inside functions, which run later)."""
    modules = {_module(path): path for path in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.parse(path.read_text()).body:
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def test_no_seqkit_module_imports_one_that_imports_it_back():
    graph, cycles = _imports(), []

    def visit(name: str, path: list[str]) -> None:
        for other in graph[name]:
            if other in path:
                cycles.append(" -> ".join(path[path.index(other):] + [other]))
            elif len(path) < 12:
                visit(other, path + [other])

    for name in graph:
        visit(name, [name])
    # A package importing its own submodules (seqkit.tasks -> seqkit.tasks.next_word -> seqkit.tasks.common)
    # is how Python packages are built, not a cycle between modules.
    real = [c for c in cycles if not all(a.startswith(b) or b.startswith(a) for a, b in zip(c.split(" -> "), c.split(" -> ")[1:]))]
    assert not real, "\n".join(sorted(set(real))[:10])


# The floors of the house, lowest first (docs/extending.md draws them); a module imports only from its own
# floor and the ones below, at module level or inside a function alike.
FLOORS = [
    {"seqkit", "errors", "console", "packaged", "protocols", "readers", "text", "vectors", "forecast_metrics"},
    {"modules"},
    {"models", "diagnostics"},
    {"training"},
    {"data"},
    {"forecasting"},
    {"tasks"},
    {"export", "serve"},
    {"commands", "cli", "tuning"},
]


def test_no_module_imports_from_a_floor_above_its_own():
    modules = {_module(path): path for path in ROOT.rglob("*.py")}

    def floor(name: str) -> int:
        part = name.split(".")[1] if "." in name else "seqkit"
        return next(k for k, names in enumerate(FLOORS) if part in names)

    upward = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            upward += [f"{name} -> {t}" for t in targets if t in modules and floor(t) > floor(name)]
    assert not upward, "\n".join(sorted(set(upward)))


def test_the_models_and_modules_need_no_lightning():
    for path in [*(ROOT / "models").rglob("*.py"), *(ROOT / "modules").rglob("*.py")]:
        assert "lightning" not in path.read_text(), path


def test_no_file_is_over_about_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > 520}
    assert not long, long
