"""Gaussian integrals by Gauss--Hermite quadrature, vectorised over any batch of variances.

Mean field theory reduces a wide random network to expectations over one or two centred Gaussians::

    E[f(u)],  u ~ N(0, q)                        (length map, chi_1)
    E[f(u1, u2)],  (u1, u2) ~ N(0, [[q11, q12], [q12, q22]])   (correlation map)

Both are computed with probabilists' Gauss--Hermite nodes (``z_i = sqrt(2) x_i``,
``w_i / sqrt(pi)``), so the integral over a whole (sigma_w^2, sigma_b^2) grid is one tensor
operation. The rule with ``n`` nodes is exact for polynomials of degree ``2n - 1``; the default
``n`` is even so that no node sits on the kink of a piecewise-linear activation. Activations with
kinks converge only algebraically under this rule;
:mod:`dltheory.meanfield.kernels` uses closed forms or splits the integral at the kinks for them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import torch

from dltheory import _checks as checks

__all__ = [
    "hermite_rule",
    "gauss_expect",
    "gauss_expect_2d",
    "hermite_coefficients",
    "mehler_expect",
    "N_QUAD",
    "N_QUAD_2D",
    "N_SERIES",
    "K_SERIES",
]

#: Default number of nodes of the 1-D rule.
N_QUAD = 128
#: Default number of nodes per dimension of the 2-D (tensor-product) rule.
N_QUAD_2D = 48
#: Nodes of the 1-D rule used for Hermite coefficients, and number of terms of the Mehler series.
N_SERIES = 300
K_SERIES = 200

Tensorish = float | np.ndarray | torch.Tensor


@functools.lru_cache(maxsize=32)
def _rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import roots_hermitenorm

    z, w = roots_hermitenorm(n)  # weight exp(-z^2 / 2); stable for large n
    return z, w / np.sqrt(2 * np.pi)


@functools.lru_cache(maxsize=8)
def _hermite_table(n: int, k: int) -> np.ndarray:
    """Orthonormal probabilists' Hermite polynomials h_j(z_i) = He_j(z_i) / sqrt(j!), shape (n,
    k)."""
    z, _ = _rule(n)
    H = np.zeros((n, k))
    H[:, 0] = 1.0
    if k > 1:
        H[:, 1] = z
    for j in range(1, k - 1):
        H[:, j + 1] = (z * H[:, j] - np.sqrt(j) * H[:, j - 1]) / np.sqrt(j + 1)
    return H


def hermite_rule(
    n: int, dtype: torch.dtype = torch.float64, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes and weights of the ``n``-point rule for a standard normal:
    ``E[f(z)] ~ sum_i w_i f(z_i)``.

    Args:
        n: number of nodes, an integer in [2, 1000].
        dtype: torch dtype of the result.
        device: torch device of the result.

    Raises:
        ValueError: if ``n`` is out of range.

    Example:
        >>> z, w = hermite_rule(8)
        >>> round(float((w * z**2).sum()), 9)
        1.0
    """
    n = checks.integer("n", n, low=2, high=1000)
    dtype = checks.floating_dtype("dtype", dtype)
    device = checks.device("device", device)
    z, w = _rule(n)
    return torch.as_tensor(z, dtype=dtype, device=device), torch.as_tensor(
        w, dtype=dtype, device=device
    )


def _t(name: str, x: Tensorish, **bounds) -> torch.Tensor:
    """An array argument as a float64 tensor, checked by the package's one input-checking module."""
    return torch.as_tensor(checks.nonempty(name, checks.real_array(name, x, **bounds)))


def _f(name: str, f):
    return checks.function(name, f)


def gauss_expect(
    f: Callable[[torch.Tensor], torch.Tensor], q: Tensorish, n: int = N_QUAD
) -> torch.Tensor:
    """``E[f(sqrt(q) z)]`` for ``z ~ N(0, 1)``, broadcasting over the shape of ``q``.

    Args:
        f: elementwise function of a tensor; may return a tensor with the same trailing node axis.
        q: variance(s), >= 0.
        n: number of Gauss--Hermite nodes.

    Returns:
        A float64 tensor with the shape of ``q``.

    Raises:
        ValueError: if any ``q`` is negative or not finite.

    Example:
        >>> round(float(gauss_expect(lambda u: u**2, 2.0)), 9)
        2.0
    """
    f = _f("f", f)
    q = _t("q", q, low=0.0)
    checks.size("q x n", q.numel() * checks.integer("n", n, low=2, high=1000))
    z, w = hermite_rule(n, device=q.device)
    u = torch.sqrt(q).unsqueeze(-1) * z
    return (f(u) * w).sum(-1)


