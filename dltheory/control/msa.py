"""Training by the method of successive approximations (MSA) and its extended form (E-MSA).

Li, Chen, Tai & E (2018) and Li & Hao (2018) train a network by iterating the maximum principle:

1. forward: ``x_{t+1} = f_t(x_t, theta_t)``; 2. backward: ``p_t = grad_x H_t(x_t, p_{t+1},
   theta_t)``;
3. every layer at once: ``theta_t <- argmax_theta  H~_t(theta)``, with the augmented Hamiltonian

    H~_t(theta) = mean_i [ p^i_{t+1} . f_t(x^i_t, theta) - rho/2 |x^i_{t+1} - f_t(x^i_t, theta)|^2
                            - rho/2 |p^i_t - grad_x H_t(x^i_t, p^i_{t+1}, theta)|^2 ] - R(theta).

``rho = 0`` is basic MSA, whose Hamiltonian maximisation can overshoot (the loss oscillates or
rises); a large enough ``rho`` keeps the new ``theta`` close in the sense of the network's states
and costates, which restores descent (their error estimate; discrete time: Li & Hao 2018). Here each
maximisation is a fixed number of gradient-ascent steps on ``H~`` with one step size for every
``rho`` (all layers and several values of ``rho`` and of the step in one batched, hand-derived
gradient).

For ternary weights ``W_t = alpha s_t``, ``s in {-1, 0, 1}``, maximising a linear model of the
Hamiltonian with a sparsity cost, ``max_s M . s - lam |s|_1``, has the closed form
``s = sign(M) 1{|M| > lam}`` (:func:`ternary_argmax`; binary: ``s = sign(M)``), where ``M``
accumulates ``grad_s H`` over iterations. This is a simplification of Li & Hao's (2018)
discrete-weight MSA, which maximises an approximation of the *augmented* Hamiltonian; without the
``rho`` terms the update coincides with a gradient step on a latent real matrix followed by a
thresholded sign (BinaryConnect-style training, Courbariaux et al. 2015).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory.control.pmp import (
    ResNetControl,
    _check,
    _costates,
    _forward,
    _hamiltonian_grads,
    _reg,
    _terminal,
)

__all__ = [
    "MSARun",
    "TrainRun",
    "TernaryRun",
    "augmented_hamiltonian",
    "msa_train",
    "gradient_train",
    "ternary_argmax",
    "binary_argmax",
    "ternary_msa_train",
    "accuracy",
]


@dataclass(frozen=True)
class MSARun:
    """Result of :func:`msa_train` for ``R`` pairs ``(rho, inner step)`` run side by side.

    Attributes:
        rho: the penalties, shape ``(R,)``.
        inner_lr: the inner ascent steps, shape ``(R,)``.
        loss: ``J`` after each iteration, shape ``(n_iter + 1, R)`` (row 0: the initial loss); a run
            whose loss became non-finite holds NaN from there on.
        W, b: final parameters, shapes ``(R, T, d, d)`` and ``(R, T, d)``.
        seconds: cumulative wall time after each iteration, ``(n_iter + 1,)`` (of the whole batch).
        passes_per_iter: forward-backward passes of the batch per iteration, ``1 + n_inner``.
        inner_residual: ``|grad H~|`` after the inner ascent divided by its value before, per
            iteration and run, ``(n_iter, R)``: how far the maximisation is from stationary.
        gain: ``H~(theta_new) - H~(theta_old)`` summed over layers (old states and costates), per
            iteration and run, ``(n_iter, R)``; positive when the inner ascent did increase ``H~``.
    """

    rho: np.ndarray
    inner_lr: np.ndarray
    loss: np.ndarray
    W: torch.Tensor
    b: torch.Tensor
    seconds: np.ndarray
    passes_per_iter: int
    inner_residual: np.ndarray
    gain: np.ndarray


@dataclass(frozen=True)
class TrainRun:
    """Result of :func:`gradient_train`.

    Attributes:
        method: ``"gd"``, ``"sgd"`` or ``"adam"``.
        loss: full-batch training loss ``J`` after each iteration (GD, Adam) or epoch (SGD).
        passes: forward-backward passes of the whole batch at each entry of ``loss``.
        seconds: cumulative wall time at each entry of ``loss`` (loss evaluations not counted).
        W, b: final parameters.
    """

    method: str
    loss: np.ndarray
    passes: np.ndarray
    seconds: np.ndarray
    W: torch.Tensor
    b: torch.Tensor


@dataclass(frozen=True)
class TernaryRun:
    """Result of :func:`ternary_msa_train`.

    Attributes:
        loss: training loss per iteration, ``(n_iter + 1,)``.
        W: ternary weights times ``alpha``, ``(T, d, d)``.
        b: zeros ``(T, d)``.
        sparsity: fraction of zero weights.
    """

    loss: np.ndarray
    W: torch.Tensor
    b: torch.Tensor
    sparsity: float


def _aug_ham(model, W, b, xs, ps, rho):
    """``sum_t H~_t`` per batch entry: ``W`` ``(R, T, d, d)``, ``xs``, ``ps``
    ``(R, T + 1, N, d)``."""
    xt, p_next = xs[:, :-1], ps[:, 1:]
    z = torch.einsum("rtnd,rted->rtne", xt, W) + b[:, :, None, :]
    th = torch.tanh(z)
    f = xt + model.h * th
    reg = 0.5 * model.lam * ((W * W).sum((1, 2, 3)) + (b * b).sum((1, 2)))
    H = (p_next * f).sum(-1).mean(-1).sum(-1) - reg
    hx = p_next + model.h * torch.einsum("rtne,rted->rtnd", (1 - th**2) * p_next, W)
    pen = ((xs[:, 1:] - f) ** 2).sum(-1).mean(-1).sum(-1)
    pen = pen + ((ps[:, :-1] - hx) ** 2).sum(-1).mean(-1).sum(-1)
    return H - 0.5 * rho * pen


def augmented_hamiltonian(model: ResNetControl, W, b, xs, ps, rho: float) -> torch.Tensor:
    """``sum_t H~_t(theta_t)`` for all layers (differentiable in ``W``, ``b``); ``rho = 0`` gives
    ``sum_t H_t``.

    Example:
        >>> from dltheory.control.pmp import init_params
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64), h=1.0)
        >>> W, b = init_params(T=1, d=2)
        >>> xs = torch.zeros(2, 1, 2, dtype=torch.float64)
        >>> xs[1] = 1.0  # x_1 differs from f(x_0) = 0 by 1 in both coordinates
        >>> round(float(augmented_hamiltonian(m, W, b, xs, torch.zeros_like(xs), rho=1.0)), 6)
        -1.0
    """
    W, b = _check(model, W, b, None)
    rho = checks.positive("rho", rho, allow_zero=True)
    T, d = W.shape[0], W.shape[1]
    xs = checks.tensor("xs", xs, shape=(T + 1, None, d))
    ps = checks.tensor("ps", ps, shape=tuple(xs.shape))
    checks.same_dtype(W=W, xs=xs, ps=ps)
    rho_t = torch.tensor([rho], dtype=W.dtype, device=W.device)
    return _aug_ham(model, W[None], b[None], xs[None], ps[None], rho_t)[0]


def accuracy(model: ResNetControl, W, b, x, y) -> float:
    """Classification accuracy of the network on ``(x, y)`` (one label per sample).

    Example:
        >>> from dltheory.control.pmp import init_params
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> W, b = init_params(T=1, d=2)
        >>> accuracy(m, W, b, [[1.0, 0.0], [0.0, 1.0]], [0, 0])
        0.5
    """
    W, b, x, y = _check(model, W, b, x, y)
    with torch.no_grad():
        xT = _forward(model, W, b, x)[-1]
        return float(((xT @ model.C.T).argmax(1) == y).double().mean())


def _bforward(model, W, b, x):
    R = W.shape[0]
    xs = [x.expand(R, *x.shape)]
    for t in range(W.shape[1]):
        z = xs[-1] @ W[:, t].transpose(-1, -2) + b[:, t, None, :]
        xs.append(xs[-1] + model.h * torch.tanh(z))
    return torch.stack(xs, 1)


def _bloss(model, xs, W, b, onehot):
    logp = torch.log_softmax(xs[:, -1] @ model.C.T, -1)
    reg = 0.5 * model.lam * ((W * W).sum((1, 2, 3)) + (b * b).sum((1, 2)))
    return -(logp * onehot).sum(-1).mean(-1) + reg


def _bcostates(model, W, b, xs, onehot):
    p = -(torch.softmax(xs[:, -1] @ model.C.T, -1) - onehot) @ model.C
    ps = [p]
    for t in range(W.shape[1] - 1, -1, -1):
        s = 1 - torch.tanh(xs[:, t] @ W[:, t].transpose(-1, -2) + b[:, t, None, :]) ** 2
        p = p + model.h * (s * p) @ W[:, t]
        ps.append(p)
    return torch.stack(ps[::-1], 1)


def _sqnorm(gW, gb):
    return ((gW**2).sum((1, 2, 3)) + (gb**2).sum((1, 2))).sqrt()


def _aug_ham_grad(model, W, b, xs, ps, rho):
    """``sum_t H~_t`` and its gradient in ``W``, ``b``, hand-derived (as :func:`_aug_ham`, batched).

    With ``z = x W' + b``, ``a = tanh z``, ``s = 1 - a^2``, ``e_x = x_{t+1} - f`` and
    ``e_p = p_t - grad_x H = p_t - p - h (s p) W``: ``dH~/dz = s [h (p + rho e_x) - 2 a p g_u]``
    with ``g_u = rho h e_p W'``, and ``dH~/dW = (dH~/dz)' x / N + rho h (s p)' e_p / N - lam W``.
    Half the cost of autograd's backward pass; ``tests/test_control_api.py`` checks it against
    autograd.
    """
    h, lam = model.h, model.lam
    xt, x1, p, pt = xs[:, :-1], xs[:, 1:], ps[:, 1:], ps[:, :-1]
    N = xt.shape[-2]
    r = rho[:, None, None, None]
    a = torch.tanh(xt @ W.transpose(-1, -2) + b[:, :, None, :])
    s = 1 - a * a
    ex = x1 - xt - h * a
    u = s * p
    ep = pt - p - h * (u @ W)
    reg = 0.5 * lam * ((W * W).sum((1, 2, 3)) + (b * b).sum((1, 2)))
    H = (p * (xt + h * a)).sum((1, 2, 3)) / N - reg
    H = H - 0.5 * rho * ((ex * ex).sum((1, 2, 3)) + (ep * ep).sum((1, 2, 3))) / N
    gu = (r * h) * (ep @ W.transpose(-1, -2))
    gz = s * (h * (p + r * ex) - 2 * a * p * gu)
    gW = (gz.transpose(-1, -2) @ xt + (r * h) * (u.transpose(-1, -2) @ ep)) / N - lam * W
    gb = gz.sum(-2) / N - lam * b
    return H, gW, gb


def msa_train(
    model: ResNetControl, W, b, x, y, *, rho, n_iter: int = 20, n_inner: int = 50, inner_lr=0.5
) -> MSARun:
    """(Extended) MSA for several ``(rho, inner step)`` pairs side by side.

    Each iteration: forward states, backward costates, then ``n_inner`` gradient-ascent steps on
    ``H~`` for all layers (and all runs) at once. Run ``j`` uses ``rho[j]`` and the inner step
    ``inner_lr[j]`` (``rho`` and ``inner_lr`` broadcast against each other); every run starts from
    the same ``(W, b)``, so the pair is the only difference between the runs.

    Args:
        model: the network's read-out, step and running cost.
        W, b: initial parameters ``(T, d, d)``, ``(T, d)`` (not modified).
        x, y: the training batch (full batch: the MSA is deterministic).
        rho: penalty ``>= 0`` of the augmented Hamiltonian (0: basic MSA), a number or a 1-D array.
        n_iter: MSA iterations.
        n_inner: gradient-ascent steps per Hamiltonian maximisation.
        inner_lr: their step size (``> 0``), a number or a 1-D array broadcast against ``rho``.

    Returns:
        :class:`MSARun`.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> W, b = torch.zeros(2, 2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64)
        >>> x = torch.eye(2, dtype=torch.float64)
        >>> r = msa_train(m, W, b, x, [0, 1], rho=[0.0, 1.0], n_iter=2)
        >>> r.loss.shape, r.passes_per_iter, r.inner_lr.tolist()
        ((3, 2), 51, [0.5, 0.5])
    """
    W, b, x, y = _check(model, W, b, x, y)
    checks.size("rho", np.size(rho) * x.shape[0] * W.shape[0] * W.shape[1])
    checks.size("inner_lr", np.size(inner_lr) * x.shape[0] * W.shape[0] * W.shape[1])
    rho_arr = np.atleast_1d(checks.real_array("rho", rho, ndim=(0, 1), low=0.0))
    lr_arr = np.atleast_1d(
        checks.real_array("inner_lr", inner_lr, ndim=(0, 1), low=0.0, low_open=True)
    )
    if rho_arr.size == 0 or lr_arr.size == 0:
        raise ValueError("rho and inner_lr must hold at least one value")
    if rho_arr.size != lr_arr.size and 1 not in (rho_arr.size, lr_arr.size):
        raise ValueError(
            f"rho ({rho_arr.size} values) and inner_lr ({lr_arr.size} values) must have "
            "the same length, or one of them a single value"
        )
    rho_arr, lr_arr = np.broadcast_arrays(rho_arr, lr_arr)
    rho_arr, lr_arr = rho_arr.astype(float).copy(), lr_arr.astype(float).copy()
    n_iter = checks.integer("n_iter", n_iter, high=100_000)
    n_inner = checks.integer("n_inner", n_inner, high=100_000)
    R = rho_arr.size
    checks.size("len(rho) * (T + 1) * N * d", R * (W.shape[0] + 1) * x.shape[0] * W.shape[1])
    checks.work(
        "n_iter", (n_iter + 1) * (n_inner + 1), R * (W.shape[0] + 1) * x.shape[0] * W.shape[1] ** 2
    )
    rho_t = torch.as_tensor(rho_arr, dtype=W.dtype, device=W.device)
    lr_b = torch.as_tensor(lr_arr, dtype=W.dtype, device=W.device)[:, None, None]
    onehot = torch.nn.functional.one_hot(y, model.C.shape[0]).to(W.dtype)
    Wb = W.detach().expand(R, *W.shape).clone()
    bb = b.detach().expand(R, *b.shape).clone()
    losses, secs, resid, gain = [], [0.0], [], []
    elapsed = 0.0
    for k in range(n_iter + 1):
        with torch.no_grad():
            xs = _bforward(model, Wb, bb, x)
            losses.append(_bloss(model, xs, Wb, bb, onehot).cpu().numpy().copy())
        if k == n_iter:
            break
        t0 = time.perf_counter()
        with torch.no_grad():
            ps = _bcostates(model, Wb, bb, xs, onehot)
            for i in range(n_inner + 1):
                H, gW, gb = _aug_ham_grad(model, Wb, bb, xs, ps, rho_t)
                if i == 0:
                    H0, first = H, _sqnorm(gW, gb)
                if i == n_inner:
                    resid.append((_sqnorm(gW, gb) / first.clamp_min(1e-300)).cpu().numpy())
                    gain.append((H - H0).cpu().numpy())
                    break
                Wb = Wb + lr_b[..., None] * gW
                bb = bb + lr_b * gb
        elapsed += time.perf_counter() - t0
        secs.append(elapsed)
    loss = np.array(losses)
    loss[np.maximum.accumulate(~np.isfinite(loss), axis=0)] = np.nan
    return MSARun(
        rho=rho_arr,
        inner_lr=lr_arr,
        loss=loss,
        W=Wb,
        b=bb,
        seconds=np.array(secs),
        passes_per_iter=1 + n_inner,
        inner_residual=np.array(resid).reshape(n_iter, R),
        gain=np.array(gain).reshape(n_iter, R),
    )


def gradient_train(
    model: ResNetControl,
    W,
    b,
    x,
    y,
    *,
    method: str = "gd",
    lr: float = 1.0,
    n_iter: int = 400,
    batch_size: int | None = None,
    train_bias: bool = True,
    seed: int = 0,
) -> TrainRun:
    """Full-batch gradient descent (``"gd"``), Adam (``"adam"``) or minibatch SGD (``"sgd"``) on
    ``J``.

    Gradients come from the costates (``grad J = -grad_theta H``). GD and Adam take ``n_iter``
    steps; SGD runs ``n_iter`` epochs of minibatches of ``batch_size`` (reshuffled each epoch with
    ``seed``), and its loss is recorded once per epoch.

    Returns:
        :class:`TrainRun`.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> W, b = torch.zeros(1, 2, 2, dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
        >>> r = gradient_train(m, W, b, torch.eye(2, dtype=torch.float64), [0, 1], n_iter=3)
        >>> r.loss.shape, bool(r.loss[-1] < r.loss[0])
        ((4,), True)
    """
    method = checks.choice("method", method, ("gd", "sgd", "adam"))
    W, b, x, y = _check(model, W, b, x, y)
    lr = checks.positive("lr", lr)
    n_iter = checks.integer("n_iter", n_iter, high=1_000_000)
    train_bias = checks.boolean("train_bias", train_bias)
    N = x.shape[0]
    if method == "sgd":
        if batch_size is None:
            raise ValueError("batch_size is required for method='sgd'")
        batch_size = checks.integer("batch_size", batch_size, high=N)
    elif batch_size is not None:
        raise ValueError(
            f"batch_size applies to method='sgd' only; got {batch_size!r} with {method!r}"
        )
    g = torch.Generator().manual_seed(checks.seed(seed))
    W, b = W.detach().clone(), b.detach().clone()
    mW, vW, mb, vb = (
        torch.zeros_like(W),
        torch.zeros_like(W),
        torch.zeros_like(b),
        torch.zeros_like(b),
    )
    b1, b2, eps = 0.9, 0.999, 1e-8

    def J():
        return float(_terminal(model, _forward(model, W, b, x)[-1], y) + _reg(model, W, b))

    def grads(xb, yb):
        xs = _forward(model, W, b, xb)
        gW, gb = _hamiltonian_grads(model, W, b, xs, _costates(model, W, b, xs, yb))
        return -gW, (-gb if train_bias else torch.zeros_like(gb))

    losses, secs = [J()], [0.0]
    elapsed = 0.0
    for k in range(n_iter):
        t0 = time.perf_counter()
        if method == "sgd":
            perm = torch.randperm(N, generator=g)
            for s in range(0, N - batch_size + 1, batch_size):
                idx = perm[s : s + batch_size]
                gW, gb = grads(x[idx], y[idx])
                W, b = W - lr * gW, b - lr * gb
        else:
            gW, gb = grads(x, y)
            if method == "gd":
                W, b = W - lr * gW, b - lr * gb
            else:
                mW, mb = b1 * mW + (1 - b1) * gW, b1 * mb + (1 - b1) * gb
                vW, vb = b2 * vW + (1 - b2) * gW**2, b2 * vb + (1 - b2) * gb**2
                c1, c2 = 1 - b1 ** (k + 1), 1 - b2 ** (k + 1)
                W = W - lr * (mW / c1) / ((vW / c2).sqrt() + eps)
                b = b - lr * (mb / c1) / ((vb / c2).sqrt() + eps)
        elapsed += time.perf_counter() - t0
        checks.finite_state("lr", W, lr, step=k + 1)
        losses.append(checks.finite_state("lr", J(), lr, step=k + 1))
        secs.append(elapsed)
    return TrainRun(
        method=method,
        loss=np.array(losses),
        passes=np.arange(n_iter + 1.0),
        seconds=np.array(secs),
        W=W,
        b=b,
    )


def ternary_argmax(M, lam: float):
    """Closed-form maximiser of ``M . s - lam |s|_1`` over ``s in {-1, 0, 1}`` (elementwise).

    ``s = sign(M)`` where ``|M| > lam``, else 0 (ties at ``|M| = lam`` give 0, the sparser choice).

    Example:
        >>> ternary_argmax(torch.tensor([-2.0, 0.5, 3.0]), 1.0).tolist()
        [-1.0, 0.0, 1.0]
    """
    if not isinstance(M, torch.Tensor):
        raise TypeError(f"M must be a torch tensor; got {type(M).__name__}")
    M = checks.tensor("M", M)
    lam = checks.positive("lam", lam, allow_zero=True)
    return torch.sign(M) * (M.abs() > lam).to(M.dtype)


def binary_argmax(M):
    """Closed-form maximiser of ``M . s`` over ``s in {-1, 1}``: ``sign(M)`` (``+1`` at ``M = 0``).

    Example:
        >>> binary_argmax(torch.tensor([-2.0, 0.0, 3.0])).tolist()
        [-1.0, 1.0, 1.0]
    """
    if not isinstance(M, torch.Tensor):
        raise TypeError(f"M must be a torch tensor; got {type(M).__name__}")
    M = checks.tensor("M", M)
    return torch.where(M >= 0, torch.ones_like(M), -torch.ones_like(M))


def ternary_msa_train(
    model: ResNetControl,
    x,
    y,
    *,
    T: int,
    alpha: float,
    lam: float,
    lr: float = 1.0,
    n_iter: int = 300,
    seed: int = 0,
) -> TernaryRun:
    """Train a ternary-weight residual network (``W_t = alpha s_t``, biases 0) by a simplified MSA
    closed form.

    Each iteration: forward states, backward costates, ``M_t <- M_t + lr grad_s H_t`` with
    ``grad_s H_t = alpha grad_W H_t`` (the Hamiltonian of the loss alone, without the running cost),
    then ``s_t = ternary_argmax(M_t, lam)``. ``M`` starts uniform in ``(-lam, lam)``, i.e. at
    ``s = 0``. Unlike Li & Hao (2018) there are no augmented-Hamiltonian (``rho``) terms, so their
    descent estimate does not apply.

    Args:
        model: read-out, step ``h`` and ``lam`` of the network (``model.lam`` is not used in ``M``).
        x, y: the training batch (full batch).
        T: number of layers ``>= 1``.
        alpha: weight scale ``> 0``.
        lam: sparsity threshold ``>= 0`` of :func:`ternary_argmax`.
        lr: step ``> 0`` of the accumulation of ``M``.
        n_iter: iterations ``>= 1``.
        seed: seed of the initial ``M``.

    Returns:
        :class:`TernaryRun`.

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> x, y = torch.eye(2, dtype=torch.float64), torch.tensor([0, 1])
        >>> r = ternary_msa_train(m, x, y, T=2, alpha=0.5, lam=0.1, n_iter=3)
        >>> sorted(set(r.W.flatten().tolist())) <= [-0.5, 0.0, 0.5]
        True
    """
    if not isinstance(model, ResNetControl):
        raise TypeError(f"model must be a ResNetControl; got {type(model).__name__}")
    T = checks.integer("T", T, high=10_000)
    alpha, lr = checks.positive("alpha", alpha), checks.positive("lr", lr)
    lam = checks.positive("lam", lam, allow_zero=True)
    n_iter = checks.integer("n_iter", n_iter, high=1_000_000)
    d = model.C.shape[1]
    checks.size("T * d * d", T * d * d)
    zW = torch.zeros(T, d, d, dtype=model.C.dtype, device=model.C.device)
    zb = torch.zeros(T, d, dtype=model.C.dtype, device=model.C.device)
    _, _, x, y = _check(model, zW, zb, x, y)
    g = torch.Generator().manual_seed(checks.seed(seed))
    M = lam * 2 * torch.rand(T, d, d, generator=g, dtype=x.dtype).to(x.device) - lam  # s = 0
    b = zb
    losses = []
    for k in range(n_iter + 1):
        W = alpha * ternary_argmax(M, lam)
        xs = _forward(model, W, b, x)
        losses.append(float(_terminal(model, xs[-1], y)))
        if k == n_iter:
            break
        gW, _ = _hamiltonian_grads(model, W, b, xs, _costates(model, W, b, xs, y))
        M = M + lr * alpha * (
            gW + model.lam * W
        )  # the Hamiltonian of the loss alone; sparsity via lam
    return TernaryRun(loss=np.array(losses), W=W, b=b, sparsity=float((W == 0).double().mean()))
