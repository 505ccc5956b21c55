"""Bridge to control: the adjoint (costate) of a neural ODE against backprop's deltas of Euler ResNets.

Backprop through an Euler ResNet is a first-order discretisation, backwards in time, of the adjoint
equation ``da/dt = -a df/dz`` (LeCun 1988; Chen et al. 2018): together with the forward Euler step it is
the symplectic Euler method for ``H(x, a) = a f(x)`` (Sanz-Serna 2016).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torchdiffeq import odeint, odeint_adjoint

from dltheory import figures
from dltheory.dynamics._validate import _positive, _solver
from dltheory.dynamics.euler import FIXED_SOLVERS, fit_loglog_slope
from dltheory.dynamics.node import ADAPTIVE_SOLVERS, ODEFunc

__all__ = [
    "adjoint_vs_backprop",
    "backprop_deltas",
    "adjoint_state",
    "costate_experiment",
]


def adjoint_vs_backprop(
    *, dim: int = 2, hidden: int = 16, n: int = 32, T: float = 1.0, rtol: float = 1e-10, atol: float = 1e-10,
    method: str = "dopri5", seed: int = 0,
) -> dict:
    """Gradients of a loss through a neural ODE by the adjoint method and by backprop through the solver.

    Both use the same float64 field, solver and tolerances; the loss is ``sum |z(T)|^2 / n``.

    Returns:
        dict with ``rel_diff`` (relative 2-norm difference of the concatenated gradients w.r.t. the
        parameters and ``z(0)``), ``nfe_forward`` (evaluations of the forward solve) and ``nfe_adjoint``
        (evaluations of the backward adjoint solve; backprop through the solver evaluates no field).

    Example:
        >>> adjoint_vs_backprop(rtol=1e-6, atol=1e-6)["rel_diff"] < 1e-3
        True
    """
    _positive("T", T)
    _positive("rtol", rtol)
    _positive("atol", atol)
    _solver(method, ADAPTIVE_SOLVERS + tuple(FIXED_SOLVERS))
    f = ODEFunc(dim, hidden, seed=seed, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 1)
    z0 = torch.randn(n, dim, generator=g, dtype=torch.float64)
    t = torch.tensor([0.0, T], dtype=torch.float64)
    grads, nfe = {}, {}
    for key, solve in (("adjoint", odeint_adjoint), ("backprop", odeint)):
        z = z0.clone().requires_grad_()
        f.reset_nfe()
        zT = solve(f, z, t, rtol=rtol, atol=atol, method=method)[-1]
        n_fwd = f.nfe
        loss = (zT**2).sum() / n
        gr = torch.autograd.grad(loss, [z, *f.parameters()])
        nfe[key] = (n_fwd, f.nfe - n_fwd)
        grads[key] = torch.cat([x.reshape(-1) for x in gr])
    diff = (grads["adjoint"] - grads["backprop"]).norm() / grads["backprop"].norm()
    return {"rel_diff": diff.item(), "nfe_forward": nfe["adjoint"][0], "nfe_adjoint": nfe["adjoint"][1]}


def backprop_deltas(
    field: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x0: torch.Tensor, *, T: float, L: int,
    loss: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Backprop's deltas ``dLoss/dx_k`` of an Euler ResNet, by autograd and by the adjoint recursion.

    For the blocks ``x_{k+1} = x_k + h f(k h, x_k)``, ``h = T / L``, the chain rule gives
    ``delta_k = delta_{k+1} + h delta_{k+1} df/dx(k h, x_k)`` with ``delta_L = dLoss/dx_L``: an
    explicit first-order step, backwards in time, of the adjoint equation ``da/dt = -a df/dz``
    (LeCun 1988; Chen et al. 2018); paired with the forward Euler step it is symplectic Euler
    (Sanz-Serna 2016).

    Args:
        field: ``f(t, x)``.
        x0: input ``(..., d)`` (float64 recommended).
        T: time horizon (> 0).
        L: number of blocks (positive integer).
        loss: scalar function of ``x_L``.

    Returns:
        ``(autograd, recursion)``, each of shape ``(L + 1, ..., d)``: ``x_k.grad`` from ``loss.backward()``
        and the explicit recursion above.

    Example:
        >>> a, r = backprop_deltas(lambda t, x: torch.tanh(x), torch.ones(3, dtype=torch.float64), T=1.0, L=8,
        ...                        loss=lambda x: (x**2).sum())
        >>> bool(torch.allclose(a, r))
        True
    """
    if not callable(field) or not callable(loss):
        raise TypeError("field and loss must be callable")
    _positive("T", T)
    _positive("L", L, integer=True)
    h = T / L
    tk = [torch.tensor(k * h, dtype=x0.dtype) for k in range(L)]
    xs = [x0.detach().clone().requires_grad_()]
    for k in range(L):
        xs.append(xs[-1] + h * field(tk[k], xs[-1]))
        xs[-1].retain_grad()
    loss(xs[-1]).backward()
    auto = torch.stack([x.grad for x in xs])
    xl = xs[-1].detach().requires_grad_()
    d = torch.autograd.grad(loss(xl), xl)[0]
    rec = [d]
    for k in reversed(range(L)):
        xk = xs[k].detach().requires_grad_()
        d = d + h * torch.autograd.grad(field(tk[k], xk), xk, d)[0]
        rec.append(d)
    return auto, torch.stack(rec[::-1])


