"""Training by the method of successive approximations (MSA) and its extended form (E-MSA).

Li, Chen, Tai & E (2018) and Li & Hao (2018) train a network by iterating the maximum principle:

1. forward: ``x_{t+1} = f_t(x_t, theta_t)``;  2. backward: ``p_t = grad_x H_t(x_t, p_{t+1}, theta_t)``;
3. every layer at once: ``theta_t <- argmax_theta  H~_t(theta)``, with the augmented Hamiltonian

    H~_t(theta) = mean_i [ p^i_{t+1} . f_t(x^i_t, theta) - rho/2 |x^i_{t+1} - f_t(x^i_t, theta)|^2
                            - rho/2 |p^i_t - grad_x H_t(x^i_t, p^i_{t+1}, theta)|^2 ] - R(theta).

``rho = 0`` is basic MSA, whose Hamiltonian maximisation can overshoot (the loss oscillates or rises);
a large enough ``rho`` keeps the new ``theta`` close in the sense of the network's states and costates,
which restores descent (their error estimate; discrete time: Li & Hao 2018). Here each maximisation is a
fixed number of gradient-ascent steps on ``H~`` (all layers in one batched autograd call).

For ternary weights ``W_t = alpha s_t``, ``s in {-1, 0, 1}``, maximising a linear model of the Hamiltonian
with a sparsity cost, ``max_s  M . s - lam |s|_1``, has the closed form ``s = sign(M) 1{|M| > lam}``
(:func:`ternary_argmax`; binary: ``s = sign(M)``), where ``M`` accumulates ``grad_s H`` over iterations.
This is a simplification of Li & Hao's (2018) discrete-weight MSA, which maximises an approximation of
the *augmented* Hamiltonian; without the ``rho`` terms the update coincides with a gradient step on a
latent real matrix followed by a thresholded sign (BinaryConnect-style training, Courbariaux et al. 2015).
"""

from __future__ import annotations

import functools
import time

import numpy as np
import torch

from dltheory import figures
from dltheory._checks import integer, positive, seed as _seed
from dltheory.control.pmp import (
    ResNetControl,
    costates,
    digits_data,
    forward_states,
    hamiltonian_grads,
    init_params,
    readout,
    terminal_loss,
    total_loss,
)

__all__ = [
    "augmented_hamiltonian",
    "msa_train",
    "gradient_train",
    "ternary_argmax",
    "binary_argmax",
    "ternary_msa_train",
    "accuracy",
    "msa_experiment",
    "ternary_experiment",
]


def augmented_hamiltonian(model: ResNetControl, W, b, xs, ps, rho: float) -> torch.Tensor:
    """``sum_t H~_t(theta_t)`` for all layers (differentiable in ``W``, ``b``); ``rho = 0`` gives ``sum_t H_t``."""
    xt, p_next = xs[:-1], ps[1:]
    z = torch.einsum("tnd,ted->tne", xt, W) + b[:, None, :]
    th = torch.tanh(z)
    f = xt + model.h * th
    H = (p_next * f).sum(-1).mean(-1).sum() - 0.5 * model.lam * ((W * W).sum() + (b * b).sum())
    if rho == 0:
        return H
    hx = p_next + model.h * torch.einsum("tne,ted->tnd", (1 - th**2) * p_next, W)
    pen = ((xs[1:] - f) ** 2).sum(-1).mean(-1).sum() + ((ps[:-1] - hx) ** 2).sum(-1).mean(-1).sum()
    return H - 0.5 * rho * pen


def accuracy(model: ResNetControl, W, b, x, y) -> float:
    """Classification accuracy of the network on ``(x, y)``."""
    with torch.no_grad():
        xT = forward_states(model, W, b, x)[-1]
        return float(((xT @ model.C.T).argmax(1) == y).double().mean())


