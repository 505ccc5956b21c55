"""The figure registry: registration rules, building, saving, the CLI and determinism of every
figure."""

import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dltheory import figures  # noqa: E402


@pytest.fixture
def demo_figure():
    """A registered figure with a seeded experiment, in a registry of its own."""
    with figures.scoped():
        yield from _demo()


def _demo():
    calls = []

    def experiment(seed=3):
        calls.append(seed)
        return np.random.default_rng(seed).normal(size=50).cumsum()

    @figures.register("demo/walk", compute=experiment)
    def _plot(data):
        fig, ax = plt.subplots()
        ax.plot(data, label="walk")
        ax.set_xlabel("step $t$")
        ax.set_ylabel("$x_t$")
        return fig

    yield calls


def test_ids_are_validated():
    with pytest.raises(ValueError, match="chapter/name"):
        figures.register("NoSlash")
    with pytest.raises(TypeError, match="compute"):
        figures.register("demo/x", compute=42)


def test_scoped_registry_restores_the_book_figures(demo_figure):
    assert figures.ids() == ["demo/walk"]


def test_duplicate_id_from_another_function_is_refused(demo_figure):
    with pytest.raises(ValueError, match="registered twice"):

        @figures.register("demo/walk")
        def _other(data):  # pragma: no cover - never called
            return None


def test_unknown_id_lists_valid_ids(demo_figure):
    with pytest.raises(ValueError) as err:
        figures.get("demo/nope")
    assert "demo/walk" in str(err.value) and "valid ids" in str(err.value)


def test_build_and_label(demo_figure):
    spec = figures.get("demo/walk")
    assert spec.chapter == "demo" and spec.label == "fig-demo-walk" == figures.label("demo/walk")
    fig = figures.build("demo/walk")
    assert fig.axes[0].get_xlabel() == "step $t$"
    assert demo_figure == [3]
    plt.close(fig)


def test_plot_reuses_given_data(demo_figure):
    data = figures.compute("demo/walk")
    fig = figures.plot("demo/walk", data)
    assert demo_figure == [3]  # computed once, not again by plot()
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), data)
    plt.close(fig)


def test_fingerprint_sees_data_changes(demo_figure):
    a = figures.plot("demo/walk", np.arange(5.0))
    b = figures.plot("demo/walk", np.arange(5.0))
    c = figures.plot("demo/walk", np.arange(5.0) + 1e-6)
    assert figures.fingerprint(a) == figures.fingerprint(b) != figures.fingerprint(c)
    plt.close("all")


def test_fingerprint_without_x_ignores_only_the_x_data(demo_figure):
    def walk(x, y):
        fig, ax = plt.subplots()
        ax.plot(x, y)
        return fig

    a, b, c = walk([0, 1, 2], [1, 2, 3]), walk([0, 1.5, 2.2], [1, 2, 3]), walk([0, 1, 2], [1, 2, 4])
    assert figures.fingerprint(a) != figures.fingerprint(b)
    assert (
        figures.fingerprint(a, x=False)
        == figures.fingerprint(b, x=False)
        != figures.fingerprint(c, x=False)
    )
    plt.close("all")


@pytest.mark.parametrize("fmt", figures.FORMATS)
def test_save_writes_identical_files(demo_figure, tmp_path, fmt):
    p1 = figures.save("demo/walk", tmp_path / "a", fmt)
    p2 = figures.save("demo/walk", tmp_path / "b", fmt)
    assert p1.name == f"demo-walk.{fmt}" and p1.stat().st_size > 1000
    assert p1.read_bytes() == p2.read_bytes()
    with pytest.raises(ValueError, match="png, pdf, svg"):
        figures.save("demo/walk", tmp_path, "jpeg")


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "dltheory", *args], capture_output=True, text=True, timeout=600
    )


def test_cli_list_prints_every_figure():
    out = _cli("figures", "list")
    assert out.returncode == 0
    rows = [line.split("\t") for line in out.stdout.strip().splitlines()]
    assert [r[0] for r in rows] == figures.ids()
    assert all(len(r) == 2 and r[1] == r[0].split("/")[0] for r in rows)


def test_cli_unknown_id_fails_with_the_valid_ids():
    out = _cli("figures", "build", "nope/nothing", "--out", "/tmp/dltheory-test-figs")
    assert out.returncode != 0
    assert "unknown figure id 'nope/nothing'" in out.stderr
    for fid in figures.ids():
        assert fid in out.stderr


