"""Experiments of the adversarial section of the extensions chapter, and their figures."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory import figures
from dltheory.adversarial.mlp import PassCounter, init_mlp, input_gradient
from dltheory.adversarial.training import (
    accuracy,
    adversarial_step,
    robust_accuracy,
    step_flops,
    train_epoch,
)

__all__ = [
    "CostateResult",
    "costate_experiment",
    "digits01",
    "YopoGradientResult",
    "yopo_gradient_experiment",
    "CostResult",
    "cost_experiment",
    "RobustResult",
    "robust_experiment",
    "SIZES",
]

#: Sizes at each scale.
SIZES = {
    "book": dict(n_seeds=10, epochs=20, restarts=5),
    "full": dict(n_seeds=20, epochs=60, restarts=10),
}


def _scale(scale):
    return SIZES[checks.choice("scale", scale, SIZES)]


def digits01(*, seed: int = 0, test_size: float = 0.3, dtype=torch.float32):
    """scikit-learn's digits with pixels scaled to ``[0, 1]`` (not centred: the attack box is the
    pixel box).

    Returns:
        ``(x_train, y_train, x_test, y_test)`` with ``d = 64`` features.

    Example:
        >>> xtr, ytr, xte, yte = digits01()
        >>> tuple(xtr.shape), float(xtr.max()) <= 1.0
        ((1257, 64), True)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(
        x / 16.0, y, test_size=test_size, random_state=checks.seed(seed), stratify=y
    )
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    return t(xtr), torch.as_tensor(ytr), t(xte), torch.as_tensor(yte)


@dataclass(frozen=True)
class CostateResult:
    """The first-layer costate identity on trained-size random networks (float64).

    Attributes:
        max_abs_error: ``max |grad_eta (PMP) - grad_eta (autograd)|`` over all inputs and networks.
        max_abs_grad: the largest entry of the autograd gradient (the scale of the error).
        n_inputs: how many inputs were checked.
    """

    max_abs_error: float
    max_abs_grad: float
    n_inputs: int


def costate_experiment(
    *,
    sizes=(64, 32, 256, 256, 10),
    n_nets: int = 3,
    batch_size: int = 64,
    epsilon: float = 0.1,
    seed: int = 0,
) -> CostateResult:
    """``-(df_0/dx)' p_1`` from the hand-derived costate vs autograd's input gradient, on digits."""
    xtr, ytr, _, _ = digits01(dtype=torch.float64)
    S, B = (
        checks.integer("n_nets", n_nets),
        checks.integer("batch_size", batch_size, high=xtr.shape[0]),
    )
    epsilon = checks.positive("epsilon", epsilon)
    g = torch.Generator().manual_seed(checks.seed(seed))
    params = init_mlp(sizes, n_nets=S, seed=seed)
    x0 = xtr[:B].expand(S, -1, -1)
    eta = epsilon * (2 * torch.rand(x0.shape, generator=g, dtype=torch.float64) - 1)
    pmp = input_gradient(params, x0, eta, ytr[:B])
    e = eta.clone().requires_grad_(True)
    h = x0 + e
    L = len(params) // 2
    for l in range(L):
        h = h @ params[2 * l] + params[2 * l + 1]
        h = torch.tanh(h) if l < L - 1 else h
    loss = (
        torch.nn.functional.cross_entropy(h.flatten(0, 1), ytr[:B].repeat(S), reduction="sum") / B
    )
    (auto,) = torch.autograd.grad(loss, e)
    return CostateResult(float((pmp - auto).abs().max()), float(auto.abs().max()), S * B)


