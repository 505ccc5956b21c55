"""The Gaussian integrals of mean field theory, exact where a closed form exists.

For an activation ``phi`` and ``u ~ N(0, q)`` (one input) or a pair ``(u_1, u_2)`` with equal
variances ``q`` and correlation ``c`` (two inputs) the maps need

* ``E[phi(u)^2]`` and ``E[phi'(u)^2]`` (length map, chi_1),
* the slope of ``q -> E[phi(sqrt(q) z)^2]``, which is ``E[phi'^2 + phi phi'']`` by Price's theorem,
  kinks included (``phi''`` then has delta functions; see :func:`length_slope`),
* ``E[phi(u_1) phi(u_2)]`` and ``E[phi'(u_1) phi'(u_2)]`` (correlation map and its slope).

How each is computed depends on the activation (:func:`rule`):

``"closed"``
    ReLU: the arc-cosine kernels of order 1 and 0 (Cho & Saul 2009),
    ``E[phi phi] = q (sqrt(1 - c^2) + (pi - arccos c) c) / (2 pi)`` and
    ``E[phi' phi'] = (pi - arccos c) / (2 pi)``; erf: the arcsine kernel (Williams 1997),
    ``E[phi phi] = (2 / pi) arcsin(2 q c / (1 + 2 q))`` and ``E[phi' phi'] = (4 / pi) / sqrt((1 + 2
    q)^2 - 4 q^2 c^2)``; linear: ``q c`` and ``1``. Exact to rounding (~1e-15 relative).
``"smooth"``
    Twice differentiable activations (tanh, sigmoid, any callable): Gauss--Hermite quadrature with
    ``N_QUAD`` nodes in 1-D and Mehler's series in 2-D (:mod:`dltheory.meanfield.quadrature`); error
    below 1e-10 for tanh at ``q <= 10``.
``"split"``
    Activations with kinks at known points (hard tanh at +-1, or an :class:`Activation` with
    ``kinks``): the integral over ``z`` is split at the kinks ``z = k / sqrt(q)`` and each smooth
    piece is integrated by Gauss--Legendre with ``N_SPLIT`` nodes on ``[-Z_MAX, Z_MAX]``; in 2-D the
    inner integral over ``z_2`` is split at the kinks of ``phi(u_2)`` for every outer node. The
    pieces are analytic, so the rule converges exponentially: error below 1e-12 (checked against
    scipy's adaptive ``quad`` in the tests); the truncation at ``Z_MAX = 10`` costs ~1e-23.
``"adaptive"``
    A non-smooth activation whose kinks are not declared (``Activation(..., smooth=False)``):
    scipy's adaptive ``quad``/``dblquad`` point by point with tolerance 1e-11 (slow: milliseconds
    per point).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from dltheory.meanfield.activations import ACTIVATIONS, Activation
from dltheory.meanfield.quadrature import (
    K_SERIES,
    N_QUAD,
    N_SERIES,
    hermite_coefficients,
    hermite_rule,
)

__all__ = [
    "rule",
    "expect",
    "phi2",
    "dphi2",
    "length_slope",
    "phi2_and_slope",
    "Pair",
    "N_SPLIT",
    "Z_MAX",
]

#: Gauss--Legendre nodes per smooth piece of the split rule, and the truncation of the z axis.
N_SPLIT = 48
Z_MAX = 10.0
#: Batch points per chunk of the 2-D split rule (memory ~ CHUNK * (pieces * N_SPLIT)^2 numbers).
_CHUNK = 64

_PI = math.pi
_SQRT_2PI = math.sqrt(2 * math.pi)
_CLOSED = ("relu", "erf", "linear")


def rule(act: Activation) -> str:
    """How the integrals of ``act`` are computed: ``"closed"``, ``"smooth"``, ``"split"`` or
    ``"adaptive"``.

    Example:
        >>> from dltheory.meanfield.activations import get_activation
        >>> [rule(get_activation(a)) for a in ("relu", "tanh", "hard_tanh")]
        ['closed', 'smooth', 'split']
    """
    if act.name in _CLOSED and act == ACTIVATIONS[act.name]:
        return "closed"
    if act.kinks:
        return "split"
    return "smooth" if act.smooth else "adaptive"


@functools.lru_cache(maxsize=8)
def _legendre(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, w = np.polynomial.legendre.leggauss(n)
    return torch.as_tensor(x), torch.as_tensor(w)


def _pieces(breaks: torch.Tensor, n: int = N_SPLIT) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss--Legendre nodes and weights (times the standard normal density) on consecutive
    intervals.

    ``breaks`` has shape ``(..., P + 1)`` (sorted); the result has shape ``(..., P * n)``.
    """
    x, w = _legendre(n)
    a, b = breaks[..., :-1, None], breaks[..., 1:, None]
    z = (a + b) / 2 + (b - a) / 2 * x
    wz = (b - a) / 2 * w * torch.exp(-(z**2) / 2) / _SQRT_2PI
    return z.flatten(-2), wz.flatten(-2)


