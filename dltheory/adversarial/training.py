"""Adversarial training as a two-player game: PGD (Madry et al. 2018) and YOPO (Zhang et al. 2019).

Robust training solves ``min_theta E max_{|eta|_inf <= epsilon} Phi(x_0 + eta, y; theta)``.

* **PGD-K** approximates the inner maximum by ``K`` steps of projected sign-gradient ascent from a
  random start, each needing a full forward and backward pass for ``grad_eta Phi``, then takes one
  weight step (one more full pass): ``K + 1`` full passes per minibatch.
* **YOPO-m-n** uses the maximum principle: the adversary enters only layer 0, so with the costate
  ``p_1`` frozen it can be updated ``n`` times by first-layer passes alone; layer 0 itself is
  trained by the Hamiltonian ``H_0(x_0 + eta^{j,n}, p_1)`` after those steps (the paper's ``U_2``).
  ``m`` full passes (each giving a fresh ``p_1`` and the gradient of layers ``1..L-1``) and
  ``m (n + 1)`` first-layer passes per minibatch.

All networks of the seed axis train at once. The passes are counted in a :class:`PassCounter`.
"""

from __future__ import annotations

import torch

from dltheory import _checks as checks
from dltheory.adversarial.mlp import (
    PassCounter,
    _check_params,
    _costates,
    _first_layer_grad,
    _forward,
    weight_gradients,
)

__all__ = [
    "pgd_attack",
    "robust_accuracy",
    "accuracy",
    "adversarial_step",
    "train_epoch",
    "adversarial_train",
    "step_flops",
]

METHODS = ("pgd", "yopo")


def _box(x0, epsilon):
    """Bounds of ``eta``: ``|eta| <= epsilon`` and ``x0 + eta`` in the pixel range ``[0, 1]``."""
    return (-x0).clamp(min=-epsilon), (1.0 - x0).clamp(max=epsilon)


def _project(eta, box):
    return torch.clamp(eta, box[0], box[1])


def _uniform(shape, epsilon, generator, like):
    return (2 * torch.rand(shape, generator=generator, dtype=like.dtype) - 1) * epsilon


def _check_attack(epsilon, steps, alpha):
    epsilon = checks.positive("epsilon", epsilon)
    steps = checks.integer("steps", steps, high=10_000)
    alpha = 2.5 * epsilon / steps if alpha is None else checks.positive("alpha", alpha)
    return epsilon, steps, alpha


def _pgd(params, x0, y, epsilon, steps, alpha, generator, counter):
    box = _box(x0, epsilon)
    eta = _project(_uniform(x0.shape, epsilon, generator, x0), box)
    for _ in range(steps):
        states = _forward(params, x0 + eta)
        p1 = _costates(params, states, y, stop=1)[0]
        g = torch.bmm(
            (1 - states[1] ** 2) * p1, params[0].transpose(1, 2)
        )  # = -grad_eta Phi (x_1 reused)
        if counter is not None:
            counter.full += 1
        eta = _project(eta - alpha * torch.sign(g), box)
    return eta


def pgd_attack(
    params,
    x0,
    y,
    *,
    epsilon: float,
    steps: int,
    alpha: float | None = None,
    seed: int = 0,
    counter: PassCounter | None = None,
) -> torch.Tensor:
    """PGD: ``eta <- Proj(eta + alpha sign(grad_eta Phi))`` from a uniform random start in the
    ``epsilon``-box.

    Args:
        params: from :func:`~dltheory.adversarial.mlp.init_mlp`.
        x0: clean inputs ``(S, B, d_0)`` in ``[0, 1]``.
        y: labels ``(S, B)`` or ``(B,)``.
        epsilon: the ``l_inf`` budget ``> 0``.
        steps: the number ``K`` of ascent steps.
        alpha: step size (default ``2.5 epsilon / K``, Madry et al.).
        seed: seed of the random start.
        counter: incremented by one full pass per step.

    Returns:
        The perturbation ``eta`` (``|eta|_inf <= epsilon``, ``x0 + eta`` in ``[0, 1]``).

    Example:
        >>> from dltheory.adversarial.mlp import init_mlp
        >>> p = init_mlp((4, 3, 2))
        >>> eta = pgd_attack(p, torch.full((1, 5, 4), 0.5, dtype=torch.float64),
        ...                  torch.zeros(5, dtype=torch.long), epsilon=0.1, steps=3)
        >>> bool(eta.abs().max() <= 0.1)
        True
    """
    x0 = checks.tensor("x0", x0, ndim=3)
    y = _check_params(params, x0, y, name="x0")
    checks.real_array("x0", x0, low=0.0, high=1.0)  # the attack projects onto the pixel box [0, 1]
    epsilon, steps, alpha = _check_attack(epsilon, steps, alpha)
    g = torch.Generator().manual_seed(checks.seed(seed))
    return _pgd(params, x0, y, epsilon, steps, alpha, g, counter)


