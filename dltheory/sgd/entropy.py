"""Flat minima by local entropy (Chaudhari et al.): smoothing, its Hamilton–Jacobi equation,
Entropy-SGD.

The local-entropy loss at scope ``gamma`` is

    f_gamma(x) = -log int (2 pi gamma)^{-1/2} exp(-f(y) - (x - y)^2 / (2 gamma)) dy,

the negative log of the Gaussian smoothing of ``e^{-f}`` (Chaudhari et al. 2017, "Entropy-SGD"). Its
gradient is ``(x - <y>) / gamma`` and its curvature ``1/gamma - Var(y) / gamma^2``, moments of the
local Gibbs measure ``rho_x(y) ~ exp(-f(y) - (x - y)^2 / (2 gamma))``; for ``f = a x^2 / 2`` the
curvature is ``a / (1 + a gamma)``. As a function of ``(x, t = gamma)`` it solves the viscous
Hamilton–Jacobi equation

    u_t = -1/2 |u_x|^2 + 1/2 u_xx,        u(x, 0) = f(x),

because ``v = e^{-u}`` solves the heat equation ``v_t = v_xx / 2`` (Cole–Hopf; Chaudhari, Oberman,
Osher, Soatto & Carlier 2018). Entropy-SGD descends ``f_gamma`` with ``<y>`` estimated by an inner
Langevin loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks

__all__ = [
    "local_entropy",
    "local_entropy_curvature",
    "local_gibbs_moments",
    "hamilton_jacobi",
    "TwoBasins",
    "descend",
]


def _grid(x, gamma, y_range, n_y):
    y = np.linspace(y_range[0], y_range[1], n_y)
    return y, (x[..., None] - y) ** 2 / (2 * gamma)


def _y_range(x, gamma, y_range):
    lo, hi = checks.interval("y_range", y_range)
    margin = 6 * math.sqrt(gamma)  # the Gaussian factor is below exp(-18) beyond it
    if hi - lo <= 2 * margin:
        raise ValueError(
            f"y_range {(lo, hi)} is too narrow for gamma={gamma:g}: it must extend 6 sqrt(gamma) = "
            f"{margin:.3g} beyond x on both sides"
        )
    checks.real_array("x", x, low=lo + margin, high=hi - margin)
    return lo, hi


def local_gibbs_moments(f, x, gamma: float, *, y_range=(-10.0, 10.0), n_y: int = 8001):
    """Mean and variance of the local Gibbs measure ``rho_x(y) ~ exp(-f(y) - (x - y)^2 / (2
    gamma))``.

    By the trapezoidal rule on ``n_y`` points of ``y_range`` (spectrally accurate for smooth,
    decaying integrands).

    Returns:
        ``(mean, var)`` arrays of the shape of ``x``.

    Example:
        >>> m, v = local_gibbs_moments(lambda y: 0.5 * y**2, [0.0], 1.0)
        >>> round(float(v[0]), 6)
        0.5
    """
    f = checks.function("f", f)
    x = checks.real_array("x", x, ndim=(1, 2, 3))
    gamma = checks.positive("gamma", gamma)
    n_y = checks.integer("n_y", n_y, low=101, high=10**7)
    checks.size("x and n_y", x.size * n_y)
    y_range = _y_range(x, gamma, y_range)
    y, q = _grid(x, gamma, y_range, n_y)
    e = -(np.asarray(f(y), dtype=float) + q)
    w = np.exp(e - e.max(-1, keepdims=True))
    z = w.sum(-1)
    m = (w * y).sum(-1) / z
    v = (w * (y - m[..., None]) ** 2).sum(-1) / z
    return m, v


def local_entropy(f, x, gamma: float, *, y_range=(-10.0, 10.0), n_y: int = 8001) -> np.ndarray:
    """``f_gamma(x) = -log int (2 pi gamma)^{-1/2} exp(-f(y) - (x-y)^2/(2 gamma)) dy`` by
    quadrature.

    Example:
        >>> round(float(local_entropy(lambda y: 0.5 * y**2, [1.0], 1.0)[0]), 6)  # x^2/4 + log(2)/2
        0.596574
    """
    f = checks.function("f", f)
    x = checks.real_array("x", x, ndim=(1, 2, 3))
    gamma = checks.positive("gamma", gamma)
    n_y = checks.integer("n_y", n_y, low=101, high=10**7)
    checks.size("x and n_y", x.size * n_y)
    y_range = _y_range(x, gamma, y_range)
    y, q = _grid(x, gamma, y_range, n_y)
    e = -(np.asarray(f(y), dtype=float) + q)
    mx = e.max(-1)
    dy = y[1] - y[0]
    s = np.exp(e - mx[..., None])
    integral = (s.sum(-1) - 0.5 * (s[..., 0] + s[..., -1])) * dy
    return -(mx + np.log(integral)) + 0.5 * math.log(2 * math.pi * gamma)


def local_entropy_curvature(a, gamma) -> np.ndarray:
    """Curvature ``a / (1 + a gamma)`` of the local entropy of ``f = a x^2 / 2`` (closed form).

    Example:
        >>> round(float(local_entropy_curvature(10.0, 0.1)), 6)
        5.0
    """
    a = checks.real_array("a", a)
    g = checks.real_array("gamma", gamma)
    if (a <= 0).any() or (g <= 0).any():
        raise ValueError("a and gamma must be > 0")
    return a / (1 + a * g)


def hamilton_jacobi(f0, x_grid, t_end: float, *, cfl: float = 0.25) -> np.ndarray:
    """Solve ``u_t = -u_x^2 / 2 + u_xx / 2`` from ``u(., 0) = f0`` to ``t_end`` by finite
    differences.

    Explicit Euler in time with ``dt = cfl dx^2`` (stable for ``cfl <= 1``; the error is
    ``O(dx^2 + dt) = O(dx^2)``), central differences in space; the boundary values follow quadratic
    extrapolation, so compare in the interior, far from the ends.

    Args:
        f0: initial values on ``x_grid`` (1-D).
        x_grid: equispaced grid.
        t_end: final time (the scope ``gamma``).

    Example:
        >>> x = np.linspace(-4, 4, 161)
        >>> u = hamilton_jacobi(0.5 * x**2, x, 1.0)
        >>> round(float(u[80]), 3)  # exact log(2)/2 = 0.347
        0.347
    """
    x = checks.real_array("x_grid", x_grid, ndim=1)
    u = checks.real_array("f0", f0, ndim=1)
    if u.shape != x.shape or len(x) < 5:
        raise ValueError(
            f"f0 must have the shape of x_grid (at least 5 points); got {u.shape} and {x.shape}"
        )
    dx = np.diff(x)
    if (dx <= 0).any() or np.ptp(dx) > 1e-9 * dx.mean():
        raise ValueError("x_grid must be increasing and equispaced")
    t_end = checks.positive("t_end", t_end)
    cfl = checks.real("cfl", cfl, low=0.0, high=1.0, low_open=True)
    h = dx.mean()
    n = max(1, math.ceil(t_end / (cfl * h * h)))
    checks.size("t_end / dx^2 steps", n)
    checks.work("t_end", n, len(x))
    dt = t_end / n
    u = u.copy()
    for _ in range(n):
        ux = (u[2:] - u[:-2]) / (2 * h)
        uxx = (u[2:] - 2 * u[1:-1] + u[:-2]) / (h * h)
        u[1:-1] += dt * (-0.5 * ux**2 + 0.5 * uxx)
        u[0] = 3 * u[1] - 3 * u[2] + u[3]
        u[-1] = 3 * u[-2] - 3 * u[-3] + u[-4]
    return u


@dataclass(frozen=True)
class TwoBasins:
    """A 1-D landscape with a deep narrow minimum and a shallow wide one, plus a weak confinement.

    ``f(x) = -d1 exp(-(x - c1)^2 / (2 w1^2)) - d2 exp(-(x - c2)^2 / (2 w2^2)) + k x^2 / 2``.

    Attributes:
        c1, w1, d1: centre, width and depth of the narrow basin.
        c2, w2, d2: the same for the wide basin.
        k: confinement.
        saddle: the point between the basins where ``f`` has its local maximum (the basin boundary).

    Example:
        >>> L = TwoBasins()
        >>> bool(L.c1 < L.saddle < L.c2)
        True
    """

    c1: float = -1.0
    w1: float = 0.12
    d1: float = 1.5
    c2: float = 1.5
    w2: float = 0.8
    d2: float = 1.0
    k: float = 0.05

    def __post_init__(self):
        for name in ("c1", "c2"):
            checks.real(name, getattr(self, name))
        for name in ("w1", "w2"):
            checks.positive(name, getattr(self, name))
        for name in ("d1", "d2"):  # depth 0: no basin (the pure quadratic confinement)
            checks.positive(name, getattr(self, name), allow_zero=True)
        checks.positive("k", self.k, allow_zero=True)

    def __call__(self, x):
        return (
            -self.d1 * np.exp(-((x - self.c1) ** 2) / (2 * self.w1**2))
            - self.d2 * np.exp(-((x - self.c2) ** 2) / (2 * self.w2**2))
            + 0.5 * self.k * x**2
        )

    def grad(self, x):
        """``f'(x)`` (works on numpy arrays and torch tensors)."""
        exp = torch.exp if isinstance(x, torch.Tensor) else np.exp
        return (
            self.d1 * (x - self.c1) / self.w1**2 * exp(-((x - self.c1) ** 2) / (2 * self.w1**2))
            + self.d2 * (x - self.c2) / self.w2**2 * exp(-((x - self.c2) ** 2) / (2 * self.w2**2))
            + self.k * x
        )

    @property
    def saddle(self) -> float:
        xs = np.linspace(self.c1, self.c2, 200_001)
        return float(xs[np.argmax(self(xs))])

    def gibbs_moments(
        self, temperature: float, *, half_width: float = 60.0, n_grid: int = 400_001
    ) -> tuple[float, float, float]:
        """Mass right of :attr:`saddle`, mean and variance of the Gibbs law ``exp(-f/T)/Z``.

        Quadrature on ``[-half_width, half_width]`` (the confinement ``k x^2/2`` makes the tails
        Gaussian of variance ``T/k``; the default range covers ``T <= 1`` with ``k >= 0.01``).

        Example:
            >>> frac, mean, var = TwoBasins(d1=0.0, d2=0.0, k=1.0).gibbs_moments(0.5)
            >>> round(mean, 6), round(var, 6)
            (0.0, 0.5)
        """
        T = checks.positive("temperature", temperature)
        w = checks.positive("half_width", half_width)
        x = np.linspace(-w, w, checks.integer("n_grid", n_grid))
        f = self(x)
        p = np.exp(-(f - f.min()) / T)
        p /= p.sum()
        mean = float((p * x).sum())
        return float(p[x > self.saddle].sum()), mean, float((p * (x - mean) ** 2).sum())


