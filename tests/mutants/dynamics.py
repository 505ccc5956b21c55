"""Mutants of the dynamics chapter: plausible wrong theories its claims must catch."""

import numpy as np
import torch
from harness import Mutant
from torchdiffeq import odeint

from dltheory.dynamics.reversible import euler_reversal


def _half_step(original):
    """Euler blocks ``x + (h/2) f(x)``: the step factor of the ResNet read as Euler is wrong."""

    def wrong(field, x0, *, T, L, method="euler", return_all=False):
        return original(
            field,
            x0,
            T=T / 2 if method == "euler" else T,
            L=L,
            method=method,
            return_all=return_all,
        )

    return wrong


def _real_part_only(original):
    """Stability from ``|1 + h Re(lambda)|``: the ODE's criterion, blind to the imaginary part."""

    def wrong(eigenvalues, h):
        lam = (
            eigenvalues.detach().cpu().numpy()
            if isinstance(eigenvalues, torch.Tensor)
            else np.asarray(eigenvalues)
        )
        return original(lam.real.astype(complex), h)

    return wrong


def _adjoint_sign(original):
    """The adjoint equation with the wrong sign, ``da/dt = + a^T df/dz``."""

    def wrong(func, z0, *, T, aT, n_times=41, rtol=1e-10, atol=1e-10):
        with torch.no_grad():
            tt = torch.tensor([0.0, T], dtype=z0.dtype, device=z0.device)
            zT = odeint(func, z0, tt, rtol=rtol, atol=atol)[-1]

        def aug(t, s):
            z, a = s
            with torch.enable_grad():
                z = z.detach().requires_grad_()
                fz = func(t, z)
                vjp = torch.autograd.grad(fz, z, a)[0]
            return fz.detach(), vjp

        t = torch.linspace(T, 0.0, n_times, dtype=z0.dtype, device=z0.device)
        _, a = odeint(aug, (zT, aT), t, rtol=rtol, atol=atol)
        return t, a

    return wrong


def _as_backprop(func, y0, t, *, adjoint_params=None, **kwargs):
    """``odeint_adjoint`` replaced by backprop through ``odeint``: no backward reconstruction."""
    return odeint(func, y0, t, **kwargs)


MUTANTS = [
    Mutant(
        "euler-half-step",
        "ResNet blocks x + (h/2) f(x): Euler with a wrong step factor",
        "dltheory.dynamics.euler:residual_stack",
        _half_step,
    ),
    Mutant(
        "stability-real-part",
        "Euler stability judged by |1 + h Re(lambda)| (the ODE's "
        "eigenvalue bound, ignoring Im(lambda))",
        "dltheory.dynamics.stability:euler_amplification",
        _real_part_only,
    ),
    Mutant(
        "reversal-not-inverse",
        "the reversible block inverted by running it backwards "
        "with -h (half-steps in the forward order)",
        "dltheory.dynamics.reversible:hamiltonian_inverse",
        lambda f: euler_reversal,
    ),
    Mutant(
        "adjoint-is-backprop",
        "the adjoint method taken to be backprop through the solver "
        "(optimise-then-discretise = discretise-then-optimise)",
        "dltheory.dynamics.experiments_adjoint:odeint_adjoint",
        lambda f: _as_backprop,
    ),
    Mutant(
        "adjoint-sign",
        "the adjoint equation with a sign error, da/dt = +a df/dz",
        "dltheory.dynamics.costate:adjoint_state",
        _adjoint_sign,
    ),
]
