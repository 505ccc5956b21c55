"""MAML on sinusoid regression (Finn, Abbeel & Levine 2017), batched over tasks with ``torch.func``.

Tasks are ``y = A sin(x - phi)`` with ``A ~ U[0.1, 5]``, ``phi ~ U[0, pi]``, ``x ~ U[-5, 5]``. A
learner sees ``K`` points of a new task and adapts a network by a few gradient steps of size
``alpha`` on their mean squared error. MAML chooses the initial weights ``theta`` to minimise the
loss *after* that adaptation,

    min_theta  E_tasks L_query(theta - alpha grad L_support(theta)),

an optimal-control problem on the training dynamics: the initial condition of the inner gradient
flow is the control, and the meta-gradient is the inner loop's costate
(see :mod:`dltheory.meta.unroll`). The baseline pretrains the same network on all tasks jointly and
fine-tunes it the same way.

Per-task adaptation is written two ways. :func:`meta_gradient_vmap` is the reference:
``torch.func.vmap`` over ``torch.func.grad``, the standard tool for per-task gradients.
:func:`meta_gradient` gives every task its own copy of the weights as a leading batch axis and
differentiates the summed support losses with respect to those copies (the tasks' losses are
separate, so this is each task's gradient), then the query loss back to the shared weights through
batched matrix products; it is the same number (a test checks it to round-off in float64) and on a
CPU about twice as fast, so the training loop uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.func import grad, vmap

from dltheory import _checks as checks

__all__ = [
    "SinusoidTasks",
    "sample_tasks",
    "init_net",
    "net",
    "adapt",
    "adaptation_curves",
    "meta_gradient",
    "meta_gradient_vmap",
    "maml_train",
    "pretrain",
]


@dataclass(frozen=True)
class SinusoidTasks:
    """A batch of sinusoid tasks.

    Attributes:
        amplitude, phase: ``(T,)``.
        x_support, y_support: the ``K`` shots, ``(T, K, 1)``.
        x_query, y_query: held-out points of the same task, ``(T, Q, 1)``.
    """

    amplitude: torch.Tensor
    phase: torch.Tensor
    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor


def sample_tasks(
    n_tasks: int,
    *,
    k_shot: int = 10,
    n_query: int = 10,
    n_points: int | None = None,
    generator: torch.Generator,
    dtype=torch.float32,
) -> SinusoidTasks:
    """Draw ``n_tasks`` sinusoid tasks with ``k_shot`` support and ``n_query`` query points each.

    Args:
        n_points: if given, the number of points a task has in all; ``k_shot + n_query`` must not
            exceed it (a K larger than the task's points is an error).

    Example:
        >>> t = sample_tasks(3, k_shot=5, generator=torch.Generator().manual_seed(0))
        >>> tuple(t.x_support.shape), tuple(t.y_query.shape)
        ((3, 5, 1), (3, 10, 1))
    """
    T = checks.integer("n_tasks", n_tasks, high=1_000_000)
    K = checks.integer("k_shot", k_shot, high=100_000)
    Q = checks.integer("n_query", n_query, high=100_000)
    if n_points is not None:
        n_points = checks.integer("n_points", n_points)
        if K + Q > n_points:
            raise ValueError(f"k_shot + n_query = {K + Q} exceeds the task's n_points = {n_points}")
    checks.size("n_tasks * (k_shot + n_query)", T * (K + Q))
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator; got {type(generator).__name__}")
    A = 0.1 + 4.9 * torch.rand(T, generator=generator, dtype=dtype)
    phi = math.pi * torch.rand(T, generator=generator, dtype=dtype)
    x = -5 + 10 * torch.rand(T, K + Q, 1, generator=generator, dtype=dtype)
    y = A[:, None, None] * torch.sin(x - phi[:, None, None])
    return SinusoidTasks(A, phi, x[:, :K], y[:, :K], x[:, K:], y[:, K:])


def init_net(*, hidden: int = 40, seed: int = 0, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Parameters of the ``1 -> hidden -> hidden -> 1`` ReLU network (PyTorch's default
    initialisation).

    Example:
        >>> sorted(init_net(hidden=4))
        ['0.bias', '0.weight', '2.bias', '2.weight', '4.bias', '4.weight']
    """
    h = checks.integer("hidden", hidden, high=1 << 14)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(checks.seed(seed))
        module = _module(h).to(dtype)
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _module(h):
    return torch.nn.Sequential(
        torch.nn.Linear(1, h),
        torch.nn.ReLU(),
        torch.nn.Linear(h, h),
        torch.nn.ReLU(),
        torch.nn.Linear(h, 1),
    )


def net(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The network's output at ``x`` (``(..., 1)``) for the parameters ``params``.

    Example:
        >>> p = init_net(hidden=4)
        >>> tuple(net(p, torch.zeros(7, 1)).shape)
        (7, 1)
    """
    params, x = _check_params(params), checks.tensor("x", x)
    if x.ndim < 2 or x.shape[-1] != 1 or x.dtype != params["0.weight"].dtype:
        raise ValueError(
            "x must have shape (..., n, 1) and the parameters' dtype "
            f"{params['0.weight'].dtype}; got "
            f"shape {tuple(x.shape)} and {x.dtype}"
        )
    checks.on_device("x", x, params["0.weight"].device)
    return _net(params, x)


_PARAM_NAMES = ("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias")


def _check_params(params):
    if not isinstance(params, dict) or sorted(params) != sorted(_PARAM_NAMES):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ValueError(
            f"params must be a dict with the keys {list(_PARAM_NAMES)} (see init_net); got {got}"
        )
    for k in _PARAM_NAMES:
        checks.tensor(f"params[{k!r}]", params[k])
    return params


def _net(params, x):
    h1 = torch.relu(x @ params["0.weight"].T + params["0.bias"])
    h2 = torch.relu(h1 @ params["2.weight"].T + params["2.bias"])
    return h2 @ params["4.weight"].T + params["4.bias"]


def _mse(params, x, y):
    return ((_net(params, x) - y) ** 2).mean()


def adapt(params, x, y, *, alpha: float, steps: int) -> dict[str, torch.Tensor]:
    """``steps`` gradient steps of size ``alpha`` on the MSE of one task's points (differentiable).

    Example:
        >>> p = init_net(hidden=4)
        >>> q = adapt(p, torch.zeros(3, 1), torch.ones(3, 1), alpha=0.1, steps=2)
        >>> bool(
        ...     _mse(q, torch.zeros(3, 1), torch.ones(3, 1))
        ...     < _mse(p, torch.zeros(3, 1), torch.ones(3, 1))
        ... )
        True
    """
    net(params, x)  # checks params and x
    y = checks.tensor("y", y, shape=tuple(x.shape), dtype=params["0.weight"].dtype)
    alpha = checks.positive("alpha", alpha)
    steps = checks.integer("steps", steps, low=0, high=10_000)
    checks.work("steps", steps, 3 * sum(p.numel() for p in params.values()) * x.shape[0])
    out = _adapt(params, x, y, alpha=alpha, steps=steps)
    checks.finite_state("alpha", out["4.weight"], alpha, step=steps)
    return out


def _adapt(params, x, y, *, alpha, steps):
    for _ in range(steps):
        g = grad(_mse)(params, x, y)
        params = {k: params[k] - alpha * g[k] for k in params}
    return params


def _check_alpha_steps(alpha, steps, name="steps"):
    return checks.positive("alpha", alpha), checks.integer(name, steps, low=0, high=10_000)


def adaptation_curves(
    params, tasks: SinusoidTasks, *, alpha: float = 0.01, steps: int = 10
) -> torch.Tensor:
    """Query MSE of every task after ``0..steps`` adaptation steps on its support set,
    ``(steps + 1, T)``.

    Example:
        >>> t = sample_tasks(4, generator=torch.Generator().manual_seed(0))
        >>> tuple(adaptation_curves(init_net(hidden=4), t, steps=2).shape)
        (3, 4)
    """
    tasks, params = _check_tasks(tasks), _check_params(params)
    alpha, steps = _check_alpha_steps(alpha, steps)

    def one_task(xs, ys, xq, yq):
        p, out = params, [_mse(params, xq, yq)]
        for _ in range(steps):
            g = grad(_mse)(p, xs, ys)
            p = {k: p[k] - alpha * g[k] for k in p}
            out.append(_mse(p, xq, yq))
        return torch.stack(out)

    with torch.no_grad():
        return vmap(one_task)(tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query).T


def _check_tasks(tasks):
    if not isinstance(tasks, SinusoidTasks):
        raise TypeError(
            f"tasks must be a SinusoidTasks (from sample_tasks); got {type(tasks).__name__}"
        )
    return tasks


def _batched_net(P, x):
    h = torch.relu(torch.baddbmm(P["0.bias"].unsqueeze(1), x, P["0.weight"].transpose(1, 2)))
    h = torch.relu(torch.baddbmm(P["2.bias"].unsqueeze(1), h, P["2.weight"].transpose(1, 2)))
    return torch.baddbmm(P["4.bias"].unsqueeze(1), h, P["4.weight"].transpose(1, 2))


def meta_gradient(
    params, tasks: SinusoidTasks, *, alpha: float = 0.01, inner_steps: int = 1
) -> tuple[dict, torch.Tensor]:
    """MAML's meta-gradient and meta-loss ``mean_t L_query,t(adapt_t(theta))`` (second order,
    batched).

    Example:
        >>> t = sample_tasks(3, generator=torch.Generator().manual_seed(0))
        >>> g, loss = meta_gradient(init_net(hidden=4), t)
        >>> sorted(g) == sorted(init_net(hidden=4)), loss.ndim
        (True, 0)
    """
    tasks, params = _check_tasks(tasks), _check_params(params)
    alpha, inner_steps = _check_alpha_steps(alpha, inner_steps, "inner_steps")
    T = tasks.x_support.shape[0]
    theta = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    with torch.enable_grad():
        P = {k: v.expand(T, *v.shape) for k, v in theta.items()}
        for _ in range(inner_steps):
            support = ((_batched_net(P, tasks.x_support) - tasks.y_support) ** 2).mean((1, 2)).sum()
            g = torch.autograd.grad(support, list(P.values()), create_graph=True)
            P = {k: P[k] - alpha * gk for k, gk in zip(P, g, strict=False)}
        loss = ((_batched_net(P, tasks.x_query) - tasks.y_query) ** 2).mean()
        grads = torch.autograd.grad(loss, list(theta.values()))
    return dict(zip(theta, grads, strict=False)), loss.detach()


def meta_gradient_vmap(
    params, tasks: SinusoidTasks, *, alpha: float = 0.01, inner_steps: int = 1
) -> tuple[dict, torch.Tensor]:
    """The same meta-gradient with ``torch.func``: ``grad`` of the mean over ``vmap``-ed task
    losses.

    Example:
        >>> t = sample_tasks(3, generator=torch.Generator().manual_seed(0))
        >>> g, loss = meta_gradient_vmap(init_net(hidden=4), t)
        >>> loss.ndim
        0
    """
    tasks, params = _check_tasks(tasks), _check_params(params)
    alpha, inner_steps = _check_alpha_steps(alpha, inner_steps, "inner_steps")

    def task_loss(p, xs, ys, xq, yq):
        return _mse(_adapt(p, xs, ys, alpha=alpha, steps=inner_steps), xq, yq)

    def meta_loss(p, xs, ys, xq, yq):
        return vmap(task_loss, in_dims=(None, 0, 0, 0, 0))(p, xs, ys, xq, yq).mean()

    g, loss = torch.func.grad_and_value(meta_loss)(
        {k: v.detach() for k, v in params.items()},
        tasks.x_support,
        tasks.y_support,
        tasks.x_query,
        tasks.y_query,
    )
    return g, loss.detach()


def maml_train(
    params,
    *,
    n_iter: int,
    meta_batch: int = 25,
    k_shot: int = 10,
    alpha: float = 0.01,
    inner_steps: int = 1,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[dict, torch.Tensor]:
    """MAML with Adam: each meta-step draws ``meta_batch`` tasks, adapts to ``K`` shots, and
    descends the mean query loss (``K`` query points) through the adaptation (second
    order, :func:`meta_gradient`).

    Returns:
        ``(params, meta_losses)`` with the meta-loss of every iteration.

    Example:
        >>> p, losses = maml_train(init_net(hidden=4), n_iter=2, meta_batch=2)
        >>> tuple(losses.shape)
        (2,)
    """
    params = _check_params(params)
    n_iter = checks.integer("n_iter", n_iter, high=10_000_000)
    M = checks.integer("meta_batch", meta_batch, high=100_000)
    K = checks.integer("k_shot", k_shot, high=100_000)
    alpha, inner_steps = _check_alpha_steps(alpha, inner_steps, "inner_steps")
    lr = checks.positive("lr", lr)
    g = torch.Generator().manual_seed(checks.seed(seed))
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(params.values(), lr=lr)
    losses = torch.empty(n_iter)
    for it in range(n_iter):
        t = sample_tasks(M, k_shot=K, n_query=K, generator=g, dtype=params["0.weight"].dtype)
        gr, val = meta_gradient(params, t, alpha=alpha, inner_steps=inner_steps)
        for k, v in params.items():
            v.grad = gr[k]
        opt.step()
        losses[it] = val
    return {k: v.detach() for k, v in params.items()}, losses


def pretrain(
    params, *, n_iter: int, meta_batch: int = 25, k_shot: int = 10, lr: float = 1e-3, seed: int = 0
) -> tuple[dict, torch.Tensor]:
    """The baseline: the same network trained with Adam on the pooled points of ``meta_batch``
    random tasks per step (``2 K`` points each, as many as MAML sees), no adaptation in the loop.

    Returns:
        ``(params, losses)``.

    Example:
        >>> p, losses = pretrain(init_net(hidden=4), n_iter=2, meta_batch=2)
        >>> tuple(losses.shape)
        (2,)
    """
    params = _check_params(params)
    n_iter = checks.integer("n_iter", n_iter, high=10_000_000)
    M = checks.integer("meta_batch", meta_batch, high=100_000)
    lr = checks.positive("lr", lr)
    g = torch.Generator().manual_seed(checks.seed(seed))
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(params.values(), lr=lr)
    losses = torch.empty(n_iter)
    for it in range(n_iter):
        t = sample_tasks(
            M, k_shot=k_shot, n_query=k_shot, generator=g, dtype=params["0.weight"].dtype
        )
        x = torch.cat([t.x_support, t.x_query], 1)
        y = torch.cat([t.y_support, t.y_query], 1)
        opt.zero_grad()
        loss = _mse(params, x, y)
        loss.backward()
        opt.step()
        losses[it] = loss.detach()
    return {k: v.detach() for k, v in params.items()}, losses
