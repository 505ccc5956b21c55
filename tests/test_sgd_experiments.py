"""dltheory.sgd: experiment sizes per scale, figure registration, layout rules and bad input."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory import figures, sgd
from dltheory.sgd import (
    bayes,
    entropy,
    escape,
    experiments,
    experiments_landscape,
    experiments_nets,
    linear,
    nets,
)

FIGURES = [
    "sgd/weak-error",
    "sgd/stationary-covariance",
    "sgd/lr-over-batch",
    "sgd/mlp-grid",
    "sgd/mandt-kl",
    "sgd/kramers",
    "sgd/anisotropic-escape",
    "sgd/local-entropy",
    "sgd/rescaling",
    "sgd/gradient-noise",
]


def test_every_figure_is_registered():
    registered = {fid for fid in figures.ids() if fid.startswith("sgd/")}
    assert registered == set(FIGURES)


def test_theory_modules_do_not_import_plotting():
    root = Path(sgd.__file__).parent
    for path in root.glob("*.py"):
        if path.name.startswith("experiments"):
            continue
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
        assert not any(
            "matplotlib" in m or m == "figures" or m.endswith(".figures") for m in names
        ), path


class _Stop(Exception):
    pass


def _record(monkeypatch, module, name, keys):
    seen = {}

    def fake(*args, **kwargs):
        seen.update({k: kwargs.get(k) for k in keys})
        seen["args"] = args
        raise _Stop

    monkeypatch.setattr(module, name, fake)
    return seen


@pytest.mark.parametrize("scale", ["book", "full"])
def test_sizes_change_with_scale(monkeypatch, scale):
    seen = _record(monkeypatch, linear, "simulate_linear_sgd", ["n_chains"])
    with pytest.raises(_Stop):
        experiments.stationary_covariance(scale=scale)
    assert seen["n_chains"] == experiments.SIZES[scale]["chains"]
    seen = _record(monkeypatch, linear, "quartic_weak_error", ["n_chains"])
    with pytest.raises(_Stop):
        experiments.weak_error(scale=scale)
    assert seen["n_chains"] == experiments.SIZES[scale]["quartic_chains"]
    seen = _record(monkeypatch, escape, "simulate_double_well", ["n_chains"])
    with pytest.raises(_Stop):
        experiments_landscape.kramers(scale=scale)
    assert seen["n_chains"] == experiments_landscape.SIZES[scale]["gibbs_chains"]
    seen = _record(monkeypatch, nets, "train_sgd", ["epochs"])
    with pytest.raises(_Stop):
        experiments_nets.mlp_grid(scale=scale)
    sz = experiments_nets.SIZES[scale]
    assert seen["epochs"] == sz["epochs"]
    assert seen["args"][0].W1.shape[0] == len(sz["lrs"]) * len(sz["seeds"])


def test_full_scale_is_larger():
    for table in (experiments.SIZES, experiments_landscape.SIZES):
        for k, v in table["book"].items():
            assert table["full"][k] > v
    b, f = experiments_nets.SIZES["book"], experiments_nets.SIZES["full"]
    assert f["epochs"] > b["epochs"] and len(f["seeds"]) > len(b["seeds"])
    with pytest.raises(ValueError, match="scale"):
        experiments.weak_error(scale="huge")


def test_rebuild_gives_same_data():
    a = experiments.stationary_covariance(seed=0)
    b = experiments.stationary_covariance(seed=0)
    assert np.array_equal(a.samples, b.samples)
    with pytest.raises(AttributeError):
        a.lr = 1.0  # frozen dataclass


# ----------------------------------------------------------------------------- bad input
BAD_POSITIVE = st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf))
NOT_NUMBER = st.one_of(
    st.text(max_size=3), st.none(), st.booleans(), st.lists(st.integers(), max_size=2)
)


@settings(max_examples=25, deadline=None)
@given(bad=BAD_POSITIVE)
def test_bad_positive_values_raise_value_error(bad):
    with pytest.raises(ValueError):
        sgd.stationary_variance_sgd(bad, 1.0, 1.0)
    with pytest.raises(ValueError):
        sgd.stationary_variance_sme(0.1, bad, 1.0)
    with pytest.raises(ValueError):
        sgd.lyapunov_discrete([[1.0]], [[1.0]], bad)
    with pytest.raises(ValueError):
        sgd.kramers_time(2.0, -1.0, 0.25, bad)
    with pytest.raises(ValueError):
        sgd.mfpt_exact(bad)
    with pytest.raises(ValueError):
        sgd.local_entropy_curvature(1.0, bad)
    with pytest.raises(ValueError):
        escape.simulate_double_well(bad, 0.01)
    with pytest.raises(ValueError):
        nets.rescale(nets.init_mlps([0]), bad)
    with pytest.raises(ValueError):
        sgd.quadratic_weak_error([0.1, bad])


@settings(max_examples=25, deadline=None)
@given(bad=NOT_NUMBER)
def test_non_numbers_raise_type_error(bad):
    with pytest.raises(TypeError):
        sgd.stationary_variance_sgd(bad, 1.0, 1.0)
    with pytest.raises(TypeError):
        sgd.simulate_linear_sgd([[1.0]], [[1.0]], 0.1, n_chains=bad if bad is not None else "x")
    with pytest.raises(TypeError):
        escape.kramers_time(bad, -1.0, 0.25, 0.1)
    with pytest.raises(TypeError):
        entropy.descend(entropy.TwoBasins(), [0.0], lr=bad)


@settings(max_examples=20, deadline=None)
@given(n=st.one_of(st.integers(max_value=0), st.just(10**12)))
def test_bad_counts_raise_value_error(n):
    with pytest.raises(ValueError):
        sgd.simulate_linear_sgd([[1.0]], [[1.0]], 0.1, n_chains=n)


def test_matrix_checks():
    C = np.eye(2)
    with pytest.raises(ValueError, match="symmetric"):
        sgd.lyapunov_discrete([[1.0, 0.5], [0.0, 1.0]], C, 0.1)
    with pytest.raises(ValueError, match="positive definite"):
        sgd.lyapunov_continuous([[1.0, 0.0], [0.0, -1.0]], C, 0.1)
    with pytest.raises(ValueError, match="square"):
        sgd.lyapunov_discrete([[1.0, 0.0]], C, 0.1)
    with pytest.raises(ValueError, match="shape"):
        sgd.lyapunov_discrete(np.eye(3), C, 0.1)
    with pytest.raises(ValueError, match="semi-definite"):
        sgd.lyapunov_discrete(np.eye(2), [[1.0, 0.0], [0.0, -1.0]], 0.1)
    with pytest.raises(ValueError, match="lr must be <"):
        sgd.lyapunov_discrete(np.eye(2) * 4, C, 0.6)
    with pytest.raises(ValueError, match="columns"):
        sgd.covariance_test(np.zeros((10, 3)), C)
    with pytest.raises(ValueError):
        escape.simulate_basin_escapes(np.eye(2), np.ones((1, 3, 3)), 0.1, 0.1, chains=2, n_steps=2)


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="integer"):
        sgd.quadratic_weak_error(0.3)  # horizon 1 is not a multiple of 0.3
    with pytest.raises(ValueError, match="method"):
        entropy.descend(entropy.TwoBasins(), [0.0], method="adam")
    with pytest.raises(TypeError):
        entropy.descend(lambda x: x, [0.0])
    with pytest.raises(ValueError, match="equispaced"):
        entropy.hamilton_jacobi(np.zeros(6), np.array([0, 1, 2, 3, 5, 6.0]), 0.1)
    with pytest.raises(ValueError, match="target"):
        escape.mfpt_exact(0.1, start=0.5, target=0.0)
    p = bayes.make_regression(50, 2, seed=0)
    with pytest.raises(ValueError, match="stationary"):
        bayes.exact_sgd_covariance(p, 10.0, 5)
    with pytest.raises(TypeError):
        bayes.exact_sgd_covariance(p, 0.01, 2.5)
    with pytest.raises(ValueError, match="exceed"):
        bayes.make_regression(3, 5)
    with pytest.raises(ValueError):
        nets.tail_index([1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        nets.per_sample_grads(
            nets.init_mlps([0, 1]), torch.zeros(2, 64), torch.zeros(2, dtype=torch.long)
        )
    with pytest.raises(ValueError, match="learning rates"):
        nets.train_sgd(nets.init_mlps([0, 1]), nets.load_digits(), [0.1], 8, epochs=1)