def adjoint_state(
    func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], z0: torch.Tensor, *, T: float, aT: torch.Tensor,
    n_times: int = 41, rtol: float = 1e-10, atol: float = 1e-10,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate the adjoint equation ``da/dt = -a^T df/dz(z(t))`` backwards from ``a(T) = aT``.

    The state and the adjoint are solved together backwards in time (dopri5), as in Chen et al. (2018),
    Appendix B; the vector-Jacobian products come from autograd.

    Returns:
        ``(t, a)`` with times descending from ``T`` to 0 and ``a`` of shape ``(n_times, ...)``.

    Example:
        >>> A = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
        >>> t, a = adjoint_state(lambda t, z: z @ A.T, torch.ones(2, dtype=torch.float64), T=1.0,
        ...                      aT=torch.tensor([1.0, 0.0], dtype=torch.float64), n_times=3)
        >>> a.shape
        torch.Size([3, 2])
    """
    _positive("T", T)
    _positive("n_times", n_times, integer=True)
    if not callable(func):
        raise TypeError("func must be callable as func(t, z)")
    with torch.no_grad():
        zT = odeint(func, z0, torch.tensor([0.0, T], dtype=z0.dtype), rtol=rtol, atol=atol)[-1]
    if aT.shape != zT.shape:
        raise ValueError(f"aT must have the shape of the state {tuple(zT.shape)}; got {tuple(aT.shape)}")

    def aug(t, s):
        z, a = s
        with torch.enable_grad():
            z = z.detach().requires_grad_()
            fz = func(t, z)
            vjp = torch.autograd.grad(fz, z, a)[0]
        return fz.detach(), -vjp

    t = torch.linspace(T, 0.0, n_times, dtype=z0.dtype)
    _, a = odeint(aug, (zT, aT), t, rtol=rtol, atol=atol)
    return t, a


def costate_experiment(
    *, dim: int = 2, hidden: int = 16, T: float = 1.0, depths: Sequence[int] = (8, 16, 32, 64, 128, 256), seed: int = 0
) -> dict:
    """Continuous adjoint ``a(t)`` of a neural ODE against backprop's deltas of Euler ResNets.

    Returns:
        dict with the continuous adjoint (``t``, ``a``), the gradient ``dLoss/dz(0)`` by autograd through
        an accurate solve (``grad_z0``), the deltas of an Euler ResNet for each depth, their errors at
        ``t = 0`` against ``a(0)``, the fitted slope, and the autograd-vs-recursion discrepancy.

    Example:
        >>> r = costate_experiment(depths=(8, 16))
        >>> r["a0_vs_grad"] < 1e-6
        True
    """
    f = ODEFunc(dim, hidden, seed=seed, dtype=torch.float64)
    with torch.no_grad():  # a field strong enough to bend trajectories visibly
        f.l2.weight.mul_(3.0)
    g = torch.Generator().manual_seed(seed + 1)
    z0 = torch.randn(dim, generator=g, dtype=torch.float64)
    tt = torch.tensor([0.0, T], dtype=torch.float64)
    z = z0.clone().requires_grad_()
    zT = odeint(f, z, tt, rtol=1e-10, atol=1e-10)[-1]
    loss = lambda x: (x**2).sum()  # noqa: E731
    grad_z0 = torch.autograd.grad(loss(zT), z)[0]
    aT = 2 * zT.detach()
    t, a = adjoint_state(f, z0, T=T, aT=aT)
    deltas, errs, ident = {}, [], 0.0
    for L in depths:
        auto, rec = backprop_deltas(f, z0, T=T, L=int(L), loss=loss)
        ident = max(ident, ((auto - rec).norm(dim=-1) / auto.norm(dim=-1)).max().item())
        deltas[int(L)] = rec.numpy()
        errs.append(((rec[0] - a[-1]).norm() / a[-1].norm()).item())
    return {
        "t": t.numpy(), "a": a.numpy(), "grad_z0": grad_z0.numpy(), "a0_vs_grad": ((a[-1] - grad_z0).norm() / grad_z0.norm()).item(),
        "depths": np.asarray(depths), "deltas": deltas, "errors": np.array(errs),
        "slope": fit_loglog_slope(depths, errs), "recursion_error": ident, "T": T,
    }


@figures.register(
    "dynamics/costate",
    caption=(
        r"The adjoint state $a(t) = \partial \mathcal{L}/\partial z(t)$ of a neural ODE, solved backwards in "
        r"time (lines), and backprop's deltas $\partial \mathcal{L}/\partial x_k$ of Euler ResNets of depth "
        r"$L = 8$ and $32$ placed at $t = kT/L$ (markers)."
    ),
    compute=functools.partial(costate_experiment, seed=0),
)
def _plot_costate(data: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    t, a = data["t"], data["a"]
    for i in range(a.shape[1]):
        ax.plot(t, a[:, i], color=f"C{i}", label=f"adjoint ODE: $a_{i + 1}(t)$")
    for L, m in ((8, "o"), (32, "x")):
        d = data["deltas"][L]
        tk = np.linspace(0, data["T"], L + 1)
        for i in range(d.shape[1]):
            ax.plot(tk, d[:, i], m, ms=3.5, ls="none", color=f"C{i}",
                    label=f"backprop $\\delta_{i + 1}$, $L = {L}$")
    ax.set_xlabel("time $t$ (layer $k$ at $t = kT/L$)")
    ax.set_ylabel(r"$a(t) = \partial \mathcal{L} / \partial z(t)$")
    ax.legend(fontsize=7, ncol=2)
    return fig
