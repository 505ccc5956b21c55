"""Forward stability of residual networks: antisymmetric layers and the Euler stability region.

The antisymmetric layers ``W = K - K^T - gamma I`` of Haber & Ruthotto (2017) have eigenvalues
``-gamma + i omega``; forward Euler is stable when ``max |1 + h lambda| <= 1``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import figures
from dltheory.dynamics._validate import _positive, _square

__all__ = [
    "antisymmetric_matrix",
    "euler_amplification",
    "StabilityVerdict",
    "stability_analysis",
    "perturbation_growth",
    "stability_experiment",
]


def antisymmetric_matrix(K: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
    """The Haber & Ruthotto (2017) layer matrix ``W = K - K^T - gamma I``.

    ``K - K^T`` is antisymmetric, so ``W`` is normal with eigenvalues ``-gamma + i omega`` (purely
    imaginary for ``gamma = 0``): the continuous dynamics neither explode nor vanish.

    Example:
        >>> W = antisymmetric_matrix(torch.randn(4, 4, dtype=torch.float64), gamma=0.1)
        >>> torch.allclose(torch.linalg.eigvals(W).real, torch.full((4,), -0.1, dtype=torch.float64))
        True
    """
    _square("K", K)
    if not isinstance(gamma, (int, float)) or isinstance(gamma, bool) or not math.isfinite(gamma):
        raise TypeError(f"gamma must be a finite real number; got {gamma!r}")
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    return K - K.transpose(-1, -2) - gamma * eye


def euler_amplification(eigenvalues, h: float) -> np.ndarray:
    """Per-layer amplification ``max_k |1 + h lambda_k|`` of forward Euler (Haber & Ruthotto 2017).

    A forward-Euler step ``x + h J x`` of the linearised dynamics with normal ``J`` multiplies a
    perturbation along eigenvector ``k`` by ``|1 + h lambda_k|``; the step is stable when this is <= 1
    for all ``k`` (the disc of radius 1/h centred at -1/h).

    Args:
        eigenvalues: complex array of shape ``(..., d)`` (the last axis is reduced).
        h: step size (> 0).

    Returns:
        Array of shape ``(...)``.

    Example:
        >>> float(euler_amplification(np.array([-1.0 + 0j, 2j]), 0.5))
        1.4142135623730951
    """
    _positive("h", h)
    lam = np.asarray(eigenvalues, dtype=complex)
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
    """

    amplification: float
    growth_rate: float
    verdict: str


