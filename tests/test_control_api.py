"""Tests of dltheory.control's layout and inputs: theory apart from figures, the continuous-time
Riccati limit, batched MSA, the scale switch, figure determinism, and bad input (examples from the
review and property-based tests with hypothesis)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dltheory.control as control  # noqa: E402
from dltheory import figures  # noqa: E402
from dltheory.control import ddp as D  # noqa: E402
from dltheory.control import experiments as E  # noqa: E402
from dltheory.control import experiments_training as ET  # noqa: E402
from dltheory.control import lq, lr, msa, pmp  # noqa: E402

PKG = Path(control.__file__).parent
THEORY = ("pmp", "lq", "ddp", "msa", "lr")


# ------------------------------------------------------------------------------------------- layout
@pytest.mark.parametrize("name", THEORY)
def test_theory_modules_import_no_plotting(name):
    tree = ast.parse((PKG / f"{name}.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported |= {f"{node.module}.{a.name}" for a in node.names}
    assert not any(m.startswith("matplotlib") for m in imported), imported
    assert not any(m in ("dltheory.figures",) or m.endswith(".figures") for m in imported), imported


def test_front_door_exports_what_it_lists():
    assert len(control.__all__) == len(set(control.__all__)) > 30
    for name in control.__all__:
        assert hasattr(control, name), name


def test_no_empty_partials_in_topic():
    for path in PKG.glob("*.py"):
        for rest in path.read_text().split("partial(")[1:]:
            assert "," in rest.split(")", 1)[0], f"partial with no arguments in {path.name}"


# ----------------------------------------------------------------------------- continuous time
def test_riccati_ode_scalar_closed_form():
    # a = 0, b = q = r = 1: -dP/dt = 1 - P^2, P(T) = qf  =>  P(0) = tanh(T + atanh(qf))
    for qf, T in ((0.0, 1.0), (0.5, 2.0), (0.9, 0.3)):
        P = lq.riccati_ode(0.0, 1.0, 1.0, 1.0, qf, t_end=T)
        assert P[0, 0] == pytest.approx(math.tanh(T + math.atanh(qf)), rel=1e-9)


def test_riccati_ode_stationary_point_is_the_care():
    import scipy.linalg

    rng = np.random.default_rng(3)
    A, B = 0.3 * rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    Q, R = np.eye(3), np.eye(2)
    P_care = scipy.linalg.solve_continuous_are(A, B, Q, R)
    P = lq.riccati_ode(A, B, Q, R, P_care, t_end=1.0)  # starting at the fixed point, it stays there
    np.testing.assert_allclose(P, P_care, rtol=1e-8, atol=1e-10)


def test_discrete_riccati_converges_at_first_order():
    r = E.riccati_continuum()
    assert abs(r.slope - 1) < 0.05
    # halving h roughly halves the error, at every step of the sequence
    np.testing.assert_allclose(r.errors[:-1] / r.errors[1:], 2.0, rtol=0.15)


def test_euler_lq_is_the_euler_step():
    A, B, Q, R = np.eye(2), np.ones((2, 1)), np.eye(2), np.eye(1)
    Ad, Bd, Qd, Rd = lq.euler_lq(A, B, Q, R, h=0.1)
    np.testing.assert_allclose(Ad, 1.1 * np.eye(2))
    np.testing.assert_allclose(Bd, 0.1 * B)
    np.testing.assert_allclose(Qd, 0.1 * Q)
    np.testing.assert_allclose(Rd, 0.1 * R)


# -------------------------------------------------------------------------------------------- MSA
@pytest.fixture(scope="module")
def small():
    x, y, _, _ = pmp.digits_data(n_features=12)
    x, y = x[:64], y[:64]
    model = pmp.ResNetControl(C=pmp.readout(K=10, d=12, seed=0), h=0.25, lam=1e-4)
    W, b = pmp.init_params(T=2, d=12)
    return model, W, b, x, y


def test_msa_batched_over_rho_equals_separate_runs(small):
    model, W, b, x, y = small
    both = msa.msa_train(model, W, b, x, y, rho=[0.0, 3.0], n_iter=3, n_inner=5)
    for j, rho in enumerate((0.0, 3.0)):
        one = msa.msa_train(model, W, b, x, y, rho=rho, n_iter=3, n_inner=5)
        np.testing.assert_allclose(both.loss[:, j], one.loss[:, 0], rtol=1e-12)
        torch.testing.assert_close(both.W[j], one.W[0], rtol=1e-12, atol=1e-14)


def test_hand_derived_augmented_hamiltonian_gradient_equals_autograd(small):
    model, W, b, x, y = small
    g = torch.Generator().manual_seed(3)
    R = 3
    Wr = 0.3 * torch.randn(R, *W.shape, generator=g, dtype=torch.float64)
    br = 0.3 * torch.randn(R, *b.shape, generator=g, dtype=torch.float64)
    onehot = torch.nn.functional.one_hot(y, 10).double()
    xs = msa._bforward(model, Wr, br, x)
    ps = msa._bcostates(model, Wr, br, xs, onehot)
    W2 = (Wr + 0.1 * torch.randn(Wr.shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    b2 = (br + 0.1 * torch.randn(br.shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    rho = torch.tensor([0.0, 1.0, 30.0], dtype=torch.float64)
    H_ref = msa._aug_ham(model, W2, b2, xs, ps, rho)
    gW_ref, gb_ref = torch.autograd.grad(H_ref.sum(), (W2, b2))
    H, gW, gb = msa._aug_ham_grad(model, W2.detach(), b2.detach(), xs, ps, rho)
    torch.testing.assert_close(H, H_ref.detach(), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(gW, gW_ref, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(gb, gb_ref, rtol=1e-10, atol=1e-14)


def test_msa_pairs_of_rho_and_inner_step_equal_separate_runs_and_record_the_gain(small):
    model, W, b, x, y = small
    both = msa.msa_train(
        model, W, b, x, y, rho=[0.0, 3.0], inner_lr=[0.1, 0.3], n_iter=2, n_inner=4
    )
    assert both.inner_lr.tolist() == [0.1, 0.3] and both.gain.shape == (2, 2)
    for j, (rho, inner_lr) in enumerate(((0.0, 0.1), (3.0, 0.3))):
        one = msa.msa_train(model, W, b, x, y, rho=rho, inner_lr=inner_lr, n_iter=2, n_inner=4)
        np.testing.assert_allclose(both.loss[:, j], one.loss[:, 0], rtol=1e-12)
    # the gain of the first iteration is H~(theta_1) - H~(theta_0) at the initial states/costates
    one = msa.msa_train(model, W, b, x, y, rho=3.0, inner_lr=0.3, n_iter=1, n_inner=4)
    xs = pmp.forward_states(model, W, b, x)
    ps = pmp.costates(model, W, b, xs, y)
    gain = msa.augmented_hamiltonian(
        model, one.W[0], one.b[0], xs, ps, rho=3.0
    ) - msa.augmented_hamiltonian(model, W, b, xs, ps, rho=3.0)
    np.testing.assert_allclose(one.gain[0, 0], float(gain), rtol=1e-10)
    with pytest.raises(ValueError, match="same length"):
        msa.msa_train(model, W, b, x, y, rho=[0.0, 1.0, 3.0], inner_lr=[0.1, 0.3], n_iter=1)


def test_msa_with_rho_zero_and_one_inner_step_is_gradient_descent(small):
    # one ascent step on H (rho = 0) from theta is theta + lr grad H = theta - lr grad J
    model, W, b, x, y = small
    m = msa.msa_train(model, W, b, x, y, rho=0.0, n_iter=4, n_inner=1, inner_lr=0.7)
    g = msa.gradient_train(model, W, b, x, y, method="gd", lr=0.7, n_iter=4)
    np.testing.assert_allclose(m.loss[:, 0], g.loss, rtol=1e-12)


def test_sgd_epochs_and_passes(small):
    model, W, b, x, y = small
    r = msa.gradient_train(model, W, b, x, y, method="sgd", lr=0.5, n_iter=3, batch_size=16, seed=1)
    assert r.loss.shape == (4,) and r.passes.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert r.loss[-1] < r.loss[0]
    assert np.all(np.diff(r.seconds) >= 0)


def test_augmented_hamiltonian_penalties_vanish_at_current_theta(small):
    model, W, b, x, y = small
    xs = pmp.forward_states(model, W, b, x)
    ps = pmp.costates(model, W, b, xs, y)
    H0 = msa.augmented_hamiltonian(model, W, b, xs, ps, rho=0.0)
    H5 = msa.augmented_hamiltonian(model, W, b, xs, ps, rho=5.0)
    assert float(H5) == pytest.approx(float(H0), abs=1e-12)


# ---------------------------------------------------------------------------------------- scale
def test_scale_changes_the_sizes_of_the_experiments(monkeypatch):
    book, full = ET.msa_sizes("book"), ET.msa_sizes("full")
    assert len(full.seeds) > len(book.seeds) and full.n_train > book.n_train
    assert full.n_iter > book.n_iter and full.n_inner > book.n_inner
    # lr schedule: more simulated paths (a 1-step horizon keeps the full scale cheap)
    assert (
        ET.lr_schedule_experiment(scale="full", t_end=0.1).n_paths
        > ET.lr_schedule_experiment(scale="book", t_end=0.1).n_paths
    )
    # ternary and cSGD: capture the iteration counts instead of training
    seen = {}

    class Stop(Exception):
        pass

    def fake_ternary(*a, n_iter, **k):
        seen.setdefault("ternary", []).append(n_iter)
        raise Stop

    def fake_csgd(*a, n_epochs, **k):
        seen.setdefault("csgd", []).append(n_epochs)
        raise Stop

    monkeypatch.setattr(ET._msa, "ternary_msa_train", fake_ternary)
    monkeypatch.setattr(ET._lr, "csgd_softmax", fake_csgd)
    monkeypatch.setattr(ET._lr, "softmax_optimum", lambda **k: 0.0)
    for scale in ("book", "full"):
        with pytest.raises(Stop):
            ET.ternary_experiment(scale=scale)
        with pytest.raises(Stop):
            ET.csgd_experiment(scale=scale)
    assert seen["ternary"][1] > seen["ternary"][0] and seen["csgd"][1] > seen["csgd"][0]


@pytest.mark.parametrize(
    "fn",
    [
        E.lq_three_ways,
        E.riccati_continuum,
        E.ddp_convergence,
        E.costate_check,
        E.first_order_check,
        ET.msa_experiment,
        ET.ternary_experiment,
        ET.lr_schedule_experiment,
        ET.csgd_experiment,
        ET.msa_sizes,
    ],
)
def test_experiments_reject_unknown_scale(fn):
    with pytest.raises(ValueError, match="scale"):
        fn(scale="huge")
    with pytest.raises(TypeError, match="scale"):
        fn(scale=1)


# ------------------------------------------------------------------------------- figures
@pytest.mark.parametrize(
    "compute, plot",
    [
        (E.lq_three_ways, E._plot_lq),
        (E.riccati_continuum, E._plot_riccati_continuum),
        (E.ddp_convergence, E._plot_ddp),
        (ET.lr_schedule_experiment, ET._plot_lr_schedule),
    ],
)
def test_control_figures_rebuild_identically(compute, plot):
    fps = []
    for _ in range(2):
        with figures.style():
            fig = plot(compute())
        fps.append(figures.fingerprint(fig))
        plt.close(fig)
    assert fps[0] == fps[1]


# ----------------------------------------------------------------------------- bad input: examples
def _lqp():
    return D.LQProblem(A=[[1.0]], B=[[1.0]], Q=[[1.0]], R=[[1.0]], Qf=[[1.0]], T=3)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: D.ddp(_lqp(), [np.nan], np.zeros((3, 1))), ValueError, "x0"),
        (lambda: D.ddp(D.Pendulum(T=3), [np.inf, 0.0], np.zeros((3, 1))), ValueError, "x0"),
        (lambda: D.ddp(_lqp(), [1.0], np.zeros((3, 1)), second_order=1), TypeError, "second_order"),
        (lambda: D.ddp(object(), [1.0], np.zeros((3, 1))), TypeError, "problem must provide"),
        (lambda: D.ddp(_lqp(), [1.0], np.zeros((3, 1)), mu_factor=1.0), ValueError, "mu_factor"),
        (
            lambda: lq.lq_cost([[1.0], [1.0]], [[0.0]], np.eye(2), [[1.0]], [[1.0]]),
            ValueError,
            "Q must have",
        ),
        (lambda: lq.lq_cost([[1.0], [1.0]], [[0.0]], [[1.0]], [[1.0]], [["a"]]), TypeError, "Qf"),
        (
            lambda: lq.riccati([[np.nan]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], 2),
            ValueError,
            "A must",
        ),
        (lambda: lq.riccati([[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], 2.0), TypeError, "T must"),
        (
            lambda: lq.riccati(
                np.eye(3000), np.ones((3000, 1)), np.eye(3000), [[1.0]], np.eye(3000), 2
            ),
            ValueError,
            "state dimension",
        ),
        (lambda: lq.lq_rollout([[1.0]], [[1.0]], [[[0.5]]], [1.0, 2.0]), ValueError, "x0 must"),
        (lambda: lq.riccati_ode(0.0, 1.0, 1.0, 1.0, 0.0, t_end=-1.0), ValueError, "t_end"),
        (lambda: lq.euler_lq(0.0, 1.0, 1.0, 1.0, h=np.nan), ValueError, "h must"),
        (
            lambda: msa.accuracy(
                pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64)),
                *pmp.init_params(T=1, d=2),
                torch.ones(3, 2, dtype=torch.float64),
                [0],
            ),
            ValueError,
            "one label per sample",
        ),
        (
            lambda: msa.accuracy(
                pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64)),
                *pmp.init_params(T=1, d=2),
                torch.ones(2, 2, dtype=torch.float64),
                [0, 5],
            ),
            ValueError,
            "class labels",
        ),
        (
            lambda: pmp.total_loss(
                pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64)),
                *pmp.init_params(T=1, d=2),
                torch.ones(2, 2, dtype=torch.float32),
                [0, 1],
            ),
            TypeError,
            "share one dtype",
        ),
        (lambda: pmp.init_params(T=10_000, d=100_000), ValueError, "limit"),
        (lambda: pmp.ResNetControl(C="abc"), TypeError, "C must"),
        (lambda: pmp.digits_data(n_features=65), ValueError, "n_features"),
        (
            lambda: msa.msa_train(
                pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64)),
                *pmp.init_params(T=1, d=2),
                torch.eye(2, dtype=torch.float64),
                [0, 1],
                rho=[1.0, -1.0],
            ),
            ValueError,
            "rho",
        ),
        (
            lambda: msa.gradient_train(
                pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64)),
                *pmp.init_params(T=1, d=2),
                torch.eye(2, dtype=torch.float64),
                [0, 1],
                method="sgd",
            ),
            ValueError,
            "batch_size",
        ),
        (
            lambda: lr.csgd_softmax(
                [0.1], x=torch.zeros(4, 2, dtype=torch.float64), y=[0, 5, 0, 5]
            ),
            ValueError,
            "every class",
        ),
        (
            lambda: lr.simulate_sgd_quadratic(
                [1.0] * 10, a=1.0, b=0.0, eta=0.1, sigma=1.0, x0=0.0, n_paths=10**8, seed=0
            ),
            ValueError,
            "limit",
        ),
        (lambda: D.model_agreement([1.0, 0.5], [1.0, 0.5], [0.5], [0.5, 0.1]), ValueError, "len"),
    ],
)
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_lists_are_accepted_for_tensors():
    m = pmp.ResNetControl(C=[[1.0, 0.0], [0.0, 1.0]])
    W, b = pmp.init_params(T=1, d=2)
    J = pmp.total_loss(m, W.tolist(), b.tolist(), [[1.0, 0.0], [0.0, 1.0]], [0, 1])
    assert float(J) == pytest.approx(
        float(pmp.total_loss(m, W, b, torch.eye(2, dtype=torch.float64), torch.tensor([0, 1])))
    )


# ------------------------------------------------------------------------- bad input: properties
BAD_COUNT = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)
BAD_POSITIVE = st.one_of(
    st.floats(max_value=0.0),
    st.just(float("nan")),
    st.just(float("inf")),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.lists(st.floats(), max_size=2),
)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _raises_clearly(call):
    with pytest.raises((TypeError, ValueError)) as err:
        call()
    # the error is ours (it names an argument), not one from deep inside torch or numpy
    assert "must" in str(err.value) or "unknown" in str(err.value) or "need" in str(err.value), (
        err.value
    )


@SETTINGS
@given(v=BAD_COUNT)
def test_counts_reject_bad_values(v):
    model = pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64))
    W, b = pmp.init_params(T=1, d=2)
    x = torch.eye(2, dtype=torch.float64)
    _raises_clearly(lambda: msa.msa_train(model, W, b, x, [0, 1], rho=1.0, n_iter=v))
    _raises_clearly(lambda: msa.gradient_train(model, W, b, x, [0, 1], n_iter=v))
    _raises_clearly(lambda: lq.riccati([[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], v))
    _raises_clearly(lambda: D.ddp(_lqp(), [1.0], np.zeros((3, 1)), max_iter=v))
    _raises_clearly(
        lambda: lr.simulate_sgd_quadratic(
            [1.0], a=1.0, b=0.0, eta=0.1, sigma=1.0, x0=0.0, n_paths=v, seed=0
        )
    )
    _raises_clearly(lambda: pmp.init_params(T=v, d=2))


@SETTINGS
@given(v=BAD_POSITIVE)
def test_positive_reals_reject_bad_values(v):
    model = pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64))
    W, b = pmp.init_params(T=1, d=2)
    x = torch.eye(2, dtype=torch.float64)
    _raises_clearly(lambda: pmp.ResNetControl(C=torch.eye(2, dtype=torch.float64), h=v))
    steps = isinstance(v, list) and v and all(f > 0 and f < float("inf") for f in v)
    if not steps:  # a list of positive steps is valid: one run per step
        _raises_clearly(lambda: msa.msa_train(model, W, b, x, [0, 1], rho=1.0, inner_lr=v))
    _raises_clearly(lambda: msa.gradient_train(model, W, b, x, [0, 1], lr=v))
    _raises_clearly(lambda: lq.euler_lq(0.0, 1.0, 1.0, 1.0, h=v))
    _raises_clearly(lambda: lq.riccati_ode(0.0, 1.0, 1.0, 1.0, 0.0, t_end=v))
    _raises_clearly(lambda: D.first_order_step(_lqp(), [1.0], np.zeros((3, 1)), lr=v))
    _raises_clearly(lambda: lr.switch_time(a=v, eta=0.1, sigma=1.0, m0=1.0))


@SETTINGS
@given(
    v=st.one_of(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=4).filter(
            lambda l: len(l) != 2 or not all(np.isfinite(l))
        ),
        st.text(max_size=3),
        st.none(),
        st.booleans(),
    )
)
def test_state_vectors_reject_bad_values(v):
    _raises_clearly(lambda: D.ddp(D.Pendulum(T=2), v, np.zeros((2, 1)), max_iter=1))
    _raises_clearly(lambda: D.rollout(D.Pendulum(T=2), v, np.zeros((2, 1))))


@SETTINGS
@given(
    scale=st.one_of(
        st.text(max_size=5).filter(lambda s: s not in ("book", "full")), st.integers(), st.none()
    )
)
def test_scale_rejects_bad_values(scale):
    _raises_clearly(lambda: ET.msa_sizes(scale))
    _raises_clearly(lambda: E.lq_three_ways(scale=scale))
