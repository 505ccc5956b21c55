"""Pontryagin's maximum principle for a residual network: costates are backpropagation.

Layers are time steps: ``x_{t+1} = f_t(x_t, theta_t) = x_t + h tanh(x_t W_t' + b_t)``, ``t = 0..T-1``, for
each sample of a batch, with terminal loss ``Phi(x_T, y) = CE(x_T C', y)`` (a fixed read-out ``C``) and
running cost ``R(theta_t) = lam |theta_t|^2 / 2``. Training minimises
``J = mean_i Phi(x^i_T, y^i) + sum_t R(theta_t)`` (Li, Chen, Tai & E 2018; E, Han & Li 2019).

With the Hamiltonian ``H_t(x, p, theta) = mean_i p^i . f_t(x^i, theta) - R(theta)`` the discrete PMP reads

    x_{t+1} = grad_p H_t,    p_t = grad_x H_t = (df_t/dx)' p_{t+1},    p^i_T = -grad Phi(x^i_T, y^i),

and ``grad_theta J = -grad_theta H_t(x_t, p_{t+1}, theta_t)``: the costate recursion *is*
backpropagation. For the tanh block, with ``z = x W' + b`` and ``s = 1 - tanh(z)^2``,
``p_t = p_{t+1} + h (s * p_{t+1}) W`` and ``grad_W H_t = h mean_i (s * p_{t+1})' x_t - lam W``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dltheory._checks import integer, positive, seed as _seed

__all__ = [
    "costate_gradient_gap",
    "ResNetControl",
    "init_params",
    "forward_states",
    "terminal_loss",
    "costates",
    "hamiltonian",
    "hamiltonian_grads",
    "total_loss",
    "NetworkProblem",
    "digits_data",
    "readout",
]


@dataclass(frozen=True)
class ResNetControl:
    """A tanh residual network viewed as a control system.

    Attributes:
        C: fixed read-out ``(K, d)``.
        h: step size of the residual blocks (``> 0``).
        lam: weight of the running cost ``R(theta) = lam |theta|^2 / 2`` (``>= 0``).
    """

    C: torch.Tensor
    h: float = 0.25
    lam: float = 0.0

    def __post_init__(self):
        if not isinstance(self.C, torch.Tensor) or self.C.ndim != 2:
            raise TypeError("C must be a 2-D torch tensor (classes, width)")
        positive("h", self.h)
        positive("lam", self.lam, allow_zero=True)


def init_params(*, T: int, d: int, scale: float = 0.0, seed: int = 0, dtype=torch.float64):
    """Parameters ``(W, b)`` of shapes ``(T, d, d)``, ``(T, d)``: Gaussian entries with std ``scale / sqrt(d)``."""
    T, d = integer("T", T), integer("d", d)
    scale = positive("scale", scale, allow_zero=True)
    g = torch.Generator().manual_seed(_seed(seed))
    W = scale / d**0.5 * torch.randn(T, d, d, generator=g, dtype=dtype)
    return W, torch.zeros(T, d, dtype=dtype)


def _check(W, b, x0):
    if W.ndim != 3 or W.shape[1] != W.shape[2]:
        raise ValueError(f"W must have shape (T, d, d); got {tuple(W.shape)}")
    if b.shape != W.shape[:2]:
        raise ValueError(f"b must have shape (T, d) = {tuple(W.shape[:2])}; got {tuple(b.shape)}")
    if x0.ndim != 2 or x0.shape[1] != W.shape[1]:
        raise ValueError(f"x0 must have shape (N, d) with d = {W.shape[1]}; got {tuple(x0.shape)}")


def forward_states(model: ResNetControl, W, b, x0) -> torch.Tensor:
    """States ``x_0..x_T`` of the batch, shape ``(T + 1, N, d)``."""
    _check(W, b, x0)
    xs = [x0]
    for t in range(W.shape[0]):
        xs.append(xs[-1] + model.h * torch.tanh(xs[-1] @ W[t].T + b[t]))
    return torch.stack(xs)


def terminal_loss(model: ResNetControl, xT, y) -> torch.Tensor:
    """``mean_i Phi(x^i_T, y^i)`` with ``Phi = cross-entropy(x_T C', y)``."""
    return torch.nn.functional.cross_entropy(xT @ model.C.T, y)


def total_loss(model: ResNetControl, W, b, x0, y) -> torch.Tensor:
    """``J = mean_i Phi(x^i_T, y^i) + lam/2 sum_t (|W_t|^2 + |b_t|^2)`` (differentiable)."""
    xs = forward_states(model, W, b, x0)
    return terminal_loss(model, xs[-1], y) + 0.5 * model.lam * ((W * W).sum() + (b * b).sum())


def costates(model: ResNetControl, W, b, xs, y) -> torch.Tensor:
    """Costates ``p_0..p_T`` (per sample, shape ``(T + 1, N, d)``) by the hand-derived backward recursion.

    ``p^i_T = -grad Phi(x^i_T, y^i) = -(softmax(x_T C') - onehot(y)) C`` and
    ``p_t = p_{t+1} + h (s_t * p_{t+1}) W_t`` with ``s_t = 1 - tanh(x_t W_t' + b_t)^2``.

    Example:
        >>> torch.manual_seed(0) and None
        >>> m = ResNetControl(C=torch.eye(3, dtype=torch.float64))
        >>> W, b = init_params(T=2, d=3, scale=1.0)
        >>> x0 = torch.ones(4, 3, dtype=torch.float64); y = torch.tensor([0, 1, 2, 0])
        >>> costates(m, W, b, forward_states(m, W, b, x0), y).shape
        torch.Size([3, 4, 3])
    """
    T = W.shape[0]
    logits = xs[-1] @ model.C.T
    onehot = torch.nn.functional.one_hot(y, logits.shape[1]).to(xs.dtype)
    p = -(torch.softmax(logits, dim=1) - onehot) @ model.C
    ps = [p]
    for t in range(T - 1, -1, -1):
        s = 1 - torch.tanh(xs[t] @ W[t].T + b[t]) ** 2
        p = p + model.h * (s * p) @ W[t]
        ps.append(p)
    return torch.stack(ps[::-1])


def hamiltonian(model: ResNetControl, xt, p_next, Wt, bt) -> torch.Tensor:
    """``H_t = mean_i p^i_{t+1} . f_t(x^i_t, theta_t) - R(theta_t)`` for one layer (differentiable)."""
    f = xt + model.h * torch.tanh(xt @ Wt.T + bt)
    return (p_next * f).sum(-1).mean() - 0.5 * model.lam * ((Wt * Wt).sum() + (bt * bt).sum())


def hamiltonian_grads(model: ResNetControl, W, b, xs, ps) -> tuple[torch.Tensor, torch.Tensor]:
    """``grad_theta H_t(x_t, p_{t+1}, theta_t)`` for every layer at once (closed form), shapes of ``W``, ``b``.

    ``grad_W H_t = h mean_i (s * p_{t+1})' x_t - lam W_t``, ``grad_b H_t = h mean_i s * p_{t+1} - lam b_t``.
    """
    N = xs.shape[1]
    z = torch.einsum("tnd,ted->tne", xs[:-1], W) + b[:, None, :]
    sp = (1 - torch.tanh(z) ** 2) * ps[1:]
    gW = model.h * torch.einsum("tne,tnd->ted", sp, xs[:-1]) / N - model.lam * W
    gb = model.h * sp.mean(1) - model.lam * b
    return gW, gb


def costate_gradient_gap(model: ResNetControl, W, b, x0, y) -> float:
    """Largest relative difference, over layers, between ``-grad_theta H_t`` and autograd's ``dJ/dtheta_t``.

    The costates come from :func:`costates` (``p_t = (df_t/dx)^T p_{t+1}``, ``p_T = -grad Phi``) and the
    Hamiltonian gradients from :func:`hamiltonian_grads`; the discrete maximum principle says
    ``-grad_theta H_t = dJ/dtheta_t`` exactly (Li & Hao 2018), so the gap is round-off.
    Per layer, the difference is relative to the largest entry of autograd's gradient.
    """
    _check(W, b, x0)
    Wr, br = W.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
    gW, gb = torch.autograd.grad(total_loss(model, Wr, br, x0, y), (Wr, br))
    xs = forward_states(model, W, b, x0)
    hW, hb = hamiltonian_grads(model, W, b, xs, costates(model, W, b, xs, y))
    return float(max(
        ((-hW - gW).abs().amax(dim=(1, 2)) / gW.abs().amax(dim=(1, 2))).max(),
        ((-hb - gb).abs().amax(dim=1) / gb.abs().amax(dim=1)).max(),
    ))


class NetworkProblem:
    """The residual network as a control problem for :func:`dltheory.control.ddp.first_order_step`.

    State: the whole batch ``x_t`` (``(N, d)``); control ``u_t = (W_t, b_t)``. Running cost ``R``, terminal
    cost ``mean_i Phi``; ``vjp`` uses the hand-derived Jacobian products of the tanh block.
    """

    def __init__(self, model: ResNetControl, y: torch.Tensor):
        self.model, self.y = model, y

    def step(self, x, u):
        Wt, bt = u
        return x + self.model.h * torch.tanh(x @ Wt.T + bt)

    def running(self, x, u):
        Wt, bt = u
        lam = self.model.lam
        return 0.5 * lam * ((Wt * Wt).sum() + (bt * bt).sum()), torch.zeros_like(x), _Pair(lam * Wt, lam * bt)

    def terminal(self, x):
        logits = x @ self.model.C.T
        onehot = torch.nn.functional.one_hot(self.y, logits.shape[1]).to(x.dtype)
        g = (torch.softmax(logits, dim=1) - onehot) @ self.model.C / x.shape[0]
        return terminal_loss(self.model, x, self.y), g

    def vjp(self, x, u, v):
        Wt, bt = u
        sv = (1 - torch.tanh(x @ Wt.T + bt) ** 2) * v
        return v + self.model.h * sv @ Wt, _Pair(self.model.h * sv.T @ x, self.model.h * sv.sum(0))


class _Pair(tuple):
    """A ``(W, b)`` pair supporting ``+`` and ``-`` and scalar ``*`` elementwise (for first_order_step)."""

    def __new__(cls, a, b):
        return super().__new__(cls, (a, b))

    def __add__(self, o):
        return _Pair(self[0] + o[0], self[1] + o[1])

    def __rsub__(self, o):
        return _Pair(o[0] - self[0], o[1] - self[1])

    def __sub__(self, o):
        return _Pair(self[0] - o[0], self[1] - o[1])

    def __rmul__(self, c):
        return _Pair(c * self[0], c * self[1])


def digits_data(*, seed: int = 0, test_size: float = 0.3, dtype=torch.float64):
    """scikit-learn digits, pixel values scaled to ``[0, 1]`` and centred, split train/test (stratified).

    Returns:
        ``(x_train, y_train, x_test, y_test)``; features have ``d = 64``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, random_state=_seed(seed), stratify=y)
    mu = xtr.mean(0)
    f = lambda z: torch.as_tensor(z - mu, dtype=dtype)
    return f(xtr), torch.as_tensor(ytr), f(xte), torch.as_tensor(yte)


def readout(*, K: int = 10, d: int = 64, scale: float = 4.0, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    """A fixed read-out ``C`` with orthonormal rows times ``scale`` (``K <= d``)."""
    K, d = integer("K", K), integer("d", d)
    if K > d:
        raise ValueError(f"need K <= d; got K={K}, d={d}")
    g = torch.Generator().manual_seed(_seed(seed))
    q, _ = torch.linalg.qr(torch.randn(d, K, generator=g, dtype=dtype))
    return positive("scale", scale) * q.T
