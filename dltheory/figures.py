"""The figure registry: every figure of the book under a stable, citable id.

A figure is registered once, in its topic's ``experiments.py`` (theory modules never import this
module or matplotlib)::

    @figures.register("dynamics/euler-convergence", compute=euler_convergence)
    def _plot_euler_convergence(data: EulerConvergence) -> Figure:
        ...

``compute`` runs the (seeded) experiment with the parameters the book uses; the decorated function
turns its result into a :class:`matplotlib.figure.Figure`. A chapter runs the experiment once and
shows the figure from that result::

    data = figures.compute("dynamics/euler-convergence")   # also used for the chapter's claims
    figures.show("dynamics/euler-convergence", data)

and ``python -m dltheory figures build dynamics/euler-convergence --out DIR`` rebuilds the same
figure outside the book. The caption lives in one place, the chapter: the cell that shows the figure
carries it in its ``mystnb.figure`` metadata with the label :func:`label`
(``fig-dynamics-euler-convergence``), which gives the HTML a permanent anchor; the book's Figures
page reads the captions from there.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pkgutil
import re
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dltheory import _checks as checks

__all__ = [
    "FigureSpec",
    "register",
    "scoped",
    "get",
    "ids",
    "specs",
    "label",
    "compute",
    "plot",
    "build",
    "show",
    "save",
    "fingerprint",
    "panel_data",
    "write_data",
    "recorded_fingerprint",
    "FINGERPRINTS_ENV_VAR",
    "style",
    "FORMATS",
]

#: File formats :func:`save` writes.
FORMATS = ("png", "pdf", "svg")

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*/[a-z0-9][a-z0-9-]*$")

# Modules that hold no figures; every other public module of the package is imported by _load_all().
_NOT_TOPICS = {"figures", "claims", "device", "__main__"}


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure.

    Attributes:
        id: ``chapter/name``; the chapter is the stem of the chapter's file in ``book/``.
        plot: function ``plot(data) -> Figure``.
        compute: zero-argument function returning ``data`` (the seeded experiment), or ``None`` when
            ``plot`` needs no data.
        wall_clock: the figure's x axes show measured wall-clock time, which differs from run to
            run; a rebuild then reproduces everything else (the y data, labels, text), which is what
            :func:`fingerprint` with ``x=False`` compares.
    """

    id: str
    plot: Callable[[Any], Any]
    compute: Callable[[], Any] | None
    wall_clock: bool = False

    @property
    def chapter(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def label(self) -> str:
        return label(self.id)


_REGISTRY: dict[str, FigureSpec] = {}
_LOADED = False


def register(id: str, *, compute: Callable[[], Any] | None = None, wall_clock: bool = False):
    """Decorator registering a plotting function under ``id``.

    Args:
        id: ``chapter/name`` in lower case with dashes, unique in the book.
        compute: zero-argument callable returning the data to plot (the seeded experiment with the
            book's parameters).
        wall_clock: set when x axes show measured seconds (see :class:`FigureSpec`).

    Raises:
        ValueError: for a malformed or duplicate id.
        TypeError: if ``compute`` is not callable.
    """
    if not isinstance(id, str) or not _ID.match(id):
        raise ValueError(
            f"figure id must look like 'chapter/name' (lower case, digits, '-'); got {id!r}"
        )
    if compute is not None and not callable(compute):
        raise TypeError(f"figure {id!r}: compute must be callable or None")

    def decorate(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        old = _REGISTRY.get(id)
        if old is not None and (old.plot.__module__, old.plot.__qualname__) != (
            fn.__module__,
            fn.__qualname__,
        ):
            raise ValueError(
                f"figure id {id!r} is registered twice ({old.plot.__module__} and {fn.__module__})"
            )
        _REGISTRY[id] = FigureSpec(id=id, plot=fn, compute=compute, wall_clock=bool(wall_clock))
        return fn

    return decorate


@contextmanager
def scoped():
    """An empty registry inside the ``with`` block (the book's figures come back after); for
    tests."""
    global _LOADED
    saved, loaded = dict(_REGISTRY), _LOADED
    _REGISTRY.clear()
    _LOADED = True  # do not import the topics inside the scope
    try:
        yield
    finally:
        _REGISTRY.clear()
        _REGISTRY.update(saved)
        _LOADED = loaded


def _load_all() -> None:
    """Import every topic's ``experiments`` module(s), where the figures are registered."""
    global _LOADED
    if _LOADED:
        return
    import dltheory

    for info in pkgutil.walk_packages(dltheory.__path__, prefix="dltheory."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or parts[1] in _NOT_TOPICS:
            continue
        if parts[-1].startswith("experiments") or (len(parts) == 2 and not info.ispkg):
            importlib.import_module(info.name)
    _LOADED = True


def ids() -> list[str]:
    """All registered figure ids, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def specs() -> list[FigureSpec]:
    """All registered figures, sorted by id."""
    return [_REGISTRY[i] for i in ids()]


def get(id: str) -> FigureSpec:
    """The registered figure ``id``.

    Raises:
        ValueError: if no figure has that id; the message lists the valid ids.
    """
    _load_all()
    try:
        return _REGISTRY[id]
    except (KeyError, TypeError):
        valid = "\n  ".join(sorted(_REGISTRY)) or "(none registered)"
        raise ValueError(f"unknown figure id {id!r}; valid ids are:\n  {valid}") from None


def label(id: str) -> str:
    """The Sphinx label of figure ``id`` in the book: ``fig-`` + id with ``/`` replaced by ``-``.

    Raises:
        ValueError: for an id that is not registered.
    """
    get(id)
    return "fig-" + id.replace("/", "-")


#: House style: seaborn's "ticks" axes under a colour-blind-safe palette (Okabe & Ito), a light grid
#: and sizes readable at the page's width.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "figure.figsize": (6.4, 4.0),
    "figure.constrained_layout.use": True,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "legend.frameon": False,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "svg.hashsalt": "dltheory",
    "pdf.compression": 6,
}


@contextmanager
def style():
    """Context manager applying the book's matplotlib house style."""
    import matplotlib as mpl
    import seaborn as sns
    from cycler import cycler

    # seaborn's "ticks" axes style underneath, the book's own sizes and palette on top.
    rc = {**sns.axes_style("ticks"), **_RC}
    rc["axes.prop_cycle"] = cycler(color=PALETTE)
    with mpl.rc_context(rc):
        yield


def compute(id: str) -> Any:
    """Run the registered experiment of figure ``id`` and return its data (``None`` if it has
    none)."""
    spec = get(id)
    return spec.compute() if spec.compute is not None else None


def plot(id: str, data: Any = None):
    """Draw figure ``id`` from ``data`` (computed when omitted) in the house style; return the
    Figure."""
    spec = get(id)
    if data is None and spec.compute is not None:
        data = spec.compute()
    plotted = data
    try:
        with style():
            fig = spec.plot(data) if spec.compute is not None else spec.plot(None)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        if plotted is None:
            raise
        raise TypeError(
            f"data is not what figure {id!r} plots (the result of its compute function, "
            f"figures.compute({id!r})); got {type(plotted).__name__}: {exc}"
        ) from exc
    if fig is None or not hasattr(fig, "savefig"):
        raise TypeError(f"figure {id!r}: the plot function must return a matplotlib Figure")
    return fig


def build(id: str):
    """Rebuild figure ``id`` from scratch (experiment and plot); return the Figure."""
    return plot(id, None)


#: Environment variable naming a folder where :func:`show` records the fingerprint of each figure a
#: chapter shows (``<chapter>-<name>.json``), so a test can rebuild the figure in a fresh process
#: and compare (``make test`` sets it).
FINGERPRINTS_ENV_VAR = "DLTHEORY_FIGURES_DIR"


def show(id: str, data: Any = None) -> None:
    """Display figure ``id`` in a notebook (the chapter cell carries the caption and label)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    fig = plot(id, data)
    folder = os.environ.get(FINGERPRINTS_ENV_VAR)
    from dltheory.device import scale

    if folder and scale() == "book":  # the registry rebuilds the book-scale figure
        record = {"id": id, "fingerprint": fingerprint(fig, x=not get(id).wall_clock)}
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{id.replace('/', '-')}.json").write_text(json.dumps(record))
    display(fig)
    plt.close(fig)


def recorded_fingerprint(id: str) -> str | None:
    """The fingerprint a chapter recorded for figure ``id`` in this run
    (see :data:`FINGERPRINTS_ENV_VAR`)."""
    folder = os.environ.get(FINGERPRINTS_ENV_VAR)
    path = Path(folder) / f"{id.replace('/', '-')}.json" if folder else None
    return json.loads(path.read_text())["fingerprint"] if path and path.is_file() else None


def save(id: str, out: str | Path = ".", format: str = "png") -> Path:
    """Rebuild figure ``id`` and write it to ``out/<chapter>-<name>.<format>``.

    Raises:
        ValueError: for an unknown id or a format not in :data:`FORMATS`.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    import matplotlib.pyplot as plt

    get(id)
    out = Path(out)
    path = out / f"{id.replace('/', '-')}.{format}"
    meta = {
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "Producer": None},
        "svg": {"Date": None},
    }[format]
    try:  # the folder first: an unwritable one fails before the figure is computed
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise checks.wrap_file_error(out, "create the folder", exc) from exc
    fig = build(id)
    try:
        with style():
            fig.savefig(path, format=format, metadata=meta)
    except OSError as exc:
        raise checks.wrap_file_error(path, "write the figure to", exc) from exc
    finally:
        plt.close(fig)
    return path


def fingerprint(fig, *, x: bool = True) -> str:
    """A hash of the data drawn in ``fig`` (lines, collections, images, text), for determinism
    tests.

    With ``x=False`` the x coordinates of lines and points are left out (figures against wall time).
    """
    if not hasattr(fig, "get_axes"):
        raise TypeError(f"fig must be a matplotlib Figure; got {type(fig).__name__}")
    h = hashlib.sha256()

    def add(arr) -> None:
        a = np.ma.filled(np.ma.asarray(arr, dtype=float), np.nan)
        if not x and a.ndim == 2 and a.shape[1] == 2:
            a = a[:, 1:]
        h.update(str(a.shape).encode())
        h.update(np.round(a, 12).tobytes())

    for ax in fig.get_axes():
        h.update(
            repr(
                (ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), ax.get_xscale(), ax.get_yscale())
            ).encode()
        )
        for line in ax.get_lines():
            add(line.get_xydata())
        for coll in ax.collections:
            add(coll.get_offsets())
            if coll.get_array() is not None:
                add(coll.get_array())
            for path in getattr(coll, "get_paths", lambda: [])():
                add(path.vertices)
        for im in ax.get_images():
            add(im.get_array())
        for patch in ax.patches:
            add(patch.get_path().vertices)
            add(patch.get_transform().get_matrix())
        for text in ax.texts:
            h.update(text.get_text().encode())
    return h.hexdigest()


def panel_data(fig) -> list[dict[str, Any]]:
    """The arrays a figure plots, panel by panel (what :func:`write_data` writes as CSV).

    Each panel is a dict with its ``title``, axis labels and scales, ``series`` (one row per plotted
    point: the series number, its kind, its legend label, x, y and, for colour-mapped points, the
    mapped value) and ``images`` (2-D arrays of heat maps). Lines, scatter points, bars and other
    patches' positions, and images are read from the matplotlib objects themselves, so the data are
    exactly what is drawn.

    Example:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> _ = ax.plot([0, 1, 2], [0, 1, 4], label="x²")
        >>> panel = panel_data(fig)[0]
        >>> [(r["label"], r["x"], r["y"]) for r in panel["series"]][-1]
        ('x²', 2.0, 4.0)
        >>> plt.close(fig)
    """
    from matplotlib.patches import Rectangle

    panels = []
    for ax in fig.get_axes():
        rows: list[dict[str, Any]] = []
        n = 0

        def add(kind: str, label: str, xy, values=None, rows=rows) -> None:
            nonlocal n
            xy = np.ma.filled(np.ma.asarray(xy, dtype=float), np.nan).reshape(-1, 2)
            vals = (
                None
                if values is None
                else np.ma.filled(np.ma.asarray(values, dtype=float), np.nan).ravel()
            )
            for i, (x, y) in enumerate(xy):
                row = {"series": n, "kind": kind, "label": label, "x": float(x), "y": float(y)}
                if vals is not None and vals.size == len(xy):
                    row["value"] = float(vals[i])
                rows.append(row)
            n += 1

        def name(artist) -> str:
            lab = artist.get_label() or ""
            return "" if lab.startswith("_") else lab

        for line in ax.get_lines():
            add("line", name(line), line.get_xydata())
        for coll in ax.collections:
            offsets = coll.get_offsets()
            if len(offsets):
                add("points", name(coll), offsets, coll.get_array())
        bars = [p for p in ax.patches if isinstance(p, Rectangle)]
        if bars:
            xy = [(p.get_x() + p.get_width() / 2, p.get_y() + p.get_height()) for p in bars]
            add("bars", name(bars[0]), xy)
        images = [
            np.ma.filled(np.ma.asarray(im.get_array(), dtype=float), np.nan)
            for im in ax.get_images()
        ]
        panels.append(
            {
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "xscale": ax.get_xscale(),
                "yscale": ax.get_yscale(),
                "series": rows,
                "images": images,
            }
        )
    return panels


def write_data(id: str, out: str | Path = ".", fig=None) -> list[Path]:
    """Write the data behind figure ``id``: a CSV per panel (and per image), plus a JSON manifest.

    The manifest names the figure id, the package version, the git commit (when the package is in a
    git checkout), each panel's title and axis labels, and the command that rebuilds the figure.
    Files are ``out/<chapter>-<name>-panel<k>.csv``, ``...-panel<k>-image<j>.csv`` and
    ``...-data.json``.

    Args:
        id: the figure id.
        out: the folder to write to (created if missing).
        fig: the Figure to read (default: rebuild it with :func:`build`).

    Raises:
        ValueError: for an unknown id.
        OSError: naming the path, when the folder cannot be written.
    """
    import csv
    import subprocess

    import matplotlib.pyplot as plt

    get(id)
    own = fig is None
    fig = build(id) if own else fig
    out = Path(out)
    stem = id.replace("/", "-")
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        panels = panel_data(fig)
        manifest_panels = []
        for k, panel in enumerate(panels):
            path = out / f"{stem}-panel{k}.csv"
            keys = ["series", "kind", "label", "x", "y", "value"]
            with path.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=keys)
                writer.writeheader()
                for row in panel["series"]:
                    writer.writerow({key: row.get(key, "") for key in keys})
            written.append(path)
            images = []
            for j, image in enumerate(panel["images"]):
                ipath = out / f"{stem}-panel{k}-image{j}.csv"
                np.savetxt(ipath, np.atleast_2d(image), delimiter=",", fmt="%.10g")
                written.append(ipath)
                images.append(ipath.name)
            manifest_panels.append(
                {key: panel[key] for key in ("title", "xlabel", "ylabel", "xscale", "yscale")}
                | {"csv": path.name, "images": images}
            )
        from dltheory import __version__

        try:
            commit = (
                subprocess.run(
                    ["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout.strip()
                or None
            )
        except OSError:
            commit = None
        manifest = {
            "id": id,
            "version": __version__,
            "git_commit": commit,
            "panels": manifest_panels,
            "rebuild": f"python -m dltheory figures build {id}",
            "data": f"python -m dltheory figures data {id}",
        }
        mpath = out / f"{stem}-data.json"
        mpath.write_text(json.dumps(manifest, indent=1))
        written.append(mpath)
    except OSError as err:
        raise OSError(f"cannot write the data of figure {id!r} to {str(out)!r}: {err}") from err
    finally:
        if own:
            plt.close(fig)
    return written