def msa_train(model: ResNetControl, W, b, x, y, *, rho: float, n_iter: int = 40, n_inner: int = 10, inner_lr: float = 1.0):
    """(Extended) MSA: forward, backward, batched maximisation of ``H~`` by ``n_inner`` ascent steps.

    Args:
        model: the network's read-out, step and running cost.
        W, b: initial parameters ``(T, d, d)``, ``(T, d)`` (not modified).
        x, y: the training batch (full batch: the MSA is deterministic).
        rho: penalty ``rho >= 0`` of the augmented Hamiltonian (0: basic MSA).
        n_iter: MSA iterations.
        n_inner: gradient-ascent steps per Hamiltonian maximisation.
        inner_lr: their step size (``> 0``).

    Returns:
        dict with ``loss`` (``n_iter + 1`` values of ``J``), ``W``, ``b``, ``seconds`` per iteration and
        ``passes`` (forward-backward passes of the batch per iteration, ``1 + n_inner``).

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> W, b = init_params(T=2, d=2)
        >>> r = msa_train(m, W, b, torch.eye(2, dtype=torch.float64), torch.tensor([0, 1]), rho=1.0, n_iter=2)
        >>> len(r["loss"])
        3
    """
    rho = positive("rho", rho, allow_zero=True)
    n_iter, n_inner = integer("n_iter", n_iter), integer("n_inner", n_inner)
    inner_lr = positive("inner_lr", inner_lr)
    W, b = W.detach().clone(), b.detach().clone()
    losses = []
    t0 = time.perf_counter()
    for k in range(n_iter + 1):
        with torch.no_grad():
            xs = forward_states(model, W, b, x)
            losses.append(float(terminal_loss(model, xs[-1], y) + 0.5 * model.lam * ((W * W).sum() + (b * b).sum())))
            if k == n_iter or not np.isfinite(losses[-1]):
                break
            ps = costates(model, W, b, xs, y)
        Wv, bv = W.clone().requires_grad_(True), b.clone().requires_grad_(True)
        for _ in range(n_inner):
            gW, gb = torch.autograd.grad(augmented_hamiltonian(model, Wv, bv, xs, ps, rho), (Wv, bv))
            with torch.no_grad():
                Wv += inner_lr * gW
                bv += inner_lr * gb
        W, b = Wv.detach(), bv.detach()
    secs = (time.perf_counter() - t0) / max(len(losses) - 1, 1)
    return {"loss": np.array(losses), "W": W, "b": b, "seconds": secs, "passes": 1 + n_inner}


def gradient_train(model: ResNetControl, W, b, x, y, *, method: str = "gd", lr: float = 1.0, n_iter: int = 400, train_bias: bool = True):
    """Full-batch gradient descent (``"gd"``) or Adam (``"adam"``) on ``J``, gradients by the costates.

    Returns:
        dict with ``loss`` (``n_iter + 1`` values), ``W``, ``b``, ``seconds`` per iteration, ``passes = 1``.
    """
    methods = {"gd": None, "adam": None}
    if method not in methods:
        raise ValueError(f"method must be one of {sorted(methods)}; got {method!r}")
    lr = positive("lr", lr)
    n_iter = integer("n_iter", n_iter)
    W, b = W.detach().clone(), b.detach().clone()
    mW, vW, mb, vb = (torch.zeros_like(W), torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(b))
    b1, b2, eps = 0.9, 0.999, 1e-8
    losses = []
    t0 = time.perf_counter()
    for k in range(n_iter + 1):
        xs = forward_states(model, W, b, x)
        losses.append(float(terminal_loss(model, xs[-1], y) + 0.5 * model.lam * ((W * W).sum() + (b * b).sum())))
        if k == n_iter:
            break
        gW, gb = hamiltonian_grads(model, W, b, xs, costates(model, W, b, xs, y))
        gW, gb = -gW, -gb  # grad J = -grad_theta H
        if not train_bias:
            gb = torch.zeros_like(gb)
        if method == "gd":
            W, b = W - lr * gW, b - lr * gb
        else:
            mW, mb = b1 * mW + (1 - b1) * gW, b1 * mb + (1 - b1) * gb
            vW, vb = b2 * vW + (1 - b2) * gW**2, b2 * vb + (1 - b2) * gb**2
            c1, c2 = 1 - b1 ** (k + 1), 1 - b2 ** (k + 1)
            W = W - lr * (mW / c1) / ((vW / c2).sqrt() + eps)
            b = b - lr * (mb / c1) / ((vb / c2).sqrt() + eps)
    secs = (time.perf_counter() - t0) / n_iter
    return {"loss": np.array(losses), "W": W, "b": b, "seconds": secs, "passes": 1}


