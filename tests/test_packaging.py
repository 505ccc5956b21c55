"""`pip install .` alone gives a working package: every third-party module that dltheory imports
(at the top of a module or inside a function) is declared in pyproject.toml's dependencies."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def _imported_top_level_modules() -> set[str]:
    names = set()
    for path in (ROOT / "dltheory").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    return {
        n for n in names if n not in sys.stdlib_module_names and n not in ("dltheory", "__future__")
    }


def _declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0].lower().replace("_", "-") for d in deps}


def test_every_imported_package_is_a_declared_dependency():
    dists = packages_distributions()
    declared = _declared()
    missing = {}
    for module in _imported_top_level_modules():
        owners = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if not owners & declared:
            missing[module] = sorted(owners)
    assert not missing, f"imported by dltheory but not declared in pyproject.toml: {missing}"


def test_the_book_machinery_is_not_in_the_package():
    assert not (ROOT / "dltheory" / "book.py").exists()
    for path in (ROOT / "dltheory").rglob("*.py"):
        text = path.read_text()
        assert "import sphinx" not in text and "import jupytext" not in text, path
