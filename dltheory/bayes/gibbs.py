"""The Gibbs posterior as the minimiser of a free energy (Donsker–Varadhan / Gibbs variational
principle).

For a prior ``p0`` and a loss ``L`` on a finite grid (weights ``p0_i > 0`` summing to one), the free
energy of a distribution ``q`` at inverse temperature ``beta`` is

    F(q) = E_q[L] + KL(q || p0) / beta,

and its unique minimiser is the Gibbs posterior ``q*_i = p0_i exp(-beta L_i) / Z`` with
``Z = sum_i p0_i exp(-beta L_i)``. The minimum is ``F(q*) = -log Z / beta``, and for every ``q``

    F(q) - F(q*) = KL(q || q*) / beta >= 0.

This is the same relative-entropy duality that linearises the Hamilton–Jacobi–Bellman equation in
path-integral control (Kappen 2005; Theodorou & Todorov 2012): there the "loss" is the path cost and
``q*`` the optimally controlled path measure. With ``beta = 1`` and ``L = -log p(data | theta)`` the
Gibbs posterior is Bayes' posterior.

Everything is computed in float64 with log-sum-exp, so the identities hold to round-off.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from dltheory import _checks as checks

__all__ = ["log_partition", "gibbs_posterior", "free_energy", "kl_divergence", "tilt"]


def _prior_loss(prior, loss):
    prior = checks.real_array("prior", prior, low=0, low_open=True, ndim=1)
    loss = checks.real_array("loss", loss, ndim=1)
    if prior.shape != loss.shape:
        raise ValueError(
            f"prior and loss must have the same shape; got {prior.shape} and {loss.shape}"
        )
    if abs(prior.sum() - 1.0) > 1e-9:
        raise ValueError(f"prior must sum to 1 (weights on the grid); got a sum of {prior.sum()}")
    return prior, loss


def _dist(name, q, n):
    q = checks.real_array(name, q, ndim=1, low=0)
    if q.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), the grid's; got {q.shape}")
    if abs(q.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1; got a sum of {q.sum()}")
    return q


def log_partition(loss, prior, *, beta: float = 1.0) -> float:
    """``log Z = log sum_i p0_i exp(-beta L_i)`` (log-sum-exp, no overflow).

    Args:
        loss: ``L_i`` on the grid, 1-D.
        prior: prior weights ``p0_i > 0`` summing to one, same shape.
        beta: inverse temperature ``> 0``.

    Example:
        >>> round(log_partition([0.0, 0.0], [0.5, 0.5], beta=2.0), 6)
        0.0
    """
    prior, loss = _prior_loss(prior, loss)
    beta = checks.positive("beta", beta)
    return float(logsumexp(np.log(prior) - beta * loss))


def gibbs_posterior(loss, prior, *, beta: float = 1.0) -> np.ndarray:
    """The Gibbs posterior ``q*_i = p0_i exp(-beta L_i) / Z`` on the grid.

    Example:
        >>> gibbs_posterior([0.0, np.log(3.0)], [0.5, 0.5]).round(6).tolist()
        [0.75, 0.25]
    """
    prior, loss = _prior_loss(prior, loss)
    beta = checks.positive("beta", beta)
    logq = np.log(prior) - beta * loss
    return np.exp(logq - logsumexp(logq))


def kl_divergence(q, p) -> float:
    """``KL(q || p) = sum_i q_i log(q_i / p_i)`` with ``0 log 0 = 0``; ``inf`` if ``q`` puts mass
    where ``p`` has none.

    Example:
        >>> round(kl_divergence([0.5, 0.5], [0.5, 0.5]), 6)
        0.0
    """
    q = checks.distribution("q", q, ndim=1)
    p = checks.distribution("p", p, ndim=1)
    if q.shape != p.shape:
        raise ValueError(f"q and p must have the same shape; got {q.shape} and {p.shape}")
    pos = q > 0
    if np.any(p[pos] == 0):
        return float("inf")
    return float(np.sum(q[pos] * (np.log(q[pos]) - np.log(p[pos]))))


def free_energy(q, loss, prior, *, beta: float = 1.0) -> float:
    """``F(q) = E_q[L] + KL(q || p0) / beta``.

    Args:
        q: a distribution on the grid (non-negative, sums to one).
        loss, prior, beta: as in :func:`gibbs_posterior`.

    Example:
        >>> L, p0 = np.array([0.0, 1.0, 2.0]), np.full(3, 1 / 3)
        >>> q = gibbs_posterior(L, p0, beta=2.0)
        >>> round(free_energy(q, L, p0, beta=2.0) + log_partition(L, p0, beta=2.0) / 2.0, 10)
        0.0
    """
    prior, loss = _prior_loss(prior, loss)
    beta = checks.positive("beta", beta)
    q = _dist("q", q, loss.size)
    return float(q @ loss + kl_divergence(q, prior) / beta)


def tilt(q, direction, *, step: float) -> np.ndarray:
    """The perturbed distribution ``q_i exp(step h_i) / norm`` (stays a distribution on the support
    of ``q``).

    Args:
        q: a distribution on the grid.
        direction: the perturbation ``h`` (same shape).
        step: size of the perturbation (any finite real).

    Example:
        >>> tilt([0.5, 0.5], [0.0, np.log(3.0)], step=1.0).round(6).tolist()
        [0.25, 0.75]
    """
    q = checks.distribution("q", q, ndim=1)
    h = checks.real_array("direction", direction, ndim=1)
    if h.shape != q.shape:
        raise ValueError(f"direction must have the shape of q {q.shape}; got {h.shape}")
    step = checks.real("step", step)
    with np.errstate(divide="ignore"):
        logq = np.log(q) + step * h
    return np.exp(logq - logsumexp(logq))