@dataclass(frozen=True)
class YopoGradientResult:
    """YOPO-m-n's weight gradient of one minibatch, hand-derived against autograd through the same
    steps.

    Attributes:
        first_layer_error: ``max |dW_0, db_0 (hand) - (autograd)|``.
        max_abs_error: the same over the gradients of every layer.
        first_layer_scale: largest entry of layer 0's autograd gradient.
        full_pass_difference: ``max |`` layer 0's gradient from the full passes at ``eta^{j,0}``
            (what a YOPO without the first-layer Hamiltonian update uses) ``-`` the paper's ``|``,
            relative to ``first_layer_scale``: how much the update changes.
        m, n, n_nets, batch_size: settings.
    """

    first_layer_error: float
    max_abs_error: float
    first_layer_scale: float
    full_pass_difference: float
    m: int
    n: int
    n_nets: int
    batch_size: int


def _yopo_autograd(params, x0, y, *, epsilon, m, n, generator):
    """YOPO-m-n's gradient replayed with autograd: costate, adversary and layer-0 update by
    torch.autograd."""
    alpha = 2.5 * epsilon / (m * n)
    lo, hi = (-x0).clamp(min=-epsilon), (1.0 - x0).clamp(max=epsilon)
    eta = torch.clamp(
        (2 * torch.rand(x0.shape, generator=generator, dtype=x0.dtype) - 1) * epsilon, lo, hi
    )
    P = [p.detach().clone().requires_grad_(True) for p in params]
    L, (S, B) = len(P) // 2, x0.shape[:2]
    total = [torch.zeros_like(p) for p in params]
    old = [torch.zeros_like(p) for p in params[:2]]

    def layer0(x):
        return torch.tanh(x @ P[0] + P[1])

    for _ in range(m):
        z1 = layer0(x0 + eta)
        x1 = z1.detach().requires_grad_(True)
        h = x1
        for l in range(1, L):
            h = h @ P[2 * l] + P[2 * l + 1]
            h = torch.tanh(h) if l < L - 1 else h
        phi = torch.nn.functional.cross_entropy(h.flatten(0, 1), y.repeat(S), reduction="sum") / B
        gx1, *rest = torch.autograd.grad(phi, [x1] + P[2:])
        p1 = -gx1
        for t, g in zip(old, torch.autograd.grad(z1, P[:2], grad_outputs=gx1), strict=False):
            t += g / m
        for _ in range(n):
            e = eta.clone().requires_grad_(True)
            (gH,) = torch.autograd.grad((layer0(x0 + e) * p1).sum(), e)
            eta = torch.clamp(eta - alpha * torch.sign(gH), lo, hi)  # ascent on Phi = descent on H
        g0 = torch.autograd.grad(-(layer0(x0 + eta) * p1).sum(), P[:2])
        for t, g in zip(total, list(g0) + rest, strict=False):
            t += g / m
    return total, old


def yopo_gradient_experiment(
    *,
    sizes=(64, 32, 256, 256, 10),
    n_nets: int = 3,
    batch_size: int = 64,
    epsilon: float = 0.1,
    m: int = 2,
    n: int = 5,
    seed: int = 0,
) -> YopoGradientResult:
    """One YOPO-m-n minibatch gradient (float64): the package's hand-derived passes against
    autograd."""
    xtr, ytr, _, _ = digits01(dtype=torch.float64)
    S, B = (
        checks.integer("n_nets", n_nets),
        checks.integer("batch_size", batch_size, high=xtr.shape[0]),
    )
    m, n = checks.integer("m", m), checks.integer("n", n)
    epsilon = checks.positive("epsilon", epsilon)
    params = init_mlp(sizes, n_nets=S, seed=checks.seed(seed))
    x0, y = xtr[:B].expand(S, -1, -1), ytr[:B]
    hand = adversarial_step(
        params,
        x0,
        y,
        method="yopo",
        epsilon=epsilon,
        m=m,
        n=n,
        generator=torch.Generator().manual_seed(seed),
    )
    auto, old = _yopo_autograd(
        params, x0, y, epsilon=epsilon, m=m, n=n, generator=torch.Generator().manual_seed(seed)
    )
    err = [float((a - b).abs().max()) for a, b in zip(hand, auto, strict=False)]
    scale = max(float(a.abs().max()) for a in auto[:2])
    diff = max(float((a - b).abs().max()) for a, b in zip(old, auto[:2], strict=False)) / scale
    return YopoGradientResult(max(err[:2]), max(err), scale, diff, m, n, S, B)


