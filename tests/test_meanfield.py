"""Tests of dltheory.meanfield: quadrature against closed forms, fixed points against iteration,
broadcasting, finite-width theory and argument errors."""

import math

import numpy as np
import pytest
import torch

from dltheory import meanfield as mf
from dltheory.meanfield.experiments import FiniteWidthData, finite_width_summary
from dltheory.meanfield.finite import fluctuation_theory, log_rate, simulate
from dltheory.meanfield.quadrature import mehler_expect
from dltheory.meanfield.spectra import (
    isometry_prediction,
    jacobian_spectrum,
    linear_gaussian_variance_exact,
)
from dltheory.meanfield.trainability import max_trainable_depth, train_grid


def relu_kernel(q11, q22, q12):
    """Arc-cosine kernel (Cho & Saul 2009): E[relu(u1) relu(u2)]."""
    c = q12 / np.sqrt(q11 * q22)
    th = np.arccos(np.clip(c, -1, 1))
    return np.sqrt(q11 * q22) / (2 * np.pi) * (np.sin(th) + (np.pi - th) * c)


def erf_kernel(q11, q22, q12):
    """Arcsine kernel (Williams 1997): E[erf(u1) erf(u2)]."""
    return 2 / np.pi * np.arcsin(2 * q12 / np.sqrt((1 + 2 * q11) * (1 + 2 * q22)))


Q = np.array([0.3, 1.0, 2.5])
C = np.array([-0.7, 0.0, 0.4, 0.95])


def test_gauss_hermite_relu_closed_forms():
    q11, c = np.meshgrid(Q, C, indexing="ij")
    q22 = 1.7
    q12 = c * np.sqrt(q11 * q22)
    exact = relu_kernel(q11, q22, q12)
    f = lambda a, b: torch.relu(a) * torch.relu(b)  # noqa: E731
    err = [
        np.abs(mf.gauss_expect_2d(f, q11, q22, q12, n=n).numpy() / exact - 1).max()
        for n in (30, 120)
    ]
    # The kink makes Gauss-Hermite converge algebraically (~ n^-1.5), not exponentially.
    assert err[1] < 1e-2 and err[1] < err[0] / 4
    # 1-D: E relu(u)^2 = q/2 exactly (even rule, symmetric nodes).
    np.testing.assert_allclose(
        mf.gauss_expect(lambda u: torch.relu(u) ** 2, Q).numpy(), Q / 2, rtol=1e-13
    )


def test_gauss_hermite_and_mehler_erf_closed_form():
    q11, c = np.meshgrid(Q, C, indexing="ij")
    q12 = c * q11
    exact = erf_kernel(q11, q11, q12)
    got2d = mf.gauss_expect_2d(
        lambda a, b: torch.erf(a) * torch.erf(b), q11, q11, q12, n=96
    ).numpy()
    np.testing.assert_allclose(got2d, exact, atol=1e-9)
    got_series = mehler_expect(torch.erf, None, q11, c).numpy()
    np.testing.assert_allclose(got_series, exact, atol=1e-10)


def test_erf_length_map_closed_form():
    q = np.linspace(0.1, 3, 7)
    np.testing.assert_allclose(
        mf.length_map("erf", q, 1.3, 0.1),
        1.3 * 2 / np.pi * np.arcsin(2 * q / (1 + 2 * q)) + 0.1,
        rtol=1e-9,
    )


def test_relu_length_map_is_linear_and_chi1_exact():
    q, sw, sb = np.meshgrid([0.1, 1, 7], [0.5, 2, 3], [0, 0.3], indexing="ij")
    np.testing.assert_allclose(mf.length_map("relu", q, sw, sb), sw * q / 2 + sb, rtol=1e-13)
    np.testing.assert_allclose(mf.chi1("relu", sw, sb, q=q), sw / 2, rtol=1e-13)
    assert mf.q_star("relu", 2.0, 0.05) == math.inf
    assert mf.q_star("relu", 1.0, 0.5) == pytest.approx(1.0, rel=1e-12)


def test_fixed_points_agree_with_direct_iteration():
    for act in ("tanh", "erf", "sigmoid"):
        qs = mf.q_star(act, 1.8, 0.1)
        q = 1.0
        for _ in range(2000):
            q = mf.length_map(act, q, 1.8, 0.1)
        assert qs == pytest.approx(q, rel=1e-10)
    # chaotic tanh: c* by iterating the correlation map at q*
    cs = mf.c_star("tanh", 3.0, 0.05)
    c = 0.2
    for _ in range(500):
        c = mf.correlation_map("tanh", c, 3.0, 0.05)
    assert cs == pytest.approx(c, abs=1e-10) and cs < 1
    assert mf.c_star("tanh", 1.2, 0.05) == 1.0


