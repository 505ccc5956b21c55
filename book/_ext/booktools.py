"""The book's machinery: table of contents, generated pages and the Sphinx extension (not the
package).

Nothing here computes theory. It connects the MyST chapters in ``book/`` to the Sphinx build, to the
Figures and Claims pages and to the Colab notebooks (``colab.py`` beside this file):

* the repository URL is read from ``_config.yml`` (``repository.url``) and nowhere else, the version
  from ``pyproject.toml``; the install cell of every chapter installs the package at the commit that
  last changed it (:func:`package_commit`), a reference that exists in the repository as committed;
* the Figures page lists each registered figure with the caption its chapter gives it (the caption
  lives only in the chapter cell that shows the figure);
* the Claims page collects the records the chapters wrote while they executed in this build;
* each chapter's Colab button points at its committed notebook ``notebooks/<stem>.ipynb``.

Listed in ``_config.yml`` under ``sphinx.local_extensions``; ``conftest.py`` and the tests import it
from this folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

#: Pages made from the package's registries; read last, without a Colab notebook.
GENERATED_PAGES = ("book/figures", "book/claims")
#: Token in a chapter's install cell, replaced by the pinned install address
#: (:func:`install_target`).
URL_TOKEN = "{{ repository_url }}"
#: Placeholders in the generated pages, replaced by :func:`figures_markdown`
#: / :func:`claims_markdown`.
FIGURES_TOKEN = "<!-- figures-list -->"
CLAIMS_TOKEN = "<!-- claims-list -->"


def find_root(start: str | os.PathLike | None = None) -> Path:
    """The book's root: the first folder at or above ``start`` (default: here) with ``_toc.yml``.

    Raises:
        FileNotFoundError: if no ``_toc.yml``/``_config.yml`` pair is found.
    """
    here = Path(start or Path(__file__).parent).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "_config.yml").is_file():
            return folder
    raise FileNotFoundError(
        f"no _toc.yml/_config.yml at or above {here}: run from the book's repository"
    )


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
        raise ValueError(
            f"_config.yml repository.url must be https://github.com/ORG/REPO; got {url!r}"
        )
    return url.rstrip("/")


def site_url(root: str | os.PathLike | None = None) -> str:
    """Where the built book is published: GitHub Pages of the repository (``html.baseurl`` wins)."""
    base = (config(root).get("html") or {}).get("baseurl")
    if base:
        return str(base).rstrip("/")
    org, repo = repository_url(root).removeprefix("https://github.com/").split("/")
    return f"https://{org}.github.io/{repo}"


def version(root: str | os.PathLike | None = None) -> str:
    """The one version number of the project, from ``pyproject.toml``."""
    import tomllib

    data = tomllib.loads((find_root(root) / "pyproject.toml").read_text())
    return str(data["project"]["version"])


def release_tag(root: str | os.PathLike | None = None) -> str:
    """The name a release of this version is tagged with (``v`` + the version)."""
    return "v" + version(root)


#: The paths whose content is what ``pip install`` of the repository installs.
PACKAGE_PATHS = ("dltheory", "pyproject.toml")


def package_commit(root: str | os.PathLike | None = None) -> str:
    """The full hash of the last commit that changed the installed package (:data:`PACKAGE_PATHS`).

    The install cell pins it. It is an ancestor of every later commit, so it exists wherever the
    notebook that names it exists, and the package there is the package the chapter was written
    with. (A version tag was the earlier pin: nothing created the tag, and Colab's install failed.)

    Raises:
        RuntimeError: outside a git checkout, or where git is missing.
    """
    import subprocess

    base = find_root(root)
    try:
        out = subprocess.run(
            ["git", "-C", str(base), "log", "-1", "--format=%H", "--", *PACKAGE_PATHS],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as err:
        raise RuntimeError(
            f"the install cell pins a git commit; {base} must be a git checkout ({err})"
        ) from err
    if not re.fullmatch(r"[0-9a-f]{40}", out):
        raise RuntimeError(
            f"no commit changed {', '.join(PACKAGE_PATHS)} in {base}: commit the package"
        )
    return out


def pin_problem(ref: str, root: str | os.PathLike | None = None) -> str | None:
    """Why the install reference ``ref`` cannot install this checkout's package, or ``None`` if it
    can.

    ``ref`` must name a commit of this repository (a tag that was never created does not), and the
    package there must equal the package at ``HEAD``.
    """
    import subprocess

    base = str(find_root(root))
    exists = subprocess.run(
        ["git", "-C", base, "cat-file", "-e", f"{ref}^{{commit}}"], capture_output=True, text=True
    )
    if exists.returncode != 0:
        return f"{ref!r} names no commit of the repository (a tag never created?)"
    same = subprocess.run(
        ["git", "-C", base, "diff", "--quiet", ref, "HEAD", "--", *PACKAGE_PATHS],
        capture_output=True,
        text=True,
    )
    if same.returncode != 0:
        return f"the package at {ref[:12]} differs from the package at HEAD: run make notebooks"
    return None


def install_target(root: str | os.PathLike | None = None) -> str:
    """What the install cell installs from: the repository at :func:`package_commit`."""
    return f"{repository_url(root)}@{package_commit(root)}"


def _branch(root: Path) -> str:
    return (config(root).get("repository") or {}).get("branch", "main")


def toc_files(root: str | os.PathLike | None = None) -> list[str]:
    """Every file named in ``_toc.yml`` (root first), as paths without suffix relative to the
    root."""
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
    return "kernelspec:" in text.split("---", 2)[1]


def chapters(root: str | os.PathLike | None = None) -> list[Path]:
    """The chapter sources: toc entries that are MyST notebooks, in book order."""
    base = find_root(root)
    return [
        base / f"{name}.md"
        for name in toc_files(base)
        if name not in GENERATED_PAGES
        and (base / f"{name}.md").is_file()
        and _is_notebook(base / f"{name}.md")
    ]


def notebook_path(chapter: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """Where the Colab notebook of ``chapter`` (a path or a stem) lives:
    ``notebooks/<stem>.ipynb``."""
    return find_root(root) / "notebooks" / f"{Path(chapter).stem}.ipynb"


def colab_url(chapter: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """The "Open in Colab" address of ``chapter``'s committed notebook."""
    base = find_root(root)
    org_repo = repository_url(base).removeprefix("https://github.com/")
    stem = Path(chapter).stem
    return f"https://colab.research.google.com/github/{org_repo}/blob/{_branch(base)}/notebooks/{stem}.ipynb"


def figure_cells(md: str | os.PathLike) -> list[dict[str, str]]:
    """The figures a chapter shows, in order: ``{"id", "label", "caption"}`` from each figure cell.

    A figure cell is a code cell with ``mystnb.figure`` metadata (name and caption) that calls
    ``figures.show("<id>", ...)``.

    Raises:
        ValueError: for a figure cell without a caption, a name, or a ``figures.show`` call.
    """
    import jupytext

    out = []
    for cell in jupytext.read(md).cells:
        meta = cell.metadata.get("mystnb", {}).get("figure") if cell.cell_type == "code" else None
        if not meta:
            continue
        found = re.search(r'figures\.show\(\s*"([^"]+)"', cell.source)
        if not found or not meta.get("name") or not str(meta.get("caption", "")).strip():
            raise ValueError(
                f"{Path(md).name}: a figure cell needs a name, a caption and figures.show(id)"
            )
        out.append(
            {
                "id": found.group(1),
                "label": str(meta["name"]),
                "caption": " ".join(str(meta["caption"]).split()),
            }
        )
    return out


# --------------------------------------------------------------------------- generated pages


def figures_markdown(root: str | os.PathLike | None = None) -> str:
    """MyST listing of every figure of the book, in book order, with its caption and rebuild
    command.

    Raises:
        RuntimeError: if a registered figure is shown by no chapter (its caption would be missing).
    """
    from dltheory import figures

    base = find_root(root)
    out: list[str] = []
    shown = set()
    for md in chapters(base):
        cells = figure_cells(md)
        if not cells:
            continue
        out += [f"## {{doc}}`{md.stem}`", ""]
        for cell in cells:
            shown.add(cell["id"])
            out += [
                f"{{numref}}`{cell['label']}` · `{cell['id']}`",
                f":   {cell['caption']}",
                "",
                f"    Rebuild: `python -m dltheory figures build {cell['id']} --format pdf`",
                "",
            ]
    unshown = sorted(set(figures.ids()) - shown)
    if unshown:
        raise RuntimeError(f"registered figures shown by no chapter: {', '.join(unshown)}")
    return "\n".join(out).rstrip() + "\n"


#: At most this share of the book's claims may be identities (checks of the code, not evidence).
MAX_IDENTITY_SHARE = 0.25


def claims_markdown(
    folder: str | os.PathLike | None = None, root: str | os.PathLike | None = None
) -> str:
    """MyST listing of every claim the chapters checked during this build.

    Args:
        folder: where the chapters wrote their records (default: ``$DLTHEORY_CLAIMS_DIR``).

    Raises:
        RuntimeError: if the folder is not set, or a chapter of the table of contents left no
        records.
    """
    from dltheory import claims

    folder = folder or os.environ.get(claims.ENV_VAR)
    if not folder:
        raise RuntimeError(
            f"the Claims page is made by the book build: set {claims.ENV_VAR} and execute "
            "the chapters "
            "first (make book)"
        )
    records = claims.load(folder)
    stems = [md.stem for md in chapters(root)]
    seen = {c.chapter for c in records}
    missing = [s for s in stems if s not in seen]
    if missing:
        raise RuntimeError(f"no claim records from chapter(s) {', '.join(missing)} in {folder}")
    order = {s: i for i, s in enumerate(stems)}
    records.sort(key=lambda c: order.get(c.chapter, len(order)))
    preds = [c for c in records if c.kind != "identity"]
    unguarded = [c.id for c in preds if c.rival is None and c.power is None and c.test != "effect"]
    if unguarded:
        raise RuntimeError(f"predictions without a rival or a powered test: {', '.join(unguarded)}")
    if len(records) - len(preds) > MAX_IDENTITY_SHARE * len(records):
        raise RuntimeError(
            f"{len(records) - len(preds)} of {len(records)} claims are identities: more than "
            f"{MAX_IDENTITY_SHARE:.0%} of the book's checks would be checks of the code, not "
            "evidence"
        )
    summary = (
        f"{sum(c.passed for c in records)} of {len(records)} claims pass in {len(seen)} chapters: "
        f"{len(preds)} predictions and exercise answers, each with a rival outside its "
        "tolerance or a "
        f"test with its power against a named alternative; "
        f"{len(records) - len(preds)} identities (checks of the code, not evidence); "
        f"{sum(c.settled_after_data for c in records)} with a setting chosen after seeing data (†)."
    )
    return summary + "\n\n" + claims.markdown_table(records, {s: s for s in stems})


# --------------------------------------------------------------------------- Sphinx extension


def _read_generated_last(app, env, docnames: list[str]) -> None:
    generated = [d for d in docnames if d in GENERATED_PAGES]
    rest = [d for d in docnames if d not in GENERATED_PAGES]
    docnames[:] = rest + sorted(generated, key=GENERATED_PAGES.index)


def _fill_sources(app, docname: str, source: list[str]) -> None:
    """Pin the install cell to this version's tag; write the lists into the generated pages."""
    root = Path(app.srcdir)
    text = source[0]
    if URL_TOKEN in text:
        text = text.replace(URL_TOKEN, install_target(root))
    if docname == "book/figures" and FIGURES_TOKEN in text:
        text = text.replace(FIGURES_TOKEN, figures_markdown(root))
    if docname == "book/claims" and CLAIMS_TOKEN in text:
        text = text.replace(CLAIMS_TOKEN, claims_markdown(root=root))
    source[0] = text


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


def _dedupe_inline_scripts(app, exception) -> None:
    """Drop repeated identical inline scripts from the written pages.

    Jupyter Book's stack adds sphinx-thebe's and sphinx-togglebutton's inline configuration scripts
    twice, so every page logged "Identifier 'THEBE_JS_URL' has already been declared". A second,
    identical ``<script>...</script>`` line (no ``src``) in a page's head is removed.
    """
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        lines = page.read_text().split("\n")
        seen, kept = set(), []
        for line in lines:
            key = line.strip()
            if key.startswith("<script>") and key.endswith("</script>"):
                if key in seen:
                    continue
                seen.add(key)
            kept.append(line)
        if len(kept) != len(lines):
            page.write_text("\n".join(kept))


def setup(app) -> dict[str, Any]:
    """Sphinx extension entry point (``_config.yml``: ``sphinx.local_extensions``)."""
    app.connect("env-before-read-docs", _read_generated_last)
    app.connect("source-read", _fill_sources)
    app.connect("html-page-context", _colab_button, priority=900)
    app.connect("build-finished", _dedupe_inline_scripts)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
