"""Pontryagin's maximum principle for a residual network: costates are backpropagation.

Layers are time steps: ``x_{t+1} = f_t(x_t, theta_t) = x_t + h tanh(x_t W_t' + b_t)``,
``t = 0..T-1``, for each sample of a batch, with terminal loss ``Phi(x_T, y) = CE(x_T C', y)`` (a
fixed read-out ``C``) and running cost ``R(theta_t) = lam |theta_t|^2 / 2``. Training minimises
``J = mean_i Phi(x^i_T, y^i) + sum_t R(theta_t)`` (Li, Chen, Tai & E 2018; E, Han & Li 2019).

With the Hamiltonian ``H_t(x, p, theta) = mean_i p^i . f_t(x^i, theta) - R(theta)`` the discrete PMP
reads

    x_{t+1} = grad_p H_t,    p_t = grad_x H_t = (df_t/dx)' p_{t+1},
    p^i_T = -grad Phi(x^i_T, y^i),

and ``grad_theta J = -grad_theta H_t(x_t, p_{t+1}, theta_t)``: the costate recursion *is*
backpropagation. For the tanh block, with ``z = x W' + b`` and ``s = 1 - tanh(z)^2``,
``p_t = p_{t+1} + h (s * p_{t+1}) W`` and ``grad_W H_t = h mean_i (s * p_{t+1})' x_t - lam W``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks

__all__ = [
    "costate_gradient_gap",
    "ResNetControl",
    "ParamPair",
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
        C: fixed read-out ``(K, d)`` (a floating tensor; lists are converted to float64).
        h: step size of the residual blocks (``> 0``).
        lam: weight of the running cost ``R(theta) = lam |theta|^2 / 2`` (``>= 0``).

    Example:
        >>> m = ResNetControl(C=[[1.0, 0.0], [0.0, 1.0]], h=0.5)
        >>> m.C.dtype, m.h
        (torch.float64, 0.5)
    """

    C: torch.Tensor
    h: float = 0.25
    lam: float = 0.0

    def __post_init__(self):
        C = checks.tensor("C", self.C, ndim=2)
        if not C.is_floating_point():
            C = C.double()
        checks.integer("C.shape[0] (classes)", C.shape[0], low=2)
        object.__setattr__(self, "C", C)
        object.__setattr__(self, "h", checks.positive("h", self.h))
        object.__setattr__(self, "lam", checks.positive("lam", self.lam, allow_zero=True))


def init_params(*, T: int, d: int, scale: float = 0.0, seed: int = 0, dtype=torch.float64):
    """Parameters ``(W, b)`` of shapes ``(T, d, d)``, ``(T, d)``: entries ``N(0, scale^2 / d)``,
    ``b = 0``.

    Example:
        >>> W, b = init_params(T=3, d=2)
        >>> tuple(W.shape), tuple(b.shape)
        ((3, 2, 2), (3, 2))
    """
    T, d = checks.integer("T", T, high=10_000), checks.integer("d", d, high=100_000)
    checks.size("T * d * d", T * d * d)
    scale = checks.positive("scale", scale, allow_zero=True)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    g = torch.Generator().manual_seed(checks.seed(seed))
    W = scale / d**0.5 * torch.randn(T, d, d, generator=g, dtype=dtype)
    return W, torch.zeros(T, d, dtype=dtype)


def _check(model, W, b, x0, y=None, *, x_name="x"):
    """Validate ``(W, b, x0[, y])`` against ``model``; return them as tensors of one dtype."""
    if not isinstance(model, ResNetControl):
        raise TypeError(f"model must be a ResNetControl; got {type(model).__name__}")
    W = checks.tensor("W", W, ndim=3)
    if W.shape[1] != W.shape[2]:
        raise ValueError(f"W must have shape (T, d, d); got {tuple(W.shape)}")
    T, d = W.shape[0], W.shape[1]
    b = checks.tensor("b", b, shape=(T, d))
    if model.C.shape[1] != d:
        raise ValueError(f"the read-out C has width {model.C.shape[1]} but W has width {d}")
    if x0 is None:
        checks.same_dtype(W=W, b=b, C=model.C)
        return W, b
    x0 = checks.tensor(x_name, x0, shape=(None, d))
    if x0.shape[0] < 1:
        raise ValueError(f"{x_name} must hold at least one sample")
    checks.same_dtype(**{"W": W, "b": b, x_name: x0, "C": model.C})
    checks.size("T * N * d (states)", (T + 1) * x0.shape[0] * d)
    if y is None:
        return W, b, x0
    return W, b, x0, checks.labels("y", y, n_classes=model.C.shape[0], n=x0.shape[0])