def descend(
    landscape: TwoBasins,
    starts,
    *,
    method: str = "sgd",
    lr: float = 0.01,
    n_steps: int = 500,
    noise: float = 0.1,
    gamma: float = 0.3,
    inner_steps: int = 20,
    inner_lr: float = 0.005,
    seed: int = 0,
) -> np.ndarray:
    """Run SGD or Entropy-SGD on a :class:`TwoBasins` landscape from each start (vectorised).

    * ``"sgd"``: ``x <- x - eta (f'(x) + noise * z)``.
    * ``"entropy-sgd"``: ``x <- x - eta (x - mu) / gamma``, where ``mu`` is the average of an inner
      Langevin chain ``y <- y - eta' (f'(y) + (y - x) / gamma) + sqrt(2 eta') z`` (temperature 1,
      the scale of the local entropy above) of ``inner_steps`` steps started at ``x`` (Chaudhari et
      al.'s Entropy-SGD at a fixed scope ``gamma``).

    Returns:
        Final positions, shape of ``starts``.

    Example:
        >>> x = descend(TwoBasins(), [-1.1, 1.2], n_steps=200)
        >>> [round(float(v)) for v in x]
        [-1, 1]
    """
    if not isinstance(landscape, TwoBasins):
        raise TypeError(f"landscape must be a TwoBasins; got {type(landscape).__name__}")
    x = torch.as_tensor(checks.real_array("starts", starts, ndim=1))
    method = checks.choice("method", method, ["sgd", "entropy-sgd"])
    lr = checks.positive("lr", lr)
    n_steps = checks.integer("n_steps", n_steps)
    noise = checks.positive("noise", noise, allow_zero=True)
    gamma = checks.positive("gamma", gamma)
    inner_steps = checks.integer("inner_steps", inner_steps)
    inner_lr = checks.positive("inner_lr", inner_lr)
    checks.work("n_steps", n_steps * (inner_steps if method == "entropy-sgd" else 1), x.numel())
    gen = torch.Generator().manual_seed(checks.seed(seed))
    sd = math.sqrt(2 * inner_lr)
    for _ in range(n_steps):
        if method == "sgd":
            x = x - lr * (
                landscape.grad(x) + noise * torch.randn(x.shape, generator=gen, dtype=x.dtype)
            )
        else:
            y, mu = x.clone(), torch.zeros_like(x)
            for _ in range(inner_steps):
                y = (
                    y
                    - inner_lr * (landscape.grad(y) + (y - x) / gamma)
                    + sd * torch.randn(x.shape, generator=gen, dtype=x.dtype)
                )
                mu += y / inner_steps
            x = x - lr * (x - mu) / gamma
    checks.finite_state("lr", x, lr, step=n_steps)
    return x.numpy()
