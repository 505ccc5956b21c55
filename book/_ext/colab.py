"""Colab notebooks from the MyST chapters: plain Jupyter Markdown, pinned install, outputs stripped.

Colab renders plain Jupyter Markdown, not MyST, so each chapter's notebook is rewritten for it:

* ``{footcite}`` / ``{footcite:t}`` become author–year citations linking to the paper (its DOI, URL
  or arXiv page; a Google Scholar search for its title when the entry has none), and the
  ``{footbibliography}`` directive a "References" list of the works the chapter cites;
* ``{numref}`` figure references become links to the figure on the book's page, ``{doc}`` links to
  the page;
* ``{glue:...}`` numbers become a pointer to the value the notebook prints where it computes it;
* each figure cell is followed by a Markdown cell with its caption;
* the install cell installs the package at the commit that last changed it
  (booktools.package_commit), not the moving default branch and not a tag that may never have been
  created.

Any MyST role or directive left after the rewrite is an error, so a new construct in a chapter is
caught by the test that keeps the notebooks in sync. Run as a script::

    python book/_ext/colab.py sync    # write notebooks/<chapter>.ipynb
    python book/_ext/colab.py check   # exit 1 when a notebook is missing or out of date
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote_plus

sys.path.insert(0, str(Path(__file__).resolve().parent))

import booktools  # noqa: E402

_ROLE = re.compile(r"\{([a-z][a-z:-]*)\}`([^`]*)`")
_DIRECTIVE = re.compile(r"^(```+|:::+)\{([a-z][a-z:-]*)\}[^\n]*\n(.*?)^\1[ \t]*$", re.S | re.M)
_LABEL = re.compile(r"^\([A-Za-z0-9_-]+\)=[ \t]*\n", re.M)


@lru_cache(maxsize=4)
def _bibliography(root: str) -> dict:
    from pybtex.database import parse_file

    return dict(parse_file(str(Path(root) / "book" / "references.bib")).entries)


def _authors(entry, textual: bool) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [" ".join(p.last_names).replace("{", "").replace("}", "") for p in people]
    if not last:
        return entry.fields.get("title", "Anon.")
    if len(last) == 1:
        return last[0]
    if len(last) == 2:
        return f"{last[0]} & {last[1]}" if not textual else f"{last[0]} and {last[1]}"
    return f"{last[0]} et al."


def _link(entry) -> str | None:
    f = entry.fields
    if f.get("doi"):
        return f"https://doi.org/{f['doi']}"
    if f.get("url"):
        return f["url"]
    eprint = f.get("eprint") or ""
    if eprint and (f.get("archiveprefix", f.get("archivePrefix", "arXiv")).lower() == "arxiv"):
        return f"https://arxiv.org/abs/{eprint}"
    found = re.search(r"(\d{4}\.\d{4,5})", f.get("journal", "") + " " + f.get("note", ""))
    if found:
        return f"https://arxiv.org/abs/{found.group(1)}"
    title = re.sub(r"[{}\\]", "", f.get("title", ""))
    return "https://scholar.google.com/scholar?q=" + quote_plus(title) if title else None


def _cite(keys: str, textual: bool, root: str, cited: list[str]) -> str:
    bib = _bibliography(root)
    parts = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in bib:
            raise ValueError(f"citation key {key!r} is not in book/references.bib")
        if key not in cited:
            cited.append(key)
        e = bib[key]
        who, year = _authors(e, textual), e.fields.get("year", "n.d.")
        text = f"{who} ({year})" if textual else f"{who} {year}"
        url = _link(e)
        parts.append(f"[{text}]({url})" if url else text)
    return ", ".join(parts) if textual else "(" + "; ".join(parts) + ")"


def _reference_list(root: str, cited: list[str]) -> str:
    bib = _bibliography(root)
    lines = []
    for key in cited:
        e = bib[key]
        f = e.fields
        people = e.persons.get("author") or []
        names = ", ".join(" ".join(p.last_names + p.first_names[:1]) for p in people[:6])
        names = names.replace("{", "").replace("}", "") + (", et al." if len(people) > 6 else "")
        venue = f.get("journal") or f.get("booktitle") or f.get("publisher") or ""
        title = f.get("title", "").replace("{", "").replace("}", "")
        url = _link(e)
        item = f"- {names} ({f.get('year', 'n.d.')}). *{title}*." + (f" {venue}." if venue else "")
        lines.append(item + (f" <{url}>" if url else ""))
    return "\n".join(lines)


def _split_target(text: str) -> tuple[str | None, str]:
    found = re.fullmatch(r"(.*?)\s*<([^>]+)>", text.strip(), re.S)
    return (found.group(1), found.group(2)) if found else (None, text.strip())


def markdown_for_colab(text: str, root: str | os.PathLike, cited: list[str]) -> str:
    """Rewrite one Markdown cell of a chapter from MyST into plain Jupyter Markdown.

    Raises:
        ValueError: for a role or directive this converter does not know (add it here).
    """
    root = str(booktools.find_root(root))
    site = booktools.site_url(root)

    def directive(m: re.Match) -> str:
        name, body = m.group(2), m.group(3)
        if name == "footbibliography":
            return "\0REFERENCES\0"
        if name in ("math",):
            body = "\n".join(ln for ln in body.splitlines() if not ln.startswith(":"))
            return f"$$\n{body.strip()}\n$$"
        if name in ("note", "tip", "important", "warning", "admonition", "seealso"):
            body = "\n".join(ln for ln in body.splitlines() if not ln.startswith(":"))
            return "\n".join(
                "> " + ln for ln in ([f"**{name.capitalize()}.**"] + body.strip().splitlines())
            )
        raise ValueError(f"no Colab rendering for the MyST directive {{{name}}}")

    def role(m: re.Match) -> str:
        name, content = m.group(1), m.group(2)
        if name in ("footcite", "cite", "cite:p"):
            return _cite(content, False, root, cited)
        if name in ("footcite:t", "cite:t"):
            return _cite(content, True, root, cited)
        if name == "numref":
            title, label = _split_target(content)
            chapter = label.split("-")[1] if label.startswith("fig-") else ""
            link_text = (title or "Figure").replace("%s", "").strip() or "Figure"
            return f"[{link_text}]({site}/book/{chapter}.html#{label})"
        if name == "doc":
            title, target = _split_target(content)
            stem = Path(target).stem
            return f"[{title or stem}]({site}/book/{stem}.html)"
        if name.startswith("glue"):
            key = content.split(":", 1)[0]
            return f"`{key}` (the value printed where the notebook computes it)"
        if name in ("math",):
            return f"${content}$"
        if name in ("code", "literal"):
            return f"`{content}`"
        raise ValueError(f"no Colab rendering for the MyST role {{{name}}}")

    text = _LABEL.sub("", text)
    text = _DIRECTIVE.sub(directive, text)
    text = _ROLE.sub(role, text)
    return text


def render_notebook(source: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """The Colab notebook (``.ipynb`` JSON text) generated from a MyST chapter.

    Raises:
        ValueError: if the chapter has no install cell with the ``{{ repository_url }}`` token, or
            uses a MyST construct the converter does not know.
    """
    import jupytext
    from nbformat.v4 import new_markdown_cell

    source = Path(source)
    base = booktools.find_root(root if root is not None else source.parent)
    nb = jupytext.read(source)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or booktools.URL_TOKEN not in code[0].source:
        raise ValueError(
            f"{source}: the first code cell must be the install cell containing "
            f"{booktools.URL_TOKEN!r}"
        )
    cited: list[str] = []
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = markdown_for_colab(cell.source, base, cited)
        elif cell.cell_type == "code":
            cell.source = cell.source.replace(booktools.URL_TOKEN, booktools.install_target(base))
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
        meta = cell.metadata.get("mystnb", {}).get("figure") if cell.cell_type == "code" else None
        if meta:
            label = str(meta.get("name", ""))
            caption = markdown_for_colab(
                " ".join(str(meta.get("caption", "")).split()), base, cited
            )
            cells.append(new_markdown_cell(f"**Figure** (`{label}`). {caption}"))
    refs = "## References\n\n" + _reference_list(str(base), cited) if cited else ""
    for cell in cells:
        if cell.cell_type == "markdown" and "\0REFERENCES\0" in cell.source:
            cell.source = cell.source.replace("\0REFERENCES\0", _reference_list(str(base), cited))
            refs = ""
    if refs:
        cells.append(new_markdown_cell(refs))
    for cell in cells:
        if cell.cell_type == "markdown":
            left = _ROLE.search(cell.source) or re.search(r"^(```|:::)\{", cell.source, re.M)
            if left:
                raise ValueError(
                    f"{source.name}: MyST left in the Colab notebook: {left.group(0)!r}"
                )
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell.id = f"{source.stem}-{i}"  # stable ids: regenerating gives the same file
    nb.metadata.pop("jupytext", None)
    nb.metadata["accelerator"] = "GPU"
    nb.metadata["colab"] = {"name": f"{source.stem}.ipynb", "provenance": []}
    return jupytext.writes(nb, fmt="ipynb")


def sync_notebooks(root: str | os.PathLike | None = None) -> list[Path]:
    """Write ``notebooks/<stem>.ipynb`` for every chapter; return the paths written."""
    written = []
    for md in booktools.chapters(root):
        path = booktools.notebook_path(md, root)
        path.parent.mkdir(exist_ok=True)
        text = render_notebook(md, root)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def stale_notebooks(root: str | os.PathLike | None = None) -> list[str]:
    """Messages for every chapter whose Colab notebook is missing or out of sync (empty when all
    good)."""
    problems = []
    for md in booktools.chapters(root):
        path = booktools.notebook_path(md, root)
        if not path.is_file():
            problems.append(f"{path} is missing: run `make notebooks` and commit it")
        elif path.read_text() != render_notebook(md, root):
            problems.append(
                f"{path} is out of sync with {md.name}: run `make notebooks` and commit it"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python book/_ext/colab.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["sync", "check"])
    args = parser.parse_args(argv)
    if args.action == "sync":
        for path in sync_notebooks():
            print(f"wrote {path}")
        return 0
    stale = stale_notebooks()
    for msg in stale:
        print(msg, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
