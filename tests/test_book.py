"""The book's machinery (book/_ext): table of contents, Colab notebooks, install cells, figure
captions, the generated Figures and Claims pages, and the chapters' conventions."""

import re
import shutil
import subprocess
from pathlib import Path

import booktools
import colab
import jupytext
import pytest

from dltheory import figures

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = booktools.chapters(ROOT)
MYST = re.compile(r"\{[a-z][a-z:-]*\}`|^(```|:::)\{", re.M)


def test_toc_names_existing_pages_and_the_chapters():
    for name in booktools.toc_files(ROOT):
        assert (ROOT / f"{name}.md").is_file(), f"_toc.yml names {name}, which does not exist"
    assert {md.stem for md in CHAPTERS} >= {"dynamics", "meanfield", "control"}
    assert booktools.toc_files(ROOT)[-2:] == list(booktools.GENERATED_PAGES)


def test_repository_url_and_version_come_from_one_place_each():
    url = booktools.repository_url(ROOT)
    assert url.startswith("https://github.com/") and url.count("/") == 4
    org_repo = url.removeprefix("https://github.com/")
    assert booktools.colab_url("book/dynamics", ROOT) == (
        f"https://colab.research.google.com/github/{org_repo}/blob/main/notebooks/dynamics.ipynb"
    )
    import dltheory

    assert booktools.version(ROOT) == dltheory.__version__
    commit = booktools.package_commit(ROOT)
    assert booktools.install_target(ROOT) == f"{url}@{commit}" and len(commit) == 40


