"""Experiments of the meta-learning section of the extensions chapter, and their figures."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory import figures
from dltheory.meta.maml import (
    adapt,
    adaptation_curves,
    init_net,
    maml_train,
    net,
    pretrain,
    sample_tasks,
)
from dltheory.meta.schedule import (
    decay_exponent,
    expected_final_loss,
    greedy_optimal_schedule,
    learn_schedule,
    sde_optimal_schedule,
    sde_switch_time,
)
from dltheory.meta.unroll import meta_gradient, meta_gradient_autograd

__all__ = [
    "random_quadratics",
    "MetaCostateResult",
    "meta_costate_experiment",
    "MamlResult",
    "maml_experiment",
    "ScheduleResult",
    "schedule_experiment",
    "SIZES",
]

#: Sizes at each scale ("full": 70 000 meta-iterations, ten times the paths for the schedule).
SIZES = {
    "book": dict(maml_iter=3000, test_tasks=200, schedule_paths=2000, schedule_iter=300),
    "full": dict(maml_iter=70_000, test_tasks=1000, schedule_paths=20_000, schedule_iter=2000),
}


def _scale(scale):
    return SIZES[checks.choice("scale", scale, SIZES)]


@dataclass(frozen=True)
class MetaCostateResult:
    """Costate meta-gradients against autograd through the unrolled loop (float64).

    Attributes:
        theta0_error, lr_error: largest absolute differences, for ``dL/dtheta_0`` and ``dL/dalpha``.
        theta0_scale, lr_scale: largest absolute entries of the autograd gradients.
        d, k: dimension and number of unrolled steps.
    """

    theta0_error: float
    lr_error: float
    theta0_scale: float
    lr_scale: float
    d: int
    k: int


def random_quadratics(*, d: int, k: int, seed: int = 0):
    """Random inner problems: ``k`` SPD curvatures with eigenvalues in ``[0.1, 1]``, linear terms,
    step sizes in ``[0.1, 0.6]``, a test quadratic and a start point (float64).

    Returns:
        ``(theta0, A, b, lrs, A_test, b_test)``.

    Example:
        >>> [tuple(a.shape) for a in random_quadratics(d=3, k=4)]
        [(3,), (4, 3, 3), (4, 3), (4,), (3, 3), (3,)]
    """
    d, k = checks.integer("d", d, high=4096), checks.integer("k", k, high=100_000)
    checks.size("k * d * d", k * d * d)
    g = torch.Generator().manual_seed(checks.seed(seed))
    dt = torch.float64

    def spd():
        q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=dt))
        return q @ torch.diag(0.1 + 0.9 * torch.rand(d, generator=g, dtype=dt)) @ q.T

    A = torch.stack([spd() for _ in range(k)])
    return (
        torch.randn(d, generator=g, dtype=dt),
        A,
        torch.randn(k, d, generator=g, dtype=dt),
        0.1 + 0.5 * torch.rand(k, generator=g, dtype=dt),
        spd(),
        torch.randn(d, generator=g, dtype=dt),
    )


def meta_costate_experiment(*, d: int = 10, k: int = 10, seed: int = 0) -> MetaCostateResult:
    """The costate recursion against autograd on random quadratic inner problems."""
    problem = random_quadratics(d=d, k=k, seed=seed)
    g0, ga = meta_gradient(*problem)
    a0, aa = meta_gradient_autograd(*problem)
    return MetaCostateResult(
        float((g0 - a0).abs().max()),
        float((ga - aa).abs().max()),
        float(a0.abs().max()),
        float(aa.abs().max()),
        d,
        k,
    )


@dataclass(frozen=True)
class MamlResult:
    """MAML against a pretrained baseline on held-out sinusoid tasks.

    Attributes:
        maml_curves, base_curves: query MSE after ``0..steps`` adaptation steps, ``(steps + 1, T)``.
        meta_losses, base_losses: training losses per iteration.
        example_x: grid of inputs for the example task ``(G,)`` (the held-out task with MAML's
            median error after ``steps`` steps); example_y: its true function.
        example_support: the example's ``(x, y)`` shots ``(2, K)``.
        example_maml, example_base: predictions after ``(1, steps)`` adaptation steps, ``(2, G)``.
        n_iter, alpha, k_shot, n_test_tasks, steps: settings.
    """

    maml_curves: np.ndarray
    base_curves: np.ndarray
    meta_losses: np.ndarray
    base_losses: np.ndarray
    example_x: np.ndarray
    example_y: np.ndarray
    example_support: np.ndarray
    example_maml: np.ndarray
    example_base: np.ndarray
    n_iter: int
    alpha: float
    k_shot: int
    n_test_tasks: int
    steps: int


def maml_experiment(
    *,
    alpha: float = 0.01,
    k_shot: int = 10,
    steps: int = 10,
    n_query: int = 100,
    scale: str = "book",
    seed: int = 0,
) -> MamlResult:
    """Train MAML (one inner step) and the pretrained baseline from the same initialisation for the
    same number of iterations, then adapt both on held-out tasks with ``steps`` plain gradient
    steps."""
    sz = _scale(scale)
    alpha = checks.positive("alpha", alpha)
    steps = checks.integer("steps", steps)
    K = checks.integer("k_shot", k_shot)
    p0 = init_net(seed=checks.seed(seed))
    pm, lm = maml_train(p0, n_iter=sz["maml_iter"], k_shot=K, alpha=alpha, seed=seed + 1)
    pb, lb = pretrain(p0, n_iter=sz["maml_iter"], k_shot=K, seed=seed + 2)
    tasks = sample_tasks(
        sz["test_tasks"],
        k_shot=K,
        n_query=n_query,
        generator=torch.Generator().manual_seed(seed + 3),
    )
    cm = adaptation_curves(pm, tasks, alpha=alpha, steps=steps).numpy()
    cb = adaptation_curves(pb, tasks, alpha=alpha, steps=steps).numpy()
    i = int(
        np.argsort(cm[steps])[cm.shape[1] // 2]
    )  # the example: MAML's median task after `steps`
    xs = torch.linspace(-5, 5, 200).unsqueeze(1)
    ys = tasks.amplitude[i] * torch.sin(xs - tasks.phase[i])
    xk, yk = tasks.x_support[i], tasks.y_support[i]

    def preds(p):
        return np.stack(
            [
                net(adapt(p, xk, yk, alpha=alpha, steps=s), xs).detach().numpy()[:, 0]
                for s in (1, steps)
            ]
        )

    return MamlResult(
        cm,
        cb,
        lm.numpy(),
        lb.numpy(),
        xs.numpy()[:, 0],
        ys.numpy()[:, 0],
        np.stack([xk.numpy()[:, 0], yk.numpy()[:, 0]]),
        preds(pm),
        preds(pb),
        sz["maml_iter"],
        alpha,
        K,
        sz["test_tasks"],
        steps,
    )


@figures.register("extensions/maml", compute=functools.partial(maml_experiment, seed=0))
def _plot_maml(d: MamlResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    s = np.arange(d.steps + 1)
    T = d.maml_curves.shape[1]
    for k, (name, c) in enumerate(
        [("MAML", d.maml_curves), ("pretrained baseline", d.base_curves)]
    ):
        m, se = c.mean(1), c.std(1, ddof=1) / np.sqrt(T)
        ax0.errorbar(
            s,
            m,
            yerr=2 * se,
            fmt="o-",
            ms=3,
            color=figures.PALETTE[k + 1],
            capsize=2,
            label=f"{name} (experiment, $\\pm 2$ s.e.)",
        )
    ax0.set(
        xlabel="gradient steps on the $K$ shots",
        ylabel=f"query MSE, mean of {T} tasks",
        yscale="log",
    )
    ax0.legend(fontsize=8)
    ax1.plot(d.example_x, d.example_y, color="0.2", lw=1.5, label="true task")
    ax1.plot(*d.example_support, "k^", ms=5, label=f"{d.k_shot} shots")
    ax1.plot(
        d.example_x, d.example_maml[0], color=figures.PALETTE[1], ls="--", label="MAML, 1 step"
    )
    ax1.plot(
        d.example_x, d.example_maml[1], color=figures.PALETTE[1], label=f"MAML, {d.steps} steps"
    )
    ax1.plot(
        d.example_x, d.example_base[1], color=figures.PALETTE[2], label=f"baseline, {d.steps} steps"
    )
    ax1.set(xlabel="$x$", ylabel="$y$")
    ax1.legend(fontsize=8, ncol=2, loc="lower center")
    return fig


@dataclass(frozen=True)
class ScheduleResult:
    """A learned learning-rate schedule against the SDE-optimal and the exact discrete optimum.

    Attributes:
        t: times ``k eta`` of the steps ``(K,)``.
        learned, sde, discrete: the three schedules ``(K,)``.
        loss_learned, loss_sde, loss_discrete, loss_constant: exact expected final losses.
        exponent_learned, exponent_sde, exponent_discrete: fitted decay exponents after ``t*``.
        t_switch: the SDE switch time ``t*``.
        meta_losses: Monte Carlo loss of each meta-iteration.
        a, eta, sigma, m0, n_paths: the problem and the Monte Carlo size.
        loss_best_constant: exact expected final loss of the best constant multiplier (grid of
        1000).
    """

    t: np.ndarray
    learned: np.ndarray
    sde: np.ndarray
    discrete: np.ndarray
    loss_learned: float
    loss_sde: float
    loss_discrete: float
    loss_constant: float
    exponent_learned: float
    exponent_sde: float
    exponent_discrete: float
    t_switch: float
    meta_losses: np.ndarray
    a: float
    eta: float
    sigma: float
    m0: float
    n_paths: int
    loss_best_constant: float = float("nan")


def schedule_experiment(
    *,
    n_steps: int = 100,
    a: float = 1.0,
    eta: float = 0.1,
    sigma: float = 1.0,
    m0: float = 4.0,
    lr: float = 0.05,
    scale: str = "book",
    seed: int = 0,
) -> ScheduleResult:
    """Meta-learn a schedule through ``n_steps`` unrolled SGD steps and compare it with the
    optima."""
    sz = _scale(scale)
    K = checks.integer("n_steps", n_steps, low=2)
    u, losses = learn_schedule(
        K,
        a=a,
        eta=eta,
        sigma=sigma,
        m0=m0,
        n_paths=sz["schedule_paths"],
        n_iter=sz["schedule_iter"],
        lr=lr,
        seed=seed,
    )
    t = np.arange(K) * eta
    us = sde_optimal_schedule(t, a=a, eta=eta, sigma=sigma, m0=m0)
    ud = greedy_optimal_schedule(K, a=a, eta=eta, sigma=sigma, m0=m0)
    ts = sde_switch_time(a=a, eta=eta, sigma=sigma, m0=m0)
    f = functools.partial(expected_final_loss, a=a, eta=eta, sigma=sigma, m0=m0)
    e = functools.partial(decay_exponent, t=t, t_switch=ts, a=a)
    best = min(f(np.full(K, c)) for c in np.linspace(0.001, 1.0, 1000))
    return ScheduleResult(
        t,
        u,
        us,
        ud,
        f(u),
        f(us),
        f(ud),
        f(np.ones(K)),
        e(u),
        e(us),
        e(ud),
        ts,
        losses,
        a,
        eta,
        sigma,
        m0,
        sz["schedule_paths"],
        best,
    )


@figures.register(
    "extensions/learned-schedule", compute=functools.partial(schedule_experiment, seed=0)
)
def _plot_schedule(d: ScheduleResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.5))
    ax0.plot(
        d.t, d.learned, "o", ms=3, color=figures.PALETTE[1], label="learned through 100 SGD steps"
    )
    ax0.plot(d.t, d.sde, "k--", lw=1.2, label=r"SDE optimum $1/(1 + a(t - t^*))$ (theory)")
    ax0.plot(
        d.t, d.discrete, color=figures.PALETTE[2], lw=1.0, label="exact discrete optimum (theory)"
    )
    ax0.axvline(d.t_switch, color="0.5", ls=":", label=r"switch time $t^*$")
    ax0.set(xlabel=r"time $t = k\eta$", ylabel=r"learning-rate multiplier $u_k$")
    ax0.legend(fontsize=8)
    it = np.arange(1, d.meta_losses.size + 1)
    ax1.semilogy(
        it,
        d.meta_losses,
        color=figures.PALETTE[1],
        lw=0.8,
        label=f"unrolled loss, {d.n_paths} paths",
    )
    ax1.axhline(d.loss_sde, color="k", ls="--", lw=1.0, label="SDE-optimal schedule (exact)")
    ax1.axhline(d.loss_constant, color="0.5", ls=":", label="constant rate $u = 1$ (exact)")
    ax1.set(xlabel="meta-iteration", ylabel=r"final loss $\mathbb{E} f(x_K)$")
    ax1.legend(fontsize=8)
    return fig