def _forward(model, W, b, x0):
    xs = [x0]
    for t in range(W.shape[0]):
        xs.append(xs[-1] + model.h * torch.tanh(xs[-1] @ W[t].T + b[t]))
    return torch.stack(xs)


def _terminal(model, xT, y):
    return torch.nn.functional.cross_entropy(xT @ model.C.T, y)


def _reg(model, W, b):
    return 0.5 * model.lam * ((W * W).sum() + (b * b).sum())


def _costates(model, W, b, xs, y):
    logits = xs[-1] @ model.C.T
    onehot = torch.nn.functional.one_hot(y, logits.shape[1]).to(xs.dtype)
    p = -(torch.softmax(logits, dim=1) - onehot) @ model.C
    ps = [p]
    for t in range(W.shape[0] - 1, -1, -1):
        s = 1 - torch.tanh(xs[t] @ W[t].T + b[t]) ** 2
        p = p + model.h * (s * p) @ W[t]
        ps.append(p)
    return torch.stack(ps[::-1])


def _hamiltonian_grads(model, W, b, xs, ps):
    N = xs.shape[1]
    z = torch.einsum("tnd,ted->tne", xs[:-1], W) + b[:, None, :]
    sp = (1 - torch.tanh(z) ** 2) * ps[1:]
    gW = model.h * torch.einsum("tne,tnd->ted", sp, xs[:-1]) / N - model.lam * W
    gb = model.h * sp.mean(1) - model.lam * b
    return gW, gb


def forward_states(model: ResNetControl, W, b, x0) -> torch.Tensor:
    """States ``x_0..x_T`` of the batch, shape ``(T + 1, N, d)``.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> W, b = init_params(T=3, d=2)
        >>> tuple(forward_states(m, W, b, [[1.0, 0.0]]).shape)
        (4, 1, 2)
    """
    W, b, x0 = _check(model, W, b, x0, x_name="x0")
    return _forward(model, W, b, x0)


def terminal_loss(model: ResNetControl, xT, y) -> torch.Tensor:
    """``mean_i Phi(x^i_T, y^i)`` with ``Phi = cross-entropy(x_T C', y)``.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> round(float(terminal_loss(m, [[0.0, 0.0]], [1])), 6)  # ln 2
        0.693147
    """
    if not isinstance(model, ResNetControl):
        raise TypeError(f"model must be a ResNetControl; got {type(model).__name__}")
    xT = checks.tensor("xT", xT, shape=(None, model.C.shape[1]))
    checks.same_dtype(xT=xT, C=model.C)
    y = checks.labels("y", y, n_classes=model.C.shape[0], n=xT.shape[0])
    return _terminal(model, xT, y)


def total_loss(model: ResNetControl, W, b, x0, y) -> torch.Tensor:
    """``J = mean_i Phi(x^i_T, y^i) + lam/2 sum_t (|W_t|^2 + |b_t|^2)`` (differentiable in ``W``,
    ``b``).

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> W, b = init_params(T=2, d=2)
        >>> round(float(total_loss(m, W, b, [[0.0, 0.0]], [0])), 6)
        0.693147
    """
    W, b, x0, y = _check(model, W, b, x0, y, x_name="x0")
    return _terminal(model, _forward(model, W, b, x0)[-1], y) + _reg(model, W, b)


def _check_xs(model, W, xs, name="xs"):
    xs = checks.tensor(name, xs, shape=(W.shape[0] + 1, None, W.shape[1]))
    checks.same_dtype(W=W, **{name: xs})
    return xs


def costates(model: ResNetControl, W, b, xs, y) -> torch.Tensor:
    """Costates ``p_0..p_T`` (per sample, shape ``(T + 1, N, d)``) by the hand-derived backward
    recursion.

    ``p^i_T = -grad Phi(x^i_T, y^i) = -(softmax(x_T C') - onehot(y)) C`` and
    ``p_t = p_{t+1} + h (s_t * p_{t+1}) W_t`` with ``s_t = 1 - tanh(x_t W_t' + b_t)^2``.

    Example:
        >>> m = ResNetControl(C=torch.eye(3, dtype=torch.float64))
        >>> W, b = init_params(T=2, d=3, scale=1.0)
        >>> x0 = torch.ones(4, 3, dtype=torch.float64); y = torch.tensor([0, 1, 2, 0])
        >>> costates(m, W, b, forward_states(m, W, b, x0), y).shape
        torch.Size([3, 4, 3])
    """
    W, b = _check(model, W, b, None)
    xs = _check_xs(model, W, xs)
    y = checks.labels("y", y, n_classes=model.C.shape[0], n=xs.shape[1])
    return _costates(model, W, b, xs, y)