def test_correlation_map_series_matches_2d_quadrature():
    q = mf.q_star("tanh", 2.5, 0.1)
    for c in (0.0, 0.5, 0.99):
        direct = (
            2.5 * mf.gauss_expect_2d(lambda a, b: torch.tanh(a) * torch.tanh(b), q, q, c * q, n=160)
            + 0.1
        ) / q
        assert mf.correlation_map("tanh", c, 2.5, 0.1) == pytest.approx(float(direct), abs=1e-10)


def test_custom_activation_matches_named():
    sw = np.array([1.2, 2.0, 3.5])
    np.testing.assert_allclose(
        mf.xi_c(lambda x: torch.tanh(x), sw, 0.05), mf.xi_c("tanh", sw, 0.05), rtol=1e-10
    )
    np.testing.assert_allclose(
        mf.xi_q(torch.sigmoid, sw, 0.05), mf.xi_q("sigmoid", sw, 0.05), rtol=1e-10
    )


def test_broadcasting_shapes():
    sw = np.linspace(1, 4, 5)[None, :]
    sb = np.linspace(0, 0.3, 3)[:, None]
    for fn in (mf.q_star, mf.chi1, mf.c_star, mf.chi_c, mf.xi_q, mf.xi_c):
        assert np.shape(fn("tanh", sw, sb)) == (3, 5)
    assert np.shape(mf.critical_line("tanh", np.zeros(4))[0]) == (4,)
    assert isinstance(mf.xi_c("tanh", 1.0, 0.05), float)
    out = mf.iterate_maps("tanh", np.array([1.0, 3.0]), 0.05, q0=1.0, c0=0.3, depth=7)
    assert out.q.shape == (7, 2) and out.c.shape == (7, 2)


def test_critical_line_and_review_constants():
    sw, q = mf.critical_line("tanh", [0.0, 0.05])
    assert sw[0] == pytest.approx(1.0, abs=1e-6)
    assert abs(sw[1] - 1.7610) < 1e-3
    assert mf.chi1("tanh", sw[1], 0.05) == pytest.approx(1.0, abs=1e-9)
    # The review's code tabulates the line at 50 values of q* and interpolates (1.7603915227624916).
    q_tab = np.linspace(1e-5, 2.25, 50)
    sw_tab = 1.0 / mf.gauss_expect(lambda u: (1 - torch.tanh(u) ** 2) ** 2, q_tab).numpy()
    sb_tab = q_tab - sw_tab * mf.gauss_expect(lambda u: torch.tanh(u) ** 2, q_tab).numpy()
    assert np.interp(0.05, sb_tab, sw_tab) == pytest.approx(1.7603915227624916, abs=1e-9)
    assert mf.xi_c("tanh", 1.0, 0.05) == pytest.approx(3.627, rel=1e-3)
    assert mf.xi_c("tanh", 4.0, 0.05) == pytest.approx(6.980, rel=1e-3)
    rsw, rq = mf.critical_line("relu", [0.0, 0.1])
    np.testing.assert_allclose(rsw, 2.0)
    assert rq[0] == 0.0 and rq[1] == math.inf


