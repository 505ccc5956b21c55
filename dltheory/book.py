"""The book's machinery: table of contents, Colab notebooks, generated pages and a Sphinx extension.

Nothing here computes theory; it connects the MyST chapters in ``book/`` to Colab, the Figures and
Claims pages and the Sphinx build. It is used by ``make notebooks`` (``python -m dltheory notebooks``),
by the tests, by ``conftest.py`` and, as a Sphinx extension, by ``jupyter-book build``.

* The repository URL is read from ``_config.yml`` (``repository.url``) and nowhere else.
* Each chapter ``book/<stem>.md`` has a Colab notebook ``notebooks/<stem>.ipynb``: the same cells,
  outputs stripped, ``{{ repository_url }}`` in the install cell replaced by that URL.
* The Sphinx extension reads the generated pages (Figures, Claims) after the chapters, so the Claims page
  sees the records the chapters wrote, and points each chapter's Colab button at its notebook.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = [
    "GENERATED_PAGES",
    "URL_TOKEN",
    "find_root",
    "config",
    "repository_url",
    "toc_files",
    "chapters",
    "notebook_path",
    "colab_url",
    "render_notebook",
    "sync_notebooks",
    "stale_notebooks",
    "figures_markdown",
    "claims_markdown",
    "setup",
]

#: Pages made from the package's registries; read last, and without a Colab notebook.
GENERATED_PAGES = ("book/figures", "book/claims")
#: Token in a chapter's install cell replaced by the repository URL in the Colab notebook.
URL_TOKEN = "{{ repository_url }}"


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The book's root: the first folder at or above ``start`` (default: cwd) with ``_toc.yml``.

    Falls back to the folder above this package (an editable install of the repository).

    Raises:
        FileNotFoundError: if no ``_toc.yml`` is found.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    fallback = Path(__file__).resolve().parent.parent
    if (fallback / "_toc.yml").is_file():
        return fallback
    raise FileNotFoundError(f"no _toc.yml/_config.yml at or above {here}: run from the book's repository")


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def config(root: str | os.PathLike | None = None) -> dict[str, Any]:
    """The parsed ``_config.yml``."""
    return _yaml(find_root(root) / "_config.yml")


def repository_url(root: str | os.PathLike | None = None) -> str:
    """``repository.url`` from ``_config.yml``, without a trailing slash.

    Raises:
        ValueError: if it is missing or not a GitHub URL (Colab opens notebooks from GitHub).
    """
    url = (config(root).get("repository") or {}).get("url", "")
    if not isinstance(url, str) or not url.startswith("https://github.com/") or url.count("/") != 4:
        raise ValueError(f"_config.yml repository.url must be https://github.com/ORG/REPO; got {url!r}")
    return url.rstrip("/")


def _branch(root: Path) -> str:
    return (config(root).get("repository") or {}).get("branch", "main")


def toc_files(root: str | os.PathLike | None = None) -> list[str]:
    """Every file named in ``_toc.yml`` (root first), as paths without suffix relative to the root."""
    toc = _yaml(find_root(root) / "_toc.yml")
    out = [toc["root"]]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                out.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return out


def _is_notebook(md: Path) -> bool:
    text = md.read_text()
    if not text.startswith("---"):
        return False
    header = text.split("---", 2)[1]
    return "kernelspec:" in header


def chapters(root: str | os.PathLike | None = None) -> list[Path]:
    """The chapter sources: toc entries that are MyST notebooks, other than the generated pages."""
    base = find_root(root)
    return [
        base / f"{name}.md"
        for name in toc_files(base)
        if name not in GENERATED_PAGES and (base / f"{name}.md").is_file() and _is_notebook(base / f"{name}.md")
    ]


def notebook_path(chapter: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Where the Colab notebook of ``chapter`` (a path or a stem) lives: ``notebooks/<stem>.ipynb``."""
    return find_root(root) / "notebooks" / f"{Path(chapter).stem}.ipynb"


