"""The shape of the code: thin commands (no torch, numpy or scikit-learn in them, short), flags from settings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COMMANDS = Path(__file__).resolve().parents[1] / "src" / "dcgan" / "commands"
HEAVY = ("torch", "torchvision", "numpy", "sklearn", "scipy", "matplotlib", "PIL")


def imported_modules(path: Path) -> set[str]:
    """Return the top-level package of every import in a module, at any level (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda p: p.name)
def test_command_modules_only_parse_flags(path: Path) -> None:
    heavy = imported_modules(path) & set(HEAVY)
    assert not heavy, f"{path.name} imports {sorted(heavy)}: move that work into the library"
    assert len(path.read_text().splitlines()) <= 80, f"{path.name} is over 80 lines: move work into the library"


def test_imported_modules_sees_function_level_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import torch.nn\n    from sklearn.svm import LinearSVC\n")
    assert imported_modules(module) == {"torch", "sklearn"}