def test_xi_c_is_inf_at_criticality_never_nan():
    assert mf.xi_c("relu", 2.0, 0.0) == math.inf
    assert mf.xi_c("linear", 1.0, 0.0) == math.inf
    x = mf.xi_c("tanh", np.linspace(1.0, 4.0, 50), 0.05)
    assert not np.isnan(x).any() and (x > 0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma_w2"):
        mf.xi_c("tanh", 0.0, 0.05)
    with pytest.raises(ValueError, match="sigma_w2"):
        mf.q_star("tanh", -1.0, 0.05)
    with pytest.raises(ValueError, match="sigma_b2"):
        mf.xi_c("tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="valid names are.*hard_tanh.*tanh"):
        mf.chi1("swish", 1.0, 0.0)
    with pytest.raises(TypeError):
        mf.get_activation(3)
    with pytest.raises(ValueError, match="c"):
        mf.correlation_map("tanh", 1.5, 1.0, 0.1)
    with pytest.raises(ValueError, match="depth"):
        mf.iterate_maps("tanh", 1.0, 0.1, q0=1.0, c0=0.1, depth=0)
    with pytest.raises(TypeError, match="depth"):
        mf.iterate_maps("tanh", 1.0, 0.1, q0=1.0, c0=0.1, depth=2.0)
    with pytest.raises(ValueError, match="depth"):
        mf.iterate_maps("tanh", 1.0, 0.1, q0=1.0, c0=0.1, depth=10**8)
    with pytest.raises(ValueError, match="max_iter"):
        mf.q_star("tanh", 1.0, 0.1, max_iter=0)
    with pytest.raises(ValueError, match="tol"):
        mf.q_star("tanh", 1.0, 0.1, tol=-1)
    with pytest.raises(ValueError, match="sigma_b2"):
        mf.critical_line_interpolated("tanh", 100)
    with pytest.raises(ValueError, match="q0"):
        simulate(
            sigma_w2=1.0, sigma_b2=0.1, width=4, depth=2, q0=math.inf, c0=0.1, n_seeds=1, seed=0
        )
    with pytest.raises(ValueError, match="lr"):
        train_grid(sigma_w2=[1.5], depths=[2], lr=math.inf)
    with pytest.raises(ValueError, match="width"):
        simulate(
            sigma_w2=1.0, sigma_b2=0.1, width=10**5, depth=2, q0=1.0, c0=0.1, n_seeds=100, seed=0
        )
    with pytest.raises(ValueError, match="smooth"):
        fluctuation_theory("relu", sigma_w2=2.0, sigma_b2=0.0, width=10, depth=3, q0=1.0, c0=0.1)
    with pytest.raises(ValueError, match="weights"):
        jacobian_spectrum("tanh", sigma_w2=1.0, sigma_b2=0.1, width=8, depth=2, weights="uniform")
    with pytest.raises(ValueError, match="width"):
        simulate(sigma_w2=1.0, sigma_b2=0.1, width=1, depth=2, q0=1.0, c0=0.1, n_seeds=1, seed=0)
    with pytest.raises(ValueError, match="huge"):
        train_grid(scale="huge")


def test_finite_width_fluctuations_match_theory():
    """z-scores of measured q, c against the linear-noise theory have unit variance (chi-square
    test)."""
    from scipy import stats

    sim = simulate(
        sigma_w2=2.5, sigma_b2=0.05, width=400, depth=12, q0=1.0, c0=0.3, n_seeds=64, seed=3
    )
    th = fluctuation_theory(sigma_w2=2.5, sigma_b2=0.05, width=400, depth=12, q0=1.0, c0=0.3)
    for key, sd, mean in (("q_a", "sd_q", "q"), ("c", "sd_c", "c")):
        z = (getattr(sim, key)[:, -1] - getattr(th, mean)[-1]) / getattr(th, sd)[
            -1
        ]  # one layer: independent across seeds
        p = stats.chi2.sf((z**2).sum(), df=z.size) * 2
        assert min(p, 2 - p) > 0.001


def test_gradient_rate_and_log_rate():
    assert log_rate(np.exp(-0.3 * np.arange(20))[None, :] * np.ones((3, 1))) == pytest.approx(-0.3)
    sw = 1.0
    qs = mf.q_star("tanh", sw, 0.05)
    out = simulate(
        sigma_w2=sw,
        sigma_b2=0.05,
        width=300,
        depth=20,
        q0=(qs - 0.05) / sw,
        c0=0.0,
        n_seeds=4,
        seed=0,
        backward=True,
    )
    assert -log_rate(out.grad, skip=1) == pytest.approx(
        math.log(mf.chi1("tanh", sw, 0.05)), rel=0.1
    )


def test_simulation_is_deterministic():
    a = simulate(
        sigma_w2=1.5,
        sigma_b2=0.05,
        width=32,
        depth=4,
        q0=1.0,
        c0=0.5,
        n_seeds=2,
        seed=7,
        backward=True,
    )
    b = simulate(
        sigma_w2=1.5,
        sigma_b2=0.05,
        width=32,
        depth=4,
        q0=1.0,
        c0=0.5,
        n_seeds=2,
        seed=7,
        backward=True,
    )
    for k in ("q_a", "q_b", "c", "grad"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))


def test_isometry_predictions_and_exact_linear():
    assert isometry_prediction(
        "linear", sigma_w2=1.0, sigma_b2=0.0, depth=7, q=1.0
    ).var == pytest.approx(7)
    assert isometry_prediction(
        "linear", sigma_w2=1.0, sigma_b2=0.0, depth=7, weights="orthogonal", q=1.0
    ).var == pytest.approx(0, abs=1e-12)
    assert isometry_prediction(
        "relu", sigma_w2=2.0, sigma_b2=0.0, depth=7, weights="orthogonal", q=1.0
    ).var == pytest.approx(7)
    assert linear_gaussian_variance_exact(10**6, 5) == pytest.approx(5, rel=1e-4)
    ev = jacobian_spectrum(
        "linear", sigma_w2=1.0, sigma_b2=0.0, width=200, depth=4, q=1.0, n_seeds=16, seed=0
    )
    nv = ev.var(1).mean()
    assert nv == pytest.approx(linear_gaussian_variance_exact(200, 4), rel=0.06)


def test_max_trainable_depth_and_tiny_training():
    assert max_trainable_depth(np.array([[0.9, 0.2], [0.3, 0.1]]), [5, 10], 0.5).tolist() == [5, 0]
    out = train_grid(
        sigma_w2=[1.5, 2.0],
        depths=[2, 3],
        width=16,
        steps=30,
        batch_size=64,
        lr=0.05,
        seed=0,
        n_seeds=1,
    )
    assert out.accuracy.shape == (1, 2, 2)
    assert (
        out.accuracy > 0.3
    ).all()  # shallow nets learn digits well above chance (0.1) in 30 steps


def _reference_train_depth(sw, sb, depth, X, y, width, steps, batch_size, lr, gens):
    # The per-depth trainer the batched one replaced: autograd through torch.tanh, one depth at a
    # time.
    S, n_seeds, (n, d) = sw.numel(), len(gens), X.shape
    dims = [d] + [width] * depth
    scale = lambda fan_in: torch.sqrt(sw / fan_in).view(S, 1, 1).float()  # noqa: E731

    def leaf(shape, std):
        return torch.cat([torch.randn(shape, generator=g) * std for g in gens]).requires_grad_()

    Ws = [leaf((S, dims[i], dims[i + 1]), scale(dims[i])) for i in range(depth)]
    bs = [leaf((S, 1, width), math.sqrt(sb)) for _ in range(depth)]
    Wo = leaf((S, width, 10), scale(width))
    params = Ws + bs + [Wo]

    def forward(xb):
        h = xb.unsqueeze(1).expand(n_seeds, S, *xb.shape[1:]).reshape(n_seeds * S, *xb.shape[1:])
        for i in range(depth):
            h = torch.baddbmm(bs[i], h if i == 0 else torch.tanh(h), Ws[i])
        return torch.bmm(torch.tanh(h), Wo)

    for _ in range(steps):
        idx = torch.stack([torch.randint(0, n, (batch_size,), generator=g) for g in gens])
        logits = forward(X[idx])
        target = y[idx].unsqueeze(1).expand(n_seeds, S, batch_size).reshape(-1)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), target, reduction="sum")
        grads = torch.autograd.grad(loss / batch_size, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=False):
                p -= lr * torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
    with torch.no_grad():
        pred = forward(X.expand(n_seeds, *X.shape)).argmax(-1)
        return (pred == y).float().mean(-1).double().reshape(n_seeds, S).numpy()


