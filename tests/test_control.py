"""Tests of dltheory.control: identities (costate = backprop, DDP first-order = GD), LQ three ways,
closed forms (ternary maximiser, optimal learning-rate schedule) and argument validation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dltheory.control import ddp as D
from dltheory.control import experiments as E
from dltheory.control import lq, lr, msa, pmp


@pytest.fixture(scope="module")
def net():
    g = torch.Generator().manual_seed(0)
    N, d, T, K = 40, 8, 5, 3
    x = torch.randn(N, d, generator=g, dtype=torch.float64)
    y = torch.randint(0, K, (N,), generator=g)
    model = pmp.ResNetControl(C=pmp.readout(K=K, d=d, seed=1), h=0.3, lam=1e-2)
    W, _ = pmp.init_params(T=T, d=d, scale=1.5, seed=2)
    b = 0.3 * torch.randn(T, d, generator=g, dtype=torch.float64)
    return model, W, b, x, y


def test_costate_gradient_equals_autograd(net):
    model, W, b, x, y = net
    Wr, br = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
    gW, gb = torch.autograd.grad(pmp.total_loss(model, Wr, br, x, y), (Wr, br))
    xs = pmp.forward_states(model, W, b, x)
    ps = pmp.costates(model, W, b, xs, y)
    hW, hb = pmp.hamiltonian_grads(model, W, b, xs, ps)
    assert torch.allclose(-hW, gW, rtol=0, atol=1e-12)
    assert torch.allclose(-hb, gb, rtol=0, atol=1e-12)


def test_costate_is_gradient_of_hamiltonian_in_x(net):
    model, W, b, x, y = net
    xs = pmp.forward_states(model, W, b, x)
    ps = pmp.costates(model, W, b, xs, y)
    t = 2
    xt = xs[t].clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(
        pmp.hamiltonian(model, xt, ps[t + 1], W[t], torch.zeros_like(b[t]) + b[t]), xt
    )
    # H is a batch mean, so its x-gradient is p_t / N
    assert torch.allclose(gx * x.shape[0], ps[t], atol=1e-12)


def test_ddp_first_order_step_is_gradient_descent(net):
    model, W, b, x, y = net
    Wr, br = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
    gW, gb = torch.autograd.grad(pmp.total_loss(model, Wr, br, x, y), (Wr, br))
    us = [pmp.ParamPair(W[t], b[t]) for t in range(W.shape[0])]
    new = D.first_order_step(pmp.NetworkProblem(model, y), x, us, lr=0.7)
    for t, (Wn, bn) in enumerate(new):
        assert torch.allclose(Wn, W[t] - 0.7 * gW[t], atol=1e-12)
        assert torch.allclose(bn, b[t] - 0.7 * gb[t], atol=1e-12)


def test_ddp_first_order_on_lq_matches_finite_difference():
    A, B, Q, R, Qf, x0 = E._lq_instance(3, 2, seed=3)
    p = D.LQProblem(A=A, B=B, Q=Q, R=R, Qf=Qf, T=6)
    us = np.random.default_rng(0).standard_normal((6, 2))

    def J(u):
        return D.total_cost(p, D.rollout(p, x0, u), u)

    g_fd = np.zeros_like(us)
    for i, j in itertools.product(range(6), range(2)):
        e = np.zeros_like(us)
        e[i, j] = 1e-6
        g_fd[i, j] = (J(us + e) - J(us - e)) / 2e-6
    new = D.first_order_step(p, x0, us, lr=0.1)
    np.testing.assert_allclose((us - new) / 0.1, g_fd, rtol=1e-6, atol=1e-7)


def test_lq_three_ways_agree():
    d = E.lq_three_ways(n=3, m=2, T=30, T_long=300, seed=1)
    np.testing.assert_allclose(d.us_pmp, d.us_dp, atol=1e-10)
    np.testing.assert_allclose(d.us_ddp, d.us_dp, atol=1e-10)
    for J in (d.J_pmp, d.J_ddp, d.V_dp):
        assert abs(J - d.J_dp) <= 1e-10 * d.J_dp
    np.testing.assert_allclose(d.lam0_pmp, d.Px0, atol=1e-10)  # costate = value gradient
    assert d.riccati_gap[0] < 1e-10


def test_riccati_rate_is_the_squared_closed_loop_radius():
    d = E.lq_three_ways(n=3, m=2, T=5, T_long=300, seed=1)
    A, B, Q, R, _, _ = E._lq_instance(3, 2, 1)
    P = lq.dare(A, B, Q, R)
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    assert d.closed_loop_radius == pytest.approx(max(abs(np.linalg.eigvals(A - B @ K))))
    assert d.closed_loop_radius < 1 < d.spectral_radius_A
    assert d.riccati_rate == pytest.approx(d.closed_loop_radius**2, rel=0.01)


def test_richardson_slope_of_a_known_expansion():
    hs = 0.2 / 2.0 ** np.arange(6)
    r = E.RiccatiContinuum(
        hs=hs, errors=3 * hs + 5 * hs**2, slope=1.0, n_fit=4, t_end=2.0, P0=np.eye(1)
    )
    assert r.richardson_slope == pytest.approx(2.0, abs=1e-9)  # 2e(h/2) - e(h) = -5h^2/2 exactly
    r = E.RiccatiContinuum(
        hs=hs, errors=3 * hs + 5 * hs**1.5, slope=1.0, n_fit=4, t_end=2.0, P0=np.eye(1)
    )
    assert r.richardson_slope == pytest.approx(1.5, abs=1e-9)


def test_riccati_scalar_closed_form():
    P, K = lq.riccati([[1.0]], [[1.0]], [[1.0]], [[1.0]], [[1.0]], 1)
    assert K[0, 0, 0] == pytest.approx(0.5) and P[0, 0, 0] == pytest.approx(1.5)
    # the stationary scalar DARE p = 1 + p - p^2/(1+p) has p = (1 + sqrt 5)/2
    assert lq.dare([[1.0]], [[1.0]], [[1.0]], [[1.0]])[0, 0] == pytest.approx((1 + 5**0.5) / 2)


def test_ddp_converges_on_pendulum_and_its_records_are_consistent():
    p = D.Pendulum(T=40, dt=0.05)
    r = D.ddp(p, np.zeros(2), np.zeros((40, 1)), max_iter=60, tol=0.0)
    assert r.converged
    # the recorded costs are those of the recorded controls, recomputed independently
    for J, u in zip(r.costs, r.controls, strict=False):
        assert J == pytest.approx(D.total_cost(p, D.rollout(p, np.zeros(2), u), u), rel=1e-12)
    np.testing.assert_allclose(r.actual, r.costs[:-1] - r.costs[1:])
    assert r.alphas.size == r.predicted.size == r.costs.size - 1
    # gradient at the optimum vanishes: first-order step does not move the controls
    g = r.us - D.first_order_step(p, np.zeros(2), r.us, lr=1.0)
    assert np.max(np.abs(g)) < 1e-6


def test_newton_step_solves_lq_exactly_from_any_controls():
    A, B, Q, R, Qf, x0 = E._lq_instance(3, 2, seed=4)
    p = D.LQProblem(A=A, B=B, Q=Q, R=R, Qf=Qf, T=8)
    _, K = lq.riccati(A, B, Q, R, Qf, 8)
    _, us_dp = lq.lq_rollout(A, B, K, x0)
    us0 = np.random.default_rng(1).standard_normal((8, 2))
    us, xs = D.newton_step(p, x0, us0)
    np.testing.assert_allclose(us, us_dp, atol=1e-10)
    np.testing.assert_allclose(xs, D.rollout(p, x0, us), atol=1e-12)


def test_quadratic_ratios_separate_quadratic_from_linear_convergence():
    quad = [
        0.9 * 0.5 ** (2**k - 1) for k in range(5)
    ]  # quadratic: e_{k+1} / e_k^2 = 1 / 1.8 for all k
    r = D.quadratic_ratios(quad, [1.0] * 4, [0.0] * 4, floor=1e-12)
    np.testing.assert_allclose(r, [q1 / q0**2 for q0, q1 in zip(quad, quad[1:], strict=False)])
    assert r.max() <= 1.2
    lin = [0.5 * 0.8**k for k in range(30)]  # linear: e_{k+1}/e_k^2 = 0.8 / e_k grows without bound
    assert D.quadratic_ratios(lin, [1.0] * 29, [0.0] * 29, floor=1e-12).max() > 100
    # regularised or damped steps and errors below the floor are excluded
    r, ks = D.quadratic_ratios(
        [0.5, 0.1, 0.01, 1e-4, 1e-13],
        [1.0, 0.5, 1.0, 1.0],
        [0.0, 0.0, 0.1, 0.0],
        floor=1e-10,
        return_index=True,
    )
    assert ks.tolist() == [0] and r.tolist() == [0.1 / 0.25]


def test_ddp_newton_phase_is_quadratic_on_pendulum():
    d = E.ddp_convergence()
    assert d.ref_step < 1e-11  # the refined reference is accurate to rounding
    r = D.quadratic_ratios(d.err_ddp, d.alpha_ddp, d.mu_ddp, floor=1e-10)
    assert r.size >= 3 and r.max() <= 1.0
    e = d.err_ilqr
    assert e[-1] / e[-2] ** 2 > 1.0  # iLQR is linear: the same bound fails
    # DDP's model predicts its reductions to O(e_k); iLQR's model is off by a fixed factor
    a = D.model_agreement(d.err_ddp, d.cost_ddp, d.predicted_ddp, d.actual_ddp)
    assert a.size >= 3 and a.max() <= 1.0
    ai = D.model_agreement(d.err_ilqr, d.cost_ilqr, d.predicted_ilqr, d.actual_ilqr)
    assert ai.max() > 10.0
    assert abs(d.actual_ilqr[-1] / d.predicted_ilqr[-1] - 1) > 0.5


def test_ternary_msa_train_gives_ternary_weights_and_lowers_the_loss():
    x, y, _, _ = pmp.digits_data(seed=0)
    x, y = x[:200], y[:200]
    model = pmp.ResNetControl(C=pmp.readout(K=10, d=64, seed=0), h=0.25, lam=1e-4)
    r = msa.ternary_msa_train(model, x, y, T=2, alpha=0.05, lam=0.02, lr=20.0, n_iter=30)
    assert set(torch.unique(r.W).tolist()) <= {-0.05, 0.0, 0.05}
    assert r.loss[-1] < 0.5 * r.loss[0]
    assert 0.0 <= r.sparsity <= 1.0


def test_ternary_and_binary_argmax_match_brute_force():
    g = torch.Generator().manual_seed(0)
    M = torch.randn(50, generator=g, dtype=torch.float64)
    lam = 0.4
    s = msa.ternary_argmax(M, lam)
    cand = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    vals = M[:, None] * cand[None] - lam * cand.abs()[None]
    assert torch.equal(s, cand[vals.argmax(1)])
    assert torch.equal(msa.binary_argmax(M), torch.where(M >= 0, 1.0, -1.0).double())


def test_augmented_hamiltonian_gradient_at_current_theta_is_minus_loss_gradient(net):
    model, W, b, x, y = net
    xs = pmp.forward_states(model, W, b, x)
    ps = pmp.costates(model, W, b, xs, y)
    Wr = W.clone().requires_grad_(True)
    (gH,) = torch.autograd.grad(msa.augmented_hamiltonian(model, Wr, b, xs, ps, rho=5.0), Wr)
    Wr2 = W.clone().requires_grad_(True)
    (gJ,) = torch.autograd.grad(pmp.total_loss(model, Wr2, b, x, y), Wr2)
    # both penalties vanish to second order at the current theta
    assert torch.allclose(gH, -gJ, atol=1e-12)


def test_optimal_schedule_solves_the_sme_ode():
    kw = dict(a=1.5, eta=0.1, sigma=0.8, m0=2.0)

    def u_fb(t, m):
        return min(1.0, kw["a"] * m / (kw["eta"] * kw["sigma"] ** 2))

    t, m = lr.sme_second_moment(u_fb, t_end=20.0, n_steps=40000, **kw)
    np.testing.assert_allclose(m, lr.optimal_second_moment(t, **kw), rtol=1e-6)
    u = lr.optimal_lr_schedule(t, **kw)
    np.testing.assert_allclose(
        u, np.minimum(1, kw["a"] * m / (kw["eta"] * kw["sigma"] ** 2)), rtol=1e-5
    )
    # no schedule in a family does better at T
    for c in (0.5, 0.8, 1.0):
        _, m2 = lr.sme_second_moment(
            lambda t, mm, c=c: min(1.0, c / (1 + kw["a"] * t)), t_end=20.0, n_steps=4000, **kw
        )
        assert m2[-1] >= m[-1] * (1 - 1e-6)


def test_constant_rate_stationary_value_is_fixed_point_of_recursion():
    kw = dict(a=1.0, eta=0.3, sigma=2.0)
    m = lr.discrete_second_moment(np.ones(2000), m0=0.0, **kw)
    assert 0.5 * kw["a"] * m[-1] == pytest.approx(lr.constant_rate_stationary_loss(**kw), rel=1e-12)


def test_simulated_sgd_matches_exact_moment_statistically():
    from scipy import stats

    u = lr.optimal_lr_schedule(np.arange(200) * 0.1, a=1.0, eta=0.1, sigma=1.0, m0=4.0)
    f = lr.simulate_sgd_quadratic(
        u, a=1.0, b=0.0, eta=0.1, sigma=1.0, x0=2.0, n_paths=20000, seed=0
    )
    exact = 0.5 * lr.discrete_second_moment(u, a=1.0, eta=0.1, sigma=1.0, m0=4.0)[-1]
    z = (f[-1].mean() - exact) / (f[-1].std(ddof=1) / np.sqrt(f.shape[1]))
    assert 2 * stats.norm.sf(abs(z)) > 1e-3  # alpha = 1e-3


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: lr.switch_time(a=-1.0, eta=0.1, sigma=1.0, m0=1.0), ValueError, "a must be"),
        (
            lambda: lr.optimal_lr_schedule([-1.0], a=1.0, eta=0.1, sigma=1.0, m0=1.0),
            ValueError,
            "t must be",
        ),
        (
            lambda: lr.constant_rate_stationary_loss(a=1.0, eta=2.5, sigma=1.0),
            ValueError,
            "eta \\* a < 2",
        ),
        (
            lambda: lr.simulate_sgd_quadratic(
                [2.0], a=1.0, b=0.0, eta=0.1, sigma=1.0, x0=0.0, n_paths=2, seed=0
            ),
            ValueError,
            "in \\[0, 1\\]",
        ),
        (
            lambda: lr.simulate_sgd_quadratic(
                [1.0], a=1.0, b=0.0, eta=0.1, sigma=1.0, x0=0.0, n_paths=2, seed=-1
            ),
            ValueError,
            "seed",
        ),
        (
            lambda: lq.riccati(np.eye(2), np.ones((3, 1)), np.eye(2), np.eye(1), np.eye(2), 5),
            ValueError,
            "B must have shape",
        ),
        (
            lambda: lq.riccati(np.eye(2), np.ones((2, 1)), np.eye(2), -np.eye(1), np.eye(2), 5),
            ValueError,
            "R must be positive definite",
        ),
        (
            lambda: lq.riccati(np.eye(2), np.ones((2, 1)), np.eye(2), np.eye(1), np.eye(2), 0),
            ValueError,
            "T must be",
        ),
        (
            lambda: lq.lq_pmp(
                np.eye(2), np.ones((2, 1)), np.eye(2), np.eye(1), np.eye(2), 3, [1.0]
            ),
            ValueError,
            "x0 must have shape",
        ),
        (
            lambda: D.ddp(D.Pendulum(T=3), np.zeros(2), np.zeros((4, 1))),
            ValueError,
            "us0 must have shape",
        ),
        (lambda: D.Pendulum(dt=0.0), ValueError, "dt must be"),
        (
            lambda: D.first_order_step(D.Pendulum(T=1), np.zeros(2), np.zeros((1, 1)), lr=0),
            ValueError,
            "lr must be",
        ),
        (lambda: msa.ternary_argmax(np.ones(3), 0.1), TypeError, "torch tensor"),
        (
            lambda: D.quadratic_ratios([1.0, 0.5], [1.0], [0.0], floor=0.0),
            ValueError,
            "floor must be",
        ),
        (
            lambda: D.quadratic_ratios([1.0, 0.5], [1.0, 1.0], [0.0], floor=1e-9),
            ValueError,
            "alphas and mus",
        ),
        (
            lambda: D.quadratic_ratios([1.0, np.nan], [1.0], [0.0], floor=1e-9),
            ValueError,
            "err must",
        ),
        (lambda: msa.ternary_argmax(torch.ones(3), -0.1), ValueError, "lam must be"),
        (lambda: pmp.ResNetControl(C=torch.eye(2), h=0.0), ValueError, "h must be"),
        (
            lambda: pmp.forward_states(
                pmp.ResNetControl(C=torch.eye(2)),
                torch.zeros(2, 2, 3),
                torch.zeros(2, 2),
                torch.zeros(1, 2),
            ),
            ValueError,
            "W must have shape",
        ),
        (
            lambda: msa.gradient_train(None, None, None, None, None, method="newton"),
            ValueError,
            "unknown method",
        ),
        (
            lambda: lr.csgd_softmax([0.0], x=torch.zeros(4, 2), y=[0, 1, 0, 1]),
            ValueError,
            "lrs must be",
        ),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_costate_gradient_gap_is_roundoff_and_detects_a_wrong_costate(monkeypatch):
    x, y, _, _ = pmp.digits_data(seed=0)
    x, y = x[:64], y[:64]
    model = pmp.ResNetControl(C=pmp.readout(K=10, d=64, seed=0), h=0.25, lam=1e-3)
    W, _ = pmp.init_params(T=3, d=64, scale=1.0, seed=1)
    b = 0.1 * torch.randn(3, 64, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert pmp.costate_gradient_gap(model, W, b, x, y) < 1e-10
    true_costates = pmp.costates
    monkeypatch.setattr(pmp, "costates", lambda *a: 1.01 * true_costates(*a))
    assert pmp.costate_gradient_gap(model, W, b, x, y) > 1e-3
