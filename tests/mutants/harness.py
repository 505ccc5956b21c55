"""Mutation testing of the chapters: a plausible wrong theory must make some claim fail.

Each chapter has a module ``tests/mutants/<chapter>.py`` defining ``MUTANTS``, a list of
:class:`Mutant`: a wrong version of a function the chapter tests (a factor, a sign, a first-order
formula, a dropped term). The harness runs a chapter's code cells in a fresh process, first without
a mutant (every claim must pass), then once per mutant with the wrong function patched in everywhere
it is bound (every ``dltheory`` module, before the chapter imports it). A mutant is **killed** when
a claim of the chapter fails (:class:`dltheory.claims.ClaimError`); the chapter stops at the first
failed claim. A mutant that survives the whole chapter, or that breaks it in another way (an
exception that is not a failed claim), fails the run.

Usage::

    python tests/mutants/harness.py                    # every chapter, every mutant (make mutants)
    python tests/mutants/harness.py meanfield          # one chapter
    python tests/mutants/harness.py meanfield -m name  # one mutant of one chapter (no clean run)
    python tests/mutants/harness.py --list

Runs ``--jobs`` processes at a time (default 2, the cores of the reference machine) and prints a
table: chapter, mutant, outcome, the claim that killed it, seconds.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Mutant:
    """A plausible wrong version of one function of the package.

    Attributes:
        name: short id, unique within the chapter.
        description: the error, in words (what a wrong theory or a plausible bug would do).
        target: ``"dltheory.module:function"`` or ``"dltheory.module:Class.method"``.
        make: given the original function, returns the wrong one.
    """

    name: str
    description: str
    target: str
    make: Callable[[Callable], Callable]


def chapters() -> list[str]:
    return sorted(
        p.stem for p in HERE.glob("*.py") if p.stem not in ("harness", "__init__", "conftest")
    )


def mutants(chapter: str) -> list[Mutant]:
    sys.path.insert(0, str(HERE))
    module = importlib.import_module(chapter)
    found = list(module.MUTANTS)
    names = [m.name for m in found]
    if len(set(names)) != len(names):
        raise ValueError(f"{chapter}: mutant names must be unique, got {names}")
    return found


def _import_all() -> None:
    import pkgutil

    import dltheory

    for info in pkgutil.walk_packages(dltheory.__path__, "dltheory."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def apply(mutant: Mutant) -> int:
    """Patch ``mutant`` into every loaded ``dltheory`` module that binds the original; return how
    many."""
    _import_all()
    module_name, _, attr = mutant.target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    wrong = mutant.make(original)
    if isinstance(owner, type):  # a method
        setattr(owner, name, wrong)
        return 1
    count = 0
    for mod_name, mod in list(sys.modules.items()):
        if not mod_name.startswith("dltheory") or mod is None:
            continue
        for key, value in list(vars(mod).items()):
            if value is original:
                setattr(mod, key, wrong)
                count += 1
    if count == 0:
        raise RuntimeError(f"mutant {mutant.name}: {mutant.target} is bound nowhere")
    return count


def _cells(chapter: str) -> list[str]:
    import jupytext
    from IPython.core.inputtransformer2 import TransformerManager

    nb = jupytext.read(ROOT / "book" / f"{chapter}.md")
    transform = TransformerManager().transform_cell
    return [transform(c.source) for c in nb.cells if c.cell_type == "code"]


def run_chapter(chapter: str, mutant_name: str | None) -> dict:
    """Execute the chapter's code cells in this process; return the outcome as a dict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    torch.set_num_threads(1)
    from dltheory import claims

    if mutant_name is not None:
        mutant = {m.name: m for m in mutants(chapter)}[mutant_name]
        apply(mutant)
    os.chdir(ROOT / "book")
    namespace: dict = {"__name__": "__main__"}
    start = time.perf_counter()
    import contextlib
    import io

    for i, source in enumerate(_cells(chapter)):
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                exec(compile(source, f"<{chapter} cell {i}>", "exec"), namespace)
        except claims.ClaimError as err:
            failed = [c.id for c in claims.records() if not c.passed]
            return {
                "outcome": "killed",
                "claim": failed[-1] if failed else "?",
                "detail": str(err)[:300],
                "seconds": time.perf_counter() - start,
                "claims": len(claims.records()),
            }
        except Exception as err:  # noqa: BLE001 - reported, and fails the run
            return {
                "outcome": "error",
                "claim": "",
                "detail": f"cell {i}: {type(err).__name__}: {err}"[:500],
                "seconds": time.perf_counter() - start,
                "claims": len(claims.records()),
            }
        finally:
            plt.close("all")
    return {
        "outcome": "survived",
        "claim": "",
        "detail": "",
        "seconds": time.perf_counter() - start,
        "claims": len(claims.records()),
    }


