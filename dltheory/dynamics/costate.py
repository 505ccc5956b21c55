"""The adjoint (costate) of a neural ODE against backprop's deltas of Euler ResNets.

Backprop through an Euler ResNet is a first-order discretisation, backwards in time, of the adjoint
equation ``da/dt = -a df/dz`` (LeCun 1988; Chen et al. 2018): together with the forward Euler step
it is the symplectic Euler method for ``H(x, a) = a f(x)`` (Sanz-Serna 2016).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchdiffeq import odeint

from dltheory import _checks

__all__ = [
    "euler_states",
    "backprop_deltas",
    "adjoint_recursion",
    "adjoint_state",
]

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _times(T: float, L: int, x0: torch.Tensor) -> list[torch.Tensor]:
    h = T / L
    return [torch.tensor(k * h, dtype=x0.dtype, device=x0.device) for k in range(L)]


def euler_states(field: Field, x0: torch.Tensor, *, T: float, L: int) -> torch.Tensor:
    """The states ``x_0, ..., x_L`` of the Euler ResNet ``x_{k+1} = x_k + h f(k h, x_k)``.

    Example:
        >>> euler_states(lambda t, x: -x, torch.ones(2, dtype=torch.float64), T=1.0, L=4).shape
        torch.Size([5, 2])
    """
    field = _checks.function("field", field)
    x0 = _checks.tensor("x0", x0)
    T = _checks.positive("T", T)
    L = _checks.integer("L", L)
    _checks.size("L", (L + 1) * max(x0.numel(), 1))
    h = T / L
    xs = [x0]
    with torch.no_grad():
        for tk in _times(T, L, x0):
            xs.append(xs[-1] + h * field(tk, xs[-1]))
    return torch.stack(xs)


def backprop_deltas(
    field: Field,
    x0: torch.Tensor,
    *,
    T: float,
    L: int,
    loss: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Backprop's deltas ``dLoss/dx_k`` of an Euler ResNet, as autograd stores them in ``x_k.grad``.

    Args:
        field: ``f(t, x)``.
        x0: input ``(..., d)`` (float64 recommended).
        T: time horizon (> 0).
        L: number of blocks (positive integer).
        loss: scalar function of ``x_L``.

    Returns:
        Tensor ``(L + 1, ..., d)``.

    Example:
        >>> d = backprop_deltas(lambda t, x: torch.tanh(x), torch.ones(3, dtype=torch.float64),
        ...                     T=1.0, L=8, loss=lambda x: (x**2).sum())
        >>> d.shape
        torch.Size([9, 3])
    """
    field = _checks.function("field", field)
    loss = _checks.function("loss", loss)
    x0 = _checks.tensor("x0", x0)
    T = _checks.positive("T", T)
    L = _checks.integer("L", L)
    _checks.size("L", (L + 1) * max(x0.numel(), 1))
    h = T / L
    xs = [x0.detach().clone().requires_grad_()]
    for tk in _times(T, L, x0):
        xs.append(xs[-1] + h * field(tk, xs[-1]))
        xs[-1].retain_grad()
    loss(xs[-1]).backward()
    return torch.stack([x.grad for x in xs])