@dataclass(frozen=True)
class CostResult:
    """Passes and FLOPs of one adversarial-training minibatch, counted and predicted.

    Attributes:
        methods: ``("pgd", "yopo")``.
        passes: counted ``(full, first_layer)`` passes per method.
        passes_expected: ``(K + 1, 0)`` and ``(m, m (n + 1))``.
        flops: matrix-product FLOPs measured by ``torch.utils.flop_counter.FlopCounterMode``.
        flops_expected: the formulas of :func:`~dltheory.adversarial.training.step_flops`.
        K, m, n: the algorithms' settings; sizes, batch_size, n_nets: the network's.
    """

    methods: tuple
    passes: tuple
    passes_expected: tuple
    flops: tuple
    flops_expected: tuple
    K: int
    m: int
    n: int
    sizes: tuple
    batch_size: int
    n_nets: int


def cost_experiment(
    *,
    sizes=(64, 32, 256, 256, 10),
    n_nets: int = 3,
    batch_size: int = 64,
    K: int = 10,
    m: int = 2,
    n: int = 5,
    seed: int = 0,
) -> CostResult:
    """Count the passes and FLOPs of one minibatch of PGD-K and of YOPO-m-n."""
    from torch.utils.flop_counter import FlopCounterMode

    xtr, ytr, _, _ = digits01()
    S, B = (
        checks.integer("n_nets", n_nets),
        checks.integer("batch_size", batch_size, high=xtr.shape[0]),
    )
    params = init_mlp(sizes, n_nets=S, seed=checks.seed(seed), dtype=torch.float32)
    passes, flops, pe, fe = [], [], [], []
    for method in ("pgd", "yopo"):
        c = PassCounter()
        g = torch.Generator().manual_seed(seed)
        with FlopCounterMode(display=False) as fc:
            adversarial_step(
                params,
                xtr[:B].expand(S, -1, -1),
                ytr[:B],
                method=method,
                epsilon=0.1,
                K=K,
                m=m,
                n=n,
                generator=g,
                counter=c,
            )
        passes.append((c.full, c.first_layer))
        flops.append(int(fc.get_total_flops()))
        pe.append((K + 1, 0) if method == "pgd" else (m, m * (n + 1)))
        fe.append(step_flops(sizes, batch_size=B, n_nets=S, method=method, K=K, m=m, n=n))
    return CostResult(
        ("pgd", "yopo"),
        tuple(passes),
        tuple(pe),
        tuple(flops),
        tuple(fe),
        K,
        m,
        n,
        tuple(sizes),
        B,
        S,
    )


