"""Stochastic gradient Langevin dynamics (Welling & Teh 2011), many chains at once.

SGLD with step ``eps_t`` and a minibatch ``B_t`` of ``n`` of the ``N`` data points is

    theta_{t+1} = theta_t + eps_t / 2 (grad log p(theta_t) + N/n sum_{i in B_t} grad log p(x_i |
    theta_t))
                  + xi_t,        xi_t ~ N(0, eps_t I),

an Euler–Maruyama step of the Langevin diffusion ``d theta = grad log p(theta | x) / 2 dt + dW``
whose stationary law is the posterior. With ``sum eps_t = inf`` and ``sum eps_t^2 < inf`` (e.g.
``eps_t = a (b + t)^(-gamma)``, ``gamma in (1/2, 1]``) the chain converges to it; at a constant step
the stationary law is biased by ``O(eps)``. Every function here advances ``C`` chains as one
``(C, d)`` array: one vectorised update per step, not a loop over chains.
"""

from __future__ import annotations

import numpy as np

from dltheory import _checks as checks
from dltheory.bayes.posterior import MixtureModel, _grad_log_lik

__all__ = [
    "step_sizes",
    "sgld_mixture",
    "sgld_linreg",
    "histogram_tv",
    "linreg_stationary_bias",
    "linreg_stationary_covariance",
    "langevin_noise_std",
]


def step_sizes(n_steps: int, *, a: float, b: float, gamma: float = 0.55) -> np.ndarray:
    """Polynomially decaying steps ``eps_t = a (b + t)^(-gamma)``, ``t = 0..n_steps-1``.

    Example:
        >>> step_sizes(3, a=1.0, b=1.0, gamma=1.0).round(4).tolist()
        [1.0, 0.5, 0.3333]
    """
    n_steps = checks.integer("n_steps", n_steps)
    checks.size("n_steps", n_steps)
    a, b = checks.positive("a", a), checks.positive("b", b)
    gamma = checks.real("gamma", gamma, low=0.5, high=1.0, low_open=True)
    return a * (b + np.arange(n_steps)) ** (-gamma)


def langevin_noise_std(eps):
    """Standard deviation ``sqrt(eps)`` of the injected noise of an SGLD step with drift
    ``eps / 2 grad log p``.

    The step ``theta + eps / 2 grad log p + N(0, eps)`` is Euler–Maruyama for
    ``d theta = grad log p / 2 dt + dW``, whose stationary law is ``p``; half that variance would
    sample ``p^2`` (temperature 1/2), the usual slip between this convention and
    ``eps grad log p + N(0, 2 eps)``.

    Example:
        >>> float(langevin_noise_std(0.04))
        0.2

    Raises:
        ValueError: if a step size is negative or not finite.
    """
    return np.sqrt(checks.real_array("eps", eps, low=0.0))


