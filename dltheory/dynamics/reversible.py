"""Reversible networks: the Hamiltonian (leapfrog) network of Chang et al. (2018) and its
inverse."""

from __future__ import annotations

import math

import torch

from dltheory import _checks

__all__ = [
    "hamiltonian_params",
    "hamiltonian_forward",
    "hamiltonian_inverse",
    "euler_reversal",
]

_KEYS = ("K1", "K2", "b1", "b2")


def hamiltonian_params(
    *, d: int, L: int, scale: float = 1.0, seed: int = 0, dtype: torch.dtype = torch.float64
) -> dict[str, torch.Tensor]:
    """Random parameters ``K1, K2 (L, d, d)`` and ``b1, b2 (L, d)`` of a Hamiltonian network.

    ``K`` entries are Gaussian with standard deviation ``scale / sqrt(d)``, biases with 0.1.

    Example:
        >>> p = hamiltonian_params(d=4, L=3, seed=0)
        >>> p["K1"].shape
        torch.Size([3, 4, 4])
    """
    d = _checks.integer("d", d)
    L = _checks.integer("L", L)
    scale = _checks.positive("scale", scale)
    seed = _checks.seed(seed)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype; got {dtype!r}")
    _checks.size("L and d", 2 * L * d * (d + 1))
    g = torch.Generator().manual_seed(seed)
    s = scale / math.sqrt(d)
    return {
        "K1": torch.randn(L, d, d, generator=g, dtype=dtype) * s,
        "K2": torch.randn(L, d, d, generator=g, dtype=dtype) * s,
        "b1": torch.randn(L, d, generator=g, dtype=dtype) * 0.1,
        "b2": torch.randn(L, d, generator=g, dtype=dtype) * 0.1,
    }


def _check_ham(y, z, params, h) -> tuple[torch.Tensor, torch.Tensor, dict, float]:
    if not isinstance(params, dict):
        raise TypeError(
            f"params must be a dict made by hamiltonian_params; got {type(params).__name__}"
        )
    missing = set(_KEYS) - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}; make them with hamiltonian_params")
    p = {
        k: _checks.tensor(f"params[{k!r}]", params[k], ndim=3 if k[0] == "K" else 2) for k in _KEYS
    }
    L, d = p["K1"].shape[:2]
    for k in _KEYS:
        want = (L, d, d) if k[0] == "K" else (L, d)
        if tuple(p[k].shape) != want:
            raise ValueError(f"params[{k!r}] must have shape {want}; got {tuple(p[k].shape)}")
    y = _checks.tensor("y", y)
    z = _checks.tensor("z", z)
    if y.shape != z.shape or y.shape[-1:] != (d,):
        raise ValueError(
            f"y and z must share a shape (..., {d}); got {tuple(y.shape)}, {tuple(z.shape)}"
        )
    _checks.same_dtype(y=y, z=z, K1=p["K1"])
    return y, z, p, _checks.positive("h", h)


def hamiltonian_forward(
    y: torch.Tensor, z: torch.Tensor, params: dict, *, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward pass of the Hamiltonian reversible network of Chang et al. (2018).

    Each block is a leapfrog (symplectic Euler) step of ``dy/dt = K1^T sigma(K1 z + b1)``,
    ``dz/dt = -K2^T sigma(K2 y + b2)``:

    ``y_{j+1} = y_j + h K1_j^T tanh(K1_j z_j + b1_j)``,
    ``z_{j+1} = z_j - h K2_j^T tanh(K2_j y_{j+1} + b2_j)``.

    Args:
        y, z: the two halves of the state, shape ``(..., d)``, the dtype of the parameters.
        params: from :func:`hamiltonian_params` (the number of blocks is ``K1.shape[0]``).
        h: step size (> 0).

    Returns:
        ``(y_L, z_L)``.

    Example:
        >>> p = hamiltonian_params(d=2, L=5)
        >>> y0, z0 = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        >>> y, z = hamiltonian_forward(y0, z0, p, h=0.1)
        >>> y.shape
        torch.Size([2])
    """
    y, z, p, h = _check_ham(y, z, params, h)
    for j in range(p["K1"].shape[0]):
        K1, K2 = p["K1"][j], p["K2"][j]
        y = y + h * torch.tanh(z @ K1.T + p["b1"][j]) @ K1
        z = z - h * torch.tanh(y @ K2.T + p["b2"][j]) @ K2
    return y, z


def hamiltonian_inverse(
    y: torch.Tensor, z: torch.Tensor, params: dict, *, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact inverse of :func:`hamiltonian_forward`: undo the blocks in reverse order.

    ``z_j = z_{j+1} + h K2_j^T tanh(K2_j y_{j+1} + b2_j)``,
    ``y_j = y_{j+1} - h K1_j^T tanh(K1_j z_j + b1_j)``.

    Example:
        >>> p = hamiltonian_params(d=2, L=5)
        >>> y0, z0 = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        >>> y, z = hamiltonian_inverse(*hamiltonian_forward(y0, z0, p, h=0.1), p, h=0.1)
        >>> bool(torch.allclose(y, y0))
        True
    """
    y, z, p, h = _check_ham(y, z, params, h)
    for j in reversed(range(p["K1"].shape[0])):
        K1, K2 = p["K1"][j], p["K2"][j]
        z = z + h * torch.tanh(y @ K2.T + p["b2"][j]) @ K2
        y = y - h * torch.tanh(z @ K1.T + p["b1"][j]) @ K1
    return y, z


def euler_reversal(
    y: torch.Tensor, z: torch.Tensor, params: dict, *, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The naive inverse of :func:`hamiltonian_forward`: run each block backwards in time.

    Each block is undone by the same two half-steps with ``-h``, in the forward order,
    ``y_j = y_{j+1} - h K1_j^T tanh(K1_j z_{j+1} + b1_j)``, then
    ``z_j = z_{j+1} + h K2_j^T tanh(K2_j y_j + b2_j)``: the way one reverses a generic residual
    block ``x_j = x_{j+1} - h f(x_{j+1})``, which inverts the ODE only up to the discretisation
    error, ``O(h^2)`` per block. It is the rival of the exact inverse :func:`hamiltonian_inverse`.

    Example:
        >>> p = hamiltonian_params(d=2, L=5)
        >>> y0, z0 = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
        >>> y, z = euler_reversal(*hamiltonian_forward(y0, z0, p, h=0.1), p, h=0.1)
        >>> bool(torch.allclose(y, y0))
        False
    """
    y, z, p, h = _check_ham(y, z, params, h)
    for j in reversed(range(p["K1"].shape[0])):
        K1, K2 = p["K1"][j], p["K2"][j]
        y = y - h * torch.tanh(z @ K1.T + p["b1"][j]) @ K1
        z = z + h * torch.tanh(y @ K2.T + p["b2"][j]) @ K2
    return y, z
