"""Unit tests of dltheory.sgd's theory modules: closed forms, identities and statistical tests."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from dltheory import sgd
from dltheory.sgd import bayes, entropy, escape, linear, nets

ALPHA = 0.01  # significance level of every statistical test below (fixed seeds)


# ----------------------------------------------------------------------------- linear / Lyapunov
def test_stationary_variances_closed_forms():
    for lr, a, s2, B in [(0.1, 1.0, 1.0, 1), (0.05, 3.0, 2.0, 8), (1.5, 1.0, 1.0, 2)]:
        v = sgd.stationary_variance_sgd(lr, a, s2, B)
        assert v == pytest.approx((1 - lr * a) ** 2 * v + lr**2 * s2 / B, rel=1e-12)
        S = sgd.lyapunov_discrete([[a]], [[s2]], lr, B)
        assert S[0, 0] == pytest.approx(v, rel=1e-10)
        Sc = sgd.lyapunov_continuous([[a]], [[s2]], lr, B)
        assert Sc[0, 0] == pytest.approx(sgd.stationary_variance_sme(lr, a, s2, B), rel=1e-10)
    assert sgd.stationary_variance_sgd(2.0, 1.0, 1.0) == math.inf


def _problem():
    R = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
    A = R @ np.diag([4.0, 0.5]) @ R.T
    C = np.array([[2.0, 0.3], [0.3, 0.5]])
    return A, C


def test_lyapunov_solutions_satisfy_their_equations():
    A, C = _problem()
    lr, B = 0.2, 4
    S = sgd.lyapunov_discrete(A, C, lr, B)
    M = np.eye(2) - lr * A
    assert np.abs(S - (M @ S @ M.T + lr**2 / B * C)).max() < 1e-12
    Sc = sgd.lyapunov_continuous(A, C, lr, B)
    assert np.abs(A @ Sc + Sc @ A - lr / B * C).max() < 1e-12
    # the two agree to first order: relative gap / eta tends to a constant
    gaps = [
        np.linalg.norm(sgd.lyapunov_discrete(A, C, e) - sgd.lyapunov_continuous(A, C, e))
        / np.linalg.norm(sgd.lyapunov_discrete(A, C, e))
        / e
        for e in (1e-3, 1e-4)
    ]
    assert gaps[1] == pytest.approx(gaps[0], rel=0.01)


def test_simulated_sgd_matches_discrete_lyapunov_not_sme():
    A, C = _problem()
    th = sgd.simulate_linear_sgd(A, C, 0.2, 4, n_chains=20_000, n_steps=200, seed=3).numpy()
    assert sgd.covariance_test(th, sgd.lyapunov_discrete(A, C, 0.2, 4)) >= ALPHA
    assert sgd.covariance_test(th, sgd.lyapunov_continuous(A, C, 0.2, 4)) < ALPHA


def test_covariance_test_is_calibrated():
    """Under the null the p-values are uniform (KS test at ALPHA over 300 replicates)."""
    rng = np.random.default_rng(0)
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    L = np.linalg.cholesky(cov)
    ps = [sgd.covariance_test(rng.standard_normal((2000, 2)) @ L.T, cov) for _ in range(300)]
    assert stats.kstest(ps, "uniform").pvalue >= ALPHA


def test_weak_error_orders_quadratic():
    lrs = 2.0 ** -np.arange(6, 10)
    for order, want in ((1, 1.0), (2, 2.0)):
        e = sgd.quadratic_weak_error(lrs, order=order)
        slope = np.polyfit(np.log(lrs), np.log(e), 1)[0]
        assert abs(slope - want) < 0.05


def test_quartic_second_order_beats_first():
    err, se = sgd.quartic_weak_error(0.1, n_chains=1000, seed=1)
    assert abs(err[0]) - abs(err[1]) > 3 * math.hypot(se[0], se[1])


# ----------------------------------------------------------------------------- escape
def test_kramers_closed_form_and_low_temperature_limit():
    assert escape.kramers_time(2.0, -1.0, 0.25, 0.0625) == pytest.approx(
        2 * math.pi / math.sqrt(2) * math.exp(4), rel=1e-12
    )
    ratios = [
        escape.mfpt_exact(0.25 / b) / escape.kramers_time(2.0, -1.0, 0.25, 0.25 / b)
        for b in (3.0, 6.0, 10.0)
    ]
    assert ratios[0] > ratios[1] > ratios[2] > 1.0  # corrections O(T / Delta L) shrink
    assert ratios[2] < 1.06


def test_gibbs_cdf_properties_and_sgd_samples_it():
    g = np.linspace(-3, 3, 101)
    c = escape.gibbs_cdf(g, 0.1)
    assert np.all(np.diff(c) >= 0) and c[0] < 1e-6 and c[-1] > 1 - 1e-6
    assert np.abs(c + c[::-1] - 1).max() < 1e-9  # symmetric law
    x = escape.simulate_double_well(0.1, 0.01, n_chains=5000, n_steps=800, seed=2).numpy()
    assert stats.kstest(x, lambda v: escape.gibbs_cdf(v, 0.1)).pvalue >= ALPHA


def test_escape_rate_against_exact_first_passage():
    T = np.array([0.125])
    exact = escape.mfpt_exact(0.125, target=0.5)
    c = escape.simulate_escapes(
        T, 0.01, target=0.5, chains=[1500], n_steps=3000, burn_in=500, seed=4
    )
    assert c.escapes[0] > 900
    # 4 standard errors, plus 7% for what separates the two quantities: the rate is measured from
    # the quasi-stationary state in the well (the MFPT adds the relaxation from x = -1) and SGD has
    # an O(eta) discretisation bias
    assert abs(c.mean_time[0] / exact - 1) < 4 * c.rel_se[0] + 0.07


def test_aligned_noise_escapes_faster_small():
    H = np.diag([4.0, 0.25])
    c = escape.simulate_basin_escapes(
        H,
        np.stack([0.5 * np.eye(2), np.diag([1.0, 0.0])]),
        0.05,
        0.05,
        chains=300,
        n_steps=400,
        seed=0,
    )
    r, lo, hi = escape.rate_ratio_interval(c, 0, 1)
    assert lo > 1.0 and lo < r < hi


# ----------------------------------------------------------------------------- local entropy
@pytest.mark.parametrize("a,gamma", [(10.0, 0.01), (10.0, 0.1), (1.0, 1.0), (50.0, 0.3)])
def test_local_entropy_of_quadratic(a, gamma):
    x = np.array([-0.7, 0.0, 0.4])
    f = entropy.local_entropy(lambda y: 0.5 * a * y**2, x, gamma)
    exact = a * x**2 / (2 * (1 + a * gamma)) + 0.5 * math.log(1 + a * gamma)
    assert np.abs(f - exact).max() < 1e-9
    _, v = entropy.local_gibbs_moments(lambda y: 0.5 * a * y**2, x, gamma)
    assert np.abs(1 / gamma - v / gamma**2 - entropy.local_entropy_curvature(a, gamma)).max() < 1e-8


def test_hamilton_jacobi_second_order():
    f = lambda y: 0.5 * y**2 + 0.3 * np.cos(3 * y)  # noqa: E731
    errs = []
    for n in (81, 161):
        x = np.linspace(-4, 4, n)
        u = entropy.hamilton_jacobi(f(x), x, 0.3)
        errs.append(np.abs(u - entropy.local_entropy(f, x, 0.3))[np.abs(x) <= 2].max())
    assert abs(math.log2(errs[0] / errs[1]) - 2) < 0.2


def test_two_basins_gradient_and_descent():
    L = entropy.TwoBasins()
    x = np.linspace(-2, 3, 11)
    fd = (L(x + 1e-6) - L(x - 1e-6)) / 2e-6
    assert np.abs(L.grad(x) - fd).max() < 1e-6
    assert np.abs(L.grad(torch.as_tensor(x)).numpy() - L.grad(x)).max() < 1e-12
    end = entropy.descend(L, [-1.05, 1.4], lr=0.01, n_steps=300, noise=0.0)
    assert end[0] < L.saddle < end[1]


def test_two_basins_gibbs_moments():
    # no basins: the Gibbs law of k x^2/2 is N(0, T/k); the "saddle" (the maximum of f on
    # [c1, c2]) is then c2 = 1.5, with mass 1 - Phi(1.5 / sqrt(T/k)) right of it
    L = entropy.TwoBasins(d1=0.0, d2=0.0, k=0.5)
    frac, mean, var = L.gibbs_moments(0.2)
    assert abs(mean) < 1e-12 and abs(var - 0.4) < 1e-9
    assert abs(frac - stats.norm.sf(1.5 / math.sqrt(0.4))) < 1e-3
    # a deeper wide basin holds more mass at low temperature
    assert entropy.TwoBasins(d2=3.0).gibbs_moments(0.1)[0] > 0.99
    with pytest.raises(ValueError):
        L.gibbs_moments(0.0)


# ----------------------------------------------------------------------------- Mandt et al.
def test_exact_sgd_covariance_matches_simulation():
    p = bayes.make_regression(300, 3, seed=1)
    lr, S = 0.05, 5
    exact = bayes.exact_sgd_covariance(p, lr, S)
    th = bayes.simulate_regression_sgd(p, lr, S, n_chains=4000, n_steps=400, seed=2)
    assert sgd.covariance_test(th, exact) >= ALPHA


def test_exact_covariance_tends_to_ou_and_kl_identities():
    p = bayes.make_regression(300, 3, seed=1)
    a = bayes.exact_sgd_covariance(p, 1e-5, 5)
    b = bayes.ou_covariance(p, 1e-5, 5)
    assert np.abs(a - b).max() / np.abs(b).max() < 1e-3
    assert bayes.gaussian_kl(b, b) == pytest.approx(0.0, abs=1e-12)
    assert bayes.gaussian_kl(np.eye(3), 2 * np.eye(3)) == pytest.approx(
        1.5 * (0.5 - 1 + math.log(2))
    )
    assert bayes.mandt_lr(p, 5) == pytest.approx(2 * 5 * 3 / (300 * np.trace(p.C)), rel=1e-12)
    H = np.linalg.inv(p.C)
    es = bayes.mandt_lr(p, 5, precond=H)
    assert es == pytest.approx(2 * 5 / 300, rel=1e-10)
    assert np.abs(bayes.ou_covariance(p, es, 5, precond=H) - p.posterior_cov).max() < 1e-12


# ----------------------------------------------------------------------------- networks
@pytest.fixture(scope="module")
def digits64():
    return nets.load_digits(torch.float64)


def test_per_sample_grads_match_autograd(digits64):
    net = nets.init_mlps([3], dtype=torch.float64)
    x, y = digits64.x_train[:50], digits64.y_train[:50]
    G = nets.per_sample_grads(net, x, y)
    params = [t.clone().requires_grad_(True) for t in net.tensors()]
    from dltheory.sgd.nets import _losses

    g = torch.autograd.grad(_losses(params, x, y).sum(), params)
    flat = torch.cat([t[0].reshape(-1) for t in g])
    assert (G.mean(0) - flat).abs().max() < 1e-12


def test_hvp_symmetric_and_sharpness_is_top_eigenvalue(digits64):
    net = nets.init_mlps([0], hidden=3, dtype=torch.float64)
    x, y = digits64.x_train[:100], digits64.y_train[:100]
    gen = torch.Generator().manual_seed(0)
    u = [torch.randn(t.shape, generator=gen, dtype=torch.float64) for t in net.tensors()]
    v = [torch.randn(t.shape, generator=gen, dtype=torch.float64) for t in net.tensors()]
    uHv = sum((a * b).sum() for a, b in zip(u, nets.hvp(net, x, y, v), strict=False))
    vHu = sum((a * b).sum() for a, b in zip(v, nets.hvp(net, x, y, u), strict=False))
    assert abs(uHv - vHu) < 1e-10 * abs(uHv)
    shapes = [t.shape for t in net.tensors()]
    sizes = [t.numel() for t in net.tensors()]
    from dltheory.sgd.nets import _losses

    def f(flat):
        parts = [p.reshape(s) for p, s in zip(torch.split(flat, sizes), shapes, strict=False)]
        return _losses(parts, x, y).sum()

    Hfull = torch.autograd.functional.hessian(f, torch.cat([t.reshape(-1) for t in net.tensors()]))
    lam = torch.linalg.eigvalsh(Hfull)
    top = lam[lam.abs().argmax()].item()
    assert nets.sharpness(net, x, y, iters=300)[0] == pytest.approx(top, rel=1e-4)


def test_rescaling_invariance_and_hessian_blocks(digits64):
    net = nets.init_mlps([1], dtype=torch.float64)
    x, y = digits64.x_train[:200], digits64.y_train[:200]
    gen = torch.Generator().manual_seed(1)
    v = [torch.randn(t.shape, generator=gen, dtype=torch.float64) for t in net.tensors()]
    h0 = nets.hvp(net, x, y, v)
    for a in (0.3, 2.7):
        na = nets.rescale(net, a)
        assert (nets.outputs(na, x) - nets.outputs(net, x)).abs().max() < 1e-12
        d = [a, a, 1 / a, 1.0]
        ha = nets.hvp(na, x, y, [vi * di for vi, di in zip(v, d, strict=False)])
        for k in range(4):
            assert ((ha[k] - h0[k] / d[k]).abs().max() / (h0[k] / d[k]).abs().max()) < 1e-10


def test_spectrum_rank_and_tail_index():
    rng = np.random.default_rng(0)
    g = torch.as_tensor(rng.standard_normal((200, 3)) @ np.diag([3.0, 1.0, 0.0]))
    lam = nets.spectrum(g)
    c = g - g.mean(0)
    assert np.allclose(
        np.sort(lam)[::-1][:3], np.sort(np.linalg.eigvalsh((c.T @ c / 200).numpy()))[::-1]
    )
    assert nets.effective_rank([4.0, 1.0, 0.0]) == (2, 25 / 17)
    assert abs(nets.tail_index(rng.standard_normal(200_000)) - 2) < 0.1
    assert abs(nets.tail_index(rng.standard_cauchy(200_000)) - 1) < 0.1


def test_training_reduces_loss(digits64):
    d = nets.load_digits()
    net0 = nets.init_mlps([0, 1])
    net = nets.train_sgd(net0, d, [0.1, 0.2], 32, epochs=2, seed=0)
    assert (nets.loss(net, d.x_train, d.y_train) < nets.loss(net0, d.x_train, d.y_train)).all()


# --------------------------------------------------------------------- power of the chapter's tests
def test_covariance_test_power_is_calibrated_and_grows():
    c = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert linear.covariance_test_power(c, c, 2000, alpha=0.05, reps=2000, seed=0) == pytest.approx(
        0.05, abs=0.02
    )
    assert linear.covariance_test_power(c, 1.1 * c, 2000, alpha=0.01, seed=0) > 0.8


def test_variance_test_exact_and_its_power():
    rng = np.random.default_rng(1)
    runs = [rng.standard_normal(4000) * np.sqrt(v) for v in (0.5, 2.0)]
    assert linear.variance_test_exact(runs, [0.5, 2.0]) > 1e-3
    assert linear.variance_test_exact(runs, [0.5, 2.6]) < 1e-6
    null = linear.variance_test_power(1000, [1.0, 1.0, 1.0], alpha=0.05, seed=0)
    assert null == pytest.approx(0.05, abs=0.015)  # size of the test = alpha
    assert linear.variance_test_power(10_000, [1.0, 1.1], alpha=0.01, seed=0) > 0.99


def test_gibbs_ks_power_size_and_power():
    assert escape.gibbs_ks_power(0.125, 0.125, 1000, alpha=0.05, reps=1000) == pytest.approx(
        0.05, abs=0.025
    )
    assert escape.gibbs_ks_power(0.125, 0.25, 2000, alpha=0.01) > 0.95


def test_smooth_loss_weak_error_second_order_beats_first():
    err, se = sgd.quartic_weak_error(0.1, n_chains=2000, loss="cosine", seed=0)
    assert abs(err[1]) < 0.6 * abs(err[0]) and se[0] < 0.1 * abs(err[0])
    with pytest.raises(ValueError, match="loss"):
        sgd.quartic_weak_error(0.1, loss="sextic")


def test_equal_sde_time_training_takes_sde_time_over_lr_steps(monkeypatch):
    from dltheory.sgd import experiments_nets

    calls = []
    real = nets.train_sgd

    def spy(n, data, lr, B, *, epochs, seed):
        calls.append((n.W1.shape[0], round(epochs * data.x_train.shape[0] / B)))
        return real(n, data, lr, B, epochs=epochs, seed=seed)

    monkeypatch.setattr(nets, "train_sgd", spy)
    data = nets.load_digits()
    init = nets.init_mlps([0, 1, 2])
    experiments_nets._train_equal_time(init, data, np.array([0.4, 0.2, 0.1]), 8, 2.0, 0)
    # 5, 10, 20 steps: all three for 5, two for 5 more, one for 10 more
    assert calls == [(3, 5), (2, 5), (1, 10)]
