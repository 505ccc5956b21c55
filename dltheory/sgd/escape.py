"""The Gibbs law of SGD and its escape over barriers (Kramers / Eyring), isotropic or anisotropic
noise.

With isotropic Gaussian gradient noise of variance ``s2 / B`` per coordinate, SGD with a small
learning rate ``eta`` is the Euler–Maruyama scheme of the Langevin equation
``dX = -grad L dt + sqrt(2 T) dW`` at temperature ``T = eta s2 / (2 B)`` (time ``t = k eta``), whose
stationary law is the Gibbs density ``exp(-L / T) / Z``. The mean time to leave a minimum over a
saddle is, for ``T << Delta L``, the Eyring–Kramers formula

    tau = 2 pi / sqrt(L''(x_min) |L''(x_s)|) * exp(Delta L / T).

This module gives the double well ``L(x) = h (x^2 - 1)^2`` (minima at +-1, saddle at 0, barrier
``h``), its Gibbs CDF, the Kramers time and the exact 1-D mean first-passage time (by quadrature),
and vectorised simulators of SGD's escapes (10^4 chains are one tensor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import integrate

from dltheory import _checks as checks

__all__ = [
    "double_well",
    "double_well_grad",
    "kramers_time",
    "mfpt_exact",
    "gibbs_cdf",
    "EscapeCounts",
    "simulate_double_well",
    "simulate_escapes",
    "simulate_basin_escapes",
    "rate_ratio_interval",
    "gibbs_ks_power",
]


def double_well(x, h: float = 0.25):
    """``L(x) = h (x^2 - 1)^2``: minima at ``+-1`` (``L'' = 8h``), saddle at 0 (``L'' = -4h``),
    barrier ``h``.

    Example:
        >>> round(float(double_well(0.0)), 6)
        0.25
    """
    h = checks.positive("h", h)
    return h * (x * x - 1) ** 2


def double_well_grad(x, h: float = 0.25):
    """``L'(x) = 4 h x (x^2 - 1)``.

    Example:
        >>> round(float(double_well_grad(2.0)), 6)
        6.0
    """
    h = checks.positive("h", h)
    return 4 * h * x * (x * x - 1)


def kramers_time(curv_min: float, curv_saddle: float, barrier: float, temperature) -> np.ndarray:
    """Eyring–Kramers mean escape time ``2 pi / sqrt(L''_min |L''_s|) exp(Delta L / T)``
    (overdamped).

    Args:
        curv_min: ``L''`` at the minimum (> 0).
        curv_saddle: ``L''`` at the saddle (< 0; its absolute value is used).
        barrier: ``Delta L = L(x_s) - L(x_min)`` (> 0).
        temperature: ``T`` (> 0), scalar or array.

    Example:
        >>> round(float(kramers_time(2.0, -1.0, 0.25, 0.0625)), 4)
        242.5732
    """
    curv_min = checks.positive("curv_min", curv_min)
    curv_saddle = checks.real("curv_saddle", curv_saddle, high=0.0, high_open=True)
    barrier = checks.positive("barrier", barrier)
    T = checks.real_array("temperature", temperature)
    if (T <= 0).any():
        raise ValueError("temperature must be > 0")
    return 2 * math.pi / math.sqrt(curv_min * abs(curv_saddle)) * np.exp(barrier / T)


def mfpt_exact(
    temperature: float,
    h: float = 0.25,
    *,
    start: float = -1.0,
    target: float = 1.0,
    n_grid: int = 200_001,
) -> float:
    """Exact mean first-passage time of ``dX = -L' dt + sqrt(2T) dW`` from ``start`` to ``target``.

    ``tau = (1/T) int_start^target e^{L(y)/T} int_{-inf}^y e^{-L(z)/T} dz dy`` (reflecting at
    ``-inf``), by the trapezoidal rule on ``n_grid`` points (relative error below 1e-8 at the book's
    temperatures).

    Example:
        >>> round(mfpt_exact(0.0625) / float(kramers_time(2.0, -1.0, 0.25, 0.0625)), 3)
        1.142
    """
    T = checks.positive("temperature", temperature)
    h = checks.positive("h", h)
    start, target = checks.real("start", start), checks.real("target", target)
    if target <= start:
        raise ValueError(f"target must be > start = {start}; got {target}")
    n_grid = checks.integer("n_grid", n_grid, low=101, high=10**8)
    lo = min(start, -1.0) - 1.0 - 3.0 * (T / h) ** 0.25
    x = np.linspace(lo, target, n_grid)
    Lx = double_well(x, h)
    inner = integrate.cumulative_trapezoid(np.exp(-(Lx - Lx.min()) / T), x, initial=0.0)
    m = x >= start
    return float(integrate.trapezoid(np.exp((Lx[m] - Lx.min()) / T) * inner[m], x[m]) / T)


def gibbs_cdf(x, temperature: float, h: float = 0.25, *, n_grid: int = 20_001):
    """CDF of the Gibbs density ``exp(-L/T) / Z`` of the double well, by quadrature on a fine grid.

    Example:
        >>> round(float(gibbs_cdf(0.0, 0.1)), 6)
        0.5
    """
    T = checks.positive("temperature", temperature)
    h = checks.positive("h", h)
    x = checks.real_array("x", x, allow_inf=True)
    n_grid = checks.integer("n_grid", n_grid, low=101, high=10**8)
    half = 1.0 + 6.0 * (T / h) ** 0.25 + 1.0
    g = np.linspace(-half, half, n_grid)
    c = integrate.cumulative_trapezoid(np.exp(-double_well(g, h) / T), g, initial=0.0)
    return np.interp(x, g, c / c[-1], left=0.0, right=1.0)


def simulate_double_well(
    temperature: float,
    lr: float,
    *,
    h: float = 0.25,
    n_chains: int = 10_000,
    n_steps: int = 1000,
    seed: int = 0,
) -> torch.Tensor:
    """Final states of ``n_chains`` SGD chains on the double well at temperature
    ``T = eta s2 / (2B)``.

    ``x <- x - eta (L'(x) + xi)``, ``xi ~ N(0, 2T / eta)``; half the chains start at -1, half at +1
    (the well occupancy is then right by symmetry and only the fast in-well relaxation is needed).

    Example:
        >>> x = simulate_double_well(0.1, 0.01, n_chains=4, n_steps=10)
        >>> tuple(x.shape)
        (4,)
    """
    T = checks.positive("temperature", temperature)
    lr = checks.positive("lr", lr)
    h = checks.positive("h", h)
    n_chains = checks.integer("n_chains", n_chains, low=2)
    n_steps = checks.integer("n_steps", n_steps, low=0)
    checks.size("n_chains", n_chains)
    checks.work("n_steps", n_steps, n_chains)
    if lr * 8 * h >= 2:
        raise ValueError(f"lr must be < 2 / L''(x_min) = {1 / (4 * h):g} for stable SGD; got {lr}")
    gen = torch.Generator().manual_seed(checks.seed(seed))
    x = torch.ones(n_chains, dtype=torch.float64)
    x[: n_chains // 2] = -1.0
    sd = math.sqrt(2 * T * lr)
    for _ in range(n_steps):
        x = (
            x
            - lr * double_well_grad(x, h)
            + sd * torch.randn(n_chains, generator=gen, dtype=torch.float64)
        )
    return x


@dataclass(frozen=True)
class EscapeCounts:
    """Escapes of a renewal simulation: each chain restarts at the minimum after every escape.

    Attributes:
        escapes: number of escapes per group, shape ``(G,)``.
        exposure: total simulated time (chains x steps x lr) per group, shape ``(G,)``.
    """

    escapes: np.ndarray
    exposure: np.ndarray

    @property
    def mean_time(self) -> np.ndarray:
        """Maximum-likelihood mean escape time ``exposure / escapes`` (exponential waiting
        times)."""
        return self.exposure / np.maximum(self.escapes, 1)

    @property
    def rel_se(self) -> np.ndarray:
        """Relative standard error of :attr:`mean_time`, ``1 / sqrt(escapes)`` (Poisson counts)."""
        return 1.0 / np.sqrt(np.maximum(self.escapes, 1))


def simulate_escapes(
    temperature,
    lr: float,
    *,
    h: float = 0.25,
    target: float = 1.0,
    chains,
    n_steps: int,
    burn_in: int = 0,
    seed: int = 0,
) -> EscapeCounts:
    """Renewal simulation of SGD escapes from ``x = -1`` of the double well to ``x >= target``.

    All temperatures run together: group ``g`` has ``chains[g]`` chains at temperature
    ``temperature[g]``; a chain reaching ``x >= target`` counts one escape and restarts at -1. The
    first ``burn_in`` steps are not counted, so the chains start counting from the quasi-stationary
    state in the well (the Kramers rate is the escape rate from that state; counting from ``x = -1``
    at once would add the relaxation time to every first cycle).

    Example:
        >>> c = simulate_escapes([0.25], 0.02, chains=[100], n_steps=500, seed=0)
        >>> bool(c.escapes[0] > 0)
        True
    """
    T = checks.real_array("temperature", temperature, ndim=1)
    if (T <= 0).any():
        raise ValueError("temperature must be > 0")
    lr = checks.positive("lr", lr)
    h = checks.positive("h", h)
    n = checks.real_array("chains", chains, ndim=1)
    if n.shape != T.shape or (n < 1).any() or (n != np.round(n)).any():
        raise ValueError(f"chains must hold one positive integer per temperature ({len(T)})")
    n = n.astype(int)
    n_steps = checks.integer("n_steps", n_steps)
    burn_in = checks.integer("burn_in", burn_in, low=0)
    checks.size("chains", int(n.sum()))
    checks.work("n_steps", burn_in + n_steps, int(n.sum()))
    if lr * 8 * h >= 2:
        raise ValueError(f"lr must be < {1 / (4 * h):g} for stable SGD; got {lr}")
    gen = torch.Generator().manual_seed(checks.seed(seed))
    group = torch.repeat_interleave(torch.arange(len(T)), torch.as_tensor(n))
    sd = torch.sqrt(2 * torch.as_tensor(T)[group] * lr)
    x = torch.full((int(n.sum()),), -1.0, dtype=torch.float64)
    hits = torch.zeros(int(n.sum()), dtype=torch.float64)
    for k in range(burn_in + n_steps):
        x = (
            x
            - lr * double_well_grad(x, h)
            + sd * torch.randn(x.shape, generator=gen, dtype=torch.float64)
        )
        out = x >= target
        if k >= burn_in:
            hits += out
        x = torch.where(out, -1.0, x)
    esc = torch.zeros(len(T), dtype=torch.float64).index_add_(0, group, hits).numpy()
    return EscapeCounts(escapes=esc, exposure=n * n_steps * lr)


def simulate_basin_escapes(
    hessian, noise_covs, lr: float, barrier: float, *, chains: int, n_steps: int, seed: int = 0
) -> EscapeCounts:
    """Renewal simulation of SGD leaving the quadratic basin ``{L < barrier}``, ``L = x^T H x / 2``.

    ``theta <- theta - eta (H theta + xi)``, ``xi ~ N(0, Sigma_g)`` for each noise covariance
    ``Sigma_g`` in ``noise_covs`` (shape ``(G, d, d)``), ``chains`` chains each; a chain with
    ``L(theta) >= barrier`` counts one escape and restarts at the minimum 0.

    Example:
        >>> c = simulate_basin_escapes(
        ...     [[4.0, 0.0], [0.0, 0.25]],
        ...     [[[1.0, 0.0], [0.0, 1.0]]],
        ...     0.05,
        ...     0.05,
        ...     chains=50,
        ...     n_steps=200,
        ... )
        >>> c.escapes.shape
        (1,)
    """
    H = torch.as_tensor(checks.spd("hessian", hessian))
    S = checks.real_array("noise_covs", noise_covs, ndim=3)
    d = H.shape[0]
    if S.shape[1:] != (d, d):
        raise ValueError(f"noise_covs must have shape (G, {d}, {d}); got {S.shape}")
    roots = []
    for i, s in enumerate(S):
        checks.spd(f"noise_covs[{i}]", s, psd=True)
        lam, V = np.linalg.eigh(s)
        roots.append(V * np.sqrt(np.clip(lam, 0, None)) @ V.T)
    R = torch.as_tensor(np.stack(roots))  # (G, d, d)
    lr = checks.positive("lr", lr)
    barrier = checks.positive("barrier", barrier)
    chains = checks.integer("chains", chains)
    n_steps = checks.integer("n_steps", n_steps)
    checks.size("chains", chains * len(S) * d)
    checks.work("n_steps", n_steps, chains * len(S) * d * d)
    if lr * float(torch.linalg.eigvalsh(H).max()) >= 2:
        raise ValueError("lr must be < 2 / lambda_max(hessian) for stable SGD")
    gen = torch.Generator().manual_seed(checks.seed(seed))
    G = len(S)
    th = torch.zeros(G, chains, d, dtype=torch.float64)
    hits = torch.zeros(G, dtype=torch.float64)
    M = torch.eye(d, dtype=torch.float64) - lr * H
    for _ in range(n_steps):
        z = torch.randn(G, chains, d, generator=gen, dtype=torch.float64)
        th = th @ M.T - lr * torch.bmm(z, R.transpose(1, 2))
        out = 0.5 * ((th @ H) * th).sum(-1) >= barrier
        hits += out.sum(1)
        th = th * (~out).unsqueeze(-1)
    return EscapeCounts(escapes=hits.numpy(), exposure=np.full(G, chains * n_steps * lr))


def rate_ratio_interval(
    counts: EscapeCounts, i: int, j: int, *, level: float = 0.99
) -> tuple[float, float, float]:
    """Ratio ``mean_time[i] / mean_time[j]`` and its normal-approximation confidence interval.

    The log of the ratio of two Poisson rates has standard error ``sqrt(1/n_i + 1/n_j)``.

    Returns:
        ``(ratio, low, high)``.

    Example:
        >>> c = EscapeCounts(escapes=np.array([400.0, 1600.0]), exposure=np.array([1.0, 1.0]))
        >>> [round(v, 3) for v in rate_ratio_interval(c, 0, 1)]
        [4.0, 3.464, 4.62]
    """
    from scipy import stats

    level = checks.probability("level", level, open_low=True, open_high=True)
    if not isinstance(counts, EscapeCounts):
        raise TypeError(f"counts must be an EscapeCounts; got {type(counts).__name__}")
    g = len(counts.escapes)
    i = checks.integer("i", i, low=0, high=g - 1)
    j = checks.integer("j", j, low=0, high=g - 1)
    if counts.escapes[i] <= 0 or counts.escapes[j] <= 0:
        raise ValueError(
            f"counts must hold at least one escape in groups i={i} and j={j} for a rate ratio; "
            f"got {counts.escapes[i]:g} and {counts.escapes[j]:g} (run longer)"
        )
    r = float(counts.mean_time[i] / counts.mean_time[j])
    se = math.sqrt(1 / counts.escapes[i] + 1 / counts.escapes[j])
    z = stats.norm.ppf(0.5 + level / 2)
    return r, r * math.exp(-z * se), r * math.exp(z * se)


def gibbs_ks_power(
    temperature: float,
    alt_temperature: float,
    n: int,
    *,
    alpha: float,
    h: float = 0.25,
    reps: int = 200,
    seed: int = 0,
) -> float:
    """Power of the Kolmogorov–Smirnov test against the Gibbs law at ``temperature`` when the ``n``
    samples follow the Gibbs law at ``alt_temperature``.

    The samples are drawn by inverting the Gibbs CDF on a fine grid, ``reps`` data sets at once, and
    the p-value is that of the exact two-sided one-sample KS distribution (scipy's ``kstwo``).

    Example:
        >>> gibbs_ks_power(0.125, 0.25, 2000, alpha=0.01) > 0.99
        True
    """
    from scipy import stats

    T0 = checks.positive("temperature", temperature)
    T1 = checks.positive("alt_temperature", alt_temperature)
    n = checks.integer("n", n, low=2)
    alpha = checks.probability("alpha", alpha, open_low=True, open_high=True)
    reps = checks.integer("reps", reps, low=200, high=10**5)
    checks.size("n * reps", n * reps)
    half = 2.0 + 6.0 * (max(T0, T1) / h) ** 0.25
    g = np.linspace(-half, half, 200_001)
    c1 = gibbs_cdf(g, T1, h)
    u = np.sort(np.random.default_rng(checks.seed(seed)).random((reps, n)), axis=1)
    x = np.interp(u, c1, g)
    F = gibbs_cdf(x.ravel(), T0, h).reshape(reps, n)
    i = np.arange(1, n + 1)
    D = np.maximum((i / n - F).max(1), (F - (i - 1) / n).max(1))
    return float((stats.kstwo.sf(D, n) < alpha).mean())
