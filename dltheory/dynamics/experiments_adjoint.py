"""The adjoint's backward solve on contracting flows (Gholami et al. 2019).

The adjoint method (Chen et al. 2018) stores no trajectory: it reconstructs ``z(t)`` by solving the
ODE backwards from ``z(T)``. Where the forward flow contracts, the backward flow expands, so the
errors of the forward solve, and of the backward solve itself, are stretched by up to
``1 / s_min(dz(T)/dz(0))``. Gholami et al. (2019) argue that this makes the adjoint's gradient
unreliable for contracting flows, while backprop through the solver (discretise-then-optimise)
differentiates the computed forward map exactly. :func:`adjoint_stretch_experiment` measures both
errors on a field with a tunable contraction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from dltheory import _checks, figures
from dltheory.dynamics.euler import fit_loglog_slope
from dltheory.dynamics.experiments import _override, as_device, sizes
from dltheory.dynamics.node import ODEFunc

__all__ = ["ContractedField", "AdjointStretch", "adjoint_stretch_experiment"]


class ContractedField(nn.Module):
    """``f(t, z) - k z_1 e_1``: an :class:`ODEFunc` with a contraction of rate ``k`` along ``z_1``.

    The other coordinates are left to the field, which couples them to ``z_1``: the flow contracts
    by about ``exp(-k T)`` along one direction, and the loss still sees that direction through the
    coupling.

    Example:
        >>> f = ContractedField(ODEFunc(2, 4, dtype=torch.float64), k=2.0)
        >>> f(torch.tensor(0.0), torch.zeros(3, 2, dtype=torch.float64)).shape
        torch.Size([3, 2])
    """

    def __init__(self, field: ODEFunc, k: float):
        super().__init__()
        if not isinstance(field, ODEFunc):
            raise TypeError(f"field must be an ODEFunc; got {type(field).__name__}")
        self.field = field
        self.k = _checks.real("k", k, low=0.0)
        mask = torch.zeros(field.dim, dtype=field.l1.weight.dtype)
        mask[0] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.field(t, z) - self.k * self.mask * z


@dataclass(frozen=True)
class AdjointStretch:
    """Result of :func:`adjoint_stretch_experiment`: arrays ``(seeds, rates)``.

    Attributes:
        k: the contraction rates.
        seeds: the seeds of the fields (one row each).
        tol: ``rtol = atol`` of the solves under test (float64).
        stretch: median over the inputs of ``1 / s_min(dz(T)/dz(0))``, the backward flow's
            largest stretch factor.
        reconstruction: median over the inputs of ``|z~(0) - z(0)|``, where ``z~(0)`` is the
            input reconstructed by solving backwards from the computed ``z(T)`` (as the adjoint
            method does).
        forward_error: median over the inputs of ``|z(T) - z*(T)|``, the forward solve's error.
        grad_adjoint: relative error of the adjoint gradient (parameters and ``z(0)``) against
            the accurate gradient (backprop through a solve at ``1e-11``).
        grad_backprop: the same for backprop through the solve at ``tol``.
        fit_from: the fits use the rates ``k >= fit_from``.
        slope_reconstruction, slope_adjoint, slope_backprop: per seed, the log-log slopes of
            ``reconstruction``, ``grad_adjoint`` and ``grad_backprop`` against ``stretch`` over
            those rates.
    """

    k: np.ndarray
    seeds: tuple[int, ...]
    tol: float
    stretch: np.ndarray
    reconstruction: np.ndarray
    forward_error: np.ndarray
    grad_adjoint: np.ndarray
    grad_backprop: np.ndarray
    fit_from: float
    slope_reconstruction: np.ndarray
    slope_adjoint: np.ndarray
    slope_backprop: np.ndarray


def _gradient(f: nn.Module, z0: torch.Tensor, t: torch.Tensor, solve, tol: float) -> torch.Tensor:
    z = z0.clone().requires_grad_()
    zT = solve(f, z, t, rtol=tol, atol=tol, method="dopri5")[-1]
    loss = (zT**2).sum() / z0.shape[0]
    gr = torch.autograd.grad(loss, [z, *f.parameters()])
    return torch.cat([x.reshape(-1) for x in gr])


def _one_field(base: ODEFunc, k: float, z0: torch.Tensor, T: float, tol: float) -> list[float]:
    """stretch, reconstruction, forward error, adjoint and backprop gradient errors at rate k."""
    dev = z0.device
    f = ContractedField(base, k).to(dev)
    t = torch.tensor([0.0, T], dtype=torch.float64, device=dev)
    tight = 1e-11
    with torch.no_grad():
        zT = odeint(f, z0, t, rtol=tol, atol=tol, method="dopri5")[-1]
        back = odeint(f, zT, t.flip(0), rtol=tol, atol=tol, method="dopri5")[-1]
        # the exact z(T) and the flow's Jacobian (central differences) in one accurate solve
        eps = 1e-6
        E = eps * torch.eye(2, dtype=torch.float64, device=dev)
        starts = torch.cat([z0[None], z0[None] + E[:, None], z0[None] - E[:, None]])
        ends = odeint(f, starts, t, rtol=tight, atol=tight, method="dopri5")[-1]
        J = ((ends[1:3] - ends[3:5]) / (2 * eps)).permute(1, 2, 0)  # (n, 2, 2)
        stretch = 1 / torch.linalg.svdvals(J)[..., -1]
    exact = _gradient(f, z0, t, odeint, tight)

    def rel(a: torch.Tensor) -> float:
        return ((a - exact).norm() / exact.norm()).item()

    return [
        stretch.median().item(),
        (back - z0).norm(dim=-1).median().item(),
        (zT - ends[0]).norm(dim=-1).median().item(),
        rel(_gradient(f, z0, t, odeint_adjoint, tol)),
        rel(_gradient(f, z0, t, odeint, tol)),
    ]


def adjoint_stretch_experiment(
    *,
    scale: str = "book",
    ks=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0),
    seeds=None,
    tol: float = 1e-6,
    fit_from: float = 3.0,
    hidden: int = 16,
    n: int | None = None,
    T: float = 1.0,
    device=None,
) -> AdjointStretch:
    """Reconstruction and gradient errors of the adjoint method against the backward stretch.

    For each seed and rate ``k`` the field is :class:`ContractedField` (a random tanh field of
    width ``hidden`` in the plane, float64, plus ``-k z_1 e_1``), the loss ``sum |z(T)|^2 / n``
    over ``n`` Gaussian inputs, and every solve dopri5. Gholami et al. (2019): the backward
    reconstruction error grows with the stretch (errors made near ``T`` are multiplied by it), and
    with it the adjoint gradient's error; backprop through the solver reconstructs nothing.

    Args:
        scale: ``"book"`` (3 fields, 32 inputs) or ``"full"`` (8 fields, 256 inputs).
        ks: contraction rates (>= 0, at least two at or above ``fit_from``).
        seeds: seeds of the fields (inputs: ``seed + 1``; default: from ``scale``).
        tol: ``rtol = atol`` of the solves under test (> 0).
        fit_from: smallest rate used in the log-log fits.
        hidden, n: width of the field and number of inputs (default: from ``scale``).
        T: time horizon (> 0).
        device: where to compute (default the CPU).

    Example:
        >>> r = adjoint_stretch_experiment(ks=(0.0, 4.0, 8.0), seeds=(0,), n=4)
        >>> bool(r.stretch[0, -1] > 100 * r.stretch[0, 0])
        True
    """
    sz = _override(sizes("stretch", scale), n=n, seeds=seeds)
    n, seeds = sz["n"], sz["seeds"]
    ks = _checks.real_array("ks", ks, ndim=1)
    fit_from = _checks.real("fit_from", fit_from, low=0.0)
    if np.any(ks < 0) or np.sum(ks >= fit_from) < 2:
        raise ValueError(
            f"ks must be >= 0 with at least two rates >= fit_from = {fit_from}; got {ks.tolist()}"
        )
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty sequence of integers; got {seeds!r}")
    seeds = tuple(_checks.seed(s) for s in seeds)
    tol = _checks.positive("tol", tol)
    n = _checks.integer("n", n)
    hidden = _checks.integer("hidden", hidden)
    T = _checks.positive("T", T)
    dev = as_device(device)
    rows = []
    for seed in seeds:
        base = ODEFunc(2, hidden, seed=seed, dtype=torch.float64)
        g = torch.Generator().manual_seed(seed + 1)
        z0 = torch.randn(n, 2, generator=g, dtype=torch.float64).to(dev)
        rows.append([_one_field(base, float(k), z0, T, tol) for k in ks])
    st, rec, fwd, ga, gb = np.moveaxis(np.array(rows), -1, 0)  # each (seeds, rates)
    sel = ks >= fit_from

    def slopes(y: np.ndarray) -> np.ndarray:
        return np.array([fit_loglog_slope(s[sel], v[sel]) for s, v in zip(st, y, strict=False)])

    return AdjointStretch(
        k=ks,
        seeds=seeds,
        tol=tol,
        stretch=st,
        reconstruction=rec,
        forward_error=fwd,
        grad_adjoint=ga,
        grad_backprop=gb,
        fit_from=fit_from,
        slope_reconstruction=slopes(rec),
        slope_adjoint=slopes(ga),
        slope_backprop=slopes(gb),
    )


@figures.register(
    "dynamics/adjoint-stretch", compute=functools.partial(adjoint_stretch_experiment, scale="book")
)
def _plot_adjoint_stretch(data: AdjointStretch):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    series = (
        (data.reconstruction, "o-", "C0", "reconstruction $|\\tilde z(0) - z(0)|$"),
        (data.grad_adjoint, "s-", "C1", "adjoint gradient, relative error"),
        (data.grad_backprop, "^-", "C2", "backprop through the solver, relative error"),
    )
    for y, style, c, name in series:
        for i, (s, v) in enumerate(zip(data.stretch, y, strict=False)):
            ax.loglog(s, v, style, color=c, ms=3.5, lw=1, label=name if i == 0 else None)
    s = np.sort(data.stretch.ravel())
    ref = np.exp(np.mean(np.log(data.reconstruction[:, data.k >= data.fit_from])))
    s0 = np.exp(np.mean(np.log(data.stretch[:, data.k >= data.fit_from])))
    ax.loglog(s, ref * s / s0, "--", color="0.5", lw=1, label="theory: $\\propto$ stretch")
    ax.axhline(data.tol, color="0.7", lw=0.8, ls=":", label=f"solver tolerance {data.tol:g}")
    ax.set_xlabel(r"backward stretch $1 / s_{\min}(\partial z(T) / \partial z(0))$")
    ax.set_ylabel("error")
    ax.legend(fontsize=8)
    return fig
