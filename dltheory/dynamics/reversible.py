"""Reversible networks: the Hamiltonian (leapfrog) network of Chang et al. (2018) and its exact inverse."""

from __future__ import annotations

import math

import torch

from dltheory.dynamics._validate import _positive

__all__ = [
    "hamiltonian_params",
    "hamiltonian_forward",
    "hamiltonian_inverse",
    "reversibility_experiment",
]


def hamiltonian_params(*, d: int, L: int, scale: float = 1.0, seed: int = 0, dtype=torch.float64) -> dict:
    """Random parameters ``K1, K2 (L, d, d)`` and ``b1, b2 (L, d)`` of a Hamiltonian network.

    Example:
        >>> p = hamiltonian_params(d=4, L=3, seed=0)
        >>> p["K1"].shape
        torch.Size([3, 4, 4])
    """
    _positive("d", d, integer=True)
    _positive("L", L, integer=True)
    _positive("scale", scale)
    g = torch.Generator().manual_seed(seed)
    s = scale / math.sqrt(d)
    return {
        "K1": torch.randn(L, d, d, generator=g, dtype=dtype) * s,
        "K2": torch.randn(L, d, d, generator=g, dtype=dtype) * s,
        "b1": torch.randn(L, d, generator=g, dtype=dtype) * 0.1,
        "b2": torch.randn(L, d, generator=g, dtype=dtype) * 0.1,
    }


def _check_ham(y: torch.Tensor, z: torch.Tensor, params: dict, h: float) -> None:
    _positive("h", h)
    missing = {"K1", "K2", "b1", "b2"} - set(params)
    if missing:
        raise ValueError(f"params lacks {sorted(missing)}; make them with hamiltonian_params")
    if y.shape != z.shape or y.shape[-1] != params["K1"].shape[-1]:
        raise ValueError(f"y and z must share a shape (..., {params['K1'].shape[-1]}); got {tuple(y.shape)}, {tuple(z.shape)}")


def hamiltonian_forward(
    y: torch.Tensor, z: torch.Tensor, params: dict, *, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward pass of the Hamiltonian reversible network of Chang et al. (2018).

    Each block is a leapfrog (symplectic Euler) step of ``dy/dt = K1^T sigma(K1 z + b1)``,
    ``dz/dt = -K2^T sigma(K2 y + b2)``:

    ``y_{j+1} = y_j + h K1_j^T tanh(K1_j z_j + b1_j)``,  ``z_{j+1} = z_j - h K2_j^T tanh(K2_j y_{j+1} + b2_j)``.

    Args:
        y, z: the two halves of the state, shape ``(..., d)``.
        params: from :func:`hamiltonian_params` (the number of blocks is ``K1.shape[0]``).
        h: step size (> 0).

    Returns:
        ``(y_L, z_L)``.

    Example:
        >>> p = hamiltonian_params(d=2, L=5)
        >>> y, z = hamiltonian_forward(torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), p, h=0.1)
    """
    _check_ham(y, z, params, h)
    for j in range(params["K1"].shape[0]):
        K1, K2 = params["K1"][j], params["K2"][j]
        y = y + h * torch.tanh(z @ K1.T + params["b1"][j]) @ K1
        z = z - h * torch.tanh(y @ K2.T + params["b2"][j]) @ K2
    return y, z


def hamiltonian_inverse(
    y: torch.Tensor, z: torch.Tensor, params: dict, *, h: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact inverse of :func:`hamiltonian_forward`: undo the blocks in reverse order.

    ``z_j = z_{j+1} + h K2_j^T tanh(K2_j y_{j+1} + b2_j)``, ``y_j = y_{j+1} - h K1_j^T tanh(K1_j z_j + b1_j)``.

    Example:
        >>> p = hamiltonian_params(d=2, L=5)
        >>> y0 = torch.ones(2, dtype=torch.float64); z0 = torch.zeros(2, dtype=torch.float64)
        >>> y, z = hamiltonian_inverse(*hamiltonian_forward(y0, z0, p, h=0.1), p, h=0.1)
        >>> bool(torch.allclose(y, y0))
        True
    """
    _check_ham(y, z, params, h)
    for j in reversed(range(params["K1"].shape[0])):
        K1, K2 = params["K1"][j], params["K2"][j]
        z = z + h * torch.tanh(y @ K2.T + params["b2"][j]) @ K2
        y = y - h * torch.tanh(z @ K1.T + params["b1"][j]) @ K1
    return y, z


def reversibility_experiment(*, d: int = 8, n: int = 256, L: int = 100, h: float = 0.1, seed: int = 0) -> dict:
    """Reconstruct the input of an ``L``-block Hamiltonian network from its output (float64).

    Returns:
        dict with ``error`` (max relative reconstruction error over inputs), ``output_change``
        (relative distance of the output from the input, to show the map is far from the identity),
        and ``grad_error``: relative difference between the input gradient of a loss computed by
        recomputing activations backwards from the output and ordinary backprop.

    Example:
        >>> reversibility_experiment(L=10, n=4)["error"] < 1e-12
        True
    """
    _positive("n", n, integer=True)
    p = hamiltonian_params(d=d, L=L, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    y0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    z0 = torch.randn(n, d, generator=g, dtype=torch.float64)
    yL, zL = hamiltonian_forward(y0, z0, p, h=h)
    yr, zr = hamiltonian_inverse(yL, zL, p, h=h)
    x0, xr, xL = torch.cat([y0, z0], -1), torch.cat([yr, zr], -1), torch.cat([yL, zL], -1)
    err = ((xr - x0).norm(dim=-1) / x0.norm(dim=-1)).max().item()
    change = ((xL - x0).norm(dim=-1) / x0.norm(dim=-1)).median().item()
    # memory-free backprop: walk back block by block, recomputing each block's input from its output
    yl, zl = yL.detach(), zL.detach()
    gy, gz = 2 * yl, 2 * zl  # gradient of |x_L|^2
    for j in reversed(range(L)):
        one = {k: v[j : j + 1] for k, v in p.items()}
        yi, zi = hamiltonian_inverse(yl, zl, one, h=h)
        yi, zi = yi.requires_grad_(), zi.requires_grad_()
        yo, zo = hamiltonian_forward(yi, zi, one, h=h)
        gy, gz = torch.autograd.grad((yo, zo), (yi, zi), (gy, gz))
        yl, zl = yi.detach(), zi.detach()
    ya, za = y0.clone().requires_grad_(), z0.clone().requires_grad_()
    yb, zb = hamiltonian_forward(ya, za, p, h=h)
    ga, gb = torch.autograd.grad((yb**2).sum() + (zb**2).sum(), (ya, za))
    gstore, grec = torch.cat([ga, gb], -1), torch.cat([gy, gz], -1)
    return {
        "error": err,
        "output_change": change,
        "grad_error": ((grec - gstore).norm() / gstore.norm()).item(),
        "L": L,
    }