def _child(chapter: str, mutant_name: str | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", chapter]
    if mutant_name:
        cmd += ["-m", mutant_name]
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        MPLBACKEND="Agg",
        DLTHEORY_CLAIMS_STRICT=os.environ.get("DLTHEORY_CLAIMS_STRICT", ""),
    )
    env.pop("DLTHEORY_CLAIMS_DIR", None)
    env.pop("DLTHEORY_FIGURES_DIR", None)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MUTANT-RESULT ")]
    if not lines:
        return {
            "outcome": "error",
            "claim": "",
            "seconds": 0.0,
            "claims": 0,
            "detail": (proc.stderr or proc.stdout)[-500:],
        }
    return json.loads(lines[-1][len("MUTANT-RESULT ") :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapters to run (default: all with mutants)")
    parser.add_argument("-m", "--mutant", help="run only this mutant (of the one chapter given)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = run_chapter(args.chapters[0], args.mutant)
        print("MUTANT-RESULT " + json.dumps(result), flush=True)
        return 0

    names = args.chapters or chapters()
    unknown = [c for c in names if c not in chapters()]
    if unknown:
        parser.error(f"no mutants for {unknown}; chapters with mutants: {chapters()}")
    if args.list:
        for c in names:
            for m in mutants(c):
                print(f"{c:12s} {m.name:28s} {m.target}\n{'':12s} {m.description}")
        return 0
    if args.mutant and len(names) != 1:
        parser.error("--mutant needs exactly one chapter")
    jobs = []
    for c in names:
        ms = mutants(c)
        if args.mutant:
            jobs.append((c, args.mutant))
            continue
        jobs.append((c, None))
        jobs += [(c, m.name) for m in ms]
    # The clean runs are the longest jobs: start them first so the workers finish together.
    jobs.sort(key=lambda job: job[1] is not None)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda job: (job, _child(*job)), jobs))
    bad = 0
    per_chapter: dict[str, int] = {}
    print(f"\n{'chapter':11s} {'mutant':28s} {'outcome':9s} {'killed by':38s} {'s':>6s}")
    for (chapter, name), r in results:
        if name is None:
            ok = r["outcome"] == "survived"
            outcome = f"clean {'ok' if ok else 'FAIL'}"
            who = f"{r['claims']} claims pass" if ok else r["claim"] or r["detail"][:38]
        else:
            ok = r["outcome"] == "killed"
            outcome = r["outcome"]
            who = r["claim"] if ok else r["detail"][:38]
            per_chapter[chapter] = per_chapter.get(chapter, 0) + ok
        bad += not ok
        print(f"{chapter:11s} {name or '(none)':28s} {outcome:9s} {who:38s} {r['seconds']:6.1f}")
        if not ok and r["detail"]:
            print(f"{'':11s} -> {r['detail']}")
    total = sum(per_chapter.values())
    print(
        f"\n{total} mutants killed in {len(per_chapter)} chapters; {bad} problem(s); "
        f"{time.perf_counter() - start:.0f} s"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
