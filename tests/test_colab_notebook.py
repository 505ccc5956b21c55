"""A committed Colab notebook runs where dltheory is not installed: its install cell installs it.

This is the Colab case. A fresh virtual environment gets the pinned requirements (the project's
``.venv`` site-packages, linked by a ``.pth`` file, so nothing is downloaded) but not ``dltheory``;
a kernel of that environment executes ``notebooks/dynamics.ipynb`` with nbclient, with the install
cell pointed at a clone of this repository (``git+file://...``) at the commit the notebook pins, as
Colab would install it from GitHub (no tag is made here: the pinned commit must exist in the clone).
The test checks that the install cell installed the package into that environment and that the
chapter ran to the end, its claims included.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import booktools
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "dynamics.ipynb"


def _run(*cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert out.returncode == 0, (
        f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    )
    return out


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to clone the repository")
def test_committed_notebook_installs_dltheory_and_runs(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    # The repository as Colab sees it: the committed history, and nothing added to it.
    clone = tmp_path / "repo"
    _run("git", "clone", "-q", str(ROOT), str(clone))
    # A fresh environment with the pinned stack but without dltheory.
    venv = tmp_path / "colab-venv"
    _run(
        sys.executable, "-m", "venv", "--without-pip", str(venv)
    )  # pip, setuptools: the pinned ones
    py = venv / "bin" / "python"
    site = Path(
        _run(
            str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    (site / "pinned-stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = _run(
        str(py),
        "-c",
        "import importlib.util as u; print(u.find_spec('dltheory') is None)",
        cwd=tmp_path,
    )
    assert probe.stdout.strip() == "True", (
        "the fresh environment must not see dltheory before the install"
    )
    # A kernel of that environment, found by nbclient through JUPYTER_PATH.
    spec = tmp_path / "jupyter" / "kernels" / "colab"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "colab",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # pip inside the kernel: no index (everything but dltheory is there), no isolated build env.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    install = nb.cells[[c.cell_type for c in nb.cells].index("code")]
    github = f"git+{booktools.install_target(ROOT)}"
    assert github in install.source
    install.source = install.source.replace(
        github, f"git+file://{clone}@{booktools.package_commit(ROOT)}"
    )
    nb.cells.append(
        nbformat.v4.new_code_cell("import dltheory\nprint('DLTHEORY', dltheory.__file__)")
    )
    work = tmp_path / "work"
    work.mkdir()
    NotebookClient(
        nb, kernel_name="colab", timeout=600, resources={"metadata": {"path": str(work)}}
    ).execute()

    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "DLTHEORY" in last and str(venv) in last, (
        f"dltheory not installed by the install cell: {last!r}"
    )
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "✓ " in printed, "the chapter's claims did not run"
