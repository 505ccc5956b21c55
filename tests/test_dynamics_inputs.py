"""Property-based bad-input tests of the public entry points of dltheory.dynamics (issue 10).

Each test draws random bad values for one argument class (counts, positive reals, tensors, names)
and asserts that the package raises TypeError or ValueError itself, before torch or numpy fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dltheory import dynamics as dyn

F64 = torch.float64
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BAD = (TypeError, ValueError)

# values that are not a positive integer: wrong type or wrong value
bad_counts = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
# values that are not a finite real > 0
bad_positive = st.one_of(
    st.floats(max_value=0.0),
    st.just(math.nan),
    st.just(math.inf),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.complex_numbers(min_magnitude=1e-3, allow_nan=False, allow_infinity=False).filter(
        lambda z: z.imag != 0
    ),
)
# values that are not a real number
bad_real = st.one_of(
    st.just(math.nan),
    st.just(math.inf),
    st.just(-math.inf),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)
# values that are not a tensor of real numbers
bad_tensor = st.one_of(
    st.text(max_size=3),
    st.none(),
    st.just([["a", "b"]]),
    st.just(object()),
    st.just(torch.tensor([True, False])),
    st.just(torch.tensor([1 + 1j, 2j])),
    st.just(torch.tensor([math.nan, 1.0], dtype=F64)),
)
bad_names = st.one_of(
    st.text(max_size=8).filter(
        lambda s: (
            s
            not in (
                "euler",
                "midpoint",
                "rk4",
                "tanh",
                "linear",
                "moons",
                "circles",
                "dopri5",
                "bosh3",
                "adaptive_heun",
                "dopri8",
            )
        )
    ),
    st.integers(),
    st.none(),
)

A = dyn.linear_test_field(seed=0)
X0 = torch.ones(2, 6, dtype=F64)


def field(t, x):
    return x @ A.T


@SETTINGS
@given(L=bad_counts)
def test_residual_stack_bad_depth(L):
    with pytest.raises(BAD):
        dyn.residual_stack(field, X0, T=1.0, L=L)


@SETTINGS
@given(T=bad_positive)
def test_residual_stack_bad_time(T):
    with pytest.raises(BAD):
        dyn.residual_stack(field, X0, T=T, L=4)


@SETTINGS
@given(x0=bad_tensor, method=bad_names)
def test_residual_stack_bad_input_or_method(x0, method):
    with pytest.raises(BAD):
        dyn.residual_stack(field, x0, T=1.0, L=4)
    with pytest.raises(BAD):
        dyn.residual_stack(field, X0, T=1.0, L=4, method=method)


@SETTINGS
@given(depths=st.one_of(st.lists(bad_counts, min_size=1, max_size=3), st.just([]), bad_real))
def test_discretisation_errors_bad_depths(depths):
    with pytest.raises(BAD):
        dyn.discretisation_errors(A, X0, T=1.0, depths=depths)


@SETTINGS
@given(x0=bad_tensor)
def test_discretisation_errors_bad_inputs(x0):
    with pytest.raises(BAD):
        dyn.discretisation_errors(A, x0, T=1.0, depths=[4])


@SETTINGS
@given(x=st.lists(st.floats(), min_size=0, max_size=4), y=st.lists(st.floats(), max_size=4))
def test_fit_loglog_slope_rejects_or_is_finite(x, y):
    try:
        out = dyn.fit_loglog_slope(x, y)
    except BAD:
        return
    assert math.isfinite(out)


@SETTINGS
@given(gamma=bad_real, h=bad_positive)
def test_stability_analysis_bad_numbers(gamma, h):
    with pytest.raises(BAD):
        dyn.stability_analysis(h=0.1, gamma=gamma, omega=[1.0])
    with pytest.raises(BAD):
        dyn.stability_analysis(h=h, gamma=0.1, omega=[1.0])


@SETTINGS
@given(
    omega=st.one_of(
        st.just([]), st.just([math.nan]), st.just([math.inf]), st.just(["a"]), st.just([1j])
    )
)
def test_stability_analysis_bad_spectrum(omega):
    with pytest.raises(BAD):
        dyn.stability_analysis(h=0.1, gamma=0.1, omega=omega)


@SETTINGS
@given(K=bad_tensor, gamma=bad_real)
def test_antisymmetric_matrix_bad(K, gamma):
    with pytest.raises(BAD):
        dyn.antisymmetric_matrix(K, 0.1)
    with pytest.raises(BAD):
        dyn.antisymmetric_matrix(torch.eye(3, dtype=F64), gamma)


@SETTINGS
@given(L=bad_counts, h=bad_positive, activation=bad_names)
def test_perturbation_growth_bad(L, h, activation):
    W = torch.eye(3, dtype=F64)
    x0 = torch.zeros(2, 3, dtype=F64)
    with pytest.raises(BAD):
        dyn.perturbation_growth(W, x0, h=0.1, L=L)
    with pytest.raises(BAD):
        dyn.perturbation_growth(W, x0, h=h, L=2)
    with pytest.raises(BAD):
        dyn.perturbation_growth(W, x0, h=0.1, L=2, activation=activation)


@SETTINGS
@given(d=bad_counts, scale=bad_positive)
def test_hamiltonian_params_bad(d, scale):
    with pytest.raises(BAD):
        dyn.hamiltonian_params(d=d, L=2)
    with pytest.raises(BAD):
        dyn.hamiltonian_params(d=2, L=2, scale=scale)


@SETTINGS
@given(y=bad_tensor, h=bad_positive)
def test_hamiltonian_forward_bad(y, h):
    p = dyn.hamiltonian_params(d=2, L=2)
    z = torch.zeros(2, dtype=F64)
    with pytest.raises(BAD):
        dyn.hamiltonian_forward(y, z, p, h=0.1)
    with pytest.raises(BAD):
        dyn.hamiltonian_inverse(z, z, p, h=h)


@SETTINGS
@given(name=bad_names, n=st.one_of(bad_counts, st.just(1)))
def test_make_dataset_bad(name, n):
    with pytest.raises(BAD):
        dyn.make_dataset(name)
    with pytest.raises(BAD):
        dyn.make_dataset("moons", n=n)


@SETTINGS
@given(tol=bad_positive, count=bad_counts, method=bad_names)
def test_classifier_bad_settings(tol, count, method):
    with pytest.raises(BAD):
        dyn.NeuralODEClassifier(rtol=tol)
    with pytest.raises(BAD):
        dyn.NeuralODEClassifier(atol=tol)
    with pytest.raises(BAD):
        dyn.NeuralODEClassifier(T=tol)
    with pytest.raises(BAD):
        dyn.NeuralODEClassifier(hidden=count)
    with pytest.raises(BAD):
        dyn.NeuralODEClassifier(method=method)


MODEL = dyn.NeuralODEClassifier(method="euler", steps=2, adjoint=False)
XM, YM = dyn.make_dataset("moons", n=8)


@SETTINGS
@given(
    y=st.one_of(
        st.just([0.0]),
        st.just([0, 1, 2, 0, 1, 0, 1, 0]),
        st.just([0.5] * 8),
        st.just(np.zeros((8, 1))),
        bad_tensor,
    )
)
def test_accuracy_and_training_bad_labels(y):
    with pytest.raises(BAD):
        dyn.accuracy(MODEL, XM, y)
    with pytest.raises(BAD):
        dyn.train_classifier(MODEL, XM, y, iters=1)


@SETTINGS
@given(
    X=st.one_of(bad_tensor, st.just(torch.zeros(8, 3)), st.just(torch.zeros(8, 2, dtype=F64))),
    lr=bad_positive,
)
def test_training_bad_data_or_rate(X, lr):
    with pytest.raises(BAD):
        dyn.train_classifier(MODEL, X, YM, iters=1)
    with pytest.raises(BAD):
        dyn.train_classifier(MODEL, XM, YM, iters=1, lr=lr)


@SETTINGS
@given(loop=st.one_of(bad_tensor, st.just(np.zeros((2, 2))), st.just(np.zeros((5, 3)))))
def test_winding_numbers_bad(loop):
    with pytest.raises(BAD):
        dyn.winding_numbers(loop, np.zeros((1, 2)))


@SETTINGS
@given(L=bad_counts, T=bad_positive)
def test_costate_functions_bad(L, T):
    x0 = torch.ones(2, dtype=F64)
    with pytest.raises(BAD):
        dyn.backprop_deltas(lambda t, x: -x, x0, T=1.0, L=L, loss=lambda x: (x**2).sum())
    with pytest.raises(BAD):
        dyn.euler_states(lambda t, x: -x, x0, T=T, L=2)
    with pytest.raises(BAD):
        dyn.adjoint_state(lambda t, z: -z, x0, T=T, aT=x0)


@SETTINGS
@given(
    scale=st.one_of(
        st.text(max_size=5).filter(lambda s: s not in ("book", "full")), st.none(), st.integers()
    ),
    n=bad_counts.filter(lambda v: v is not None),
)  # None means "the size of the scale"
def test_experiments_bad_scale_or_size(scale, n):
    with pytest.raises(BAD):
        dyn.stability_experiment(scale=scale, L=2)
    with pytest.raises(BAD):
        dyn.stability_experiment(n=n, L=2)
    with pytest.raises(BAD):
        dyn.reversibility_experiment(n=n, L=2)


@pytest.mark.parametrize("device", ["tpu", 3, "cuda:x"])
def test_experiments_bad_device(device):
    with pytest.raises(BAD):
        dyn.stability_experiment(L=2, device=device)