def hamiltonian(model: ResNetControl, xt, p_next, Wt, bt) -> torch.Tensor:
    """``H_t = mean_i p^i_{t+1} . f_t(x^i_t, theta_t) - R(theta_t)`` for one layer (differentiable).

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64), h=1.0)
        >>> z = torch.zeros(2, 2, dtype=torch.float64)
        >>> round(float(hamiltonian(m, [[1.0, 0.0]], [[2.0, 0.0]], z, [0.0, 0.0])), 6)
        2.0
    """
    if not isinstance(model, ResNetControl):
        raise TypeError(f"model must be a ResNetControl; got {type(model).__name__}")
    d = model.C.shape[1]
    Wt = checks.tensor("Wt", Wt, shape=(d, d))
    bt = checks.tensor("bt", bt, shape=(d,))
    xt = checks.tensor("xt", xt, shape=(None, d))
    p_next = checks.tensor("p_next", p_next, shape=tuple(xt.shape))
    checks.same_dtype(xt=xt, p_next=p_next, Wt=Wt, bt=bt)
    f = xt + model.h * torch.tanh(xt @ Wt.T + bt)
    return (p_next * f).sum(-1).mean() - 0.5 * model.lam * ((Wt * Wt).sum() + (bt * bt).sum())


def hamiltonian_grads(model: ResNetControl, W, b, xs, ps) -> tuple[torch.Tensor, torch.Tensor]:
    """``grad_theta H_t(x_t, p_{t+1}, theta_t)`` for every layer at once (closed form), shapes of
    ``W``, ``b``.

    ``grad_W H_t = h mean_i (s * p_{t+1})' x_t - lam W_t``, ``grad_b H_t = h mean_i s * p_{t+1} -
    lam b_t``.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64), lam=1.0)
        >>> W, b = init_params(T=1, d=2)
        >>> xs = torch.zeros(2, 1, 2, dtype=torch.float64)
        >>> [g.abs().max().item() for g in hamiltonian_grads(m, W, b, xs, xs)]
        [0.0, 0.0]
    """
    W, b = _check(model, W, b, None)
    xs = _check_xs(model, W, xs)
    ps = _check_xs(model, W, ps, "ps")
    if ps.shape != xs.shape:
        raise ValueError(f"ps must have the shape of xs {tuple(xs.shape)}; got {tuple(ps.shape)}")
    return _hamiltonian_grads(model, W, b, xs, ps)


def costate_gradient_gap(model: ResNetControl, W, b, x0, y) -> float:
    """Largest relative difference, over layers, between ``-grad_theta H_t`` and autograd's
    ``dJ/dtheta_t``.

    The costates come from :func:`costates` (``p_t = (df_t/dx)^T p_{t+1}``, ``p_T = -grad Phi``) and
    the Hamiltonian gradients from :func:`hamiltonian_grads`; the discrete maximum principle says
    ``-grad_theta H_t = dJ/dtheta_t`` exactly (Li & Hao 2018), so the gap is round-off. Per layer,
    the difference is relative to the largest entry of autograd's gradient.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> W, b = init_params(T=2, d=2, scale=1.0)
        >>> costate_gradient_gap(m, W, b, [[1.0, -1.0], [0.5, 2.0]], [0, 1]) < 1e-12
        True
    """
    W, b, x0, y = _check(model, W, b, x0, y, x_name="x0")
    Wr, br = W.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)
    J = _terminal(model, _forward(model, Wr, br, x0)[-1], y) + _reg(model, Wr, br)
    gW, gb = torch.autograd.grad(J, (Wr, br))
    xs = _forward(model, W, b, x0)
    hW, hb = _hamiltonian_grads(model, W, b, xs, costates(model, W, b, xs, y))
    tiny = torch.finfo(W.dtype).tiny
    return float(
        max(
            ((-hW - gW).abs().amax(dim=(1, 2)) / gW.abs().amax(dim=(1, 2)).clamp_min(tiny)).max(),
            ((-hb - gb).abs().amax(dim=1) / gb.abs().amax(dim=1).clamp_min(tiny)).max(),
        )
    )


