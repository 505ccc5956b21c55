"""Dynamical isometry: the singular value spectrum of the input-output Jacobian at initialisation.

For ``x^l = phi(h^l)``, ``h^l = W^l x^{l-1} + b^l`` the Jacobian is ``J = prod_l D^l W^l`` with
``D^l = diag(phi'(h^l))``. Free probability gives the moments of the spectrum of ``J J^T`` for wide
networks (Pennington, Schoenholz & Ganguli 2017): at criticality (``sigma_w^2 mu_1 = 1``) its mean
is 1 and its variance is ``sigma^2_{JJ^T} = L (mu_2 / mu_1^2 - 1 - s_1)``, with
``mu_k = E[phi'(sqrt(q*) z)^{2k}]`` and ``s_1 = -1`` for Gaussian, ``0`` for orthogonal weights.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory.meanfield import kernels
from dltheory.meanfield._threads import single_thread
from dltheory.meanfield.activations import get_activation
from dltheory.meanfield.maps import ActivationLike, q_star

__all__ = [
    "WEIGHTS",
    "IsometryPrediction",
    "jacobian_spectrum",
    "isometry_prediction",
    "linear_gaussian_variance_exact",
    "normalised_variance",
    "MAX_WIDTH",
    "MAX_DEPTH",
]

#: Largest width and depth of :func:`jacobian_spectrum` (it stores ``n_seeds x width^2`` Jacobians).
MAX_WIDTH = 20_000
MAX_DEPTH = 100_000

#: Weight ensembles and their first S-transform coefficient s_1 (Pennington et al. 2017).
WEIGHTS = {"gaussian": -1.0, "orthogonal": 0.0}


def _weights(kind: str) -> float:
    return WEIGHTS[checks.choice("weights", kind, WEIGHTS)]


def _length(act, sw: float, sb: float, q) -> float:
    """``q`` (checked) or the finite ``q*``."""
    if q is not None:
        return checks.real("q", q, low=0.0, low_open=True)
    qv = q_star(act, sw, sb)
    if not math.isfinite(qv):
        raise ValueError("q* is infinite here (the length diverges); pass q explicitly")
    return qv


@dataclass(frozen=True)
class IsometryPrediction:
    """Free-probability moments of the spectrum of ``J J^T`` (result
    of :func:`isometry_prediction`).

    Attributes:
        mean: ``chi^L``, the mean eigenvalue.
        var: ``L (mu_2 / mu_1^2 - 1 - s_1)``, the variance at criticality.
        chi: ``sigma_w^2 mu_1`` (1 at criticality).
        mu1, mu2: ``E[phi'(sqrt(q) z)^2]`` and ``E[phi'(sqrt(q) z)^4]``.
        q: the length used.
    """

    mean: float
    var: float
    chi: float
    mu1: float
    mu2: float
    q: float


def isometry_prediction(
    activation: ActivationLike,
    *,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    weights: str = "gaussian",
    q: float | None = None,
) -> IsometryPrediction:
    """Free-probability mean and variance of the eigenvalues of ``J J^T`` (Pennington et al. 2017).

    ``mean = (sigma_w^2 mu_1)^L`` and, at criticality, ``var = L (mu_2 / mu_1^2 - 1 - s_1)`` with
    ``mu_k = E[phi'(sqrt(q*) z)^{2k}]``; ``s_1 = -1`` (Gaussian) or ``0`` (orthogonal). The variance
    formula is the leading order at ``sigma_w^2 mu_1 = 1``; away from it the function still returns
    it, along with ``chi = sigma_w^2 mu_1`` so that callers can check criticality.

    Args:
        activation: name or torch function.
        sigma_w2, sigma_b2: variances.
        depth: L.
        weights: ``"gaussian"`` or ``"orthogonal"``.
        q: length at which to evaluate (default ``q*``; for ReLU/linear at ``sigma_b2 = 0`` any
        ``q``).

    Example:
        >>> round(isometry_prediction("relu", sigma_w2=2.0, sigma_b2=0.0, depth=10).var, 9)
        20.0
    """
    act = get_activation(activation)
    s1 = _weights(weights)
    sw = checks.real("sigma_w2", sigma_w2, low=0.0, low_open=True)
    sb = checks.real("sigma_b2", sigma_b2, low=0.0)
    L = checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    qv = _length(act, sw, sb, q)
    qt = torch.tensor(qv, dtype=torch.float64)
    mu1 = float(kernels.dphi2(act, qt))
    mu2 = float(kernels.expect(act, lambda u: act.dphi(u) ** 4, qt))
    chi = sw * mu1
    return IsometryPrediction(
        mean=chi**L, var=L * (mu2 / mu1**2 - 1 - s1), chi=chi, mu1=mu1, mu2=mu2, q=qv
    )


def normalised_variance(eigs) -> tuple[float, float]:
    """Mean over seeds of the normalised spectral variance ``var(lambda) / mean(lambda)^2`` and its
    error.

    Args:
        eigs: eigenvalues of ``J J^T``, shape ``(n_seeds, width)``.

    Returns:
        ``(mean, standard_error)``; the standard error is over seeds (``ddof = 1``).

    Example:
        >>> [round(x, 9) for x in normalised_variance(np.array([[1.0, 1.0], [0.5, 1.5]]))]
        [0.125, 0.125]
    """
    e = checks.real_array("eigs", eigs, ndim=2)  # eigenvalues may be -1e-15 from rounding
    if e.shape[0] < 2 or e.shape[1] < 1:
        raise ValueError(f"eigs must have shape (n_seeds >= 2, width >= 1); got {e.shape}")
    if (e.mean(1) <= 0).any():
        raise ValueError("eigs must have a positive mean for every seed")
    nv = e.var(1) / e.mean(1) ** 2
    return float(nv.mean()), float(nv.std(ddof=1) / np.sqrt(nv.size))


def linear_gaussian_variance_exact(width: int, depth: int) -> float:
    """Exact expected spectral variance ``E[tr (JJ^T)^2] / N - 1`` of a product of ``L`` Gaussian
    matrices.

    For ``X = W A W^T`` with ``W_ij ~ N(0, 1/N)``: ``E tr X^2 = (1 + 1/N) tr A^2 + (tr A)^2 / N``
    and ``E (tr X)^2 = (tr A)^2 + 2 tr A^2 / N``; iterating from ``A = I`` gives the finite-width
    value, which tends to ``L`` as ``N -> infinity`` (a closed-form check of the finite-width
    correction, ``~ L^2 / (2N)``).

    Example:
        >>> round(linear_gaussian_variance_exact(1000, 1), 6)   # 1 + 1/N
        1.001
    """
    N = checks.integer("width", width, low=1, high=10**12)
    L = checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    t2, s = float(N), float(N) ** 2
    for _ in range(L):
        t2, s = (1 + 1 / N) * t2 + s / N, s + 2 * t2 / N
    return t2 / N - 1.0


def _haar(S, N, g, device):
    A = torch.randn((S, N, N), generator=g, device=device, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    return Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(-2)


def _jacobian_spectrum_impl(
    activation: ActivationLike,
    *,
    sigma_w2: float,
    sigma_b2: float,
    width: int,
    depth: int,
    weights: str = "gaussian",
    q: float | None = None,
    n_seeds: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Eigenvalues of ``J J^T`` (squared singular values of the input-output Jacobian) of random
    networks.

    The input has length ``q^1 = q*`` (or ``q``), so every layer sits at the fixed point. Weights
    are ``N(0, sigma_w^2 / N)`` or ``sqrt(sigma_w^2)`` times a Haar orthogonal matrix.

    Args:
        activation: name or torch function.
        sigma_w2, sigma_b2: variances.
        width: N.
        depth: L.
        weights: ``"gaussian"`` or ``"orthogonal"``.
        q: length of the pre-activations (default ``q*``).
        n_seeds: independent networks (batch dimension).
        seed: integer seed.

    Returns:
        Array ``(n_seeds, N)`` of eigenvalues, ascending.

    Example:
        >>> ev = jacobian_spectrum("linear", sigma_w2=1.0, sigma_b2=0.0, width=50, depth=3,
        ...                        weights="orthogonal", q=1.0)
        >>> bool(np.allclose(ev, 1.0))
        True
    """
    act = get_activation(activation)
    _weights(weights)
    sw = checks.real("sigma_w2", sigma_w2, low=0.0, low_open=True)
    sb = checks.real("sigma_b2", sigma_b2, low=0.0)
    N = checks.integer("width", width, low=2, high=MAX_WIDTH)
    L = checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    S = checks.integer("n_seeds", n_seeds, low=1, high=1_000_000)
    seed = checks.seed(seed)
    checks.size("n_seeds x width^2 (the Jacobians)", S * N * N)
    checks.work("depth", L, 2 * S * N**3)
    qv = _length(act, sw, sb, q)
    if not qv > sb:
        raise ValueError(f"q must exceed sigma_b2 (the input carries q - sigma_b2); got q={qv}")
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn((S, N, 1), generator=g, dtype=torch.float64)
    x = x0 / x0.norm(dim=1, keepdim=True) * math.sqrt(N * (qv - sb) / sw)  # so that q^1 = q
    J = torch.eye(N, dtype=torch.float64).expand(S, N, N)
    for _ in range(L):
        if weights == "gaussian":
            W = torch.randn((S, N, N), generator=g, dtype=torch.float64) * math.sqrt(sw / N)
        else:
            W = _haar(S, N, g, None) * math.sqrt(sw)
        b = torch.randn((S, N, 1), generator=g, dtype=torch.float64) * math.sqrt(sb)
        h = torch.bmm(W, x) + b
        J = act.dphi(h) * torch.bmm(W, J)
        x = act.phi(h)
    return torch.linalg.eigvalsh(torch.bmm(J, J.transpose(1, 2))).numpy()


@functools.wraps(_jacobian_spectrum_impl)
def jacobian_spectrum(*args, **kwargs):  # noqa: D103  (docstring and signature from the implementation)
    with (
        single_thread()
    ):  # scoped: many small batched products run faster on one thread on a shared CPU
        return _jacobian_spectrum_impl(*args, **kwargs)