def accuracy(params, x, y) -> torch.Tensor:
    """Accuracy of each of the ``S`` networks on ``(x, y)``, shape ``(S,)``.

    Example:
        >>> from dltheory.adversarial.mlp import init_mlp
        >>> tuple(accuracy(init_mlp((4, 2), n_nets=3), torch.zeros(3, 5, 4, dtype=torch.float64),
        ...                torch.zeros(5, dtype=torch.long)).shape)
        (3,)
    """
    x = checks.tensor("x", x, ndim=3)
    y = _check_params(params, x, y)
    with torch.no_grad():
        return (_forward(params, x)[-1].argmax(-1) == y).to(x.dtype).mean(1)


def robust_accuracy(
    params,
    x0,
    y,
    *,
    epsilon: float,
    steps: int = 20,
    restarts: int = 5,
    alpha: float | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Accuracy under PGD-``steps`` with ``restarts`` random starts: a point counts only if it
    survives all.

    Example:
        >>> from dltheory.adversarial.mlp import init_mlp
        >>> p = init_mlp((4, 2), n_nets=2)
        >>> x, y = torch.full((2, 5, 4), 0.5, dtype=torch.float64), torch.zeros(5, dtype=torch.long)
        >>> bool(
        ...     (
        ...         robust_accuracy(p, x, y, epsilon=0.1, steps=2, restarts=2) <= accuracy(p, x, y)
        ...     ).all()
        ... )
        True
    """
    x0 = checks.tensor("x0", x0, ndim=3)
    y = _check_params(params, x0, y, name="x0")
    checks.real_array("x0", x0, low=0.0, high=1.0)
    epsilon, steps, alpha = _check_attack(epsilon, steps, alpha)
    restarts = checks.integer("restarts", restarts, high=1000)
    g = torch.Generator().manual_seed(checks.seed(seed))
    ok = torch.ones(x0.shape[:2], dtype=torch.bool)
    with torch.no_grad():
        ok &= _forward(params, x0)[-1].argmax(-1) == y
        for _ in range(restarts):
            eta = _pgd(params, x0, y, epsilon, steps, alpha, g, None)
            ok &= _forward(params, x0 + eta)[-1].argmax(-1) == y
    return ok.to(x0.dtype).mean(1)


def adversarial_step(
    params,
    x0,
    y,
    *,
    method: str,
    epsilon: float,
    K: int = 10,
    m: int = 3,
    n: int = 5,
    alpha: float | None = None,
    generator: torch.Generator,
    counter: PassCounter | None = None,
) -> list[torch.Tensor]:
    """The weight gradient of one adversarial-training minibatch, by PGD-K or YOPO-m-n.

    PGD-K: ``K`` full passes for the attack, one for the gradient at the attacked input.
    YOPO-m-n (Zhang et al. 2019, Algorithm 1): ``m`` full passes at ``eta^{j,0}`` (each gives
    ``p_1`` and the weight gradient of layers ``1..L-1``), each followed by ``n`` updates of ``eta``
    by first-layer passes with ``p_1`` frozen and one more first-layer pass that gives layer 0's
    weight gradient ``-grad_theta0 H_0(x0 + eta^{j,n}, p_1)`` (``_yopo_first_layer_update``). The
    ``m`` gradients are averaged (the paper sums them, a factor ``m`` in the learning rate).

    Args:
        alpha: adversary's step (default ``2.5 epsilon / K`` for PGD, ``2.5 epsilon / (m n)`` for
        YOPO). generator: the random start's generator.

    Returns:
        The gradients ``[dW_0, db_0, ...]``.
    """
    method = checks.choice("method", method, METHODS)
    epsilon = checks.positive("epsilon", epsilon)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    if method == "pgd":
        K = checks.integer("K", K, high=10_000)
        alpha = 2.5 * epsilon / K if alpha is None else checks.positive("alpha", alpha)
        eta = _pgd(params, x0, y, epsilon, K, alpha, generator, counter)
        states = _forward(params, x0 + eta)
        if counter is not None:
            counter.full += 1
        return weight_gradients(params, states, _costates(params, states, y, stop=1))
    m, n = checks.integer("m", m, high=10_000), checks.integer("n", n, high=10_000)
    alpha = 2.5 * epsilon / (m * n) if alpha is None else checks.positive("alpha", alpha)
    box = _box(x0, epsilon)
    eta = _project(_uniform(x0.shape, epsilon, generator, x0), box)
    total = None
    for _ in range(m):
        eta_start = eta
        states = _forward(params, x0 + eta)
        ps = _costates(params, states, y, stop=1)
        rest = _weight_gradients_after_first(params, states, ps)  # layers 1..L-1, at eta^{j,0}
        if counter is not None:
            counter.full += 1
        for _ in range(n):  # the adversary moves with p_1 frozen: layer 0 only
            g = _first_layer_grad(params, x0 + eta, ps[0])
            eta = _project(eta + alpha * torch.sign(g), box)
            if counter is not None:
                counter.first_layer += 1
        grads = _yopo_first_layer_update(params, x0, eta_start, eta, ps[0]) + rest
        if counter is not None:
            counter.first_layer += 1
        total = grads if total is None else [a + b for a, b in zip(total, grads, strict=False)]
    return [t / m for t in total]


def _weight_gradients_after_first(params, states, ps):
    """``dPhi/dtheta_l`` for the layers ``l = 1..L-1`` only (the full pass of YOPO skips layer
    0's)."""
    L = len(params) // 2
    grads = []
    for l in range(1, L):
        p_next = ps[l]  # ps = [p_1, ..., p_L]
        sp = p_next if l == L - 1 else (1 - states[l + 1] ** 2) * p_next
        grads += [-torch.bmm(states[l].transpose(1, 2), sp), -sp.sum(1, keepdim=True)]
    return grads


def _yopo_first_layer_update(params, x0, eta_start, eta_end, p1) -> list[torch.Tensor]:
    """The first layer's weight gradient of one outer YOPO iteration,
    ``-grad_theta0 H_0(x0 + eta^{j,n}, p_1)``.

    In Zhang et al. (2019, Algorithm 1, ``U_2``) and their code (the ``Hamiltonian`` backward after
    the ``n`` inner steps of ``FastGradientLayerOneTrainer``), the first layer is not trained by the
    full pass at ``eta^{j,0}`` but by the Hamiltonian ``H_0 = p_1 . f_0(x, theta_0)`` with the
    frozen costate ``p_1`` at the adversary's point after the ``n`` first-layer steps,
    ``eta^{j,n}``. For the tanh layer, with ``s = 1 - x_1^2`` at ``x = x0 + eta_end``:
    ``dW_0 = -x' (s * p_1)``, ``db_0 = -sum_i s * p_1``: one first-layer forward and one weight
    product.

    Args:
        params: the network's parameters.
        x0: clean inputs ``(S, B, d_0)``.
        eta_start: ``eta^{j,0}``, where the costate was computed (unused by the paper's update; kept
            so that the update's inputs are explicit).
        eta_end: ``eta^{j,n}``, the adversary after the ``n`` inner steps.
        p1: the frozen costate at layer 1 ``(S, B, d_1)``.

    Returns:
        ``[dW_0, db_0]``.
    """
    x = x0 + eta_end
    x1 = torch.tanh(torch.baddbmm(params[1], x, params[0]))
    sp = (1 - x1**2) * p1
    return [-torch.bmm(x.transpose(1, 2), sp), -sp.sum(1, keepdim=True)]


def step_flops(
    sizes, *, batch_size: int, n_nets: int, method: str, K: int = 10, m: int = 3, n: int = 5
) -> int:
    """Matrix-product FLOPs of one minibatch, by the formula (``F = sum_l F_l``,
    ``F_l = 2 S B d_l d_{l+1}``).

    PGD-K: ``K`` attack passes (forward ``F`` + input-gradient backward ``F``) and one training pass
    (forward ``F``, weight gradients ``F``, costates of layers ``1..L-1`` ``F - F_0``):
    ``(2K + 3) F - F_0``. YOPO-m-n: ``m (3F - 2F_0)`` for the full passes (layer 0's weight gradient
    is not taken there), ``m n`` adversary passes of ``2 F_0`` and ``m`` first-layer weight passes
    of ``2 F_0``: ``3 m F + 2 m n F_0``.

    Example:
        >>> step_flops((4, 3, 2), batch_size=5, n_nets=1, method="pgd", K=1)
        780
    """
    from dltheory.adversarial.mlp import layer_flops

    method = checks.choice("method", method, METHODS)
    Fl = layer_flops(sizes, batch_size, n_nets)
    F, F0 = sum(Fl), Fl[0]
    if method == "pgd":
        return (2 * checks.integer("K", K) + 3) * F - F0
    m, n = checks.integer("m", m), checks.integer("n", n)
    return 3 * m * F + 2 * m * n * F0


def train_epoch(
    params,
    momentum_buffers,
    x,
    y,
    *,
    method: str,
    epsilon: float,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    K: int = 10,
    m: int = 3,
    n: int = 5,
    alpha: float | None = None,
    generator: torch.Generator,
    counter: PassCounter | None = None,
) -> None:
    """One epoch of adversarial training (PGD-K or YOPO-m-n) with SGD + momentum, in place.

    Each of the ``S`` networks sees its own random order of the training set; the remainder of the
    epoch (``N mod batch_size`` points) is dropped.

    Args:
        params: the parameters, updated in place.
        momentum_buffers: one zero-initialised tensor per parameter, updated in place.
        x: training inputs ``(N, d_0)`` in ``[0, 1]``; y: labels ``(N,)``.
        K, m, n, alpha: see :func:`adversarial_step`.
        generator: source of the orders and the adversary's random starts.
    """
    x = checks.tensor("x", x, ndim=2)
    N = x.shape[0]
    y = checks.labels("y", y, n_classes=params[-1].shape[-1], n=N)
    S = params[0].shape[0]
    _check_params(params, x[None].expand(S, -1, -1))
    B = checks.integer("batch_size", batch_size, high=N)
    lr = checks.positive("lr", lr)
    momentum = checks.real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    order = torch.argsort(torch.rand(S, N, generator=generator), dim=1)
    for k in range(N // B):
        idx = order[:, k * B : (k + 1) * B]
        grads = adversarial_step(
            params,
            x[idx],
            y[idx],
            method=method,
            epsilon=epsilon,
            K=K,
            m=m,
            n=n,
            alpha=alpha,
            generator=generator,
            counter=counter,
        )
        with torch.no_grad():
            for p, b, gr in zip(params, momentum_buffers, grads, strict=False):
                b.mul_(momentum).add_(gr)
                p.sub_(lr * b)


def adversarial_train(
    params,
    x,
    y,
    *,
    method: str,
    epsilon: float,
    epochs: int,
    batch_size: int,
    lr: float,
    momentum: float = 0.9,
    K: int = 10,
    m: int = 3,
    n: int = 5,
    alpha: float | None = None,
    seed: int = 0,
    counter: PassCounter | None = None,
) -> list[torch.Tensor]:
    """Adversarial training by PGD-K or YOPO-m-n for ``epochs`` epochs (see :func:`train_epoch`).

    Returns:
        The trained parameters (``params`` itself is not modified).

    Example:
        >>> from dltheory.adversarial.mlp import init_mlp
        >>> x, y = torch.rand(8, 4, dtype=torch.float64), torch.tensor([0, 1] * 4)
        >>> c = PassCounter()
        >>> _ = adversarial_train(init_mlp((4, 3, 2)), x, y, method="yopo", epsilon=0.1, epochs=1,
        ...                       batch_size=4, lr=0.1, m=2, n=3, counter=c)
        >>> c
        PassCounter(full=4, first_layer=16)
    """
    epochs = checks.integer("epochs", epochs, high=100_000)
    g = torch.Generator().manual_seed(checks.seed(seed))
    params = checks.sequence("params", params, min_len=2)
    if len(params) % 2 or not all(
        isinstance(p, torch.Tensor) for p in params
    ):  # x, y: in train_epoch
        raise TypeError(
            "params must be a list [W_0, b_0, W_1, b_1, ...] of tensors as made by init_mlp"
        )
    if counter is not None and not isinstance(counter, PassCounter):
        raise TypeError(f"counter must be a PassCounter or None; got {type(counter).__name__}")
    params = [p.clone() for p in params]
    buf = [torch.zeros_like(p) for p in params]
    for _ in range(epochs):
        train_epoch(
            params,
            buf,
            x,
            y,
            method=method,
            epsilon=epsilon,
            batch_size=batch_size,
            lr=lr,
            momentum=momentum,
            K=K,
            m=m,
            n=n,
            alpha=alpha,
            generator=g,
            counter=counter,
        )
    return params