def colab_url(chapter: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """The "Open in Colab" address of ``chapter``'s committed notebook."""
    base = find_root(root)
    org_repo = repository_url(base).removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{org_repo}/blob/{_branch(base)}/notebooks/{Path(chapter).stem}.ipynb"


def render_notebook(source: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """The Colab notebook (``.ipynb`` JSON text) generated from a MyST chapter.

    Outputs are stripped, the install cell gets the repository URL, and the notebook asks Colab for a
    GPU runtime (every chapter also runs on the CPU).

    Raises:
        ValueError: if the chapter has no install cell with the ``{{ repository_url }}`` token.
    """
    import jupytext

    source = Path(source)
    url = repository_url(root)
    nb = jupytext.read(source)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or URL_TOKEN not in code[0].source:
        raise ValueError(f"{source}: the first code cell must be the install cell containing {URL_TOKEN!r}")
    for i, cell in enumerate(nb.cells):
        cell.id = f"{source.stem}-{i}"  # stable ids: regenerating gives the same file
    for cell in code:
        cell.source = cell.source.replace(URL_TOKEN, url)
        cell.outputs = []
        cell.execution_count = None
    nb.metadata.pop("jupytext", None)
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["colab"] = {"name": f"{source.stem}.ipynb", "provenance": []}
    return jupytext.writes(nb, fmt="ipynb")


def sync_notebooks(root: str | os.PathLike | None = None) -> list[Path]:
    """Write ``notebooks/<stem>.ipynb`` for every chapter; return the paths written."""
    written = []
    for md in chapters(root):
        path = notebook_path(md, root)
        path.parent.mkdir(exist_ok=True)
        text = render_notebook(md, root)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def stale_notebooks(root: str | os.PathLike | None = None) -> list[str]:
    """Messages for every chapter whose Colab notebook is missing or out of sync (empty when all good)."""
    problems = []
    for md in chapters(root):
        path = notebook_path(md, root)
        if not path.is_file():
            problems.append(f"{path} is missing: run `make notebooks` and commit it")
        elif path.read_text() != render_notebook(md, root):
            problems.append(f"{path} is out of sync with {md.name}: run `make notebooks` and commit it")
    return problems


# --------------------------------------------------------------------------- generated pages


def figures_markdown(root: str | os.PathLike | None = None) -> str:
    """MyST Markdown listing of every registered figure, in book order, with its rebuild command.

    Figures are grouped by chapter (in table-of-contents order) and listed in the order the chapter
    shows them; each entry gives the figure's number (a link), id, caption and rebuild command.
    """
    from dltheory import figures

    base = find_root(root)
    stems = [md.stem for md in chapters(base)]
    texts = {s: (base / "book" / f"{s}.md").read_text() for s in stems}

    def position(spec: figures.FigureSpec) -> tuple[int, int]:
        text = texts.get(spec.chapter, "")
        at = text.find(f'figures.show("{spec.id}"')
        return (stems.index(spec.chapter) if spec.chapter in stems else len(stems), at if at >= 0 else len(text))

    out: list[str] = []
    ordered = sorted(figures.specs(), key=position)
    for chapter in dict.fromkeys(spec.chapter for spec in ordered):
        out += [f"### {{doc}}`{chapter}`", ""]
        for spec in (s for s in ordered if s.chapter == chapter):
            out += [
                f"{{numref}}`{spec.label}` · `{spec.id}`",
                f":   {spec.caption}",
                "",
                f"    Rebuild: `python -m dltheory figures build {spec.id} --format pdf`",
                "",
            ]
    return "\n".join(out).rstrip() + "\n"


def claims_markdown(folder: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> str:
    """MyST Markdown table of every claim the chapters checked during this build.

    Args:
        folder: where the chapters wrote their records (default: ``$DLTHEORY_CLAIMS_DIR``).

    Raises:
        RuntimeError: if the folder is not set, or a chapter of the table of contents left no records
            (it was not executed in this build, or checks nothing).
    """
    from dltheory import claims

    folder = folder or os.environ.get(claims.ENV_VAR)
    if not folder:
        raise RuntimeError(
            f"the Claims page is made by the book build: set {claims.ENV_VAR} and execute the chapters first (make book)"
        )
    records = claims.load(folder)
    stems = [md.stem for md in chapters(root)]
    seen = {c.chapter for c in records}
    missing = [s for s in stems if s not in seen]
    if missing:
        raise RuntimeError(f"no claim records from chapter(s) {', '.join(missing)} in {folder}")
    order = {s: i for i, s in enumerate(stems)}
    records.sort(key=lambda c: order.get(c.chapter, len(order)))
    summary = f"{sum(c.passed for c in records)} of {len(records)} claims pass in {len(seen)} chapters."
    return summary + "\n\n" + claims.markdown_table(records, {s: s for s in stems})


# --------------------------------------------------------------------------- Sphinx extension


def _read_generated_last(app, env, docnames: list[str]) -> None:
    generated = [d for d in docnames if d in GENERATED_PAGES]
    rest = [d for d in docnames if d not in GENERATED_PAGES]
    docnames[:] = rest + sorted(generated, key=GENERATED_PAGES.index)


def _colab_button(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    groups = [b for b in context.get("header_buttons", []) if b.get("label") == "launch-buttons"]
    if not groups:
        return
    root = Path(app.srcdir)
    has_notebook = notebook_path(pagename, root).is_file() and pagename not in GENERATED_PAGES
    for group in groups:
        if not has_notebook:
            context["header_buttons"].remove(group)
            continue
        for button in group["buttons"]:
            if button.get("text") == "Colab":
                button["url"] = colab_url(pagename, root)


def setup(app) -> dict[str, Any]:
    """Sphinx extension entry point (listed in ``_config.yml`` under ``sphinx.extra_extensions``)."""
    app.connect("env-before-read-docs", _read_generated_last)
    app.connect("html-page-context", _colab_button, priority=900)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