class NetworkProblem:
    """The residual network as a control problem for :func:`dltheory.control.ddp.first_order_step`.

    State: the whole batch ``x_t`` (``(N, d)``); control ``u_t = ParamPair(W_t, b_t)``. Running cost
    ``R``, terminal cost ``mean_i Phi``; ``vjp`` uses the hand-derived Jacobian products of the tanh
    block.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> p = NetworkProblem(m, [0, 1])
        >>> p.y.tolist()
        [0, 1]
    """

    def __init__(self, model: ResNetControl, y):
        if not isinstance(model, ResNetControl):
            raise TypeError(f"model must be a ResNetControl; got {type(model).__name__}")
        self.model = model
        self.y = checks.labels("y", y, n_classes=model.C.shape[0])

    def step(self, x, u):
        Wt, bt = u
        return x + self.model.h * torch.tanh(x @ Wt.T + bt)

    def running(self, x, u):
        Wt, bt = u
        lam = self.model.lam
        l = 0.5 * lam * ((Wt * Wt).sum() + (bt * bt).sum())
        return l, torch.zeros_like(x), ParamPair(lam * Wt, lam * bt)

    def terminal(self, x):
        logits = x @ self.model.C.T
        onehot = torch.nn.functional.one_hot(self.y, logits.shape[1]).to(x.dtype)
        g = (torch.softmax(logits, dim=1) - onehot) @ self.model.C / x.shape[0]
        return _terminal(self.model, x, self.y), g

    def vjp(self, x, u, v):
        Wt, bt = u
        sv = (1 - torch.tanh(x @ Wt.T + bt) ** 2) * v
        return v + self.model.h * sv @ Wt, ParamPair(
            self.model.h * sv.T @ x, self.model.h * sv.sum(0)
        )


class ParamPair(tuple):
    """A ``(W, b)`` pair with elementwise ``+``, ``-`` and scalar ``*`` (one control of the
    network).

    Example:
        >>> u = ParamPair(torch.ones(1), torch.zeros(1))
        >>> [t.tolist() for t in 2.0 * u + u]
        [[3.0], [0.0]]
    """

    def __new__(cls, a, b):
        return super().__new__(cls, (a, b))

    def __add__(self, o):
        return ParamPair(self[0] + o[0], self[1] + o[1])

    def __rsub__(self, o):
        return ParamPair(o[0] - self[0], o[1] - self[1])

    def __sub__(self, o):
        return ParamPair(self[0] - o[0], self[1] - o[1])

    def __rmul__(self, c):
        return ParamPair(c * self[0], c * self[1])


def digits_data(
    *, seed: int = 0, test_size: float = 0.3, n_features: int = 64, dtype=torch.float64
):
    """scikit-learn digits, pixel values scaled to ``[0, 1]`` and centred, split train/test
    (stratified).

    Args:
        seed: seed of the split.
        test_size: fraction of the 1797 digits held out, in ``(0, 1)``.
        n_features: 64 keeps the pixels; fewer projects onto the leading principal components of the
            training set, rescaled so that the mean squared feature equals the pixels' (the same
            input scale for a smaller network).
        dtype: ``torch.float32`` or ``torch.float64``.

    Returns:
        ``(x_train, y_train, x_test, y_test)``; features have ``d = n_features``.

    Example:
        >>> x, y, xt, yt = digits_data(n_features=16)
        >>> tuple(x.shape), tuple(xt.shape)
        ((1257, 16), (540, 16))
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    test_size = checks.real(
        "test_size", test_size, low=0.0, high=1.0, low_open=True, high_open=True
    )
    n_features = checks.integer("n_features", n_features, high=64)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=test_size, random_state=checks.seed(seed), stratify=y
    )
    mu = xtr.mean(0)
    xtr, xte = xtr - mu, xte - mu
    if n_features < 64:
        _, _, vt = np.linalg.svd(xtr, full_matrices=False)
        proj = vt[:n_features].T
        proj = proj * np.sqrt((xtr**2).mean() / ((xtr @ proj) ** 2).mean())
        xtr, xte = xtr @ proj, xte @ proj

    def f(z):
        return torch.as_tensor(z, dtype=dtype)

    return f(xtr), torch.as_tensor(ytr), f(xte), torch.as_tensor(yte)


def readout(
    *, K: int = 10, d: int = 64, scale: float = 4.0, seed: int = 0, dtype=torch.float64
) -> torch.Tensor:
    """A fixed read-out ``C`` with orthonormal rows times ``scale`` (``2 <= K <= d``).

    Example:
        >>> C = readout(K=2, d=3, scale=1.0)
        >>> torch.allclose(C @ C.T, torch.eye(2, dtype=torch.float64))
        True
    """
    K, d = checks.integer("K", K, low=2, high=100_000), checks.integer("d", d, high=100_000)
    if K > d:
        raise ValueError(f"need K <= d; got K={K}, d={d}")
    checks.size("K * d", K * d)
    scale = checks.positive("scale", scale)
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64; got {dtype!r}")
    g = torch.Generator().manual_seed(checks.seed(seed))
    q, _ = torch.linalg.qr(torch.randn(d, K, generator=g, dtype=dtype))
    return scale * q.T
