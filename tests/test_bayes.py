"""Tests of dltheory.bayes: the Gibbs variational identity, closed-form posteriors, the mixture's
gradients, SGLD's exact stationary law on a Gaussian (statistical tests at an explicit alpha), the
scale switch and argument validation."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dltheory import bayes
from dltheory.bayes import experiments as E

ALPHA = 0.01


def _problem(seed, n=200):
    rng = np.random.default_rng(seed)
    theta = np.linspace(-4, 4, n)
    loss = np.sin(3 * theta) + 0.3 * theta**2 + rng.normal(0, 0.1, n)
    prior = rng.random(n) + 0.1
    return theta, loss, prior / prior.sum(), rng


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("beta", [0.1, 1.0, 7.5])
def test_free_energy_identity_and_minimum(seed, beta):
    _, loss, prior, rng = _problem(seed)
    q = bayes.gibbs_posterior(loss, prior, beta=beta)
    F0 = bayes.free_energy(q, loss, prior, beta=beta)
    assert abs(F0 + bayes.log_partition(loss, prior, beta=beta) / beta) < 1e-10
    for _ in range(20):
        qs = bayes.tilt(q, rng.standard_normal(loss.size), step=rng.uniform(-1, 1))
        dF = bayes.free_energy(qs, loss, prior, beta=beta) - F0
        assert dF >= 0  # the Gibbs posterior is the minimiser
        assert abs(dF - bayes.kl_divergence(qs, q) / beta) < 1e-10


def test_gibbs_posterior_closed_form():
    # prior N(0, 1) and L = (theta - 2)^2 / 2 at beta: posterior N(2 beta / (1 + beta), 1 / (1 +
    # beta))
    theta = np.linspace(-10, 10, 20001)
    prior = np.exp(-(theta**2) / 2)
    prior /= prior.sum()
    beta = 3.0
    q = bayes.gibbs_posterior((theta - 2) ** 2 / 2, prior, beta=beta)
    mean = q @ theta
    assert abs(mean - 2 * beta / (1 + beta)) < 1e-10
    assert abs(q @ (theta - mean) ** 2 - 1 / (1 + beta)) < 1e-9


def test_linreg_posterior_is_ridge_and_gaussian():
    X, y, _ = bayes.linreg_data(n=50, d=3, sigma=0.5, seed=1)
    mu, S = bayes.linreg_posterior(X, y, sigma=0.5, tau=2.0)
    ridge = np.linalg.solve(X.T @ X + (0.5 / 2.0) ** 2 * np.eye(3), X.T @ y)
    assert np.abs(mu - ridge).max() < 1e-10
    P = X.T @ X / 0.25 + np.eye(3) / 4.0
    assert np.abs(S @ P - np.eye(3)).max() < 1e-10
    # gradient of the log posterior vanishes at the mean
    g = X.T @ (y - X @ mu) / 0.25 - mu / 4.0
    assert np.abs(g).max() < 1e-10


def test_linreg_posterior_matches_grid_gibbs_posterior():
    # d = 1: Bayes' posterior is the Gibbs posterior of the negative log likelihood at beta = 1
    X, y, _ = bayes.linreg_data(n=20, d=1, seed=3)
    mu, S = bayes.linreg_posterior(X, y, sigma=1.0, tau=1.0)
    w = np.linspace(mu[0] - 12 * np.sqrt(S[0, 0]), mu[0] + 12 * np.sqrt(S[0, 0]), 40001)
    prior = np.exp(-(w**2) / 2)
    prior /= prior.sum()
    nll = 0.5 * ((y[:, None] - X[:, :1] * w[None]) ** 2).sum(0)
    q = bayes.gibbs_posterior(nll, prior)
    assert abs(q @ w - mu[0]) < 1e-9
    assert abs(q @ (w - mu[0]) ** 2 - S[0, 0]) < 1e-9


def test_mixture_gradient_matches_autograd():
    x = bayes.mixture_data(n=30, seed=2)
    theta = np.random.default_rng(0).normal(size=(7, 2))
    xb = np.tile(x, (7, 1))
    g = bayes.mixture_grad_log_lik(theta, xb)
    t = torch.tensor(theta, requires_grad=True)
    xt = torch.tensor(xb)
    a = -((xt - t[:, :1]) ** 2) / 4
    b = -((xt - t[:, :1] - t[:, 1:]) ** 2) / 4
    torch.logaddexp(a, b).sum().backward()
    assert np.abs(g - t.grad.numpy()).max() < 1e-10


def test_mixture_grid_posterior_has_two_modes():
    x = bayes.mixture_data(n=100, seed=3)  # the data set of the chapter
    g1, g2 = np.linspace(-1.5, 2.5, 81), np.linspace(-3, 3, 121)
    m = bayes.grid_posterior(g1, g2, x)
    assert abs(m.sum() - 1) < 1e-12
    up, down = m[:, g2 > 0], m[:, g2 < 0]
    assert up.sum() > 0.2 and down.sum() > 0.2
    i, j = np.unravel_index(up.argmax(), up.shape)
    k, l = np.unravel_index(down.argmax(), down.shape)
    assert abs(g1[i]) < 0.5 and abs(g2[g2 > 0][j] - 1) < 0.5  # near (0, 1)
    assert abs(g1[k] - 1) < 0.5 and abs(g2[g2 < 0][l] + 1) < 0.5  # near (1, -1)
    assert m[:, np.argmin(abs(g2))].max() < 0.7 * m.max()  # a valley between them


def test_sgld_full_batch_stationary_law_is_exact_ula():
    """Full-batch constant-step Langevin on a 1-D Gaussian posterior of precision P has the exact
    stationary variance 1 / (P (1 - eps P / 4)) and the exact mean; test both at level ALPHA."""
    X, y, _ = bayes.linreg_data(n=30, d=1, seed=4)
    mu, S = bayes.linreg_posterior(X, y)
    P = 1 / S[0, 0]
    eps = 0.5 / P
    C = 4000
    s = bayes.sgld_linreg(
        X,
        y,
        sigma=1.0,
        tau=1.0,
        eps=eps,
        batch_size=30,
        n_chains=C,
        n_steps=200,
        n_keep=1,
        init=mu,
        seed=5,
    )[-1, 0, :, 0]
    V = 1 / (P * (1 - eps * P / 4))
    z = (s.mean() - mu[0]) / np.sqrt(V / C)
    assert 2 * stats.norm.sf(abs(z)) >= ALPHA
    chi2 = (C - 1) * s.var(ddof=1) / V
    p = 2 * min(stats.chi2.cdf(chi2, C - 1), stats.chi2.sf(chi2, C - 1))
    assert p >= ALPHA
    # and the test has power: the posterior variance itself (no O(eps) correction) is rejected
    chi2_wrong = (C - 1) * s.var(ddof=1) / S[0, 0]
    assert stats.chi2.sf(chi2_wrong, C - 1) < ALPHA


def test_sgld_mixture_shapes_and_determinism():
    x = bayes.mixture_data(n=20, seed=0)
    eps = bayes.step_sizes(50, a=0.01, b=1.0)
    a = bayes.sgld_mixture(x, n_chains=8, eps=eps, n_keep=10, seed=3)
    b = bayes.sgld_mixture(x, n_chains=8, eps=eps, n_keep=10, seed=3)
    assert a.shape == (10, 8, 2) and np.array_equal(a, b)


def test_histogram_tv_bounds():
    e = np.linspace(0, 1, 5)
    m = np.full((4, 4), 1 / 16)
    far = np.full((10, 2), 5.0)  # all samples outside the grid
    assert bayes.histogram_tv(far, m, e, e) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    assert bayes.histogram_tv(rng.random((200_000, 2)), m, e, e) < 0.01


def test_scale_changes_sizes(monkeypatch):
    seen = []

    class Stop(Exception):
        pass

    def fake_mixture(x, *, n_chains, eps, n_keep, **kw):
        seen.append((n_chains, eps.size))
        raise Stop

    def fake_linreg(X, y, *, n_chains, n_steps, **kw):
        seen.append((n_chains, n_steps))
        raise Stop

    monkeypatch.setattr(E, "sgld_mixture", fake_mixture)
    monkeypatch.setattr(E, "sgld_linreg", fake_linreg)
    for scale in ("book", "full"):
        for f in (E.sgld_mixture_experiment, E.sgld_linreg_experiment):
            with pytest.raises(Stop):
                f(scale=scale)
    (mb, lb), (mf, lf) = seen[:2], seen[2:]
    assert mf[0] > mb[0] and mf[1] > mb[1] and lf[0] > lb[0]
    assert mb == (1000, 30_000)
    with pytest.raises(ValueError, match="scale"):
        E.sgld_mixture_experiment(scale="huge")


def test_theory_modules_do_not_import_plotting():
    for f in pathlib.Path(bayes.__file__).parent.glob("*.py"):
        if f.name.startswith("experiments"):
            continue
        names = {
            a.name
            for n in ast.walk(ast.parse(f.read_text()))
            if isinstance(n, (ast.Import, ast.ImportFrom))
            for a in n.names
        } | {
            n.module
            for n in ast.walk(ast.parse(f.read_text()))
            if isinstance(n, ast.ImportFrom) and n.module
        }
        assert not any("matplotlib" in m or "figures" in m for m in names), f.name


# ------------------------------------------------------------------------------- bad input
bad_positive = st.one_of(st.floats(max_value=0.0), st.just(float("nan")), st.just(float("inf")))


@settings(max_examples=30, deadline=None)
@given(beta=bad_positive)
def test_bad_beta(beta):
    with pytest.raises(ValueError, match="beta"):
        bayes.gibbs_posterior([0.0, 1.0], [0.5, 0.5], beta=beta)


@settings(max_examples=30, deadline=None)
@given(eps=bad_positive)
def test_bad_step(eps):
    X, y = np.eye(2), np.ones(2)
    with pytest.raises(ValueError, match="eps"):
        bayes.sgld_linreg(
            X, y, sigma=1.0, tau=1.0, eps=eps, batch_size=1, n_chains=2, n_steps=3, n_keep=1
        )
    with pytest.raises(ValueError, match="eps"):
        bayes.sgld_mixture(np.zeros(3), n_chains=2, eps=[0.1, eps], n_keep=1)


@settings(max_examples=20, deadline=None)
@given(value=st.one_of(st.text(max_size=3), st.booleans(), st.none()))
def test_bad_types(value):
    with pytest.raises(TypeError):
        bayes.sgld_mixture(np.zeros(3), n_chains=value, eps=[0.1], n_keep=1)
    with pytest.raises(TypeError):
        bayes.step_sizes(3, a=value, b=1.0)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(min_value=2, max_value=50))
def test_mismatched_shapes(n):
    with pytest.raises(ValueError, match="same shape"):
        bayes.gibbs_posterior(np.zeros(n), np.full(n + 1, 1 / (n + 1)))
    with pytest.raises(ValueError, match="one entry per row"):
        bayes.linreg_posterior(np.ones((n, 2)), np.ones(n + 1))
    with pytest.raises(ValueError, match="n_keep"):
        bayes.sgld_mixture(np.zeros(3), n_chains=2, eps=np.full(n, 0.1), n_keep=n + 1)
    with pytest.raises(ValueError, match="batch_size"):
        bayes.sgld_linreg(
            np.ones((n, 2)),
            np.ones(n),
            sigma=1.0,
            tau=1.0,
            eps=0.1,
            batch_size=n + 1,
            n_chains=2,
            n_steps=2,
            n_keep=1,
        )


def test_bad_distributions_and_schedule():
    with pytest.raises(ValueError, match="sum to 1"):
        bayes.free_energy([0.5, 0.6], [0.0, 1.0], [0.5, 0.5])
    with pytest.raises(ValueError, match="prior"):
        bayes.gibbs_posterior([0.0, 1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="gamma"):
        bayes.step_sizes(3, a=1.0, b=1.0, gamma=0.5)
    with pytest.raises(ValueError, match="eps_end"):
        E.sgld_mixture_experiment(eps_start=1e-3, eps_end=1e-2)


def test_lyapunov_covariance_without_minibatch_noise_is_exact_ula():
    """Full batch: the discrete Lyapunov solution is the exact ULA variance 1 / (P (1 - eps P /
    4))."""
    X, y, _ = bayes.linreg_data(n=30, d=1, seed=4)
    _, S = bayes.linreg_posterior(X, y)
    P = 1 / S[0, 0]
    eps = 0.5 / P
    V = bayes.linreg_stationary_covariance(X, y, sigma=1.0, tau=1.0, eps=eps, batch_size=30)
    assert V[0, 0] == pytest.approx(1 / (P * (1 - eps * P / 4)), rel=1e-12)


def test_lyapunov_covariance_predicts_minibatch_sgld():
    """Minibatch SGLD's stationary variance matches the Lyapunov prediction (not the posterior's),
    at level ALPHA, with the chains started at the posterior and run for 40 relaxation times."""
    X, y, _ = bayes.linreg_data(n=50, d=1, seed=4)
    mu, S = bayes.linreg_posterior(X, y)
    eps = 0.2 * S[0, 0]
    V = bayes.linreg_stationary_covariance(X, y, sigma=1.0, tau=1.0, eps=eps, batch_size=5)[0, 0]
    assert V > 1.05 * S[0, 0]  # the minibatch noise is visible at this step
    C = 4000
    s = bayes.sgld_linreg(
        X,
        y,
        sigma=1.0,
        tau=1.0,
        eps=eps,
        batch_size=5,
        n_chains=C,
        n_steps=400,
        n_keep=1,
        init=mu,
        seed=6,
    )[-1, 0, :, 0]
    chi2 = (C - 1) * s.var(ddof=1) / V
    assert 2 * min(stats.chi2.cdf(chi2, C - 1), stats.chi2.sf(chi2, C - 1)) >= ALPHA
    assert (
        stats.chi2.sf((C - 1) * s.var(ddof=1) / S[0, 0], C - 1) < ALPHA
    )  # power: posterior rejected


def test_langevin_noise_is_sqrt_eps():
    assert bayes.langevin_noise_std(0.09) == pytest.approx(0.3)


def test_mixture_mode_moments_of_a_grid_gaussian():
    t1, t2 = np.meshgrid(np.linspace(-4, 4, 401), np.linspace(0.01, 8, 400), indexing="ij")
    w = np.exp(-0.5 * (t1**2 / 0.5 + (t2 - 4) ** 2 / 0.25))
    with np.errstate(invalid="ignore"):  # the second mode is empty here
        m = E._mode_moments(w, t1, t2)[0]
    assert m == pytest.approx([0.5, 0.25, 0.0], abs=1e-6)
