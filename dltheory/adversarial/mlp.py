"""A tanh multilayer perceptron with hand-derived costates, batched over independent networks
(seeds).

Layers are time steps of a discrete control system (the control chapter's view):

    x_{l+1} = f_l(x_l, theta_l) = tanh(x_l W_l + b_l),   l = 0..L-2,
    x_L = x_{L-1} W_{L-1} + b_{L-1},

with terminal loss ``Phi(x_L, y) = mean_i CE(x^i_L, y^i)``. The costates of Pontryagin's principle
are ``p_L = -grad_{x_L} Phi`` and ``p_l = (df_l/dx)' p_{l+1}``; for the tanh layer, with
``s_l = 1 - x_{l+1}^2``, ``p_l = (s_l * p_{l+1}) W_l'``. The gradient of the loss with respect to
the weights is ``-grad_theta H_l`` with ``grad_{W_l} H_l = x_l' (s_l * p_{l+1})``.

An adversarial perturbation ``eta`` of the input enters only layer 0,
``x_1 = f_0(x_0 + eta, theta_0)``, so by the same principle (Zhang et al. 2019, "You only propagate
once")

    grad_eta Phi = -(df_0/dx)' p_1 = -(s_0 * p_1) W_0',

which needs the costate ``p_1`` at layer 1 and nothing else of the network.

Every array carries a leading axis of ``S`` independent networks (seeds), so three seeds train in
one batched matrix product per layer. All products are ``torch.bmm`` calls, whose floating-point
operations ``torch.utils.flop_counter.FlopCounterMode`` counts; nothing else in the passes
multiplies matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dltheory import _checks as checks

__all__ = [
    "PassCounter",
    "init_mlp",
    "forward",
    "loss",
    "costates",
    "first_layer_costate",
    "input_gradient",
    "weight_gradients",
    "first_layer_input_gradient",
    "layer_flops",
]


@dataclass
class PassCounter:
    """Counts of the passes an algorithm makes (incremented by the training functions).

    Attributes:
        full: full forward passes through every layer, each followed by a backward pass.
        first_layer: forward-and-backward passes through layer 0 only.
    """

    full: int = 0
    first_layer: int = 0


def init_mlp(sizes, *, n_nets: int = 1, seed: int = 0, dtype=torch.float64) -> list[torch.Tensor]:
    """Parameters ``[W_0, b_0, W_1, b_1, ...]`` of ``n_nets`` MLPs: ``W_l`` is
    ``(S, d_l, d_{l+1})``.

    Weights are Gaussian with variance ``1 / d_l`` (LeCun), biases zero.

    Args:
        sizes: layer widths ``(d_0, ..., d_L)``, at least two.
        n_nets: number ``S`` of independent networks.
        seed: seed of the weights.

    Example:
        >>> [tuple(p.shape) for p in init_mlp((4, 3, 2), n_nets=2)]
        [(2, 4, 3), (2, 1, 3), (2, 3, 2), (2, 1, 2)]
    """
    if not isinstance(sizes, (tuple, list)) or len(sizes) < 2:
        raise TypeError(f"sizes must be a tuple of at least two layer widths; got {sizes!r}")
    sizes = [checks.integer(f"sizes[{i}]", s, high=1 << 16) for i, s in enumerate(sizes)]
    S = checks.integer("n_nets", n_nets, high=1024)
    checks.size("the weights", S * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)))
    g = torch.Generator().manual_seed(checks.seed(seed))
    params = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        params.append(torch.randn(S, a, b, generator=g, dtype=dtype) / a**0.5)
        params.append(torch.zeros(S, 1, b, dtype=dtype))
    return params


def _check_params(params, x, y=None, *, name="x"):
    if (
        not isinstance(params, (list, tuple))
        or len(params) < 2
        or len(params) % 2
        or not all(isinstance(p, torch.Tensor) for p in params)
    ):
        raise TypeError(
            "params must be a list [W_0, b_0, W_1, b_1, ...] of tensors as made by init_mlp"
        )
    S, d0 = params[0].shape[0], params[0].shape[1]
    checks.on_device(name, x, params[0].device)
    if x.ndim != 3 or x.shape[0] != S or x.shape[2] != d0:
        raise ValueError(
            f"{name} must have shape (S, B, d_0) = ({S}, B, {d0}); got {tuple(x.shape)}"
        )
    checks.nonempty(name, x, axis=1)
    if y is not None:
        return checks.on_device(
            "y",
            checks.labels("y", y, n_classes=params[-1].shape[-1], n=x.shape[1]),
            params[0].device,
        )


def forward(params, x: torch.Tensor) -> list[torch.Tensor]:
    """States ``[x_0, x_1, ..., x_L]`` of the network (``x_L`` are the logits), each
    ``(S, B, d_l)``.

    Example:
        >>> p = init_mlp((4, 3, 2), n_nets=2)
        >>> [tuple(s.shape) for s in forward(p, torch.zeros(2, 5, 4, dtype=torch.float64))]
        [(2, 5, 4), (2, 5, 3), (2, 5, 2)]
    """
    x = checks.tensor("x", x, ndim=3)
    _check_params(params, x)
    return _forward(params, x)


def _check_states(name, states, params, offset=0):
    """Per-layer tensors ``(S, B, d_l)``: ``L + 1`` of them (``L`` when ``offset`` is 1)."""
    first = checks.tensor(f"{name}[0]", checks.sequence(name, states, min_len=1)[0], ndim=3)
    if not offset:
        _check_params(params, first, name=f"{name}[0]")
    n = len(params) // 2 + 1
    states = checks.sequence(name, states)
    if len(states) not in (n, n - offset):
        raise ValueError(f"{name} must hold one tensor per layer ({n}); got {len(states)}")
    return [checks.tensor(f"{name}[{i}]", s, ndim=3) for i, s in enumerate(states)]


def _forward(params, x, n_layers=None):
    L = len(params) // 2
    states = [x]
    for l in range(L if n_layers is None else n_layers):
        z = torch.baddbmm(params[2 * l + 1], states[-1], params[2 * l])
        states.append(torch.tanh(z) if l < L - 1 else z)
    return states


def loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``Phi = mean_i CE(x^i_L, y^i)`` for each network, summed over networks (one scalar).

    Args:
        logits: ``(S, B, K)``.
        y: labels ``(S, B)`` or ``(B,)``.

    Example:
        >>> round(float(loss(torch.zeros(1, 2, 2), torch.tensor([0, 1]))), 6)  # log 2
        0.693147
    """
    logits = checks.tensor("logits", logits, ndim=3)
    y = checks.labels("y", y, n_classes=logits.shape[-1], n=logits.shape[1]).to(logits.device)
    y = y.expand(logits.shape[:2])
    return (
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum")
        / logits.shape[1]
    )