def adjoint_recursion(
    vjp: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    states: torch.Tensor,
    delta_L: torch.Tensor,
    *,
    T: float,
) -> torch.Tensor:
    """The discrete adjoint of an Euler ResNet, ``delta_k = delta_{k+1} + h vjp(t_k, x_k,
    delta_{k+1})``.

    For the blocks ``x_{k+1} = x_k + h f(k h, x_k)``, ``h = T / L``, the chain rule gives this
    recursion with ``vjp(t, x, a) = a^T df/dx(t, x)`` and ``delta_L = dLoss/dx_L``: an explicit
    first-order step, backwards in time, of the adjoint equation ``da/dt = -a df/dz`` (LeCun 1988;
    Chen et al. 2018); paired with the forward Euler step it is symplectic Euler (Sanz-Serna 2016).
    With a hand-derived ``vjp`` (e.g. :meth:`ODEFunc.vjp`) it is independent of autograd.

    Args:
        vjp: ``vjp(t, x, a)``, the vector-Jacobian product of the field.
        states: ``x_0, ..., x_L`` of shape ``(L + 1, ..., d)`` (:func:`euler_states`).
        delta_L: ``dLoss/dx_L``, shaped like ``states[-1]``.
        T: time horizon (> 0).

    Returns:
        ``delta_0, ..., delta_L``, shaped like ``states``.

    Example:
        >>> xs = euler_states(lambda t, x: -x, torch.ones(2, dtype=torch.float64), T=1.0, L=4)
        >>> d = adjoint_recursion(
        ...     lambda t, x, a: -2 * a, xs, torch.ones(2, dtype=torch.float64), T=1.0
        ... )
        >>> [round(v, 6) for v in d[0].tolist()]
        [0.0625, 0.0625]
    """
    vjp = _checks.function("vjp", vjp)
    states = _checks.tensor("states", states)
    if states.ndim < 2 or states.shape[0] < 2:
        raise ValueError(f"states must have shape (L + 1 >= 2, ..., d); got {tuple(states.shape)}")
    delta_L = _checks.tensor("delta_L", delta_L, shape=tuple(states.shape[1:]))
    _checks.same_dtype(states=states, delta_L=delta_L)
    T = _checks.positive("T", T)
    L = states.shape[0] - 1
    h = T / L
    tk = _times(T, L, states)
    d = delta_L
    out = [d]
    for k in reversed(range(L)):
        d = d + h * vjp(tk[k], states[k], d)
        out.append(d)
    return torch.stack(out[::-1])


def adjoint_state(
    func: Field,
    z0: torch.Tensor,
    *,
    T: float,
    aT: torch.Tensor,
    n_times: int = 41,
    rtol: float = 1e-10,
    atol: float = 1e-10,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integrate the adjoint equation ``da/dt = -a^T df/dz(z(t))`` backwards from ``a(T) = aT``.

    The state and the adjoint are solved together backwards in time (dopri5), as in Chen et al.
    (2018); the vector-Jacobian products come from autograd.

    Args:
        func: the field ``f(t, z)``.
        z0: initial state ``(..., d)``.
        T: time horizon (> 0).
        aT: ``a(T)``, shaped like ``z0`` and of its dtype.
        n_times: number of output times (>= 2) from ``T`` down to 0.
        rtol, atol: solver tolerances (> 0).

    Returns:
        ``(t, a)`` with times descending from ``T`` to 0 and ``a`` of shape ``(n_times, ...)``.

    Example:
        >>> A = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
        >>> t, a = adjoint_state(lambda t, z: z @ A.T, torch.ones(2, dtype=torch.float64), T=1.0,
        ...                      aT=torch.tensor([1.0, 0.0], dtype=torch.float64), n_times=3)
        >>> a.shape
        torch.Size([3, 2])
    """
    func = _checks.function("func", func)
    z0 = _checks.tensor("z0", z0)
    T = _checks.positive("T", T)
    aT = _checks.tensor("aT", aT)
    if aT.shape != z0.shape:
        raise ValueError(
            f"aT must have the shape of the state {tuple(z0.shape)}; got {tuple(aT.shape)}"
        )
    _checks.same_dtype(z0=z0, aT=aT)
    n_times = _checks.integer("n_times", n_times, low=2)
    _checks.size("n_times", 2 * n_times * max(z0.numel(), 1))
    rtol = _checks.positive("rtol", rtol)
    atol = _checks.positive("atol", atol)
    with torch.no_grad():
        tt = torch.tensor([0.0, T], dtype=z0.dtype, device=z0.device)
        zT = odeint(func, z0, tt, rtol=rtol, atol=atol)[-1]

    def aug(t, s):
        z, a = s
        with torch.enable_grad():
            z = z.detach().requires_grad_()
            fz = func(t, z)
            vjp = torch.autograd.grad(fz, z, a)[0]
        return fz.detach(), -vjp

    t = torch.linspace(T, 0.0, n_times, dtype=z0.dtype, device=z0.device)
    _, a = odeint(aug, (zT, aT), t, rtol=rtol, atol=atol)
    return t, a
