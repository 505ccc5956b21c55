"""The layout every topic shares (CONTRIBUTING.md): theory modules free of plotting, one front door
per topic, experiments that register the figures, registries reset only through their public API."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "dltheory"
TOPICS = sorted(p.parent.name for p in PKG.glob("*/__init__.py"))
PLOTTING = ("matplotlib", "seaborn", "dltheory.figures", "IPython")


def _theory_modules():
    for topic in TOPICS:
        for path in sorted((PKG / topic).glob("*.py")):
            if path.name != "__init__.py" and not path.name.startswith("experiments"):
                yield path


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative: resolve against the package
                parts = path.relative_to(PKG.parent).with_suffix("").parts[: -node.level]
                mod = ".".join(parts + ((mod,) if mod else ()))
            names.add(mod)
            names |= {f"{mod}.{a.name}" for a in node.names}
    return names


def test_there_are_topics():
    assert {"dynamics", "meanfield", "control"} <= set(TOPICS)


@pytest.mark.parametrize("path", list(_theory_modules()), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_theory_modules_do_not_plot(path):
    bad = sorted(n for n in _imports(path) if n.startswith(PLOTTING) or n == "dltheory.figures")
    assert not bad, (
        f"{path.name} is a theory module but imports {bad}: plotting belongs in experiments.py"
    )


@pytest.mark.parametrize("topic", TOPICS)
def test_each_topic_has_a_front_door_and_experiments(topic):
    init = PKG / topic / "__init__.py"
    tree = ast.parse(init.read_text())
    kinds = {type(n).__name__ for n in tree.body}
    assert kinds <= {"Expr", "Import", "ImportFrom", "Assign"}, (
        f"{topic}/__init__.py holds code: {kinds}"
    )
    assigned = [t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets]
    assert assigned == ["__all__"], f"{topic}/__init__.py must define __all__ and nothing else"
    assert list((PKG / topic).glob("experiments*.py")), f"{topic} has no experiments module"
    import importlib

    mod = importlib.import_module(f"dltheory.{topic}")
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing and len(mod.__all__) == len(set(mod.__all__))


@pytest.mark.parametrize("topic", TOPICS)
def test_importing_a_topic_does_not_import_matplotlib(topic):
    code = f"import sys, dltheory.{topic}; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", f"import dltheory.{topic} imports matplotlib"


def test_tests_use_the_public_registry_resets():
    here = Path(__file__).resolve().parent
    offenders = [
        p.name
        for p in here.glob("*.py")
        if p.name != Path(__file__).name
        and ("._RECORDS" in p.read_text() or "._REGISTRY" in p.read_text())
    ]
    assert not offenders, f"use claims.scoped() / figures.scoped() instead: {offenders}"


def test_one_input_checking_module():
    """Argument checks live in dltheory/_checks.py; no topic keeps validators of its own."""
    private = [
        p for p in PKG.rglob("_*.py") if p.name not in ("__init__.py", "__main__.py", "_checks.py")
    ]
    validators = [
        p
        for p in private
        if "raise TypeError" in p.read_text() or "raise ValueError" in p.read_text()
    ]
    assert not validators, f"validators outside dltheory/_checks.py: {validators}"


def _validates(fn, module, seen=None) -> bool:
    """Whether ``fn`` reaches ``dltheory._checks`` (directly, or through functions/classes of its
    module)."""
    import inspect
    import textwrap

    seen = set() if seen is None else seen
    if fn in seen:
        return False
    seen.add(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        return False
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if {"checks", "_checks"} & names:
        return True
    for name in names:
        other = getattr(module, name, None)
        if (
            (inspect.isfunction(other) or inspect.isclass(other))
            and getattr(other, "__module__", "").startswith("dltheory")
            and _validates(other, importlib_module(other), seen)
        ):
            return True
    return False


def importlib_module(obj):
    import importlib

    return importlib.import_module(obj.__module__)


def _public_functions():
    import importlib
    import inspect

    for topic in TOPICS:
        mod = importlib.import_module(f"dltheory.{topic}")
        for name in mod.__all__:
            fn = getattr(mod, name)
            fn = getattr(fn, "__wrapped__", fn)
            if (
                inspect.isfunction(fn)
                and fn.__module__.startswith("dltheory")
                and inspect.signature(fn).parameters
            ):
                yield f"{topic}.{name}", fn


@pytest.mark.parametrize(
    "name,fn", list(_public_functions()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_public_functions_validate_their_arguments(name, fn):
    """Every public function of a topic that takes arguments checks them through
    dltheory/_checks.py."""
    assert _validates(fn, importlib_module(fn)), (
        f"{name} takes arguments but never calls dltheory._checks: validate them at the top"
    )


def test_sgd_front_door_exports_every_public_name_of_its_theory_modules():
    """``dltheory.sgd`` re-exports every name its theory modules list (it did so by star imports,
    and its chapter calls them as ``sgd.<name>``); the explicit list must grow with the modules."""
    import importlib

    front = importlib.import_module("dltheory.sgd")
    missing = []
    for stem in ("linear", "escape", "bayes", "entropy", "nets"):
        module = importlib.import_module(f"dltheory.sgd.{stem}")
        missing += [f"{stem}.{n}" for n in module.__all__ if n not in front.__all__]
    assert not missing, f"dltheory.sgd.__all__ lacks {missing}"
