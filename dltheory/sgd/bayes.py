"""Constant SGD as approximate Bayesian inference (Mandt, Hoffman & Blei 2017) on linear regression.

Data ``y = X w + noise``, ``noise ~ N(0, sigma^2)``, flat prior. The per-sample loss is
``l_n(theta) = (y_n - x_n^T theta)^2 / (2 sigma^2)``, the objective ``L = (1/N) sum_n l_n`` has
Hessian ``A = X^T X / (N sigma^2)``, and the posterior is ``N(theta_LS, (N A)^{-1})``. Minibatch SGD
with batch ``S`` (drawn with replacement) and preconditioner ``H`` is

    theta_{k+1} - theta_LS = (I - eps H A_S)(theta_k - theta_LS) - eps H xi_S,

with ``A_S`` the minibatch Hessian and ``xi_S`` the minibatch gradient at ``theta_LS``. Because
``theta_k`` is independent of the current batch and ``E xi_S = 0``, its stationary covariance solves
the *exact* linear equation ``Sigma = E[(I - eps H A_S) Sigma (I - eps H A_S)^T] + eps^2 H Cov(xi_S)
H``, a discrete Lyapunov equation with a random matrix, solved here in Kronecker form (``D^2``
unknowns). Mandt et al.'s continuous (OU) approximation gives ``A Sigma + Sigma A = (eps / S) C``
with ``C`` the per-sample gradient covariance ``B B^T``, and the KL-optimal constant rate
``eps* = 2 S D / (N tr C)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from dltheory import _checks as checks

__all__ = [
    "LinearRegression",
    "make_regression",
    "exact_sgd_covariance",
    "ou_covariance",
    "gaussian_kl",
    "mandt_lr",
    "simulate_regression_sgd",
]


@dataclass(frozen=True)
class LinearRegression:
    """A Bayesian linear-regression problem.

    Attributes:
        X: design, shape ``(N, D)``.
        y: targets, shape ``(N,)``.
        sigma2: noise variance.
        theta_ls: least-squares solution (the posterior mean).
        A: Hessian of the mean loss, ``X^T X / (N sigma2)``.
        C: per-sample gradient covariance at ``theta_ls`` (``B B^T`` of Mandt et al.).
        posterior_cov: ``(N A)^{-1}``.
    """

    X: np.ndarray
    y: np.ndarray
    sigma2: float
    theta_ls: np.ndarray
    A: np.ndarray
    C: np.ndarray
    posterior_cov: np.ndarray

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    def residual_grads(self) -> np.ndarray:
        """Per-sample gradients at ``theta_ls``, shape ``(N, D)`` (they sum to zero)."""
        r = self.X @ self.theta_ls - self.y
        return self.X * r[:, None] / self.sigma2


def make_regression(
    n: int = 1000, d: int = 5, *, scales=None, sigma2: float = 1.0, seed: int = 0
) -> LinearRegression:
    """A random problem with anisotropic design: column ``j`` of ``X`` has standard deviation
    ``scales[j]``.

    Example:
        >>> p = make_regression(200, 3, seed=0)
        >>> p.A.shape, round(float(np.abs(p.residual_grads().sum(0)).max()), 8)
        ((3, 3), 0.0)
    """
    n = checks.integer("n", n, low=2)
    d = checks.integer("d", d, high=100)
    if n <= d:
        raise ValueError(f"n must exceed d = {d}; got {n}")
    sigma2 = checks.positive("sigma2", sigma2)
    sc = np.linspace(0.5, 1.5, d) if scales is None else checks.real_array("scales", scales, ndim=1)
    if sc.shape != (d,) or (sc <= 0).any():
        raise ValueError(f"scales must hold {d} positive numbers")
    rng = np.random.default_rng(checks.seed(seed))
    X = rng.standard_normal((n, d)) * sc
    w = rng.standard_normal(d)
    y = X @ w + math.sqrt(sigma2) * rng.standard_normal(n)
    theta = np.linalg.lstsq(X, y, rcond=None)[0]
    A = X.T @ X / (n * sigma2)
    g = X * (X @ theta - y)[:, None] / sigma2
    C = g.T @ g / n
    return LinearRegression(
        X=X, y=y, sigma2=sigma2, theta_ls=theta, A=A, C=C, posterior_cov=np.linalg.inv(n * A)
    )


def _precond(problem, precond):
    if precond is None:
        return np.eye(problem.d)
    H = checks.spd("precond", precond)
    if H.shape != (problem.d, problem.d):
        raise ValueError(f"precond must have shape ({problem.d}, {problem.d}); got {H.shape}")
    return H


def exact_sgd_covariance(
    problem: LinearRegression, lr: float, batch_size: int, *, precond=None
) -> np.ndarray:
    """Exact stationary covariance of minibatch SGD (batches with replacement) on ``problem``.

    Solves ``Sigma = E[M_S Sigma M_S^T] + eps^2 H Cov(xi_S) H``, ``M_S = I - eps H A_S``, in
    Kronecker form: ``E[M_S (x) M_S] = M (x) M + eps^2 (H (x) H) (E[a (x) a] - A (x) A) / S`` with
    ``a = x x^T / sigma2`` for one sample.

    Raises:
        ValueError: if SGD has no stationary law at this ``lr`` (second moments diverge).

    Example:
        >>> p = make_regression(200, 2, seed=0)
        >>> S = exact_sgd_covariance(p, 0.01, 10)
        >>> bool(np.all(np.linalg.eigvalsh(S) > 0))
        True
    """
    if not isinstance(problem, LinearRegression):
        raise TypeError(f"problem must be a LinearRegression; got {type(problem).__name__}")
    lr = checks.positive("lr", lr)
    S = checks.integer("batch_size", batch_size)
    H = _precond(problem, precond)
    d, X = problem.d, problem.X
    I = np.eye(d)
    M = I - lr * H @ problem.A
    outer = np.einsum("ni,nj->nij", X, X) / problem.sigma2  # per-sample Hessians a_n
    flat = outer.reshape(len(X), -1)
    Eaa = flat.T @ flat / len(X)  # E[a (x) a] as a (d^2, d^2) matrix (row-major vec)
    AA = np.kron(problem.A, problem.A)
    HH = np.kron(H, H)
    T = np.kron(M, M) + lr**2 * HH @ (Eaa - AA) / S
    if np.abs(np.linalg.eigvals(T)).max() >= 1:
        raise ValueError(f"SGD has no stationary second moment at lr = {lr} (spectral radius >= 1)")
    g = problem.residual_grads()
    Q = lr**2 * H @ (g.T @ g / len(X) / S) @ H.T
    vec = np.linalg.solve(np.eye(d * d) - T, Q.reshape(-1))
    Sig = vec.reshape(d, d)
    return (Sig + Sig.T) / 2


def ou_covariance(
    problem: LinearRegression, lr: float, batch_size: int, *, precond=None
) -> np.ndarray:
    """Mandt et al.'s OU stationary covariance: ``(HA) Sigma + Sigma (HA)^T = (eps / S) H C H^T``.

    Example:
        >>> p = make_regression(200, 2, seed=0)
        >>> S = ou_covariance(p, 0.01, 10)
        >>> round(float(np.abs(p.A @ S + S @ p.A - 0.001 * p.C).max()), 12)
        0.0
    """
    if not isinstance(problem, LinearRegression):
        raise TypeError(f"problem must be a LinearRegression; got {type(problem).__name__}")
    lr = checks.positive("lr", lr)
    S = checks.integer("batch_size", batch_size)
    H = _precond(problem, precond)
    Sig = scipy.linalg.solve_continuous_lyapunov(H @ problem.A, lr / S * H @ problem.C @ H.T)
    return (Sig + Sig.T) / 2


def gaussian_kl(cov_q, cov_p) -> float:
    """``KL(N(m, cov_q) || N(m, cov_p))`` for two Gaussians with the same mean.

    Example:
        >>> round(gaussian_kl(np.eye(2), 2 * np.eye(2)), 6)
        0.193147
    """
    q = checks.spd("cov_q", cov_q)
    p = checks.spd("cov_p", cov_p)
    if q.shape != p.shape or q.shape[0] != q.shape[1]:
        raise ValueError(
            f"cov_q and cov_p must be square and of one shape; got {q.shape} and {p.shape}"
        )
    d = q.shape[0]
    sq, lq = np.linalg.slogdet(q)
    sp, lp = np.linalg.slogdet(p)
    if sq <= 0 or sp <= 0:
        raise ValueError("cov_q and cov_p must be positive definite")
    return float(0.5 * (np.trace(np.linalg.solve(p, q)) - d + lp - lq))


def mandt_lr(problem: LinearRegression, batch_size: int, *, precond=None) -> float:
    """KL-optimal constant learning rate of the OU approximation, ``eps* = D / (N tr(A Sigma_1))``.

    ``Sigma_1`` is the OU covariance at ``eps = 1``; without preconditioning this is Mandt et al.'s
    ``eps* = 2 S D / (N tr C)``.

    Example:
        >>> p = make_regression(200, 2, seed=0)
        >>> round(float(mandt_lr(p, 10) / (2 * 10 * 2 / (200 * np.trace(p.C)))), 9)
        1.0
    """
    S1 = ou_covariance(problem, 1.0, batch_size, precond=precond)
    return float(problem.d / (problem.n * np.trace(problem.A @ S1)))


def simulate_regression_sgd(
    problem: LinearRegression,
    lr: float,
    batch_size: int,
    *,
    n_chains: int = 4000,
    n_steps: int = 1000,
    precond=None,
    seed: int = 0,
) -> np.ndarray:
    """``n_chains`` independent minibatch-SGD chains started at ``theta_ls``; returns
    ``theta - theta_ls``.

    Each step draws ``batch_size`` sample indices per chain (with replacement): one gather of shape
    ``(n_chains, S, D)``.

    Example:
        >>> p = make_regression(200, 2, seed=0)
        >>> simulate_regression_sgd(p, 0.01, 10, n_chains=8, n_steps=5).shape
        (8, 2)
    """
    if not isinstance(problem, LinearRegression):
        raise TypeError(f"problem must be a LinearRegression; got {type(problem).__name__}")
    lr = checks.positive("lr", lr)
    S = checks.integer("batch_size", batch_size)
    n_chains = checks.integer("n_chains", n_chains)
    n_steps = checks.integer("n_steps", n_steps, low=0)
    checks.size("n_chains * batch_size * d", n_chains * S * problem.d)
    checks.work("n_steps", n_steps, n_chains * S * problem.d)
    H = torch.as_tensor(_precond(problem, precond))
    gen = torch.Generator().manual_seed(checks.seed(seed))
    X, y = torch.as_tensor(problem.X), torch.as_tensor(problem.y)
    th = torch.as_tensor(problem.theta_ls).repeat(n_chains, 1)
    for _ in range(n_steps):
        idx = torch.randint(problem.n, (n_chains, S), generator=gen)
        xb, yb = X[idx], y[idx]  # (n, S, D), (n, S)
        r = (xb @ th.unsqueeze(-1)).squeeze(-1) - yb
        g = (xb * r.unsqueeze(-1)).mean(1) / problem.sigma2
        th = th - lr * g @ H.T
    checks.finite_state("lr", th, lr, step=n_steps)
    return (th - torch.as_tensor(problem.theta_ls)).numpy()