def _terminal_costate(logits, y):
    y = y.expand(logits.shape[:2])
    onehot = torch.nn.functional.one_hot(y, logits.shape[-1]).to(logits.dtype)
    return -(torch.softmax(logits, dim=-1) - onehot) / logits.shape[1]


def costates(params, states, y) -> list[torch.Tensor]:
    """Costates ``[p_0, ..., p_L]`` by the hand-derived backward recursion (no autograd).

    ``p_L = -(softmax(x_L) - onehot(y)) / B`` (the loss is a batch mean) and
    ``p_l = (s_l * p_{l+1}) W_l'`` for tanh layers, ``p_{L-1} = p_L W_{L-1}'`` for the linear
    read-out.

    Example:
        >>> p = init_mlp((4, 3, 2), n_nets=1)
        >>> x = torch.zeros(1, 5, 4, dtype=torch.float64)
        >>> [tuple(c.shape) for c in costates(p, forward(p, x), torch.zeros(5, dtype=torch.long))]
        [(1, 5, 4), (1, 5, 3), (1, 5, 2)]
    """
    states = _check_states("states", states, params)
    y = _check_params(params, states[0], y, name="states[0]")
    return _costates(params, states, y, stop=0)


def _costates(params, states, y, stop):
    L = len(params) // 2
    p = _terminal_costate(states[-1], y)
    ps = [p]
    for l in range(L - 1, stop - 1, -1):
        sp = p if l == L - 1 else (1 - states[l + 1] ** 2) * p
        p = torch.bmm(sp, params[2 * l].transpose(1, 2))
        ps.append(p)
    return ps[::-1]