@dataclass(frozen=True)
class RobustResult:
    """PGD-K against YOPO-m-n adversarial training on digits, several seeds, timed in the same run.

    Attributes:
        methods: ``("pgd", "yopo")``.
        epochs: epoch numbers at which the networks were evaluated ``(E,)``.
        wall: cumulative training seconds of each method at those epochs ``(2, E)``.
        clean: clean test accuracy ``(2, E, S)``; robust: robust test accuracy ``(2, E, S)``.
        passes: total ``(full, first_layer)`` passes of each method.
        epsilon, K, m, n, restarts, attack_steps: settings; n_seeds: ``S``.
    """

    methods: tuple
    epochs: np.ndarray
    wall: np.ndarray
    clean: np.ndarray
    robust: np.ndarray
    passes: tuple
    epsilon: float
    K: int
    m: int
    n: int
    restarts: int
    attack_steps: int
    n_seeds: int

    @property
    def time_ratio(self) -> float:
        """YOPO's training wall time over PGD's."""
        return float(self.wall[1, -1] / self.wall[0, -1])

    @property
    def robust_gap(self) -> np.ndarray:
        """PGD's minus YOPO's final robust accuracy, in points, per seed (same initialisation):
        ``(S,)``."""
        return 100 * (self.robust[0, -1] - self.robust[1, -1])

    def noninferiority(
        self, margin: float, level: float = 0.95
    ) -> tuple[float, float, float, float]:
        """Paired comparison of the final robust accuracies over the seeds.

        Returns:
            ``(mean gap, CI low, CI high, p)``: the mean of :attr:`robust_gap`, its two-sided
            ``level`` Student-t confidence interval, and the p-value of the one-sided paired t-test
            of ``H0: mean gap >= margin`` (YOPO worse by at least ``margin`` points) against
            ``gap < margin``.
        """
        from scipy import stats

        margin = checks.real("margin", margin)
        level = checks.real("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
        g = self.robust_gap
        mean, se = float(g.mean()), float(g.std(ddof=1) / np.sqrt(g.size))
        h = float(stats.t.ppf(0.5 + level / 2, g.size - 1)) * se
        p = float(stats.ttest_1samp(g, margin, alternative="less").pvalue)
        return mean, mean - h, mean + h, p


def robust_experiment(
    *,
    sizes=(64, 32, 256, 256, 10),
    epsilon: float = 0.1,
    K: int = 10,
    m: int = 2,
    n: int = 5,
    batch_size: int = 64,
    lr: float = 0.05,
    eval_every: int = 5,
    attack_steps: int = 20,
    scale: str = "book",
    seed: int = 0,
) -> RobustResult:
    """Train ``S`` networks with PGD-K and ``S`` with YOPO-m-n (same initialisations), epochs
    interleaved.

    The two methods alternate epoch by epoch, each epoch timed on its own, so that a change of load
    on a shared machine affects both alike. Every ``eval_every`` epochs the networks are evaluated
    (outside the timed sections) on the test set: clean accuracy, and robust accuracy under PGD with
    ``attack_steps`` steps and ``restarts`` random restarts.
    """
    sz = _scale(scale)
    epsilon = checks.positive("epsilon", epsilon)
    eval_every = checks.integer("eval_every", eval_every)
    attack_steps = checks.integer("attack_steps", attack_steps)
    S, E, R = sz["n_seeds"], sz["epochs"], sz["restarts"]
    xtr, ytr, xte, yte = digits01()
    p0 = init_mlp(sizes, n_nets=S, seed=checks.seed(seed), dtype=torch.float32)
    state = {
        mth: (
            [p.clone() for p in p0],
            [torch.zeros_like(p) for p in p0],
            PassCounter(),
            torch.Generator().manual_seed(seed + 1),
        )
        for mth in ("pgd", "yopo")
    }
    wall = {mth: 0.0 for mth in state}
    epochs, walls, clean, robust = [], [], [], []
    xs = xte[None].expand(S, -1, -1)
    for ep in range(1, E + 1):
        for mth, (params, buf, counter, g) in state.items():
            t0 = time.perf_counter()
            train_epoch(
                params,
                buf,
                xtr,
                ytr,
                method=mth,
                epsilon=epsilon,
                batch_size=batch_size,
                lr=lr,
                K=K,
                m=m,
                n=n,
                generator=g,
                counter=counter,
            )
            wall[mth] += time.perf_counter() - t0
        if ep % eval_every == 0 or ep == E:
            epochs.append(ep)
            walls.append([wall["pgd"], wall["yopo"]])
            clean.append([accuracy(state[k][0], xs, yte).numpy() for k in state])
            robust.append(
                [
                    robust_accuracy(
                        state[k][0],
                        xs,
                        yte,
                        epsilon=epsilon,
                        steps=attack_steps,
                        restarts=R,
                        seed=seed + 2,
                    ).numpy()
                    for k in state
                ]
            )
    return RobustResult(
        ("pgd", "yopo"),
        np.array(epochs),
        np.array(walls).T,
        np.array(clean).transpose(1, 0, 2),
        np.array(robust).transpose(1, 0, 2),
        tuple((state[k][2].full, state[k][2].first_layer) for k in state),
        epsilon,
        K,
        m,
        n,
        R,
        attack_steps,
        S,
    )


@figures.register("extensions/yopo-passes", compute=functools.partial(cost_experiment, seed=0))
def _plot_passes(d: CostResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(
        1, 2, figsize=(9.0, 3.4), gridspec_kw=dict(width_ratios=[1.3, 1])
    )
    ax0.set_axis_off()
    ax0.set(xlim=(0, 10), ylim=(0, 6))
    for i, name in enumerate([r"$x_0+\eta$", r"$x_1$", r"$x_2$", r"$x_3$", r"$x_4$"]):
        ax0.text(
            1 + 2 * i,
            4.2,
            name,
            ha="center",
            va="center",
            fontsize=10,
            bbox=dict(boxstyle="round", fc="white", ec="0.4"),
        )
        if i < 4:
            ax0.annotate(
                "",
                xy=(2.45 + 2 * i, 4.2),
                xytext=(1.55 + 2 * i, 4.2),
                arrowprops=dict(arrowstyle="->", color="0.3"),
            )
    ax0.annotate(
        "", xy=(3, 2.6), xytext=(9, 2.6), arrowprops=dict(arrowstyle="->", color=figures.PALETTE[5])
    )
    ax0.text(
        6,
        2.1,
        r"costate $p_L \to p_1$: once per full pass",
        ha="center",
        fontsize=8,
        color=figures.PALETTE[5],
    )
    ax0.annotate(
        "",
        xy=(1, 3.4),
        xytext=(3, 3.4),
        arrowprops=dict(arrowstyle="->", color=figures.PALETTE[1], connectionstyle="arc3,rad=-0.4"),
    )
    ax0.text(
        2.0,
        1.3,
        r"adversary: $\nabla_\eta\ell = -(\partial f_0/\partial x)^\top p_1$"
        + "\n"
        + r"layer 0 only, $n$ times per $p_1$",
        ha="center",
        fontsize=8,
        color=figures.PALETTE[1],
    )
    labels = ["PGD-%d" % d.K, "YOPO-%d-%d" % (d.m, d.n)]
    full = [p[0] for p in d.passes]
    first = [p[1] for p in d.passes]
    x = np.arange(2)
    ax1.bar(x - 0.2, full, 0.4, color=figures.PALETTE[5], label="full passes (counted)")
    ax1.bar(x + 0.2, first, 0.4, color=figures.PALETTE[1], label="first-layer passes (counted)")
    for k in range(2):
        ax1.text(
            x[k],
            max(full[k], first[k]) + 0.4,
            f"{d.flops[k] / 1e6:.0f} MFLOP",
            ha="center",
            fontsize=8,
        )
    ax1.set_xticks(x, labels)
    ax1.set(ylabel="passes per minibatch", ylim=(0, max(max(full), max(first)) + 5))
    ax1.legend(fontsize=8, loc="upper right")
    return fig


@figures.register(
    "extensions/yopo-robustness",
    compute=functools.partial(robust_experiment, seed=0),
    wall_clock=True,
)
def _plot_robust(d: RobustResult):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    names = {"pgd": f"PGD-{d.K}", "yopo": f"YOPO-{d.m}-{d.n}"}
    for k, mth in enumerate(d.methods):
        col = figures.PALETTE[k + 1]
        ax.plot(
            d.wall[k],
            100 * d.robust[k].mean(1),
            "o-",
            color=col,
            label=f"{names[mth]}: robust (experiment)",
        )
        ax.plot(
            d.wall[k],
            100 * d.clean[k].mean(1),
            "s--",
            color=col,
            alpha=0.6,
            label=f"{names[mth]}: clean",
        )
    ax.set(
        xlabel="training wall time (s, this run)",
        ylabel="test accuracy (%)",
        title=r"digits, $\ell_\infty$ budget $\epsilon = "
        rf"{d.epsilon:g}$, mean of {d.n_seeds} seeds",
    )
    ax.legend(fontsize=8)
    return fig
