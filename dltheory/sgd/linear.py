"""SGD near a minimum: quadratic losses, Lyapunov equations and the stochastic modified equations.

On ``L(theta) = theta^T A theta / 2`` with additive gradient noise of covariance ``C / B`` (``C``
the per-sample gradient covariance, ``B`` the batch size), SGD with learning rate ``eta`` is the
linear stochastic difference equation

    theta_{k+1} = (I - eta A) theta_k - eta xi_k,        xi_k ~ N(0, C / B),

whose stationary covariance solves the *discrete* Lyapunov equation
``S = (I - eta A) S (I - eta A)^T + (eta^2 / B) C``. The first-order stochastic modified equation
(SME; Li, Tai & E 2017, 2019) ``dX = -A X dt + sqrt(eta / B) C^{1/2} dW`` has the stationary
covariance of the *continuous* Lyapunov equation ``A S + S A = (eta / B) C``; they differ at
relative order ``eta``. In one dimension (``A = a``, ``C = s2``) the two are
``eta s2 / (B a (2 - eta a))`` and ``eta s2 / (2 a B)``.

The second-order SME adds the drift correction ``-(eta / 4) grad |grad L|^2``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.stats
import torch

from dltheory import _checks as checks

__all__ = [
    "stationary_variance_sgd",
    "stationary_variance_sme",
    "lyapunov_discrete",
    "lyapunov_continuous",
    "simulate_linear_sgd",
    "quadratic_weak_error",
    "quartic_weak_error",
    "covariance_test",
    "covariance_test_power",
    "variance_test_exact",
    "variance_test_power",
    "SME_LOSSES",
]


def _lr_batch(lr, batch_size):
    lr = checks.positive("lr", lr)
    if isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool):
        return lr, float(checks.integer("batch_size", batch_size))
    return lr, checks.positive("batch_size", batch_size)


def stationary_variance_sgd(lr: float, a: float, s2: float, batch_size: float = 1) -> float:
    """Exact stationary variance of SGD on ``a theta^2 / 2`` with additive noise ``s2 / B``.

    ``v = eta s2 / (B a (2 - eta a))``, finite only for ``0 < eta a < 2`` (``inf`` beyond: SGD
    diverges).

    Example:
        >>> round(stationary_variance_sgd(0.1, 1.0, 1.0, 1), 6)
        0.052632
    """
    lr, b = _lr_batch(lr, batch_size)
    a = checks.positive("a", a)
    s2 = checks.positive("s2", s2, allow_zero=True)
    if lr * a >= 2:
        return math.inf
    return lr * s2 / (b * a * (2 - lr * a))


def stationary_variance_sme(lr: float, a: float, s2: float, batch_size: float = 1) -> float:
    """Stationary variance ``eta s2 / (2 a B)`` of the first-order SME on ``a theta^2 / 2``.

    Example:
        >>> round(stationary_variance_sme(0.1, 1.0, 1.0, 1), 6)
        0.05
    """
    lr, b = _lr_batch(lr, batch_size)
    a = checks.positive("a", a)
    s2 = checks.positive("s2", s2, allow_zero=True)
    return lr * s2 / (2 * a * b)


def _a_c(A, C):
    A = checks.spd("A", A)
    C = checks.spd("C", C, psd=True)
    if C.shape != A.shape:
        raise ValueError(f"C must have the shape of A {A.shape}; got {C.shape}")
    return A, C


def lyapunov_discrete(A, C, lr: float, batch_size: float = 1) -> np.ndarray:
    """Stationary covariance of SGD: ``S = (I - eta A) S (I - eta A)^T + (eta^2 / B) C``.

    Args:
        A: symmetric positive definite Hessian, shape ``(d, d)``.
        C: symmetric positive semi-definite per-sample gradient covariance, shape ``(d, d)``.
        lr: learning rate ``eta``; needs ``eta * lambda_max(A) < 2`` (else SGD diverges).
        batch_size: ``B``.

    Returns:
        ``S`` as a float64 array (``scipy.linalg.solve_discrete_lyapunov``).

    Example:
        >>> S = lyapunov_discrete([[1.0, 0.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]], 0.1)
        >>> [round(float(x), 6) for x in S.diagonal()]
        [0.052632, 0.027778]
    """
    A, C = _a_c(A, C)
    lr, b = _lr_batch(lr, batch_size)
    lam_max = np.linalg.eigvalsh(A).max()
    if lr * lam_max >= 2:
        raise ValueError(
            f"lr must be < 2 / lambda_max(A) = {2 / lam_max:.4g} for a stationary law; got {lr}"
        )
    M = np.eye(len(A)) - lr * A
    S = scipy.linalg.solve_discrete_lyapunov(M, lr**2 / b * C)
    return (S + S.T) / 2


def lyapunov_continuous(A, C, lr: float, batch_size: float = 1) -> np.ndarray:
    """Stationary covariance of the first-order SME: ``A S + S A = (eta / B) C``.

    Example:
        >>> S = lyapunov_continuous([[1.0, 0.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]], 0.1)
        >>> [round(float(x), 6) for x in S.diagonal()]
        [0.05, 0.025]
    """
    A, C = _a_c(A, C)
    lr, b = _lr_batch(lr, batch_size)
    S = scipy.linalg.solve_continuous_lyapunov(A, lr / b * C)
    return (S + S.T) / 2


def simulate_linear_sgd(
    A,
    C,
    lr: float,
    batch_size: float = 1,
    *,
    n_chains: int = 10_000,
    n_steps: int = 1000,
    seed: int = 0,
) -> torch.Tensor:
    """Run ``n_chains`` independent SGD chains on ``theta^T A theta / 2`` with noise
    ``N(0, C / B)``.

    All chains start at 0 and move together as one ``(n_chains, d)`` matrix (float64).

    Returns:
        The final states, shape ``(n_chains, d)``.

    Example:
        >>> th = simulate_linear_sgd([[1.0]], [[1.0]], 0.1, n_chains=4, n_steps=3, seed=0)
        >>> tuple(th.shape)
        (4, 1)
    """
    A, C = _a_c(A, C)
    lr, b = _lr_batch(lr, batch_size)
    n_chains = checks.integer("n_chains", n_chains)
    n_steps = checks.integer("n_steps", n_steps, low=0)
    checks.size("n_chains", n_chains * len(A))
    checks.work("n_steps", n_steps, n_chains * len(A) ** 2)
    lam_max = float(np.linalg.eigvalsh(A).max())
    if lr * lam_max >= 2:
        raise ValueError(
            f"lr must be < 2 / lambda_max(A) = {2 / lam_max:g} for stable SGD; got {lr}"
        )
    gen = torch.Generator().manual_seed(checks.seed(seed))
    M = torch.as_tensor(np.eye(len(A)) - lr * A)
    lam, V = np.linalg.eigh(C)
    L = torch.as_tensor(V * np.sqrt(np.clip(lam, 0, None)) @ V.T)  # symmetric square root of C
    th = torch.zeros(n_chains, len(A), dtype=torch.float64)
    noise_scale = lr / math.sqrt(b)
    for _ in range(n_steps):
        z = torch.randn(n_chains, len(A), generator=gen, dtype=torch.float64)
        th = th @ M.T - noise_scale * (z @ L.T)
    return th


def covariance_test(samples, cov) -> float:
    """p-value of the likelihood-ratio test that zero-mean Gaussian ``samples`` have covariance
    ``cov``.

    After whitening by ``cov``, ``n (tr S - log det S - d)`` with ``S = X^T X / n`` is
    asymptotically chi-squared with ``d (d + 1) / 2`` degrees of freedom under the null.

    Example:
        >>> x = torch.randn(
        ...     20000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64
        ... )
        >>> covariance_test(x, [[1.0, 0.0], [0.0, 1.0]]) > 0.01
        True
    """
    cov = checks.spd("cov", cov)
    x = checks.real_array("samples", samples, ndim=2)
    n, d = x.shape
    if d != len(cov):
        raise ValueError(f"samples must have {len(cov)} columns to match cov; got {d}")
    if n <= d:
        raise ValueError(f"samples needs more rows than columns; got {n}")
    w = x @ np.linalg.inv(np.linalg.cholesky(cov)).T
    S = w.T @ w / n
    stat = n * (np.trace(S) - np.linalg.slogdet(S)[1] - d)
    return float(scipy.stats.chi2.sf(stat, d * (d + 1) // 2))


def quadratic_weak_error(
    lr,
    *,
    a: float = 1.0,
    s2: float = 1.0,
    batch_size: float = 1,
    theta0: float = 1.0,
    horizon: float = 1.0,
    order: int = 1,
) -> np.ndarray:
    """Exact weak error ``|E theta_k^2 - E X(k eta)^2|`` at ``k eta = horizon`` on
    ``a theta^2 / 2``.

    Both SGD (additive Gaussian noise ``s2 / B``) and the SME are Gaussian, so both second moments
    are closed forms: SGD has mean ``(1 - eta a)^k theta0`` and variance
    ``v_inf (1 - (1 - eta a)^{2k})``; the SME of order 1 has mean ``e^{-a t} theta0``; the
    second-order SME replaces ``a`` by ``a (1 + eta a / 2)`` in the drift (its
    ``-(eta/4) grad |grad L|^2`` term).

    Args:
        lr: learning rate(s); ``horizon / lr`` must be an integer for each.
        order: 1 or 2.

    Example:
        >>> [round(float(e), 6) for e in quadratic_weak_error([0.1, 0.05])]
        [0.010759, 0.006094]
    """
    lrs = checks.positive_array("lr", lr, ndim=(0, 1))
    a = checks.positive("a", a)
    s2 = checks.positive("s2", s2, allow_zero=True)
    b = checks.positive("batch_size", batch_size)
    theta0 = checks.real("theta0", theta0)
    horizon = checks.positive("horizon", horizon)
    order = checks.integer("order", order, low=1, high=2)
    out = []
    for eta in np.atleast_1d(lrs):
        k = horizon / eta
        if abs(k - round(k)) > 1e-9 * k:
            raise ValueError(f"horizon / lr must be an integer; got {k} for lr = {eta}")
        if eta * a >= 2:
            raise ValueError(f"lr must be < 2 / a = {2 / a:g}; got {eta}")
        k = round(k)
        r = (1 - eta * a) ** k
        m_sgd, v_sgd = r * theta0, eta * s2 / (b * a * (2 - eta * a)) * (1 - r * r)
        a_eff = a if order == 1 else a * (1 + eta * a / 2)
        e = math.exp(-a_eff * horizon)
        m_sme, v_sme = e * theta0, eta * s2 / (2 * b * a_eff) * (1 - e * e)
        out.append(abs(m_sgd**2 + v_sgd - m_sme**2 - v_sme))
    return np.asarray(out).reshape(np.shape(lrs))


#: Losses of the Monte Carlo weak-error comparison: name -> (``L'``, ``L''``, formula). The cosine
#: loss has a Lipschitz gradient (``|L''| <= 1.5``), as Li, Tai & E assume; the quartic's cubic
#: drift does not.
SME_LOSSES = {
    "quartic": (lambda y: y + y**3, lambda y: 1 + 3 * y**2, "theta^2/2 + theta^4/4"),
    "cosine": (
        lambda y: y + 0.5 * torch.sin(y),
        lambda y: 1 + 0.5 * torch.cos(y),
        "theta^2/2 + (1 - cos theta)/2",
    ),
}


class _QuarticSME(torch.nn.Module):
    noise_type = "additive"
    sde_type = "ito"

    def __init__(self, lr: float, sigma: float, order: int, loss: str = "quartic"):
        super().__init__()
        self.lr, self.sigma, self.order = lr, sigma, order
        self.grad, self.hess, _ = SME_LOSSES[loss]

    def f(self, t, y):  # drift: -L' (order 1), -(L' + (eta/2) L'' L') (order 2)
        g = self.grad(y)
        if self.order == 2:
            g = g + 0.5 * self.lr * self.hess(y) * g
        return -g

    def g(self, t, y):
        return torch.full_like(y, self.sigma).unsqueeze(-1)


def quartic_weak_error(
    lr: float,
    *,
    s2: float = 1.0,
    batch_size: float = 1,
    theta0: float = 1.0,
    horizon: float = 1.0,
    n_chains: int = 2000,
    substeps: int = 8,
    loss: str = "quartic",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo weak errors of the SMEs on the quartic ``L = theta^2 / 2 + theta^4 / 4`` (or
    another loss of :data:`SME_LOSSES`, e.g. ``"cosine"``: ``theta^2 / 2 + (1 - cos theta) / 2``).

    SGD ``theta_{k+1} = theta_k - eta (L'(theta_k) + xi_k)``, ``xi_k ~ N(0, s2 / B)``, and the SMEs
    of order 1 and 2 (solved by torchsde's strong order-1.5 SRK scheme for additive noise, step
    ``eta / substeps``) are driven by the *same* Brownian path: SGD's noise is
    ``xi_k = sqrt(s2 / B) (W((k+1) eta) - W(k eta)) / sqrt(eta)``. This coupling leaves each
    expectation unchanged but makes the paired difference ``theta_K^2 - X(T)^2`` small, so its Monte
    Carlo mean resolves the weak error.

    Returns:
        ``(errors, standard_errors)``, each of shape ``(2,)`` for orders 1 and 2: the mean of
        ``theta_K^2 - X(T)^2`` over chains and its standard error.

    Example:
        >>> err, se = quartic_weak_error(0.1, n_chains=400, seed=0)
        >>> bool(abs(err[0]) > abs(err[1]))
        True
    """
    import torchsde

    lr = checks.positive("lr", lr)
    s2 = checks.positive("s2", s2, allow_zero=True)
    b = checks.positive("batch_size", batch_size)
    theta0 = checks.real("theta0", theta0)
    horizon = checks.positive("horizon", horizon)
    n_chains = checks.integer("n_chains", n_chains, low=2)
    substeps = checks.integer("substeps", substeps, high=1000)
    loss = checks.choice("loss", loss, list(SME_LOSSES))
    grad = SME_LOSSES[loss][0]
    k = horizon / lr
    if abs(k - round(k)) > 1e-9 * k:
        raise ValueError(f"horizon / lr must be an integer; got {k}")
    k = round(k)
    sigma = math.sqrt(lr * s2 / b)
    bm = torchsde.BrownianInterval(
        0.0,
        horizon,
        size=(n_chains, 1),
        dtype=torch.float64,
        entropy=checks.seed(seed),
        levy_area_approximation="space-time",
        dt=lr / substeps,
        cache_size=None,
    )
    y0 = torch.full((n_chains, 1), theta0, dtype=torch.float64)
    th = y0.clone()
    for j in range(k):
        th = th - lr * grad(th) + sigma * bm(j * lr, (j + 1) * lr)
    ts = torch.tensor([0.0, horizon], dtype=torch.float64)
    err, se = [], []
    for order in (1, 2):
        with torch.no_grad():
            ys = torchsde.sdeint(
                _QuarticSME(lr, sigma, order, loss), y0, ts, bm=bm, method="srk", dt=lr / substeps
            )
        d = (th**2 - ys[-1] ** 2).squeeze(-1)
        err.append(d.mean().item())
        se.append(d.std().item() / math.sqrt(n_chains))
    return np.asarray(err), np.asarray(se)


