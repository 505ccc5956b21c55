"""Run every chapter of the book as a test, straight from its MyST source.

nbval only collects ``.ipynb`` files. This hook hands nbval the chapters listed in ``_toc.yml``
(read with jupytext), so ``pytest --nbval-lax`` executes each chapter top to bottom in a fresh
kernel and a chapter whose cell raises (a failed claim included) fails the run. The generated pages
(Figures, Claims) are not chapters: the Claims page needs the records of a whole book build and is
tested through ``tests/test_book.py``.

At the end, the time each chapter took is printed.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(_ROOT / "book" / "_ext"))  # the book's machinery (booktools, colab)
_CHAPTER_TIMES: dict[str, float] = defaultdict(float)


def pytest_configure(config):
    """Chapters record the fingerprint of each figure they show; tests/test_figures.py rebuilds each
    figure once, in this process, and compares (instead of computing every experiment twice
    more)."""
    import os
    import tempfile

    # The tests' small experiments (figure rebuilds included) run faster on one intra-op thread on a
    # two-core machine, where torch's default two threads contend with the chapter kernels.
    import torch

    torch.set_num_threads(1)
    if "DLTHEORY_FIGURES_DIR" not in os.environ:
        os.environ["DLTHEORY_FIGURES_DIR"] = tempfile.mkdtemp(prefix="dltheory-figures-")


def _chapter_paths() -> set[Path]:
    import booktools

    return {p.resolve() for p in booktools.chapters(_ROOT)}


class _JupytextReader:
    """Stands in for ``nbformat`` inside nbval's collector: reads MyST notebooks with jupytext."""

    def __init__(self, nbformat):
        self._nbformat = nbformat

    def read(self, path, as_version=4):
        import jupytext

        return jupytext.read(path)

    def __getattr__(self, name):
        return getattr(self._nbformat, name)


def pytest_collect_file(file_path: Path, parent):
    opt = parent.config.option
    if not (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)):
        return None
    if file_path.suffix != ".md" or file_path.resolve() not in _chapter_paths():
        return None
    import nbval.plugin as plugin

    class MystNotebook(plugin.IPyNbFile):
        def collect(self):
            original = plugin.nbformat
            plugin.nbformat = _JupytextReader(original)
            try:
                yield from super().collect()
            finally:
                plugin.nbformat = original

    return MystNotebook.from_parent(parent, path=file_path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    start = time.perf_counter()
    yield
    if item.path.suffix == ".md":
        _CHAPTER_TIMES[item.path.name] += time.perf_counter() - start


def pytest_terminal_summary(terminalreporter):
    if not _CHAPTER_TIMES:
        return
    terminalreporter.section("chapter execution times")
    for name, seconds in sorted(_CHAPTER_TIMES.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{seconds:8.1f} s  book/{name}")
    terminalreporter.write_line(f"{sum(_CHAPTER_TIMES.values()):8.1f} s  all chapters")
