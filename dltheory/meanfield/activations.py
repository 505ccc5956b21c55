"""Activation functions by name, with their first and second derivatives.

Mean field theory needs phi, phi' (for chi_1 and the gradients) and phi'' (for the slope of the
length map, xi_q). Named activations carry closed-form derivatives; any other elementwise torch
function gets them from autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dltheory import _checks as checks

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity with its derivatives.

    Attributes:
        name: registry name, or ``"custom"``.
        phi: the function.
        dphi: its first derivative.
        d2phi: its second derivative (zero almost everywhere for piecewise-linear functions).
        smooth: whether ``phi`` is twice continuously differentiable (needed where the theory uses
            phi'' as a function, e.g. the finite-width fluctuation theory).
        kinks: points where ``phi'`` jumps (ReLU: 0; hard tanh: +-1); Gaussian integrals are split
            there (see :mod:`dltheory.meanfield.kernels`). ``None`` for a smooth activation, or for
            a non-smooth one whose kinks are unknown (then integrals use adaptive quadrature).
    """

    name: str
    phi: Fn
    dphi: Fn
    d2phi: Fn
    smooth: bool = True
    kinks: tuple[float, ...] | None = None


_SQRT_PI = math.sqrt(math.pi)


def _sigmoid_d(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s)


def _sigmoid_d2(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s) * (1 - 2 * s)


def _tanh_d(x: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(x) ** 2


def _tanh_d2(x: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(x)
    return -2 * t * (1 - t**2)


#: The registry of named activations.
ACTIVATIONS: dict[str, Activation] = {
    "tanh": Activation("tanh", torch.tanh, _tanh_d, _tanh_d2),
    "relu": Activation(
        "relu",
        torch.relu,
        lambda x: (x > 0).to(x.dtype),
        lambda x: torch.zeros_like(x),
        smooth=False,
        kinks=(0.0,),
    ),
    "erf": Activation(
        "erf",
        torch.erf,
        lambda x: 2 / _SQRT_PI * torch.exp(-(x**2)),
        lambda x: -4 * x / _SQRT_PI * torch.exp(-(x**2)),
    ),
    "linear": Activation("linear", lambda x: x, torch.ones_like, torch.zeros_like),
    "hard_tanh": Activation(
        "hard_tanh",
        lambda x: torch.clamp(x, -1.0, 1.0),
        lambda x: (x.abs() < 1).to(x.dtype),
        lambda x: torch.zeros_like(x),
        smooth=False,
        kinks=(-1.0, 1.0),
    ),
    "sigmoid": Activation("sigmoid", torch.sigmoid, _sigmoid_d, _sigmoid_d2),
}


def _autograd_derivative(f: Fn) -> Fn:
    def df(x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xr = x if x.requires_grad else x.detach().requires_grad_(True)
            y = f(xr)
            if not y.requires_grad:  # f does not depend on x (constant)
                return torch.zeros_like(x)
            (g,) = torch.autograd.grad(y.sum(), xr, create_graph=True, allow_unused=True)
        return torch.zeros_like(x) if g is None else g

    return df


def _detached(f: Fn) -> Fn:
    return lambda x: f(x).detach()


def get_activation(activation: str | Callable | Activation) -> Activation:
    """Look up an activation by name, or wrap an elementwise torch function.

    Args:
        activation: one of ``ACTIVATIONS`` (``tanh``, ``relu``, ``erf``, ``linear``, ``hard_tanh``,
            ``sigmoid``), an :class:`Activation`, or any elementwise callable on torch tensors; the
            derivatives of a callable are taken by autograd and it is treated as smooth. For a
            callable with kinks, pass ``Activation("name", phi, dphi, d2phi, smooth=False,
            kinks=(...))`` so that the Gaussian integrals are split at the kinks (or ``kinks=None``
            for adaptive quadrature).

    Returns:
        The :class:`Activation`.

    Raises:
        ValueError: for an unknown name (the message lists the valid names).
        TypeError: for anything that is neither a string nor callable.

    Example:
        >>> act = get_activation("tanh")
        >>> float(act.dphi(torch.tensor(0.0)))
        1.0
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation]
        except KeyError:
            raise ValueError(
                f"unknown activation {activation!r}; valid names are: "
                f"{', '.join(sorted(ACTIVATIONS))} "
                "(or pass any elementwise torch function)"
            ) from None
    if callable(activation):
        activation = checks.function("activation", activation)
        d1 = _autograd_derivative(activation)
        d2 = _autograd_derivative(d1)
        return Activation("custom", activation, _detached(d1), _detached(d2))
    raise TypeError(f"activation must be a name or a callable, got {type(activation).__name__}")
