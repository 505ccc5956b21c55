"""Posteriors known exactly: Welling & Teh's two-mode mixture on a grid, Bayesian linear regression
in closed form.

*Mixture* (Welling & Teh 2011, Sec. 5.1): ``theta_1 ~ N(0, s1^2)``, ``theta_2 ~ N(0, s2^2)`` and
``x_i ~ 1/2 N(theta_1, sx^2) + 1/2 N(theta_1 + theta_2, sx^2)`` with ``s1^2 = 10``, ``s2^2 = 1``,
``sx^2 = 2``. With data drawn at ``theta = (0, 1)`` the posterior has a second mode near ``(1, -1)``
(the labels of the two components swap). It is two-dimensional, so a grid gives it exactly up to the
grid's resolution.

*Linear regression*: ``y = X w + noise``, noise ``N(0, sigma^2)``, prior ``w ~ N(0, tau^2 I)``. The
posterior is Gaussian with precision ``P = X'X / sigma^2 + I / tau^2`` and mean
``P^{-1} X'y / sigma^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from dltheory import _checks as checks

__all__ = [
    "MixtureModel",
    "mixture_data",
    "mixture_log_posterior",
    "mixture_grad_log_lik",
    "grid_posterior",
    "linreg_data",
    "linreg_posterior",
]


@dataclass(frozen=True)
class MixtureModel:
    """Welling & Teh's mixture: prior variances ``s1_2``, ``s2_2`` and the noise variance
    ``sx_2``."""

    s1_2: float = 10.0
    s2_2: float = 1.0
    sx_2: float = 2.0

    def __post_init__(self):
        for k in ("s1_2", "s2_2", "sx_2"):
            checks.positive(k, getattr(self, k))


def mixture_data(
    *, n: int = 100, theta=(0.0, 1.0), model: MixtureModel = MixtureModel(), seed: int = 0
) -> np.ndarray:
    """``n`` points ``x_i ~ 1/2 N(theta_1, sx^2) + 1/2 N(theta_1 + theta_2, sx^2)``.

    Example:
        >>> mixture_data(n=5, seed=0).shape
        (5,)
    """
    n = checks.integer("n", n)
    checks.size("n", n)
    theta = checks.real_array("theta", theta, ndim=1)
    if theta.shape != (2,):
        raise ValueError(f"theta must have shape (2,); got {theta.shape}")
    rng = np.random.default_rng(checks.seed(seed))
    comp = rng.integers(0, 2, size=n)
    return theta[0] + comp * theta[1] + np.sqrt(model.sx_2) * rng.standard_normal(n)


def _log_lik_terms(theta1, theta2, x, sx_2):
    """``log p(x_i | theta)`` for broadcastable ``theta1``, ``theta2`` (``...``) and data ``x``
    (last axis)."""
    a = -((x - theta1[..., None]) ** 2) / (2 * sx_2)
    b = -((x - (theta1 + theta2)[..., None]) ** 2) / (2 * sx_2)
    return np.logaddexp(a, b) + np.log(0.5) - 0.5 * np.log(2 * np.pi * sx_2)


def mixture_log_posterior(theta1, theta2, x, *, model: MixtureModel = MixtureModel()) -> np.ndarray:
    """Unnormalised ``log p(theta | x)`` (prior plus likelihood), broadcast over ``theta1``,
    ``theta2``.

    Example:
        >>> x = mixture_data(n=100, seed=0)
        >>> lp = mixture_log_posterior(np.array([0.0, 1.0]), np.array([1.0, -1.0]), x)
        >>> bool(abs(lp[0] - lp[1]) < 5)
        True
    """
    t1 = checks.real_array("theta1", theta1)
    t2 = checks.real_array("theta2", theta2)
    x = checks.real_array("x", x, ndim=1)
    t1, t2 = np.broadcast_arrays(t1, t2)
    prior = -(t1**2) / (2 * model.s1_2) - t2**2 / (2 * model.s2_2)
    return prior + _log_lik_terms(t1, t2, x, model.sx_2).sum(-1)


def mixture_grad_log_lik(theta, x, *, model: MixtureModel = MixtureModel()) -> np.ndarray:
    """Gradient of ``log p(x_i | theta)`` with respect to ``theta``, one data point per chain.

    Args:
        theta: ``(C, 2)`` parameters of ``C`` chains.
        x: ``(C,)`` or ``(C, B)`` data points used by each chain.

    Returns:
        ``(C, 2)``, the sum over each chain's points of the per-point gradients.

    Example:
        >>> mixture_grad_log_lik(np.zeros((1, 2)), np.zeros(1)).tolist()
        [[0.0, 0.0]]
    """
    theta = checks.real_array("theta", theta, ndim=2)
    x = checks.real_array("x", x, ndim=(1, 2))
    if theta.shape[1] != 2 or x.shape[0] != theta.shape[0]:
        raise ValueError(
            f"theta must be (C, 2) and x (C,) or (C, B); got {theta.shape} and {x.shape}"
        )
    return _grad_log_lik(theta, x[:, None] if x.ndim == 1 else x, model.sx_2)


def _grad_log_lik(theta, x, sx_2):
    t1, t2 = theta[:, :1], theta[:, 1:]
    d1, d2 = x - t1, x - t1 - t2
    # responsibility of the second component, computed stably
    r = 1.0 / (1.0 + np.exp(np.clip((d2**2 - d1**2) / (2 * sx_2), -700, 700)))
    return (
        np.concatenate(
            [((1 - r) * d1 + r * d2).sum(1, keepdims=True), (r * d2).sum(1, keepdims=True)], 1
        )
        / sx_2
    )


def grid_posterior(
    theta1_grid, theta2_grid, x, *, model: MixtureModel = MixtureModel()
) -> np.ndarray:
    """The posterior's mass on the cells of a rectangular grid (midpoint rule), summing to one.

    Args:
        theta1_grid, theta2_grid: increasing 1-D arrays of cell centres.

    Returns:
        ``(len(theta1_grid), len(theta2_grid))`` cell masses.

    Example:
        >>> x = mixture_data(n=100, seed=0)
        >>> round(float(grid_posterior(np.linspace(-2, 3, 51), np.linspace(-3, 3, 61), x).sum()), 6)
        1.0
    """
    g1 = checks.increasing("theta1_grid", theta1_grid)
    g2 = checks.increasing("theta2_grid", theta2_grid)
    lp = mixture_log_posterior(g1[:, None], g2[None, :], x, model=model)
    return np.exp(lp - logsumexp(lp))


def linreg_data(
    *, n: int = 200, d: int = 2, sigma: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic regression data ``(X, y, w_true)``: Gaussian inputs (correlated),
    ``y = X w + sigma xi``.

    Example:
        >>> X, y, w = linreg_data(n=10, d=2)
        >>> X.shape, y.shape, w.shape
        ((10, 2), (10,), (2,))
    """
    n, d = checks.integer("n", n), checks.integer("d", d)
    checks.size("n * d", n * d)
    sigma = checks.positive("sigma", sigma)
    rng = np.random.default_rng(checks.seed(seed))
    mix = np.eye(d) + 0.5 * rng.standard_normal((d, d)) / np.sqrt(d)
    X = rng.standard_normal((n, d)) @ mix
    w = rng.standard_normal(d)
    return X, X @ w + sigma * rng.standard_normal(n), w


def linreg_posterior(
    X, y, *, sigma: float = 1.0, tau: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and covariance of Bayesian linear regression (closed form).

    ``Sigma = (X'X / sigma^2 + I / tau^2)^{-1}``, ``mu = Sigma X'y / sigma^2``.

    Example:
        >>> mu, S = linreg_posterior(np.eye(2), np.array([1.0, 2.0]), sigma=1.0, tau=1.0)
        >>> mu.tolist(), S.tolist()
        ([0.5, 1.0], [[0.5, 0.0], [0.0, 0.5]])
    """
    X = checks.real_array("X", X, ndim=2)
    y = checks.real_array("y", y, ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per row of X ({X.shape[0]}); got {y.shape[0]}")
    sigma, tau = checks.positive("sigma", sigma), checks.positive("tau", tau)
    P = X.T @ X / sigma**2 + np.eye(X.shape[1]) / tau**2
    S = np.linalg.inv(P)
    return S @ X.T @ y / sigma**2, S