def ternary_argmax(M, lam: float):
    """Closed-form maximiser of ``M . s - lam |s|_1`` over ``s in {-1, 0, 1}`` (elementwise).

    ``s = sign(M)`` where ``|M| > lam``, else 0 (ties at ``|M| = lam`` give 0, the sparser choice).

    Example:
        >>> ternary_argmax(torch.tensor([-2.0, 0.5, 3.0]), 1.0).tolist()
        [-1.0, 0.0, 1.0]
    """
    if not isinstance(M, torch.Tensor):
        raise TypeError("M must be a torch tensor")
    lam = positive("lam", lam, allow_zero=True)
    return torch.sign(M) * (M.abs() > lam).to(M.dtype)


def binary_argmax(M):
    """Closed-form maximiser of ``M . s`` over ``s in {-1, 1}``: ``sign(M)`` (``+1`` at ``M = 0``)."""
    if not isinstance(M, torch.Tensor):
        raise TypeError("M must be a torch tensor")
    return torch.where(M >= 0, torch.ones_like(M), -torch.ones_like(M))


def ternary_msa_train(model: ResNetControl, x, y, *, T: int, alpha: float, lam: float, lr: float = 1.0, n_iter: int = 300, seed: int = 0):
    """Train a ternary-weight residual network (``W_t = alpha s_t``, biases 0) by a simplified MSA closed form.

    Each iteration: forward states, backward costates, ``M_t <- M_t + lr grad_s H_t`` with
    ``grad_s H_t = alpha grad_W H_t`` (the Hamiltonian of the loss alone, without the running cost), then
    ``s_t = ternary_argmax(M_t, lam)``. ``M`` starts uniform in ``(-lam, lam)``, i.e. at ``s = 0``. Unlike
    Li & Hao (2018) there are no augmented-Hamiltonian (``rho``) terms, so their descent estimate does not
    apply.

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
        dict with ``loss`` per iteration, ``W`` (ternary times ``alpha``), ``b`` (zeros), ``sparsity``
        (fraction of zero weights).

    Example:
        >>> m = ResNetControl(C=torch.eye(2, dtype=torch.float64))
        >>> x, y = torch.eye(2, dtype=torch.float64), torch.tensor([0, 1])
        >>> r = ternary_msa_train(m, x, y, T=2, alpha=0.5, lam=0.1, n_iter=3)
        >>> sorted(set(r["W"].flatten().tolist())) <= [-0.5, 0.0, 0.5]
        True
    """
    T = integer("T", T)
    alpha, lam, lr = positive("alpha", alpha), positive("lam", lam, allow_zero=True), positive("lr", lr)
    n_iter = integer("n_iter", n_iter)
    d = x.shape[1]
    g = torch.Generator().manual_seed(_seed(seed))
    M = lam * 2 * torch.rand(T, d, d, generator=g, dtype=x.dtype) - lam  # start inside the dead zone: s = 0
    b = torch.zeros(T, d, dtype=x.dtype)
    losses = []
    for k in range(n_iter + 1):
        W = alpha * ternary_argmax(M, lam)
        xs = forward_states(model, W, b, x)
        losses.append(float(terminal_loss(model, xs[-1], y)))
        if k == n_iter:
            break
        gW, _ = hamiltonian_grads(model, W, b, xs, costates(model, W, b, xs, y))
        M = M + lr * alpha * (gW + model.lam * W)  # the Hamiltonian of the loss alone; sparsity via lam
    return {"loss": np.array(losses), "W": W, "b": b, "sparsity": float((W == 0).double().mean())}


# --------------------------------------------------------------------------------------- experiments
def _setup(T: int, d_scale: float, seed: int, lam: float = 1e-4, h: float = 0.25, n_train: int = 500):
    x, y, xt, yt = digits_data(seed=seed)
    x, y = x[: integer("n_train", n_train)], y[:n_train]
    model = ResNetControl(C=readout(K=10, d=x.shape[1], seed=seed), h=h, lam=lam)
    W, b = init_params(T=T, d=x.shape[1], scale=d_scale, seed=seed)
    return model, W, b, x, y, xt, yt


