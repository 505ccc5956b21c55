"""Forward stability of residual networks: antisymmetric layers and the Euler stability region.

The antisymmetric layers ``W = K - K^T - gamma I`` of Haber & Ruthotto (2017) have eigenvalues
``-gamma + i omega``; forward Euler is stable when ``max |1 + h lambda| <= 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks

__all__ = [
    "ACTIVATIONS",
    "antisymmetric_matrix",
    "euler_amplification",
    "StabilityVerdict",
    "stability_analysis",
    "perturbation_growth",
]

#: Activations of :func:`perturbation_growth`: name -> (sigma, sigma').
ACTIVATIONS = {
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "linear": (lambda z: z, torch.ones_like),
}


def _square(name: str, M) -> torch.Tensor:
    M = _checks.tensor(name, M)
    if M.ndim < 2 or M.shape[-1] != M.shape[-2]:
        raise ValueError(f"{name} must be a square matrix (..., d, d); got shape {tuple(M.shape)}")
    return M


def antisymmetric_matrix(K: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
    """The Haber & Ruthotto (2017) layer matrix ``W = K - K^T - gamma I``.

    ``K - K^T`` is antisymmetric, so ``W`` is normal with eigenvalues ``-gamma + i omega`` (purely
    imaginary for ``gamma = 0``): the continuous dynamics neither explode nor vanish.

    Args:
        K: square matrix ``(..., d, d)`` (a list is converted to float64).
        gamma: damping, a finite real number.

    Example:
        >>> K = torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> W = antisymmetric_matrix(K, gamma=0.1)
        >>> torch.allclose(torch.linalg.eigvals(W).real, torch.full((4,), -0.1, dtype=W.dtype))
        True
    """
    K = _square("K", K)
    gamma = _checks.real("gamma", gamma)
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    return K - K.transpose(-1, -2) - gamma * eye


def _eigenvalue_array(name: str, value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of (complex) numbers; got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iufc":
        raise TypeError(f"{name} must be an array of (complex) numbers; got dtype {arr.dtype}")
    arr = arr.astype(complex)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return arr


def euler_amplification(eigenvalues, h: float) -> np.ndarray:
    """Per-layer amplification ``max_k |1 + h lambda_k|`` of forward Euler (Haber & Ruthotto 2017).

    A forward-Euler step ``x + h J x`` of the linearised dynamics with normal ``J`` multiplies a
    perturbation along eigenvector ``k`` by ``|1 + h lambda_k|``; the step is stable when this is
    <= 1 for all ``k`` (the disc of radius 1/h centred at -1/h).

    Args:
        eigenvalues: finite complex array of shape ``(..., d)`` (the last axis is reduced).
        h: step size (> 0).

    Returns:
        Array of shape ``(...)``.

    Example:
        >>> round(float(euler_amplification(np.array([-1.0 + 0j, 2j]), 0.5)), 6)
        1.414214
    """
    lam = _eigenvalue_array("eigenvalues", eigenvalues)
    h = _checks.positive("h", h)
    if lam.ndim == 0 or lam.shape[-1] == 0:
        raise ValueError("eigenvalues must be an array with a non-empty last axis")
    return np.abs(1.0 + h * lam).max(axis=-1)


@dataclass(frozen=True)
class StabilityVerdict:
    """Result of :func:`stability_analysis`.

    Attributes:
        amplification: ``max |1 + h lambda|`` per layer.
        growth_rate: ``log`` of it (per layer; negative means perturbations decay).
        verdict: ``"stable"``, ``"unstable"`` or ``"marginal"`` (within ``margin`` of 1).
        ode_stable: whether the continuous linear ODE decays (``Re lambda = -gamma < 0``), with
            ``-gamma = 0`` counted as marginal (``None``): an unstable ODE cannot be stabilised by
            any step size, since ``|1 + h lambda| >= 1 + h Re lambda > 1``.
    """

    amplification: float
    growth_rate: float
    verdict: str
    ode_stable: bool | None


def stability_analysis(*, h: float, gamma: float, omega, margin: float = 0.01) -> StabilityVerdict:
    """Predict whether forward Euler on ``W = K - K^T - gamma I`` amplifies perturbations.

    The eigenvalues of ``W`` are ``-gamma + i omega_k`` with ``omega_k`` the spectrum of ``K - K^T``
    divided by ``i``, so ``|1 + h lambda_k|^2 = (1 - h gamma)^2 + h^2 omega_k^2``
    (Haber & Ruthotto 2017). The layer is stable when ``h (gamma^2 + omega_max^2) <= 2 gamma``.

    Args:
        h: step size (> 0).
        gamma: damping (finite real; negative values make the ODE itself unstable).
        omega: imaginary parts of the eigenvalues of ``K - K^T`` (finite, non-empty).
        margin: band ``|amplification - 1| <= margin`` reported as ``"marginal"`` (in [0, 1)).

    Example:
        >>> stability_analysis(h=0.1, gamma=0.5, omega=[1.0]).verdict
        'stable'
        >>> stability_analysis(h=0.5, gamma=0.0, omega=[1.0]).verdict
        'unstable'
    """
    h = _checks.positive("h", h)
    gamma = _checks.real("gamma", gamma)
    margin = _checks.real("margin", margin, low=0.0, high=1.0, high_open=True)
    om = _checks.real_array("omega", omega).ravel()
    if om.size == 0:
        raise ValueError("omega must be non-empty")
    amp = float(euler_amplification(-gamma + 1j * om, h))
    verdict = "marginal" if abs(amp - 1) <= margin else ("stable" if amp < 1 else "unstable")
    ode = None if gamma == 0 else gamma > 0
    return StabilityVerdict(
        amplification=amp,
        growth_rate=math.log(amp) if amp > 0 else -math.inf,
        verdict=verdict,
        ode_stable=ode,
    )


def perturbation_growth(
    W: torch.Tensor,
    x0: torch.Tensor,
    *,
    h: float,
    L: int,
    b: torch.Tensor | None = None,
    activation: str = "tanh",
    delta0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Norm of a small input perturbation through ``L`` layers ``x + h sigma(W x + b)``.

    The perturbation is propagated exactly to first order (the tangent, i.e. a Jacobian-vector
    product): ``delta_{j+1} = delta_j + h sigma'(W x_j + b) * (W delta_j)``.

    Args:
        W: ``(d, d)`` or batched ``(S, d, d)`` layer matrices (the same in every layer).
        x0: inputs ``(n, d)`` (or ``(S, n, d)`` with batched ``W``), the dtype of ``W``.
        h: step size (> 0).
        L: number of layers (positive integer).
        b: bias ``(d,)`` or ``(S, 1, d)``; zero when omitted.
        activation: a name in :data:`ACTIVATIONS`.
        delta0: initial tangent shaped like ``x0``, no zero row (the result is relative to its
            norm); default: Gaussian, seeded by ``0``.

    Returns:
        ``(L + 1, ...)`` tensor of ``|delta_j| / |delta_0|``, per input.

    Example:
        >>> K = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> W = antisymmetric_matrix(K, gamma=0.2)
        >>> x0 = torch.zeros(5, 3, dtype=torch.float64)
        >>> perturbation_growth(W, x0, h=0.1, L=10).shape
        torch.Size([11, 5])
    """
    W = _square("W", W)
    x0 = _checks.tensor("x0", x0)
    if W.ndim > 3 or x0.ndim not in (1, 2, 3) or x0.shape[-1] != W.shape[-1]:
        raise ValueError(
            f"x0 must have shape (n, d) or (S, n, d) matching W of shape "
            f"{tuple(W.shape)}; got {tuple(x0.shape)} (x0 last dimension does not "
            f"match W)"
        )
    _checks.same_dtype(W=W, x0=x0)
    h = _checks.positive("h", h)
    L = _checks.integer("L", L)
    activation = _checks.choice("activation", activation, ACTIVATIONS)
    _checks.size("L", (L + 1) * max(x0.numel() // max(x0.shape[-1], 1), 1))
    _checks.work("L", L, x0.numel() * W.shape[-1])
    sig, dsig = ACTIVATIONS[activation]
    if delta0 is None:
        g = torch.Generator().manual_seed(0)
        delta0 = torch.randn(x0.shape, generator=g, dtype=x0.dtype).to(x0.device)
    else:
        delta0 = _checks.tensor("delta0", delta0, shape=tuple(x0.shape))
        _checks.same_dtype(delta0=delta0, x0=x0)
        if bool((delta0.norm(dim=-1) == 0).any()):
            raise ValueError("delta0 must have no zero row: the growth is relative to |delta0|")
    if b is None:
        bias = torch.zeros((), dtype=x0.dtype, device=x0.device)
    else:
        bias = _checks.tensor("b", b)
        _checks.same_dtype(b=bias, x0=x0)
        if bias.shape[-1:] != x0.shape[-1:]:
            raise ValueError(f"b must have last dimension {x0.shape[-1]}; got {tuple(bias.shape)}")
    x, d = x0, delta0 / delta0.norm(dim=-1, keepdim=True)
    Wt = W.transpose(-1, -2)
    norms = [d.norm(dim=-1)]
    for _ in range(L):
        z = x @ Wt + bias
        d = d + h * dsig(z) * (d @ Wt)
        x = x + h * sig(z)
        norms.append(d.norm(dim=-1))
    return torch.stack(norms)
