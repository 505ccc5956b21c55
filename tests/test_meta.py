"""Tests of dltheory.meta: the unrolled costate recursion against autograd and the explicit product
formula (float64), MAML's batched meta-gradient against torch.func's, the exact and greedy-optimal
learning-rate schedules, a Monte Carlo check at an explicit alpha, the scale switch and bad
input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dltheory import meta as M
from dltheory.meta import experiments as E

ALPHA = 0.01


@pytest.mark.parametrize("seed", range(5))
def test_meta_gradient_is_costate(seed):
    problem = E.random_quadratics(d=6, k=8, seed=seed)
    g0, ga = M.unrolled_meta_gradient(*problem)
    a0, aa = M.meta_gradient_autograd(*problem)
    assert (g0 - a0).abs().max() < 1e-10 and (ga - aa).abs().max() < 1e-10
    assert a0.abs().max() > 1e-3 and aa.abs().max() > 1e-3
    # the closed form: prod_j (I - alpha_j A_j)' grad L_test(theta_k)
    theta0, A, b, lrs, At, bt = problem
    thk = M.unroll_quadratic(theta0, A, b, lrs)[-1]
    v = At @ thk - bt
    for j in range(A.shape[0] - 1, -1, -1):
        v = (torch.eye(6, dtype=torch.float64) - lrs[j] * A[j]).T @ v
    assert (v - g0).abs().max() < 1e-12


def test_costates_recursion_shape_and_terminal():
    theta0, A, b, lrs, At, bt = E.random_quadratics(d=3, k=4, seed=0)
    lam = M.meta_costates(theta0, A, b, lrs, At, bt)
    thk = M.unroll_quadratic(theta0, A, b, lrs)[-1]
    assert lam.shape == (5, 3)
    assert (lam[-1] - (At @ thk - bt)).abs().max() < 1e-14


def test_maml_batched_meta_gradient_equals_torch_func():
    p = {k: v.double() for k, v in M.init_net(hidden=8, seed=0).items()}
    tasks = M.sample_tasks(
        5, k_shot=4, n_query=6, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    for steps in (1, 2):
        g1, l1 = M.meta_gradient(p, tasks, alpha=0.05, inner_steps=steps)
        g2, l2 = M.meta_gradient_vmap(p, tasks, alpha=0.05, inner_steps=steps)
        assert abs(float(l1 - l2)) < 1e-12
        assert max(float((g1[k] - g2[k]).abs().max()) for k in p) < 1e-10


def test_maml_first_steps_reduce_meta_loss():
    p, losses = M.maml_train(M.init_net(seed=0), n_iter=200, seed=0)
    assert float(losses[-50:].mean()) < float(losses[:50].mean())


def test_adaptation_curves_start_at_unadapted_loss():
    p = M.init_net(hidden=8)
    t = M.sample_tasks(3, generator=torch.Generator().manual_seed(0))
    c = M.adaptation_curves(p, t, alpha=0.01, steps=3)
    direct = ((M.net(p, t.x_query) - t.y_query) ** 2).mean((1, 2))
    assert torch.allclose(c[0], direct, rtol=1e-6, atol=0)


def test_greedy_schedule_is_the_discrete_optimum():
    kw = dict(a=1.0, eta=0.3, sigma=1.0, m0=3.0)
    u = M.greedy_optimal_schedule(3, **kw)
    best = M.expected_final_loss(u, **kw)
    grid = np.linspace(0, 1, 41)
    brute = min(M.expected_final_loss(np.array(c), **kw) for c in itertools.product(grid, repeat=3))
    assert best <= brute + 1e-12
    rng = np.random.default_rng(0)
    for _ in range(50):
        v = np.clip(u + 0.1 * rng.standard_normal(3), 0, 1)
        assert M.expected_final_loss(v, **kw) >= best - 1e-15


def test_sde_schedule_closed_form():
    kw = dict(a=2.0, eta=0.1, sigma=1.0, m0=1.0)
    ts = M.sde_switch_time(**kw)
    assert abs(ts - np.log(2 * 2.0 * 1.0 / 0.1 - 1) / 4.0) < 1e-14
    u = M.sde_optimal_schedule(np.array([0.0, ts, ts + 1.0]), **kw)
    assert np.allclose(u, [1.0, 1.0, 1 / 3.0], rtol=0, atol=1e-14)
    assert M.sde_switch_time(a=1.0, eta=1.0, sigma=1.0, m0=0.5) == 0.0


def test_exact_expected_loss_matches_unrolled_sgd_monte_carlo():
    kw = dict(a=1.0, eta=0.1, sigma=1.0, m0=4.0)
    u = M.sde_optimal_schedule(np.arange(50) * 0.1, **kw)
    g = torch.Generator().manual_seed(0)
    P = 20000
    b = 2.0 * torch.randn(P, generator=g, dtype=torch.float64)
    xi = torch.randn(50, P, generator=g, dtype=torch.float64)
    x = torch.zeros(P, dtype=torch.float64)
    for k in range(50):
        x = x - 0.1 * u[k] * ((x - b) + xi[k])
    f = 0.5 * (x - b) ** 2
    z = (float(f.mean()) - M.expected_final_loss(u, **kw)) / (float(f.std()) / np.sqrt(P))
    assert 2 * stats.norm.sf(abs(z)) >= ALPHA
    # the differentiable version agrees in distribution too (same law, fresh draws)
    ut = torch.tensor(u, dtype=torch.float64)
    vals = [float(M.unrolled_sgd_loss(ut, n_paths=2000, generator=g, **kw)) for _ in range(20)]
    t = stats.ttest_1samp(vals, M.expected_final_loss(u, **kw))
    assert t.pvalue >= ALPHA


def test_decay_exponent_of_power_law():
    t = np.linspace(0, 20, 201)
    u = np.where(t < 3, 1.0, (1 + 0.5 * np.maximum(t - 3, 0)) ** -0.7)
    assert abs(M.decay_exponent(u, t, t_switch=3.0, a=0.5) + 0.7) < 1e-12


def test_scale_changes_sizes(monkeypatch):
    seen = []

    class Stop(Exception):
        pass

    def fake_maml(params, *, n_iter, **kw):
        seen.append(n_iter)
        raise Stop

    def fake_learn(n_steps, *, n_paths, n_iter, **kw):
        seen.append((n_paths, n_iter))
        raise Stop

    monkeypatch.setattr(E, "maml_train", fake_maml)
    monkeypatch.setattr(E, "learn_schedule", fake_learn)
    for scale in ("book", "full"):
        for f in (E.maml_experiment, E.schedule_experiment):
            with pytest.raises(Stop):
                f(scale=scale)
    assert seen[0] == 3000 and seen[2] > seen[0]
    assert seen[3][0] > seen[1][0] and seen[3][1] > seen[1][1]


# ------------------------------------------------------------------------------- bad input
@settings(max_examples=25, deadline=None)
@given(lr=st.one_of(st.floats(max_value=0.0), st.just(float("nan"))))
def test_bad_learning_rates(lr):
    theta0, A, b, lrs, At, bt = E.random_quadratics(d=2, k=3, seed=0)
    bad = lrs.clone()
    bad[1] = lr
    with pytest.raises(ValueError, match="lrs"):
        M.unrolled_meta_gradient(theta0, A, b, bad, At, bt)
    with pytest.raises(ValueError, match="alpha"):
        M.adaptation_curves(
            M.init_net(hidden=2), M.sample_tasks(1, generator=torch.Generator()), alpha=lr
        )


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 50), q=st.integers(1, 50))
def test_k_larger_than_the_task(k, q):
    n_points = k + q - 1
    with pytest.raises(ValueError, match="exceeds"):
        M.sample_tasks(2, k_shot=k, n_query=q, n_points=n_points, generator=torch.Generator())


@settings(max_examples=20, deadline=None)
@given(d=st.integers(1, 6))
def test_mismatched_shapes(d):
    theta0, A, b, lrs, At, bt = E.random_quadratics(d=3, k=2, seed=0)
    with pytest.raises(ValueError, match="A must have shape"):
        M.unroll_quadratic(torch.zeros(d + 3, dtype=torch.float64), A, b, lrs)
    with pytest.raises(ValueError, match="b_test"):
        M.unrolled_meta_gradient(theta0, A, b, lrs, At, torch.zeros(d + 3, dtype=torch.float64))


def test_bad_types_and_values():
    with pytest.raises(TypeError):
        M.sample_tasks(2, generator=0)
    with pytest.raises(TypeError):
        M.meta_gradient(M.init_net(hidden=2), "tasks")
    with pytest.raises(ValueError, match="steps"):
        M.adaptation_curves(
            M.init_net(hidden=2), M.sample_tasks(1, generator=torch.Generator()), steps=-1
        )
    with pytest.raises(ValueError, match="sigma"):
        M.expected_final_loss([1.0], a=1.0, eta=0.1, sigma=0.0, m0=1.0)
    with pytest.raises(TypeError):
        M.unrolled_sgd_loss(
            [1.0], a=1.0, eta=0.1, sigma=1.0, m0=1.0, n_paths=2, generator=torch.Generator()
        )