def gauss_expect_2d(
    f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    q11: Tensorish,
    q22: Tensorish,
    q12: Tensorish,
    n: int = N_QUAD_2D,
) -> torch.Tensor:
    """``E[f(u1, u2)]`` for a centred Gaussian pair with covariance ``[[q11, q12], [q12, q22]]``.

    Uses ``u1 = sqrt(q11) z1`` and ``u2 = sqrt(q22) (c z1 + sqrt(1 - c^2) z2)`` with ``c = q12 /
    sqrt(q11 q22)`` and the tensor product of two ``n``-point rules; all arguments broadcast.

    Args:
        f: function of two tensors (elementwise).
        q11, q22: variances, > 0.
        q12: covariance, ``|q12| <= sqrt(q11 q22)``.
        n: nodes per dimension.

    Raises:
        ValueError: for non-positive variances or an invalid covariance.

    Example:
        >>> round(float(gauss_expect_2d(lambda a, b: a * b, 1.0, 4.0, 1.5)), 9)
        1.5
    """
    f = _f("f", f)
    q11 = _t("q11", q11, low=0.0, low_open=True)
    q22 = _t("q22", q22, low=0.0, low_open=True)
    q12 = _t("q12", q12)
    try:
        q11, q22, q12 = torch.broadcast_tensors(q11, q22, q12)
    except RuntimeError:
        raise ValueError(
            f"q11, q22, q12 must broadcast together; got shapes {tuple(q11.shape)}, "
            f"{tuple(q22.shape)}, {tuple(q12.shape)}"
        ) from None
    n = checks.integer("n", n, low=2, high=1000)
    checks.size("the broadcast q's x n^2", q11.numel() * n * n)
    c = q12 / torch.sqrt(q11 * q22)
    if (c.abs() > 1 + 1e-12).any():
        raise ValueError("q12 must satisfy |q12| <= sqrt(q11 * q22) (correlation in [-1, 1])")
    c = c.clamp(-1.0, 1.0)
    z, w = hermite_rule(n, device=q11.device)
    z1, z2 = z[:, None], z[None, :]
    w2 = w[:, None] * w[None, :]
    s = torch.sqrt(1 - c**2)
    e = lambda x: x[..., None, None]  # noqa: E731
    u1 = torch.sqrt(e(q11)) * z1
    u2 = torch.sqrt(e(q22)) * (e(c) * z1 + e(s) * z2)
    return (f(u1, u2) * w2).sum((-2, -1))


def hermite_coefficients(
    f: Callable[[torch.Tensor], torch.Tensor], q: Tensorish, k: int = K_SERIES, n: int = N_SERIES
) -> torch.Tensor:
    """Coefficients ``a_j = E[f(sqrt(q) z) h_j(z)]`` of ``f(sqrt(q) z)`` in orthonormal Hermite
    polynomials.

    ``h_j = He_j / sqrt(j!)``; computed with an ``n``-node rule as one matrix product over the
    batch.

    Args:
        f: elementwise function.
        q: variance(s) >= 0, any shape.
        k: number of coefficients (1 <= k < n).
        n: quadrature nodes.

    Returns:
        Tensor of shape ``q.shape + (k,)``.

    Example:
        >>> a = hermite_coefficients(lambda u: u, 4.0, k=3)   # u = 2 z = 2 h_1(z)
        >>> [abs(round(float(x), 9)) for x in a]
        [0.0, 2.0, 0.0]
    """
    f = _f("f", f)
    n = checks.integer("n", n, low=2, high=1000)
    k = checks.integer("k", k, low=1, high=n - 1)
    q = _t("q", q, low=0.0)
    checks.size("q x n", q.numel() * n)
    z, w = hermite_rule(n, device=q.device)
    H = torch.as_tensor(_hermite_table(int(n), int(k)), device=q.device)
    vals = f(torch.sqrt(q).unsqueeze(-1) * z) * w
    return vals @ H


def mehler_expect(
    f: Callable[[torch.Tensor], torch.Tensor],
    g: Callable[[torch.Tensor], torch.Tensor] | None,
    q: Tensorish,
    c: Tensorish,
    k: int = K_SERIES,
    n: int = N_SERIES,
) -> torch.Tensor:
    """``E[f(u_1) g(u_2)]`` for a Gaussian pair with equal variances ``q`` and correlation ``c``.

    Mehler's formula: ``E[f(u_1) g(u_2)] = sum_j a_j b_j c^j`` with the Hermite coefficients ``a``,
    ``b`` of ``f(sqrt(q) z)`` and ``g(sqrt(q) z)`` (``g = f`` when ``None``). The 2-D integral
    becomes a 1-D quadrature and a power series, which is what makes a whole phase diagram cheap.
    The series converges for ``|c| <= 1``; for ``|c| < 1`` geometrically, at ``c = 1`` as fast as
    the Hermite coefficients decay (analytic activations such as tanh: error < 1e-9 for q <= 3 with
    the defaults).

    Example:
        >>> round(float(mehler_expect(lambda u: u**2, None, 1.0, 0.5)), 9)   # 1 + 2 c^2
        1.5
    """
    f = _f("f", f)
    if g is not None:
        g = _f("g", g)
    q = _t("q", q, low=0.0)
    c = _t("c", c, low=-1.0, high=1.0)
    a = hermite_coefficients(f, q, k, n)
    b = a if g is None else hermite_coefficients(g, q, k, n)
    powers = c.unsqueeze(-1) ** torch.arange(k, dtype=torch.float64, device=c.device)
    return (a * b * powers).sum(-1)
