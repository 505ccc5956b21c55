"""Bad input at the public entry points of dltheory.meanfield (property-based, hypothesis), the
layout (theory modules import no plotting), and the scale switch of the experiments."""

import ast
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory import meanfield as mf
from dltheory.meanfield import trainability

NOT_A_NUMBER = st.one_of(
    st.text(max_size=3), st.none(), st.booleans(), st.just([["a"]]), st.just(object())
)
BAD_POSITIVE = st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf))
BAD_COUNT_TYPE = st.one_of(st.floats(allow_nan=False), st.text(max_size=2), st.booleans())
BAD_COUNT_VALUE = st.integers(max_value=0)


def raises_clear(fn, *args, **kwargs):
    with pytest.raises((TypeError, ValueError)) as info:
        fn(*args, **kwargs)
    assert (
        type(info.value).__module__ == "builtins"
    )  # a TypeError/ValueError, not a torch/numpy error
    return info.value


MAP_FUNCS = (mf.q_star, mf.chi1, mf.c_star, mf.chi_c, mf.xi_q, mf.xi_c)


@settings(max_examples=25, deadline=None)
@given(bad=st.one_of(NOT_A_NUMBER, BAD_POSITIVE), which=st.sampled_from(MAP_FUNCS))
def test_maps_reject_bad_sigma_w2(bad, which):
    err = raises_clear(which, "tanh", bad, 0.05)
    assert "sigma_w2" in str(err)


@settings(max_examples=25, deadline=None)
@given(
    bad=st.one_of(NOT_A_NUMBER, st.floats(max_value=-1e-9), st.just(math.nan)),
    which=st.sampled_from(MAP_FUNCS),
)
def test_maps_reject_bad_sigma_b2(bad, which):
    err = raises_clear(which, "tanh", 1.5, bad)
    assert "sigma_b2" in str(err)


@settings(max_examples=25, deadline=None)
@given(
    bad=st.one_of(
        NOT_A_NUMBER, st.floats(min_value=1.0000001, allow_infinity=False), st.just(math.nan)
    )
)
def test_correlation_map_rejects_bad_c(bad):
    raises_clear(mf.correlation_map, "tanh", bad, 1.5, 0.05)


@settings(max_examples=25, deadline=None)
@given(bad=st.one_of(BAD_COUNT_TYPE, BAD_COUNT_VALUE, st.integers(min_value=10**6)))
def test_iterate_maps_rejects_bad_depth(bad):
    err = raises_clear(mf.iterate_maps, "tanh", 1.5, 0.05, q0=1.0, c0=0.5, depth=bad)
    assert "depth" in str(err)


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(("width", "depth", "n_seeds", "seed")),
    bad=st.one_of(BAD_COUNT_TYPE, BAD_COUNT_VALUE),
)
def test_simulate_rejects_bad_counts(name, bad):
    kw = dict(sigma_w2=1.5, sigma_b2=0.05, width=4, depth=2, q0=1.0, c0=0.5, n_seeds=1, seed=0)
    if name == "seed" and isinstance(bad, int) and bad == 0:
        return
    kw[name] = bad
    raises_clear(mf.simulate, **kw)


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(("q0", "sigma_w2")), bad=BAD_POSITIVE)
def test_simulate_rejects_bad_reals(name, bad):
    kw = dict(sigma_w2=1.5, sigma_b2=0.05, width=4, depth=2, q0=1.0, c0=0.5, n_seeds=1, seed=0)
    kw[name] = bad
    raises_clear(mf.simulate, **kw)


@settings(max_examples=20, deadline=None)
@given(
    name=st.sampled_from(("lr", "width", "steps", "batch_size", "n_seeds")),
    bad=st.one_of(BAD_POSITIVE, st.text(max_size=2), st.booleans()),
)
def test_train_grid_rejects_bad_setup(name, bad):
    kw = dict(sigma_w2=[1.5], depths=[2], width=4, steps=1, batch_size=4, n_seeds=1)
    kw[name] = bad
    raises_clear(mf.train_grid, **kw)