def test_cli_unwritable_out_fails_before_computing(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = _cli("figures", "build", figures.ids()[0], "--out", str(blocker / "sub"))
    assert out.returncode == 2 and "not a writable folder" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_builds_a_figure(tmp_path):
    fid = "dynamics/euler-convergence"  # a figure that computes in a second
    out = _cli("figures", "build", fid, "--out", str(tmp_path), "--format", "svg")
    assert out.returncode == 0, out.stderr
    path = tmp_path / f"{fid.replace('/', '-')}.svg"
    assert path.is_file() and path.read_text().lstrip().startswith("<?xml")


def test_every_chapter_has_figures():
    import booktools

    chapters_with_figures = {spec.chapter for spec in figures.specs()}
    assert {md.stem for md in booktools.chapters()} <= chapters_with_figures


@pytest.mark.parametrize("fid", figures.ids())
def test_each_figure_is_reproducible(fid, tmp_path):
    """Rebuilding a figure from its seeded experiment draws identical data, and its data export
    holds it.

    Under ``make test`` the chapters run first and record the fingerprint of each figure they show
    (``DLTHEORY_FIGURES_DIR``); the figure is rebuilt here, in another process, and compared with
    that. Run alone, the test builds the figure twice.
    """
    x = not figures.get(
        fid
    ).wall_clock  # measured seconds differ from run to run; all else must not
    recorded = figures.recorded_fingerprint(fid)
    a = figures.build(fid)
    try:
        assert all(
            ax.get_xlabel() or ax.get_ylabel() or not ax.get_visible() or not ax.has_data()
            for ax in a.get_axes()
        ), f"{fid}: an axis with data has no label"
        if recorded is None:
            b = figures.build(fid)
            recorded = figures.fingerprint(b, x=x)
            plt.close(b)
        assert figures.fingerprint(a, x=x) == recorded, f"{fid}: a rebuild draws different data"
        _check_data_export(fid, a, tmp_path)
    finally:
        plt.close(a)


def _check_data_export(fid, fig, folder):
    """``figures data`` writes every plotted line and point of ``fig``, and the CSVs read back
    equal."""
    import csv

    paths = figures.write_data(fid, folder, fig=fig)
    manifest = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    assert manifest["id"] == fid and manifest["rebuild"].endswith(fid)
    assert len(manifest["panels"]) == len(fig.get_axes())
    for ax, panel in zip(fig.get_axes(), manifest["panels"], strict=False):
        rows = list(csv.DictReader((folder / panel["csv"]).open()))
        lines = [r for r in rows if r["kind"] == "line"]
        drawn = (
            np.concatenate([ln.get_xydata() for ln in ax.get_lines()])
            if ax.get_lines()
            else np.zeros((0, 2))
        )
        got = np.array([[float(r["x"]), float(r["y"])] for r in lines]).reshape(-1, 2)
        np.testing.assert_allclose(
            got,
            np.ma.filled(np.ma.asarray(drawn, float), np.nan),
            rtol=1e-9,
            equal_nan=True,
            err_msg=f"{fid}: {panel['csv']}",
        )
        for name, im in zip(panel["images"], ax.get_images(), strict=False):
            np.testing.assert_allclose(
                np.loadtxt(folder / name, delimiter=",", ndmin=2),
                np.atleast_2d(np.ma.filled(np.ma.asarray(im.get_array(), float), np.nan)),
                rtol=1e-9,
                equal_nan=True,
            )


def test_data_export_of_a_figure(demo_figure, tmp_path):
    fig = figures.build("demo/walk")
    _check_data_export("demo/walk", fig, tmp_path)
    plt.close(fig)


def test_cli_writes_figure_data(demo_figure, tmp_path, capsys):
    from dltheory.__main__ import main

    assert main(["figures", "data", "demo/walk", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "demo-walk-data.json").is_file() and (
        tmp_path / "demo-walk-panel0.csv"
    ).is_file()
    assert "demo-walk-panel0.csv" in capsys.readouterr().out


def test_show_records_the_fingerprint_for_the_rebuild_test(demo_figure, tmp_path, monkeypatch):
    monkeypatch.setenv(figures.FINGERPRINTS_ENV_VAR, str(tmp_path))
    figures.show("demo/walk")
    assert figures.recorded_fingerprint("demo/walk") == figures.fingerprint(
        figures.build("demo/walk")
    )
    plt.close("all")