def covariance_test_power(
    cov_null, cov_alt, n: int, *, alpha: float, reps: int = 400, seed: int = 0
) -> float:
    """Power of :func:`covariance_test` against ``cov_null`` when the ``n`` samples have
    ``cov_alt``.

    Repeats the test ``reps`` times, vectorised: the sample covariance of ``n`` zero-mean Gaussian
    vectors is a Wishart matrix, drawn directly (scipy), so no samples are stored.

    Example:
        >>> covariance_test_power(np.eye(2), 1.2 * np.eye(2), 2000, alpha=0.01, reps=200) > 0.99
        True
    """
    c0 = checks.spd("cov_null", cov_null)
    c1 = checks.spd("cov_alt", cov_alt)
    n = checks.integer("n", n, low=len(c0) + 1)
    alpha = checks.probability("alpha", alpha, open_low=True, open_high=True)
    reps = checks.integer("reps", reps, low=200, high=10**6)
    d = len(c0)
    W = scipy.stats.wishart(df=n, scale=c1).rvs(reps, random_state=np.random.default_rng(seed)) / n
    Li = np.linalg.inv(np.linalg.cholesky(c0))
    S = Li @ W.reshape(reps, d, d) @ Li.T
    stat = n * (np.trace(S, axis1=1, axis2=2) - np.linalg.slogdet(S)[1] - d)
    return float((scipy.stats.chi2.sf(stat, d * (d + 1) // 2) < alpha).mean())


def variance_test_exact(samples, variances) -> float:
    """p-value that zero-mean Gaussian runs have the given variances: ``sum_i z_i^2 ~ chi2_k``.

    Run ``i`` (a 1-D array of ``n_i`` samples) gives ``n_i v_hat_i / v_i ~ chi2_{n_i}`` under the
    null, turned into an exact standard normal ``z_i``; the ``k`` runs together give ``chi2_k``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> variance_test_exact(
        ...     [rng.standard_normal(5000), 2 * rng.standard_normal(5000)], [1, 4]
        ... ) > 0.01
        True
    """
    v = checks.real_array("variances", variances, ndim=1)
    if (v <= 0).any() or len(samples) != len(v):
        raise ValueError(f"variances must hold {len(samples)} positive numbers, one per run")
    z = []
    for x, vi in zip(samples, v, strict=False):
        x = checks.real_array("samples", x, ndim=1)
        n = len(x)
        z.append(scipy.stats.norm.isf(scipy.stats.chi2.sf(n * np.mean(x**2) / vi, n)))
    return float(scipy.stats.chi2.sf(np.sum(np.square(z)), len(z)))


def variance_test_power(n: int, ratios, *, alpha: float, reps: int = 4000, seed: int = 0) -> float:
    """Power of :func:`variance_test_exact` when the true variances are ``ratios`` times the null
    ones.

    Vectorised: ``n v_hat_i / v_i = ratio_i chi2_n`` is drawn directly, ``reps`` times.

    Example:
        >>> variance_test_power(10_000, [1.0, 1.5], alpha=0.01) > 0.99
        True
    """
    n = checks.integer("n", n, low=2)
    r = checks.positive_array("ratios", ratios, ndim=1)
    alpha = checks.probability("alpha", alpha, open_low=True, open_high=True)
    reps = checks.integer("reps", reps, low=200, high=10**7)
    rng = np.random.default_rng(seed)
    chi = r * rng.chisquare(n, size=(reps, len(r)))
    z = scipy.stats.norm.isf(scipy.stats.chi2.sf(chi, n))
    p = scipy.stats.chi2.sf((z**2).sum(1), len(r))
    return float((p < alpha).mean())
