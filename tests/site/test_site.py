"""The built site, read in a real browser: every page typesets its maths offline, with no MathJax
error, no broken local link or image, no error output and no JavaScript error.

Runs after ``make book`` (``.ci/run`` does: ``.venv/bin/python -m pytest tests/site``). It needs
Debian's ``chromium`` (``apt-get install -y chromium``) and skips, saying so, where there is none.
Chromium runs headless with no network (``--dump-dom`` after a virtual-time budget returns the DOM
once the scripts ran), so a page that still fetches MathJax from a CDN fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import booktools
import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",  # no network at all
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=15000",
    "--window-size=1400,3000",
]

pytestmark = [
    pytest.mark.skipif(
        not (HTML / "index.html").is_file(), reason="no built book: run `make book` first"
    ),
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium: install it with `apt-get install -y chromium`"
    ),
]


def pages() -> list[Path]:
    names = booktools.toc_files(ROOT)
    return [HTML / f"{n}.html" for n in names]


def render(page: Path) -> tuple[str, str]:
    """The DOM of ``page`` after its scripts ran, and Chromium's log (console messages)."""
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert out.returncode == 0, f"chromium failed on {page.name}: {out.stderr[-2000:]}"
    return out.stdout, out.stderr


def problems(page: Path) -> list[str]:
    """Everything a reader would see wrong on ``page``, as messages (empty when the page is
    fine)."""
    from bs4 import BeautifulSoup

    dom, log = render(page)
    soup = BeautifulSoup(dom, "html.parser")
    found = []
    main = soup.find("main") or soup
    for tag in main.find_all(["script", "style", "pre", "code", "textarea"]):
        tag.decompose()
    text = main.get_text(" ")
    has_math = bool(re.search(r"\\\(|\\\[|\$\$", page.read_text()))
    typeset = len(soup.find_all("mjx-container"))
    if has_math and typeset == 0:
        found.append("maths on this page, but no mjx-container: MathJax did not typeset it")
    for raw in ("\\(", "\\[", "$$"):
        if raw in text:
            at = text.index(raw)
            found.append(f"untypeset maths left in the text: {text[max(at - 30, 0) : at + 50]!r}")
    errors = soup.find_all("mjx-merror") + soup.select("[data-mjx-error]")
    found += [f"MathJax error: {e.get('data-mjx-error') or e.get_text()[:80]}" for e in errors]
    for cell in soup.select(
        "div.output.stderr, div.output.error, div.output.traceback, .cell_output .traceback"
    ):
        found.append(f"error output in a cell: {cell.get_text()[:120]!r}")
    for line in log.splitlines():
        if "CONSOLE" in line and re.search(r"Uncaught|Error|error", line):
            found.append(f"JavaScript: {line.strip()[:200]}")
    found += broken_links(page)
    return found


def broken_links(page: Path) -> list[str]:
    """Local links and images of ``page`` (in its static HTML) that point at nothing."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page.read_text(), "html.parser")
    out = []
    for tag, attr in (("a", "href"), ("img", "src"), ("script", "src"), ("link", "href")):
        for node in soup.find_all(tag):
            ref = node.get(attr)
            if not ref or ref.startswith(("mailto:", "javascript:", "data:")):
                continue
            url = urlparse(ref)
            if url.scheme or url.netloc:
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if not target.exists():
                out.append(f"broken local {attr} {ref!r}")
            elif url.fragment and target.suffix == ".html" and tag == "a":
                ids = _ids(target)
                if url.fragment not in ids:
                    out.append(f"link to a missing anchor {ref!r}")
    return out


_IDS: dict[Path, set[str]] = {}


def _ids(page: Path) -> set[str]:
    if page not in _IDS:
        _IDS[page] = set(re.findall(r'\bid="([^"]+)"', page.read_text()))
    return _IDS[page]


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.stem)
def test_page_reads_well_in_a_browser(page):
    assert page.is_file(), f"{page} was not built"
    found = problems(page)
    assert not found, f"{page.relative_to(HTML)}:\n  " + "\n  ".join(found)


def test_the_site_ships_its_own_mathjax():
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for page in pages():
        assert "cdn.jsdelivr.net" not in page.read_text(), (
            f"{page.name} still loads MathJax from a CDN"
        )


def test_the_check_fails_when_mathjax_is_removed(tmp_path):
    """The test above is not vacuous: the same page without its MathJax shows raw TeX, and is
    caught."""
    site = tmp_path / "html"
    shutil.copytree(
        HTML, site, ignore=shutil.ignore_patterns("*.ipynb", "_images", "jupyter_execute")
    )
    shutil.rmtree(site / "_static" / "mathjax")
    page = site / "book" / "dynamics.html"
    found = problems(page)
    assert any("no mjx-container" in f or "untypeset" in f for f in found), found