def _kink_z(
    kinks: tuple[float, ...], scale: torch.Tensor, shift: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Sorted breakpoints ``[-Z_MAX, (k - shift) / scale ..., Z_MAX]``, clipped to the truncated
    axis."""
    k = torch.as_tensor(kinks, dtype=torch.float64)
    num = k - (shift[..., None] if isinstance(shift, torch.Tensor) else shift)
    z = num / scale[..., None]
    z = torch.nan_to_num(z, nan=0.0, posinf=Z_MAX, neginf=-Z_MAX).clamp(-Z_MAX, Z_MAX)
    ends = torch.full(z.shape[:-1] + (1,), Z_MAX, dtype=torch.float64)
    return torch.cat([-ends, torch.sort(z, dim=-1).values, ends], dim=-1)


def _split_1d(act: Activation, f, q: torch.Tensor) -> torch.Tensor:
    sq = torch.sqrt(q)
    z, w = _pieces(_kink_z(act.kinks, sq))
    return (f(sq[..., None] * z) * w).sum(-1)


def _adaptive_1d(f, q: torch.Tensor) -> torch.Tensor:
    from scipy import integrate

    out = np.empty(q.numel())
    for i, qi in enumerate(q.reshape(-1).tolist()):
        s = math.sqrt(qi)

        def g(z, s=s):
            return (
                float(f(torch.tensor(s * z, dtype=torch.float64)))
                * math.exp(-z * z / 2)
                / _SQRT_2PI
            )

        out[i] = integrate.quad(g, -Z_MAX, Z_MAX, epsabs=1e-11, epsrel=1e-11, limit=200)[0]
    return torch.as_tensor(out).reshape(q.shape)


def expect(act: Activation, f, q: torch.Tensor) -> torch.Tensor:
    """``E[f(sqrt(q) z)]`` with the rule for ``act`` (``f`` built from ``act``'s functions)."""
    r = rule(act)
    if r == "split":
        return _split_1d(act, f, q)
    if r == "adaptive":
        return _adaptive_1d(f, q)
    z, w = hermite_rule(N_QUAD, device=q.device)
    return (f(torch.sqrt(q).unsqueeze(-1) * z) * w).sum(-1)


def phi2(act: Activation, q: torch.Tensor) -> torch.Tensor:
    """``E[phi(sqrt(q) z)^2]``, ``z ~ N(0, 1)`` (``q >= 0``, float64 tensor of any shape)."""
    if rule(act) == "closed":
        if act.name == "relu":
            return q / 2
        if act.name == "linear":
            return q.clone()
        return 2 / _PI * torch.asin(2 * q / (1 + 2 * q))
    return expect(act, lambda u: act.phi(u) ** 2, q)


def dphi2(act: Activation, q: torch.Tensor) -> torch.Tensor:
    """``E[phi'(sqrt(q) z)^2]``."""
    if rule(act) == "closed":
        if act.name == "relu":
            return torch.full_like(q, 0.5)
        if act.name == "linear":
            return torch.ones_like(q)
        return 4 / _PI / torch.sqrt(1 + 4 * q)
    return expect(act, lambda u: act.dphi(u) ** 2, q)


def length_slope(act: Activation, q: torch.Tensor) -> torch.Tensor:
    """``d/dq E[phi(sqrt(q) z)^2] = E[phi'^2 + phi phi'']`` (Price's theorem), kinks included.

    At a kink ``k`` where ``phi'`` jumps by ``D_k``, ``phi''`` has the term ``D_k delta(u - k)``,
    which adds ``phi(k) D_k p_q(k)`` with the density ``p_q`` of ``N(0, q)`` (hard tanh:
    ``-2 p_q(1)``; ReLU: 0, because ``phi(0) = 0``).
    """
    r = rule(act)
    if r == "closed":
        if act.name == "relu":
            return torch.full_like(q, 0.5)
        if act.name == "linear":
            return torch.ones_like(q)
        return 4 / _PI / ((1 + 2 * q) * torch.sqrt(1 + 4 * q))
    regular = expect(act, lambda u: act.dphi(u) ** 2 + act.phi(u) * act.d2phi(u), q)
    for k in act.kinks or ():
        kt = torch.tensor([k - 1e-9, k, k + 1e-9], dtype=torch.float64)
        jump = float(act.dphi(kt[2:]) - act.dphi(kt[:1]))
        amp = float(act.phi(kt[1:2])) * jump
        if amp != 0.0:
            dens = torch.exp(-(k**2) / (2 * q)) / torch.sqrt(2 * _PI * q)
            regular = regular + amp * torch.where(q > 0, dens, torch.zeros_like(q))
    return regular


def phi2_and_slope(act: Activation, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`phi2` and :func:`length_slope` together (one evaluation of ``phi`` for the smooth
    rule)."""
    if rule(act) != "smooth":
        return phi2(act, q), length_slope(act, q)
    z, w = hermite_rule(N_QUAD, device=q.device)
    u = torch.sqrt(q).unsqueeze(-1) * z
    p = act.phi(u)
    return (p**2 * w).sum(-1), ((act.dphi(u) ** 2 + p * act.d2phi(u)) * w).sum(-1)


class Pair:
    """``E[phi(u_1) phi(u_2)]`` and ``E[phi'(u_1) phi'(u_2)]`` for a batch of equal lengths ``q``.

    Built once per batch of ``q`` (the smooth rule precomputes Hermite coefficients there), then
    evaluated at any correlations ``c`` of the same shape, or at a subset ``idx`` of the batch (for
    Newton's method on the points that have not converged).
    """

    def __init__(self, act: Activation, q: torch.Tensor):
        self.act, self.q, self.rule = act, q, rule(act)
        if self.rule == "smooth":
            A = hermite_coefficients(act.phi, q, K_SERIES, N_SERIES)
            B = hermite_coefficients(act.dphi, q, K_SERIES, N_SERIES)
            self.A2, self.B2 = A**2, B**2

    def _q(self, idx):
        return self.q if idx is None else self.q[idx]

    def corr(self, c: torch.Tensor, idx=None) -> torch.Tensor:
        """``E[phi(u_1) phi(u_2)]`` at correlation ``c``."""
        if self.rule == "smooth":
            return _series(self.A2 if idx is None else self.A2[idx], c)
        q = self._q(idx)
        if self.rule == "closed":
            name = self.act.name
            if name == "relu":
                return (
                    q
                    / (2 * _PI)
                    * (torch.sqrt((1 - c**2).clamp_min(0)) + (_PI - torch.acos(c)) * c)
                )
            if name == "linear":
                return q * c
            return 2 / _PI * torch.asin((2 * q * c / (1 + 2 * q)).clamp(-1, 1))
        return _pair_integral(self.act, self.act.phi, q, c, self.rule)

    def dcorr(self, c: torch.Tensor, idx=None) -> torch.Tensor:
        """``E[phi'(u_1) phi'(u_2)]`` at correlation ``c``."""
        if self.rule == "smooth":
            return _series(self.B2 if idx is None else self.B2[idx], c)
        q = self._q(idx)
        if self.rule == "closed":
            name = self.act.name
            if name == "relu":
                return (_PI - torch.acos(c)) / (2 * _PI) * torch.ones_like(q)
            if name == "linear":
                return torch.ones_like(q * c)
            return 4 / _PI / torch.sqrt((1 + 2 * q) ** 2 - 4 * q**2 * c**2)
        return _pair_integral(self.act, self.act.dphi, q, c, self.rule)


def _series(coef_sq: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``sum_k coef_sq[..., k] c^k``; the powers by a running product (several times faster than
    pow)."""
    K = coef_sq.shape[-1]
    col = c.unsqueeze(-1)
    powers = torch.cat([torch.ones_like(col), col.expand(*c.shape, K - 1)], dim=-1).cumprod(dim=-1)
    return (coef_sq * powers).sum(-1)


def _pair_integral(act: Activation, g, q: torch.Tensor, c: torch.Tensor, how: str) -> torch.Tensor:
    """``E[g(u_1) g(u_2)]`` by the split rule (chunked over the batch) or adaptive quadrature."""
    q, c = torch.broadcast_tensors(q, c)
    shape = q.shape
    q, c = q.reshape(-1), c.reshape(-1)
    if how == "adaptive":
        return _adaptive_2d(g, q, c).reshape(shape)
    out = [
        _split_2d(act.kinks, g, q[i : i + _CHUNK], c[i : i + _CHUNK])
        for i in range(0, q.numel(), _CHUNK)
    ]
    return (torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)).reshape(shape)


def _split_2d(kinks, g, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    sq = torch.sqrt(q)
    s = torch.sqrt((1 - c**2).clamp_min(0))
    z1, w1 = _pieces(_kink_z(kinks, sq))  # (B, P n)
    # u_2 = sqrt(q) (c z_1 + s z_2): for each outer node the kinks of g(u_2) sit at z_2 = (k /
    # sqrt(q) - c z_1) / s.
    scale = s[:, None].expand_as(z1)
    shift = (sq * c)[:, None] * z1
    z2, w2 = _pieces(_kink_z(kinks, scale * sq[:, None], shift))  # (B, P n, P n)
    u1 = sq[:, None] * z1
    u2 = sq[:, None, None] * (c[:, None, None] * z1[..., None] + s[:, None, None] * z2)
    inner = (g(u2) * w2).sum(-1)
    return (g(u1) * w1 * inner).sum(-1)


def _adaptive_2d(g, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    from scipy import integrate

    def gf(x):
        return float(g(torch.tensor(x, dtype=torch.float64)))

    out = np.empty(q.numel())
    for i, (qi, ci) in enumerate(zip(q.tolist(), c.tolist(), strict=False)):
        sq, s = math.sqrt(qi), math.sqrt(max(1 - ci * ci, 0.0))

        def inner(z1, sq=sq, s=s, ci=ci):
            h = lambda z2: gf(sq * (ci * z1 + s * z2)) * math.exp(-z2 * z2 / 2) / _SQRT_2PI  # noqa: E731
            return integrate.quad(h, -Z_MAX, Z_MAX, epsabs=1e-11, epsrel=1e-11, limit=200)[0]

        outer = lambda z1, sq=sq: gf(sq * z1) * inner(z1) * math.exp(-z1 * z1 / 2) / _SQRT_2PI  # noqa: E731
        out[i] = integrate.quad(outer, -Z_MAX, Z_MAX, epsabs=1e-11, epsrel=1e-11, limit=200)[0]
    return torch.as_tensor(out)
