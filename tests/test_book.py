"""The book's machinery: table of contents, Colab notebooks in sync, install cells, figure captions,
the generated Figures and Claims pages."""

import shutil
from pathlib import Path

import jupytext
import pytest

from dltheory import book, figures

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = book.chapters(ROOT)


def test_toc_names_existing_pages_and_the_three_chapters():
    for name in book.toc_files(ROOT):
        assert (ROOT / f"{name}.md").is_file(), f"_toc.yml names {name}, which does not exist"
    assert {md.stem for md in CHAPTERS} >= {"dynamics", "meanfield", "control"}
    assert book.toc_files(ROOT)[-2:] == list(book.GENERATED_PAGES)


def test_repository_url_comes_from_config():
    url = book.repository_url(ROOT)
    assert url.startswith("https://github.com/") and url.count("/") == 4
    org_repo = url.removeprefix("https://github.com/")
    assert book.colab_url("book/dynamics", ROOT) == (
        f"https://colab.research.google.com/github/{org_repo}/blob/main/notebooks/dynamics.ipynb"
    )


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_colab_notebook_is_committed_and_in_sync(md):
    nb = book.notebook_path(md, ROOT)
    assert nb.is_file(), f"{nb} missing: run make notebooks"
    assert nb.read_text() == book.render_notebook(md, ROOT), f"{nb} out of sync: run make notebooks"
    parsed = jupytext.read(nb)
    assert all(not c.get("outputs") for c in parsed.cells if c.cell_type == "code")
    assert book.repository_url(ROOT) in parsed.cells[1].source
    assert book.URL_TOKEN not in nb.read_text()


def test_sync_check_detects_a_stale_notebook(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    assert book.stale_notebooks(tmp_path) == []
    md = tmp_path / "book" / "dynamics.md"
    md.write_text(md.read_text() + "\nOne more sentence.\n")
    (tmp_path / "notebooks" / "meanfield.ipynb").unlink()
    problems = book.stale_notebooks(tmp_path)
    assert len(problems) == 2
    assert any("dynamics.ipynb is out of sync" in p for p in problems)
    assert any("meanfield.ipynb is missing" in p for p in problems)
    book.sync_notebooks(tmp_path)
    assert book.stale_notebooks(tmp_path) == []


def test_render_requires_the_install_cell(tmp_path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    md = tmp_path / "x.md"
    md.write_text(CHAPTERS[0].read_text().replace(book.URL_TOKEN, "https://example.org"))
    with pytest.raises(ValueError, match="install cell"):
        book.render_notebook(md, tmp_path)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_structure(md):
    nb = jupytext.read(md)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    install = code[0]
    assert "remove-cell" in install.metadata.get("tags", [])
    assert "except ImportError" in install.source and book.URL_TOKEN in install.source
    text = md.read_text()
    assert "## Summary" in text and "## References" in text and "{footbibliography}" in text
    assert "{footcite" in text


def _figure_cells(md):
    for cell in jupytext.read(md).cells:
        meta = cell.metadata.get("mystnb", {}).get("figure")
        if cell.cell_type == "code" and meta:
            yield cell, meta


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_figures_use_registered_captions_and_labels(md):
    shown = set()
    for cell, meta in _figure_cells(md):
        fid = cell.source.split('figures.show("', 1)[1].split('"', 1)[0]
        spec = figures.get(fid)
        assert spec.chapter == md.stem, f"{fid} is shown in {md.name}, not in its own chapter"
        assert meta["name"] == spec.label
        assert " ".join(str(meta["caption"]).split()) == spec.caption, f"{fid}: caption differs from the registry"
        shown.add(fid)
    registered = {s.id for s in figures.specs() if s.chapter == md.stem}
    assert registered == shown, f"registered but not shown: {registered - shown}; shown: {shown}"


def test_figures_page_lists_every_figure():
    table = book.figures_markdown()
    for spec in figures.specs():
        assert f"`{spec.id}`" in table and f"{{numref}}`{spec.label}`" in table
        assert f"python -m dltheory figures build {spec.id}" in table


def test_claims_page_needs_records_from_every_chapter(tmp_path, monkeypatch, fresh_claims):
    monkeypatch.delenv(fresh_claims.ENV_VAR, raising=False)
    with pytest.raises(RuntimeError, match="make book"):
        book.claims_markdown(root=ROOT)
    monkeypatch.setenv(fresh_claims.ENV_VAR, str(tmp_path))
    fresh_claims.check("dynamics/x", source="s", expected=1, measured=1, atol=1)
    with pytest.raises(RuntimeError, match="meanfield"):
        book.claims_markdown(root=ROOT)
    for stem in ("meanfield", "control"):
        fresh_claims.check(f"{stem}/x", source="s", expected=1, measured=1, atol=1)
    page = book.claims_markdown(root=ROOT)
    assert page.startswith("3 of 3 claims pass in 3 chapters.")
    assert page.index("dynamics/x") < page.index("meanfield/x") < page.index("control/x")


def test_generated_pages_are_read_last():
    docnames = ["book/claims", "book/control", "book/figures", "book/intro"]
    book._read_generated_last(None, None, docnames)
    assert docnames == ["book/control", "book/intro", "book/figures", "book/claims"]


def _launch_context():
    return {"header_buttons": [
        {"label": "download-buttons", "buttons": []},
        {"label": "launch-buttons", "buttons": [
            {"text": "Colab", "url": "https://colab.research.google.com/github/o/r/blob/main/book/x.md"},
        ]},
    ]}


def test_colab_button_points_at_the_committed_notebook():
    app = type("App", (), {"srcdir": str(ROOT)})()
    ctx = _launch_context()
    book._colab_button(app, "book/meanfield", "page.html", ctx, None)
    assert ctx["header_buttons"][1]["buttons"][0]["url"] == book.colab_url("book/meanfield", ROOT)
    assert book.notebook_path("book/meanfield", ROOT).is_file()
    for page in ("book/figures", "book/claims"):
        ctx = _launch_context()
        book._colab_button(app, page, "page.html", ctx, None)
        assert [b["label"] for b in ctx["header_buttons"]] == ["download-buttons"]
