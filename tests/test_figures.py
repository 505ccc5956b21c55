"""The figure registry: registration rules, building, saving, the CLI and determinism of every figure."""

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
    """A registered figure with a seeded experiment, removed after the test."""
    calls = []

    def experiment(seed=3):
        calls.append(seed)
        return np.random.default_rng(seed).normal(size=50).cumsum()

    @figures.register("demo/walk", caption="A random walk, seed 3.", compute=experiment)
    def _plot(data):
        fig, ax = plt.subplots()
        ax.plot(data, label="walk")
        ax.set_xlabel("step $t$")
        ax.set_ylabel("$x_t$")
        return fig

    yield calls
    figures._REGISTRY.pop("demo/walk", None)


def test_ids_are_validated():
    with pytest.raises(ValueError, match="chapter/name"):
        figures.register("NoSlash", caption="c")
    with pytest.raises(ValueError, match="caption"):
        figures.register("demo/x", caption="  ")
    with pytest.raises(TypeError, match="compute"):
        figures.register("demo/x", caption="c", compute=42)


def test_duplicate_id_from_another_function_is_refused(demo_figure):
    with pytest.raises(ValueError, match="registered twice"):
        @figures.register("demo/walk", caption="other")
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


@pytest.mark.parametrize("fmt", figures.FORMATS)
def test_save_writes_identical_files(demo_figure, tmp_path, fmt):
    p1 = figures.save("demo/walk", tmp_path / "a", fmt)
    p2 = figures.save("demo/walk", tmp_path / "b", fmt)
    assert p1.name == f"demo-walk.{fmt}" and p1.stat().st_size > 1000
    assert p1.read_bytes() == p2.read_bytes()
    with pytest.raises(ValueError, match="png, pdf, svg"):
        figures.save("demo/walk", tmp_path, "jpeg")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "dltheory", *args], capture_output=True, text=True, timeout=600)


def test_cli_list_prints_every_figure():
    out = _cli("figures", "list")
    assert out.returncode == 0
    rows = [line.split("\t") for line in out.stdout.strip().splitlines()]
    assert [r[0] for r in rows] == figures.ids()
    assert all(len(r) == 3 and r[1] == r[0].split("/")[0] and r[2] for r in rows)


def test_cli_unknown_id_fails_with_the_valid_ids():
    out = _cli("figures", "build", "nope/nothing", "--out", "/tmp/dltheory-test-figs")
    assert out.returncode != 0
    assert "unknown figure id 'nope/nothing'" in out.stderr
    for fid in figures.ids():
        assert fid in out.stderr


def test_cli_builds_a_figure(tmp_path):
    fid = min(figures.ids(), key=len)
    out = _cli("figures", "build", fid, "--out", str(tmp_path), "--format", "svg")
    assert out.returncode == 0, out.stderr
    path = tmp_path / f"{fid.replace('/', '-')}.svg"
    assert path.is_file() and path.read_text().lstrip().startswith("<?xml")


def test_every_chapter_has_figures():
    from dltheory import book

    chapters_with_figures = {spec.chapter for spec in figures.specs()}
    assert {md.stem for md in book.chapters()} <= chapters_with_figures


@pytest.mark.parametrize("fid", figures.ids())
def test_each_figure_is_reproducible(fid):
    """Building a figure twice from its seeded experiment draws identical data."""
    a = figures.build(fid)
    b = figures.build(fid)
    try:
        assert figures.fingerprint(a) == figures.fingerprint(b)
        assert all(ax.get_xlabel() or ax.get_ylabel() or not ax.get_visible() or not ax.has_data()
                   for ax in a.get_axes()), f"{fid}: an axis with data has no label"
    finally:
        plt.close(a)
        plt.close(b)