def sgld_mixture(
    x,
    *,
    n_chains: int,
    eps,
    n_keep: int,
    model: MixtureModel = MixtureModel(),
    init_scale: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """SGLD with batch size 1 on Welling & Teh's mixture posterior, ``n_chains`` chains in parallel.

    Args:
        x: the data ``(N,)``.
        n_chains: number of independent chains.
        eps: the step sizes ``(T,)`` (see :func:`step_sizes`).
        n_keep: how many of the last steps' states to return (every one of them).
        init_scale: chains start at ``N(0, init_scale^2 I)``.
        seed: seed of the data indices, the noise and the initial states.

    Returns:
        ``(n_keep, n_chains, 2)`` samples.

    Example:
        >>> x = np.zeros(10)
        >>> sgld_mixture(x, n_chains=4, eps=step_sizes(20, a=0.01, b=1.0), n_keep=5).shape
        (5, 4, 2)
    """
    x = checks.nonempty("x", checks.real_array("x", x, ndim=1))
    C = checks.integer("n_chains", n_chains)
    eps = checks.nonempty("eps", checks.real_array("eps", eps, low=0, low_open=True, ndim=1))
    T = eps.size
    checks.work("eps", T, 2 * C)
    n_keep = checks.integer("n_keep", n_keep, high=T)
    checks.size("n_keep * n_chains", 2 * n_keep * C)
    init_scale = checks.positive("init_scale", init_scale, allow_zero=True)
    rng = np.random.default_rng(checks.seed(seed))
    N = x.size
    prior_prec = np.array([1.0 / model.s1_2, 1.0 / model.s2_2])
    theta = init_scale * rng.standard_normal((C, 2))
    out = np.empty((n_keep, C, 2))
    for t in range(T):
        xi = x[rng.integers(0, N, size=C)]
        drift = -prior_prec * theta + N * _grad_log_lik(theta, xi[:, None], model.sx_2)
        theta = (
            theta + 0.5 * eps[t] * drift + langevin_noise_std(eps[t]) * rng.standard_normal((C, 2))
        )
        if t % 100 == 99 or t == T - 1:
            checks.finite_state("eps", theta, f"eps[{t}] = {eps[t]:g}", step=t)
        if t >= T - n_keep:
            out[t - (T - n_keep)] = theta
    return out


def histogram_tv(samples, grid_mass, edges1, edges2) -> float:
    """Total variation ``1/2 sum |hist - grid|`` between samples' histogram and cell masses on a
    grid.

    Samples outside the grid count fully against the histogram (they are mass the grid does not
    have).

    Args:
        samples: ``(..., 2)`` points.
        grid_mass: ``(len(edges1) - 1, len(edges2) - 1)`` cell masses summing to one.
        edges1, edges2: increasing bin edges.

    Example:
        >>> s = np.array([[0.5, 0.5], [1.5, 0.5]])
        >>> histogram_tv(s, np.array([[0.5], [0.5]]), np.array([0.0, 1, 2]), np.array([0.0, 1]))
        0.0
    """
    s = checks.real_array("samples", samples)
    if s.ndim < 1 or s.shape[-1] != 2:
        raise ValueError(f"samples must have shape (..., 2); got {s.shape}")
    s = checks.nonempty("samples", s.reshape(-1, 2))
    e1 = checks.real_array("edges1", edges1, ndim=1)
    e2 = checks.real_array("edges2", edges2, ndim=1)
    e1 = checks.increasing("edges1", e1)
    e2 = checks.increasing("edges2", e2)
    m = checks.real_array("grid_mass", grid_mass, ndim=2, low=0)
    if m.sum() > 1 + 1e-6:
        raise ValueError(
            f"grid_mass must be cell masses summing to at most 1; they sum to {m.sum():.6g}"
        )
    if m.shape != (e1.size - 1, e2.size - 1):
        raise ValueError(f"grid_mass must have shape {(e1.size - 1, e2.size - 1)}; got {m.shape}")
    h, _, _ = np.histogram2d(s[:, 0], s[:, 1], bins=[e1, e2])
    h = h / s.shape[0]
    outside = 1.0 - h.sum()
    return float(0.5 * (np.abs(h - m).sum() + outside + (1.0 - m.sum())))


def sgld_linreg(
    X,
    y,
    *,
    sigma: float,
    tau: float,
    eps,
    batch_size: int,
    n_chains: int,
    n_steps: int,
    n_keep: int,
    noise: bool = True,
    init=None,
    seed: int = 0,
) -> np.ndarray:
    """Constant-step SGLD (or SGD with ``noise=False``) on Bayesian linear regression, chains in
    parallel.

    ``n_chains`` chains run at each step size in ``eps``, all of them in one ``(S * C, d)`` array.
    Chains start at ``N(0, I)``; each draws its own minibatch of ``n`` points (with replacement; all
    ``N`` points when ``n = N``) at every step.

    Args:
        X, y: data ``(N, d)``, ``(N,)``.
        sigma, tau: noise and prior standard deviations.
        eps: the constant step ``> 0``, or a 1-D array of ``S`` steps.
        batch_size: minibatch size ``n`` in ``[1, N]``.
        n_chains, n_steps: chains per step size, and steps.
        n_keep: how many of the last states to return.
        noise: inject the Langevin noise (SGLD); ``False`` gives plain SGD on the negative log
        posterior. init: initial states, ``(d,)`` or ``(S, n_chains, d)``; default ``N(0, I)``
        draws.

    Returns:
        ``(n_keep, S, n_chains, d)`` states (``S = 1`` for a scalar ``eps``).

    Example:
        >>> X, y = np.eye(2), np.ones(2)
        >>> sgld_linreg(X, y, sigma=1.0, tau=1.0, eps=[0.1, 0.2], batch_size=1, n_chains=3,
        ...             n_steps=10, n_keep=2).shape
        (2, 2, 3, 2)
    """
    X = checks.real_array("X", X, ndim=2)
    y = checks.real_array("y", y, ndim=1)
    N, d = X.shape
    if y.shape[0] != N:
        raise ValueError(f"y must have one entry per row of X ({N}); got {y.shape[0]}")
    sigma, tau = checks.positive("sigma", sigma), checks.positive("tau", tau)
    eps = checks.real_array("eps", eps, low=0, low_open=True, ndim=(0, 1)).reshape(-1)
    n = checks.integer("batch_size", batch_size, high=N)
    C, T = checks.integer("n_chains", n_chains), checks.integer("n_steps", n_steps)
    n_keep = checks.integer("n_keep", n_keep, high=T)
    S = eps.size
    checks.size("n_keep * len(eps) * n_chains * d", n_keep * S * C * d)
    checks.size("len(eps) * n_chains * batch_size * d", S * C * n * d)
    checks.boolean("noise", noise)
    checks.work("n_steps", T, S * C * n * d)
    lam = float(np.linalg.eigvalsh(np.eye(d) / tau**2 + X.T @ X / sigma**2).max())
    if eps.max() * lam >= 4:
        raise ValueError(
            f"eps must be < 4 / lambda_max(posterior precision) = {4 / lam:.4g} for a stable "
            f"Langevin step; got {eps.max():g}"
        )
    rng = np.random.default_rng(checks.seed(seed))
    e = np.repeat(eps, C)[:, None]  # (S C, 1)
    theta = rng.standard_normal((S * C, d))
    if init is not None:
        init = checks.real_array("init", init, ndim=(1, 3))
        if init.shape not in ((d,), (S, C, d)):
            raise ValueError(f"init must have shape ({d},) or {(S, C, d)}; got {init.shape}")
        theta = np.broadcast_to(init, (S, C, d)).reshape(S * C, d).copy()
    out = np.empty((n_keep, S * C, d))
    full = np.broadcast_to(np.arange(N), (S * C, N))
    Z = np.concatenate([X, y[:, None]], axis=1)  # one gather per step for inputs and targets
    for t in range(T):
        Zb = Z[rng.integers(0, N, size=(S * C, n)) if n < N else full]  # (S C, n, d + 1)
        resid = Zb[..., d] - (Zb[..., :d] * theta[:, None, :]).sum(-1)
        drift = -theta / tau**2 + (N / n) * (Zb[..., :d] * resid[..., None]).sum(1) / sigma**2
        theta = theta + 0.5 * e * drift
        if noise:
            theta = theta + langevin_noise_std(e) * rng.standard_normal((S * C, d))
        if t % 100 == 99 or t == T - 1:
            checks.finite_state("eps", theta, eps.max(), step=t)
        if t >= T - n_keep:
            out[t - (T - n_keep)] = theta
    return out.reshape(n_keep, S, C, d)


def linreg_stationary_bias(cov, target) -> float:
    """Relative Frobenius error ``|cov - target|_F / |target|_F`` of a covariance.

    Example:
        >>> linreg_stationary_bias(1.1 * np.eye(2), np.eye(2))
        0.1
    """
    cov = checks.real_array("cov", cov, ndim=2)
    target = checks.real_array("target", target, ndim=2)
    if cov.shape != target.shape:
        raise ValueError(
            f"cov and target must have the same shape; got {cov.shape} and {target.shape}"
        )
    if not np.linalg.norm(target) > 0:
        raise ValueError("target must be a nonzero matrix (the error is relative to its norm)")
    return round(float(np.linalg.norm(cov - target) / np.linalg.norm(target)), 15)


def linreg_stationary_covariance(
    X, y, *, sigma: float, tau: float, eps: float, batch_size: int
) -> np.ndarray:
    """Stationary covariance of constant-step SGLD on Bayesian linear regression (discrete
    Lyapunov).

    With ``P = X'X / sigma^2 + I / tau^2`` the step is ``theta' = A theta + c + xi`` with
    ``A = I - eps P / 2`` and noise of covariance ``eps I + (eps / 2)^2 G``, where
    ``G = (N^2 / n) Cov_i[x_i r_i / sigma^2]`` is the covariance of the minibatch gradient (``n``
    points drawn with replacement), evaluated at the residuals ``r_i`` of the posterior mean. The
    stationary covariance solves ``V = A V A' + eps I + eps^2 G / 4``; it is the posterior's
    ``P^{-1}`` plus a bias of order ``eps`` (from the Euler step, ``eps P / 4``, and from the
    minibatch noise, ``eps G / 4``). The residuals' dependence on ``theta`` is neglected (a relative
    correction of order ``1/N``).

    Example:
        >>> X, y = np.eye(2), np.zeros(2)
        >>> V = linreg_stationary_covariance(X, y, sigma=1.0, tau=1.0, eps=1e-3, batch_size=2)
        >>> bool(np.allclose(V, 0.5 * np.eye(2), rtol=1e-3))
        True
    """
    from scipy.linalg import solve_discrete_lyapunov

    X = checks.real_array("X", X, ndim=2)
    y = checks.real_array("y", y, ndim=1)
    N, d = X.shape
    if y.shape[0] != N:
        raise ValueError(f"y must have one entry per row of X ({N}); got {y.shape[0]}")
    sigma, tau = checks.positive("sigma", sigma), checks.positive("tau", tau)
    eps = checks.positive("eps", eps)
    n = checks.integer("batch_size", batch_size, high=N)
    P = X.T @ X / sigma**2 + np.eye(d) / tau**2
    mu = np.linalg.solve(P, X.T @ y / sigma**2)
    g = X * ((y - X @ mu) / sigma**2)[:, None]
    G = (N**2 / n) * np.cov(g.T, bias=True).reshape(d, d) if n < N else np.zeros((d, d))
    A = np.eye(d) - 0.5 * eps * P
    return solve_discrete_lyapunov(A, eps * np.eye(d) + 0.25 * eps**2 * G)