def test_install_pin_names_a_commit_with_this_package():
    import subprocess

    if (
        subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        == "true"
    ):
        pytest.skip("a shallow clone lacks the history the pin refers to")
    pins = set()
    for md in CHAPTERS:
        install = next(
            c
            for c in jupytext.read(booktools.notebook_path(md, ROOT)).cells
            if c.cell_type == "code"
        )
        pins |= set(re.findall(r"@([0-9A-Za-z._/-]+)\"", install.source))
    assert len(pins) == 1, f"the notebooks pin different references: {pins}"
    (pin,) = pins
    assert booktools.pin_problem(pin, ROOT) is None, booktools.pin_problem(pin, ROOT)
    # The earlier pin, a version tag that nothing created, is what this test exists to catch.
    assert "names no commit" in booktools.pin_problem("v0.0.0-never-tagged", ROOT)
    first = subprocess.run(
        ["git", "-C", str(ROOT), "rev-list", "--max-parents=0", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    assert "differs from the package at HEAD" in booktools.pin_problem(first, ROOT)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_colab_notebook_is_committed_in_sync_and_plain_markdown(md):
    nb = booktools.notebook_path(md, ROOT)
    assert nb.is_file(), f"{nb} missing: run make notebooks"
    assert nb.read_text() == colab.render_notebook(md, ROOT), (
        f"{nb} out of sync: run make notebooks"
    )
    parsed = jupytext.read(nb)
    assert all(not c.get("outputs") for c in parsed.cells if c.cell_type == "code")
    install = next(c for c in parsed.cells if c.cell_type == "code")
    assert f"git+{booktools.install_target(ROOT)}" in install.source  # pinned to the package commit
    assert booktools.URL_TOKEN not in nb.read_text()
    for cell in parsed.cells:
        if cell.cell_type == "markdown":
            assert not MYST.search(cell.source), f"MyST left for Colab: {MYST.search(cell.source)}"
    text = "\n".join(c.source for c in parsed.cells if c.cell_type == "markdown")
    assert "## References" in text and "](https://" in text


def test_colab_markdown_conversion():
    cited = []
    out = colab.markdown_for_colab(
        "As {footcite:t}`chen2018neural` showed {footcite}`liu2019deep,chen2018neural`, see "
        "{numref}`fig-dynamics-moons` and {doc}`meanfield`; $c^*=$ {glue:text}`mf-cstar:.3f`.\n\n"
        "(eq-x)=\n```{math}\nx = 1\n```\n",
        ROOT,
        cited,
    )
    assert "[Chen et al. (2018)](https://arxiv.org/abs/1806.07366)" in out
    assert "([Liu & Theodorou 2019](https://arxiv.org/abs/1908.10920); [Chen et al. 2018](" in out
    assert f"({booktools.site_url(ROOT)}/book/dynamics.html#fig-dynamics-moons)" in out
    assert f"[meanfield]({booktools.site_url(ROOT)}/book/meanfield.html)" in out
    assert "`mf-cstar` (the value printed" in out and "$$\nx = 1\n$$" in out
    assert "(eq-x)=" not in out and cited == ["chen2018neural", "liu2019deep"]
    scholar = colab.markdown_for_colab("{footcite}`pontryagin1962mathematical`", ROOT, [])
    assert "(https://scholar.google.com/scholar?q=" in scholar  # no DOI/URL/arXiv: a title search
    with pytest.raises(ValueError, match="no Colab rendering"):
        colab.markdown_for_colab("{unknownrole}`x`", ROOT, [])
    with pytest.raises(ValueError, match="not in book/references.bib"):
        colab.markdown_for_colab("{footcite}`nosuchkey2099`", ROOT, [])


def _copy_book(tmp_path):
    # The history (no checkout) gives the install pin; the book's files come from the working tree.
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(tmp_path)], check=True)
    for name in ("_config.yml", "_toc.yml", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book")
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")


def test_sync_check_detects_a_stale_notebook(tmp_path):
    _copy_book(tmp_path)
    assert colab.stale_notebooks(tmp_path) == []
    md = tmp_path / "book" / "dynamics.md"
    md.write_text(md.read_text() + "\nOne more sentence.\n")
    (tmp_path / "notebooks" / "meanfield.ipynb").unlink()
    problems = colab.stale_notebooks(tmp_path)
    assert len(problems) == 2
    assert any("dynamics.ipynb is out of sync" in p for p in problems)
    assert any("meanfield.ipynb is missing" in p for p in problems)
    colab.sync_notebooks(tmp_path)
    assert colab.stale_notebooks(tmp_path) == []


def test_render_requires_the_install_cell(tmp_path):
    _copy_book(tmp_path)
    md = tmp_path / "book" / "x.md"
    md.write_text(CHAPTERS[0].read_text().replace(booktools.URL_TOKEN, "https://example.org"))
    with pytest.raises(ValueError, match="install cell"):
        colab.render_notebook(md, tmp_path)


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_structure(md):
    nb = jupytext.read(md)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    install = code[0]
    assert "remove-cell" in install.metadata.get("tags", [])
    assert "except ImportError" in install.source and booktools.URL_TOKEN in install.source
    text = md.read_text()
    assert "## Summary" in text and "## References" in text and "{footbibliography}" in text
    assert "{footcite" in text


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_code_fits_the_page(md):
    """No code line wider than 88 characters: the page shows about 90."""
    wide = [
        (i, line)
        for c in jupytext.read(md).cells
        if c.cell_type == "code"
        for i, line in enumerate(c.source.splitlines())
        if len(line) > 88
    ]
    assert not wide, f"{md.name}: {len(wide)} code lines wider than 88, e.g. {wide[0][1]!r}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_reads_the_scale_and_device_switches(md):
    """Every chapter honours DLTHEORY_SCALE / DLTHEORY_DEVICE (README: the GPU runners' full
    scale)."""
    code = "\n".join(c.source for c in jupytext.read(md).cells if c.cell_type == "code")
    assert "dltheory.scale()" in code and "dltheory.device()" in code
    assert re.search(r"scale=SCALE", code), f"{md.name} reads the scale but passes it to nothing"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_shows_each_of_its_figures_once_with_its_label(md):
    cells = booktools.figure_cells(md)
    shown = [c["id"] for c in cells]
    for cell in cells:
        spec = figures.get(cell["id"])
        assert spec.chapter == md.stem, f"{spec.id} is shown in {md.name}, not in its own chapter"
        assert cell["label"] == spec.label
    registered = {s.id for s in figures.specs() if s.chapter == md.stem}
    assert len(shown) == len(set(shown)) and registered == set(shown), (
        f"registered but not shown: {registered - set(shown)}; shown: {shown}"
    )


def test_figures_page_lists_every_figure_with_its_chapter_caption():
    page = booktools.figures_markdown(ROOT)
    for md in CHAPTERS:
        for cell in booktools.figure_cells(md):
            assert f"{{numref}}`{cell['label']}` · `{cell['id']}`" in page
            assert f":   {cell['caption']}" in page
            assert f"python -m dltheory figures build {cell['id']}" in page
    assert set(figures.ids()) <= set(re.findall(r"· `([^`]+)`", page))


def test_claims_page_needs_records_from_every_chapter(tmp_path, monkeypatch, fresh_claims):
    monkeypatch.delenv(fresh_claims.ENV_VAR, raising=False)
    with pytest.raises(RuntimeError, match="make book"):
        booktools.claims_markdown(root=ROOT)
    stems = [md.stem for md in CHAPTERS]
    for stem in stems[:-1]:
        (tmp_path / f"{stem}.json").write_text(
            f'[{{"id": "{stem}/x", "chapter": "{stem}", "description": "d", "source": "s", '
            '"expected": "1", "measured": 1.0, "tolerance": "atol 1", "passed": true, '
            '"rival": 3.0, "rival_source": "r", "margin": 2.0}]'
        )
    with pytest.raises(RuntimeError, match=stems[-1]):
        booktools.claims_markdown(tmp_path, root=ROOT)
    (tmp_path / f"{stems[-1]}.json").write_text(
        f'[{{"id": "{stems[-1]}/x", "chapter": "{stems[-1]}", "description": "d", "source": "s", '
        '"expected": "1", "measured": 1.0, "tolerance": "atol 1", "passed": true, '
        '"rival": 3.0, "rival_source": "r", "margin": 2.0}]'
    )
    page = booktools.claims_markdown(tmp_path, root=ROOT)
    n = len(stems)
    assert page.startswith(f"{n} of {n} claims pass in {n} chapters: {n} predictions")
    positions = [page.index(f"{s}/x") for s in stems]
    assert positions == sorted(positions)


def test_claims_page_refuses_unguarded_predictions_and_too_many_identities(tmp_path, fresh_claims):
    stems = [md.stem for md in CHAPTERS]
    base = (
        '"description": "d", "source": "s", "expected": "1", "measured": 1.0, "tolerance": "t", '
        '"passed": true'
    )
    for stem in stems:
        (tmp_path / f"{stem}.json").write_text(
            f'[{{"id": "{stem}/x", "chapter": "{stem}", {base}}}]'
        )
    with pytest.raises(RuntimeError, match="without a rival or a powered test"):
        booktools.claims_markdown(tmp_path, root=ROOT)
    for stem in stems:
        (tmp_path / f"{stem}.json").write_text(
            f'[{{"id": "{stem}/x", "chapter": "{stem}", {base}, "kind": "identity"}}]'
        )
    with pytest.raises(RuntimeError, match="identities"):
        booktools.claims_markdown(tmp_path, root=ROOT)


def test_generated_pages_are_read_last():
    docnames = ["book/claims", "book/control", "book/figures", "book/intro"]
    booktools._read_generated_last(None, None, docnames)
    assert docnames == ["book/control", "book/intro", "book/figures", "book/claims"]


def test_sources_get_the_pinned_install_and_the_generated_lists(monkeypatch):
    app = type("App", (), {"srcdir": str(ROOT)})()
    src = [CHAPTERS[0].read_text()]
    booktools._fill_sources(app, "book/dynamics", src)
    assert booktools.URL_TOKEN not in src[0] and f"git+{booktools.install_target(ROOT)}" in src[0]
    monkeypatch.setattr(booktools, "figures_markdown", lambda root: "FIGURE LIST")
    src = [(ROOT / "book" / "figures.md").read_text()]
    booktools._fill_sources(app, "book/figures", src)
    assert "FIGURE LIST" in src[0] and booktools.FIGURES_TOKEN not in src[0]


def _launch_context():
    return {
        "header_buttons": [
            {"label": "download-buttons", "buttons": []},
            {
                "label": "launch-buttons",
                "buttons": [
                    {
                        "text": "Colab",
                        "url": "https://colab.research.google.com/github/o/r/blob/main/book/x.md",
                    },
                ],
            },
        ]
    }


def test_colab_button_points_at_the_committed_notebook():
    app = type("App", (), {"srcdir": str(ROOT)})()
    ctx = _launch_context()
    booktools._colab_button(app, "book/meanfield", "page.html", ctx, None)
    assert ctx["header_buttons"][1]["buttons"][0]["url"] == booktools.colab_url(
        "book/meanfield", ROOT
    )
    assert booktools.notebook_path("book/meanfield", ROOT).is_file()
    for page in ("book/figures", "book/claims"):
        ctx = _launch_context()
        booktools._colab_button(app, page, "page.html", ctx, None)
        assert [b["label"] for b in ctx["header_buttons"]] == ["download-buttons"]


def test_citation_file_carries_the_version():
    assert f"version: {booktools.version(ROOT)}" in (ROOT / "CITATION.cff").read_text()


def test_repeated_inline_scripts_are_dropped_from_the_pages(tmp_path):
    page = tmp_path / "book" / "x.html"
    page.parent.mkdir()
    script = '    <script>const THEBE_JS_URL = "u";</script>'
    page.write_text(f'<head>\n{script}\n<script src="a.js"></script>\n{script}\n</head>')
    app = type(
        "App", (), {"outdir": str(tmp_path), "builder": type("B", (), {"format": "html"})()}
    )()
    booktools._dedupe_inline_scripts(app, None)
    assert page.read_text().count("THEBE_JS_URL") == 1 and 'src="a.js"' in page.read_text()