def msa_experiment(*, T: int = 4, n_train: int = 500, n_iter: int = 20, n_inner: int = 5, rho_basic: float = 0.0, rho_ext: float = 10.0, inner_lr_basic: float = 2.0, inner_lr_ext: float = 0.5, gd_lr: float = 2.0, adam_lr: float = 0.01, seed: int = 0) -> dict:
    """Basic MSA, E-MSA, gradient descent and Adam on the digits residual network (full batch).

    The inner ascent step of E-MSA is smaller (``inner_lr_ext``) because the penalty adds curvature
    ``~ rho`` to ``H~``, and gradient ascent is stable only below ``2 / curvature``. GD and Adam run ``n_iter * (1 + n_inner)`` iterations: the same number of forward-backward passes
    of the batch as the MSA runs. Returns loss curves, costs per iteration (passes, seconds) and the
    test accuracies.
    """
    model, W, b, x, y, xt, yt = _setup(T, 0.0, seed, n_train=n_train)
    out = {"n_iter": n_iter, "n_inner": n_inner, "rho_ext": rho_ext}
    for name, kw, ilr in (("msa", rho_basic, inner_lr_basic), ("emsa", rho_ext, inner_lr_ext)):
        r = msa_train(model, W, b, x, y, rho=kw, n_iter=n_iter, n_inner=n_inner, inner_lr=ilr)
        out[name] = r["loss"]
        out[name + "_seconds"] = r["seconds"]
        out[name + "_acc"] = accuracy(model, r["W"], r["b"], xt, yt) if np.isfinite(r["loss"][-1]) else float("nan")
    n_grad = n_iter * (1 + n_inner)
    for name, lr in (("gd", gd_lr), ("adam", adam_lr)):
        r = gradient_train(model, W, b, x, y, method=name, lr=lr, n_iter=n_grad)
        out[name] = r["loss"]
        out[name + "_seconds"] = r["seconds"]
        out[name + "_acc"] = accuracy(model, r["W"], r["b"], xt, yt)
    return out


@figures.register(
    "control/msa",
    caption=(
        r"Training loss of the digits residual network by basic MSA ($\rho = 0$), extended MSA ($\rho > 0$), "
        r"full-batch gradient descent and Adam, against the number of forward-backward passes of the batch "
        r"(one MSA iteration costs $1 + n_\mathrm{inner}$ passes)."
    ),
    compute=functools.partial(msa_experiment, seed=0),
)
def _plot_msa(d):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    per = 1 + d["n_inner"]
    for key, lab, st in (("msa", r"basic MSA, $\rho = 0$", "o-"), ("emsa", rf"extended MSA, $\rho = {d['rho_ext']:g}$", "s-")):
        l = d[key]
        ax.semilogy(np.arange(l.size) * per, l, st, ms=3, label=lab + " (experiment)")
    for key, lab in (("gd", "gradient descent"), ("adam", "Adam")):
        ax.semilogy(np.arange(d[key].size), d[key], label=lab + " (experiment)")
    ax.set(xlabel="forward-backward passes of the batch", ylabel=r"training loss $J$")
    ax.legend()
    return fig


def ternary_experiment(*, T: int = 6, n_train: int = 1257, alpha: float = 0.05, lam: float = 0.02, lr: float = 20.0, n_iter: int = 300, adam_lr: float = 0.01, seed: int = 0) -> dict:
    """Ternary network by the simplified MSA closed form (:func:`ternary_msa_train`) vs the same network (biases 0) in full precision (Adam)."""
    model, W, b, x, y, xt, yt = _setup(T, 0.0, seed, n_train=n_train)
    rt = ternary_msa_train(model, x, y, T=T, alpha=alpha, lam=lam, lr=lr, n_iter=n_iter, seed=seed)
    rf = gradient_train(model, W, b, x, y, method="adam", lr=adam_lr, n_iter=n_iter, train_bias=False)
    return {
        "ternary": rt["loss"], "full": rf["loss"], "sparsity": rt["sparsity"],
        "acc_ternary": accuracy(model, rt["W"], rt["b"], xt, yt), "acc_full": accuracy(model, rf["W"], rf["b"], xt, yt),
        "train_acc_ternary": accuracy(model, rt["W"], rt["b"], x, y), "train_acc_full": accuracy(model, rf["W"], rf["b"], x, y),
    }