@pytest.mark.parametrize("steps", [1, 5])
def test_batched_trainer_matches_per_depth_autograd(steps, monkeypatch):
    """All depths in one batched model with a hand-written backward pass = autograd, one depth at a
    time.

    With torch.tanh in both, the accuracies agree exactly over the first steps (later, chaotic
    training amplifies rounding differences).
    """
    from dltheory.meanfield import trainability as tr

    monkeypatch.setattr(tr, "_tanh", torch.tanh)
    X, y = tr.load_digits_tensor()
    kw = dict(sigma_w2=[1.0, 2.0, 4.0], width=16, steps=steps, batch_size=16, lr=0.05)
    depths, seeds = [3, 8, 5], [2, 3]
    out = tr.train_grid(depths=depths, seed=2, n_seeds=2, **kw).accuracy
    sw = torch.tensor(kw["sigma_w2"], dtype=torch.float64)
    for k, depth in enumerate(depths):
        gens = [torch.Generator().manual_seed(s * 10_007 + depth) for s in seeds]
        ref = _reference_train_depth(sw, 0.05, depth, X, y, 16, steps, 16, 0.05, gens)
        np.testing.assert_array_equal(out[:, k], ref)


def test_batched_trainer_groups_depths_under_the_memory_bound(monkeypatch):
    from dltheory.meanfield import trainability as tr

    kw = dict(
        sigma_w2=[1.5, 3.0], depths=[2, 5, 3], width=8, steps=20, batch_size=16, seed=1, n_seeds=2
    )
    whole = tr.train_grid(**kw).accuracy
    monkeypatch.setattr(tr, "MAX_PARAMS", 1)  # one depth per group
    assert tr._groups([5, 3, 2], 10) == [[5], [3], [2]]
    np.testing.assert_array_equal(tr.train_grid(**kw).accuracy, whole)