@settings(max_examples=20, deadline=None)
@given(bad=st.one_of(NOT_A_NUMBER, BAD_POSITIVE, st.floats(min_value=10.0, max_value=1e6)))
def test_critical_line_interpolated_rejects_out_of_table(bad):
    raises_clear(mf.critical_line_interpolated, "tanh", bad)


def test_specific_bad_inputs_from_the_review():
    raises_clear(mf.q_star, "tanh", 1.0, 0.1, max_iter=0)
    raises_clear(mf.q_star, "tanh", 1.0, 0.1, tol=-1)
    raises_clear(mf.critical_line_interpolated, "tanh", 100)
    with pytest.raises(TypeError):
        mf.iterate_maps("tanh", 1.0, 0.1, q0=1.0, c0=0.1, depth=2.0)
    raises_clear(mf.iterate_maps, "tanh", 1.0, 0.1, q0=1.0, c0=0.1, depth=10**8)
    raises_clear(
        mf.simulate,
        sigma_w2=1.0,
        sigma_b2=0.1,
        width=4,
        depth=2,
        q0=math.inf,
        c0=0.1,
        n_seeds=1,
        seed=0,
    )
    raises_clear(mf.train_grid, sigma_w2=[1.5], depths=[2], lr=math.inf)
    raises_clear(
        mf.simulate,
        sigma_w2=1.0,
        sigma_b2=0.1,
        width=50_000,
        depth=2,
        q0=1.0,
        c0=0.1,
        n_seeds=1000,
        seed=0,
    )
    raises_clear(
        mf.jacobian_spectrum,
        "tanh",
        sigma_w2=1.0,
        sigma_b2=0.1,
        width=8,
        depth=2,
        weights="uniform",
    )
    raises_clear(mf.log_rate, [[1.0, -1.0, 2.0]])
    raises_clear(mf.max_trainable_depth, [[0.9]], [10], 1.5)


def test_lists_are_accepted_for_arrays():
    np.testing.assert_allclose(
        mf.xi_c("tanh", [1.0, 4.0], [0.05, 0.05]), mf.xi_c("tanh", np.array([1.0, 4.0]), 0.05)
    )
    assert mf.log_rate([[1.0, 2.0, 4.0]]) == pytest.approx(math.log(2))


THEORY = (
    "activations",
    "quadrature",
    "kernels",
    "maps",
    "finite",
    "trainability",
    "spectra",
    "reference",
)


@pytest.mark.parametrize("module", THEORY)
def test_theory_modules_import_no_plotting(module):
    src = (pathlib.Path(mf.__file__).parent / f"{module}.py").read_text()
    names = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names |= {f"{node.module}.{a.name}" for a in node.names}
    assert not any(
        n.startswith("matplotlib") or n == "dltheory.figures" or n.endswith(".figures")
        for n in names
    )
    assert not any(".maps._" in n for n in names), "import public names from maps only"


def test_front_door_exports():
    for name in mf.__all__:
        assert hasattr(mf, name)


def test_scale_changes_the_trainability_sizes():
    book, full = trainability.grid_size("book"), trainability.grid_size("full")
    assert full["width"] == 300 and book["width"] == 32
    assert len(full["sigma_w2"]) == 91 and len(full["depths"]) == 90
    assert full["n_seeds"] > book["n_seeds"] >= 3 and full["steps"] > book["steps"]


def test_train_grid_reads_the_scale(monkeypatch):
    seen = {}

    def fake(act, sw, sb, depths, seeds, X, y, width, steps, batch_size, lr):
        seen.update(width=width, steps=steps, n=len(seeds))
        return np.zeros((len(seeds), len(depths), sw.numel()))

    monkeypatch.setattr(trainability, "_train", fake)
    monkeypatch.setenv("DLTHEORY_SCALE", "full")
    out = trainability.train_grid(depths=[2])
    assert seen == dict(width=300, steps=3000, n=5) and out.accuracy.shape == (5, 1, 91)
    monkeypatch.setenv("DLTHEORY_SCALE", "book")
    trainability.train_grid(depths=[2])
    assert seen == dict(width=32, steps=1000, n=3)