def first_layer_costate(params, x0, eta, y) -> torch.Tensor:
    """The costate ``p_1`` at layer 1 for inputs ``x_0 + eta`` (hand-derived recursion).

    Example:
        >>> p = init_mlp((4, 3, 2), n_nets=1)
        >>> x = torch.zeros(1, 5, 4, dtype=torch.float64)
        >>> tuple(first_layer_costate(p, x, x, torch.zeros(5, dtype=torch.long)).shape)
        (1, 5, 3)
    """
    x0, eta = checks.tensor("x0", x0, ndim=3), checks.tensor("eta", eta, ndim=3)
    if eta.shape != x0.shape:
        raise ValueError(f"eta must have the shape of x0 {tuple(x0.shape)}; got {tuple(eta.shape)}")
    y = _check_params(params, x0, y, name="x0")
    states = _forward(params, x0 + eta)
    return _costates(params, states, y, stop=1)[0]


def input_gradient(params, x0, eta, y) -> torch.Tensor:
    """``grad_eta Phi = -(df_0/dx)' p_1 = -(s_0 * p_1) W_0'``, from the hand-derived costate
    ``p_1``.

    Example:
        >>> p = init_mlp((4, 3, 2), n_nets=1)
        >>> x = torch.zeros(1, 5, 4, dtype=torch.float64)
        >>> tuple(input_gradient(p, x, x, torch.zeros(5, dtype=torch.long)).shape)
        (1, 5, 4)
    """
    p1 = first_layer_costate(params, x0, eta, y)
    return _first_layer_grad(params, x0 + eta, p1)


def _first_layer_grad(params, x, p1):
    x1 = torch.tanh(torch.baddbmm(params[1], x, params[0]))
    return -torch.bmm((1 - x1**2) * p1, params[0].transpose(1, 2))


def first_layer_input_gradient(params, x, p1) -> torch.Tensor:
    """One first-layer pass: forward layer 0 at ``x`` and return ``-(s_0 * p_1) W_0'`` for a given
    ``p_1``.

    Example:
        >>> p = init_mlp((4, 3, 2), n_nets=1)
        >>> tuple(first_layer_input_gradient(p, torch.zeros(1, 5, 4, dtype=torch.float64),
        ...                                  torch.zeros(1, 5, 3, dtype=torch.float64)).shape)
        (1, 5, 4)
    """
    x, p1 = checks.tensor("x", x, ndim=3), checks.tensor("p1", p1, ndim=3)
    _check_params(params, x)
    if p1.shape != (*x.shape[:2], params[0].shape[2]):
        raise ValueError(
            f"p1 must have shape {(*x.shape[:2], params[0].shape[2])}; got {tuple(p1.shape)}"
        )
    return _first_layer_grad(params, x, p1)


def weight_gradients(params, states, ps) -> list[torch.Tensor]:
    """``dPhi/dtheta_l = -grad_theta H_l``: ``dW_l = -x_l' (s_l * p_{l+1})``,
    ``db_l = -sum_i s_l * p_{l+1}``.

    Args:
        states: from :func:`forward`; ps: costates ``p_1..p_L`` (at least) from :func:`costates`.

    Example:
        >>> p = init_mlp((4, 3, 2), n_nets=1)
        >>> x, y = torch.ones(1, 5, 4, dtype=torch.float64), torch.zeros(5, dtype=torch.long)
        >>> st = forward(p, x)
        >>> [tuple(g.shape) for g in weight_gradients(p, st, costates(p, st, y))]
        [(1, 4, 3), (1, 1, 3), (1, 3, 2), (1, 1, 2)]
    """
    states = _check_states("states", states, params)
    ps = _check_states("ps", ps, params, offset=1)
    L = len(params) // 2
    off = len(ps) - (L + 1)  # ps may start at p_0 or p_1
    grads = []
    for l in range(L):
        p_next = ps[l + 1 + off]
        sp = p_next if l == L - 1 else (1 - states[l + 1] ** 2) * p_next
        grads += [-torch.bmm(states[l].transpose(1, 2), sp), -sp.sum(1, keepdim=True)]
    return grads


def layer_flops(sizes, batch_size: int, n_nets: int = 1) -> list[int]:
    """Floating-point operations ``F_l = 2 S B d_l d_{l+1}`` of one matrix product per layer.

    Example:
        >>> layer_flops((4, 3, 2), batch_size=5)
        [120, 60]
    """
    sizes = [
        checks.integer(f"sizes[{i}]", s)
        for i, s in enumerate(checks.sequence("sizes", sizes, min_len=2))
    ]
    B, S = checks.integer("batch_size", batch_size), checks.integer("n_nets", n_nets)
    return [2 * S * B * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