def test_recursion_depth_scale_matches_the_slope_formulas():
    from dltheory.meanfield import reference

    for sw in (1.3, 3.0):
        assert reference.recursion_depth_scale("tanh", sw, 0.05, "c") == pytest.approx(
            mf.xi_c("tanh", sw, 0.05), rel=1e-7
        )
        assert reference.recursion_depth_scale("tanh", sw, 0.05, "q") == pytest.approx(
            mf.xi_q("tanh", sw, 0.05), rel=1e-7
        )


def test_train_grid_device_argument():
    from dltheory.meanfield import trainability as tr

    kw = dict(
        sigma_w2=[1.5, 3.0], depths=[2, 3], width=8, steps=4, batch_size=16, seed=1, n_seeds=1
    )
    default = tr.train_grid(**kw).accuracy
    np.testing.assert_array_equal(tr.train_grid(**kw, device="cpu").accuracy, default)
    if torch.cuda.is_available():  # same weights and batches drawn on the CPU, trained on the GPU
        np.testing.assert_allclose(tr.train_grid(**kw, device="cuda").accuracy, default, atol=0.02)
    with pytest.raises(ValueError, match="not a device"):
        tr.train_grid(**kw, device="gpu0")
    with pytest.raises(TypeError, match="device must be"):
        tr.train_grid(**kw, device=3)


def test_critical_line_interpolated_approaches_the_exact_line():
    exact = float(mf.critical_line("tanh", 0.05)[0])
    coarse = mf.critical_line_interpolated("tanh", 0.05, n_points=50)
    fine = mf.critical_line_interpolated("tanh", 0.05, n_points=2000)
    assert abs(fine - exact) < abs(coarse - exact) and abs(fine - exact) < 1e-5
    with pytest.raises(ValueError, match="n_points"):
        mf.critical_line_interpolated("tanh", 0.05, n_points=1)
    with pytest.raises(ValueError, match="sigma_b2"):
        mf.critical_line_interpolated("tanh", -0.1)


def test_normalised_variance_of_known_spectra():
    from dltheory.meanfield.spectra import normalised_variance

    rng = np.random.default_rng(0)
    eigs = rng.exponential(2.0, size=(400, 500))  # exponential: variance / mean^2 = 1
    mean, se = normalised_variance(eigs)
    assert abs(mean - 1.0) < 4 * se + 0.01
    assert normalised_variance(np.full((3, 5), 2.0)) == (0.0, 0.0)
    with pytest.raises(ValueError, match="eigs"):
        normalised_variance(np.ones(5))


def test_finite_width_summary_on_exact_theory():
    from dltheory.meanfield.finite import FluctuationTheory, Simulation

    th = FluctuationTheory(
        q=np.ones(4), c=np.full(4, 0.5), sd_q=np.full(4, 0.1), sd_c=np.full(4, 0.2)
    )
    sim = Simulation(
        q_a=th.q + np.array([[0.1, -0.1, 0.1, -0.1]]),
        q_b=th.q[None],
        c=th.c + np.array([[0.2, -0.2, 0.2, -0.2]]),
    )
    widths = np.array([64, 256, 1024])
    data = FiniteWidthData(
        sigma_w2=np.array([1.3]),
        width=1000,
        depth=4,
        n_seeds=1,
        sims=(sim,),
        theories=(th,),
        widths=widths,
        dev_q=3.0 * widths[None] ** -0.5,
        dev_c=2.0 * widths[None] ** -0.5,
    )
    out = finite_width_summary(data)
    assert out.rms_q == pytest.approx(1.0) and out.rms_c == pytest.approx(1.0)
    assert out.slope_q == pytest.approx(-0.5) and out.slope_c == pytest.approx(-0.5)