def stability_analysis(*, h: float, gamma: float, omega, margin: float = 0.01) -> StabilityVerdict:
    """Predict whether forward Euler on ``W = K - K^T - gamma I`` amplifies perturbations.

    The eigenvalues of ``W`` are ``-gamma + i omega_k`` with ``omega_k`` the spectrum of ``K - K^T``
    divided by ``i``, so ``|1 + h lambda_k|^2 = (1 - h gamma)^2 + h^2 omega_k^2``
    (Haber & Ruthotto 2017, Sec. 3). The layer is stable when ``h (gamma^2 + omega_max^2) <= 2 gamma``.

    Args:
        h: step size (> 0).
        gamma: damping ``gamma`` (any real; negative values destabilise).
        omega: imaginary parts of the eigenvalues of ``K - K^T`` (array-like, non-empty).
        margin: band ``|amplification - 1| <= margin`` reported as ``"marginal"`` (>= 0).

    Example:
        >>> stability_analysis(h=0.1, gamma=0.5, omega=[1.0]).verdict
        'stable'
        >>> stability_analysis(h=0.5, gamma=0.0, omega=[1.0]).verdict
        'unstable'
    """
    _positive("h", h)
    if not isinstance(margin, (int, float)) or margin < 0:
        raise ValueError(f"margin must be >= 0; got {margin!r}")
    om = np.asarray(omega, dtype=float).ravel()
    if om.size == 0:
        raise ValueError("omega must be non-empty")
    amp = float(euler_amplification(-gamma + 1j * om, h))
    verdict = "marginal" if abs(amp - 1) <= margin else ("stable" if amp < 1 else "unstable")
    return StabilityVerdict(amplification=amp, growth_rate=math.log(amp), verdict=verdict)


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
        x0: inputs ``(n, d)`` (or ``(S, n, d)`` with batched ``W``).
        h: step size (> 0).
        L: number of layers (positive integer).
        b: bias ``(d,)`` or ``(S, 1, d)``; zero when omitted.
        activation: ``"tanh"`` or ``"linear"``.
        delta0: initial tangent shaped like ``x0`` (default: normalised Gaussian, seeded by ``0``).

    Returns:
        ``(L + 1, ...)`` tensor of ``|delta_j| / |delta_0|``, per input.

    Example:
        >>> W = antisymmetric_matrix(torch.randn(3, 3, dtype=torch.float64), gamma=0.2)
        >>> perturbation_growth(W, torch.zeros(5, 3, dtype=torch.float64), h=0.1, L=10).shape
        torch.Size([11, 5])
    """
    _square("W", W)
    if x0.shape[-1] != W.shape[-1]:
        raise ValueError(f"x0 last dimension {x0.shape[-1]} does not match W of shape {tuple(W.shape)}")
    _positive("h", h)
    _positive("L", L, integer=True)
    acts = {"tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2), "linear": (lambda z: z, torch.ones_like)}
    if activation not in acts:
        raise ValueError(f"unknown activation {activation!r}; valid names are {', '.join(acts)}")
    sig, dsig = acts[activation]
    if delta0 is None:
        g = torch.Generator(device=x0.device).manual_seed(0)
        delta0 = torch.randn(x0.shape, generator=g, dtype=x0.dtype, device=x0.device)
    elif delta0.shape != x0.shape:
        raise ValueError(f"delta0 must have the shape of x0 {tuple(x0.shape)}; got {tuple(delta0.shape)}")
    x, d = x0, delta0 / delta0.norm(dim=-1, keepdim=True)
    bias = torch.zeros((), dtype=x0.dtype, device=x0.device) if b is None else b
    Wt = W.transpose(-1, -2)
    norms = [d.norm(dim=-1)]
    for _ in range(L):
        z = x @ Wt + bias
        d = d + h * dsig(z) * (d @ Wt)
        x = x + h * sig(z)
        norms.append(d.norm(dim=-1))
    return torch.stack(norms)


def stability_experiment(
    *, d: int = 16, n: int = 64, L: int = 100, seed: int = 0, settings: dict | None = None
) -> dict:
    """Perturbation growth in tanh residual networks with predicted (in)stability.

    Settings (name -> ``(kind, h, gamma, scale)``): ``"antisymmetric"`` layers use
    ``W = K - K^T - gamma I``, ``"unconstrained"`` layers ``W = K``, with ``K`` Gaussian of standard
    deviation ``scale / sqrt(d)``; inputs are Gaussian and the biases zero.

    Returns:
        dict with, per setting: ``h``, the eigenvalues of ``W``, the predicted amplification and verdict,
        the tanh network's perturbation norms (median over inputs) and the linear prediction; plus
        ``linear_norm`` / ``linear_pred``: spectral norm of the linear L-layer map ``(I + hW)^L`` and
        ``max|1 + h lambda|^L`` for the antisymmetric settings.

    Example:
        >>> r = stability_experiment(L=10)
        >>> r["settings"]["antisymmetric, stable"]["verdict"]
        'stable'
    """
    if settings is None:
        settings = {
            "unconstrained": ("unconstrained", 0.1, 0.0, 1.0),
            "antisymmetric, stable": ("antisymmetric", 0.1, 0.5, 1.0),
            "antisymmetric, unstable": ("antisymmetric", 0.5, 0.0, 1.0),
        }
    _positive("d", d, integer=True)
    _positive("n", n, integer=True)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    out: dict = {"L": L, "settings": {}}
    for name, (kind, h, gamma, scale) in settings.items():
        K = torch.randn(d, d, generator=g, dtype=torch.float64) * scale / math.sqrt(d)
        if kind == "antisymmetric":
            W = antisymmetric_matrix(K, gamma)
        elif kind == "unconstrained":
            W = K
        else:
            raise ValueError(f"unknown setting kind {kind!r}; valid kinds are antisymmetric, unconstrained")
        lam = torch.linalg.eigvals(W).numpy()
        amp = float(euler_amplification(lam, h))
        growth = perturbation_growth(W, x0, h=h, L=L)
        rec = {
            "kind": kind, "h": h, "gamma": gamma, "eigenvalues": lam, "amplification": amp,
            "verdict": "stable" if amp < 1 else "unstable",
            "tanh": growth.median(dim=1).values.numpy(),
            "prediction": amp ** np.arange(L + 1),
        }
        if kind == "antisymmetric":
            M = torch.linalg.matrix_power(torch.eye(d, dtype=torch.float64) + h * W, L)
            rec["linear_norm"] = torch.linalg.matrix_norm(M, ord=2).item()
            rec["linear_pred"] = amp**L
        out["settings"][name] = rec
    return out


@figures.register(
    "dynamics/stability",
    caption=(
        r"Left: the stability region $|1 + h\lambda| \le 1$ of forward Euler with the scaled spectra "
        r"$h\lambda$ of three layer matrices. Right: growth of a small input perturbation through 100 tanh "
        r"residual layers (median over 64 inputs, solid) against the linear prediction $\max|1 + h\lambda|^j$ "
        r"(dashed)."
    ),
    compute=functools.partial(stability_experiment, seed=0),
)
def _plot_stability(data: dict):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.8))
    th = np.linspace(0, 2 * np.pi, 400)
    ax0.fill(-1 + np.cos(th), np.sin(th), color="0.88", label=r"stable region $|1 + h\lambda| \leq 1$")
    ax0.plot(-1 + np.cos(th), np.sin(th), color="0.55", lw=0.8)
    markers = ["o", "s", "^", "D"]
    for k, (name, rec) in enumerate(data["settings"].items()):
        z = rec["h"] * rec["eigenvalues"]
        ax0.plot(z.real, z.imag, markers[k % 4], ms=4, ls="none", color=f"C{k}", label=name)
        j = np.arange(data["L"] + 1)
        ax1.semilogy(j, rec["tanh"], color=f"C{k}", label=f"{name}: tanh network")
        ax1.semilogy(j, rec["prediction"], "--", color=f"C{k}", lw=1,
                     label=f"linear theory: ${rec['amplification']:.3f}^j$")
    ax0.set_xlim(-0.6, 0.25)  # a zoom on the origin (axes not to scale): the disc is tangent to the imaginary axis
    ax0.set_ylim(-1.25, 1.25)
    ax0.set_xlabel(r"$\mathrm{Re}\, h\lambda$")
    ax0.set_ylabel(r"$\mathrm{Im}\, h\lambda$")
    ax0.legend(loc="upper left", fontsize=7, framealpha=0.95, frameon=True)
    ax1.set_ylim(1e-2, 1e4)
    ax1.set_xlabel("layer $j$")
    ax1.set_ylabel(r"$\|\delta x_j\| / \|\delta x_0\|$")
    ax1.legend(fontsize=7, ncol=1, loc="lower left")
    return fig
