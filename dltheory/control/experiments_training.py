"""The chapter's training experiments: MSA and extended MSA against GD and SGD, ternary weights by
the maximum principle, the learning rate as a control (SME and cSGD). Frozen dataclasses; figures
registered here.

Sizes depend on ``scale``: ``"book"`` runs in seconds on a CPU (float64, seeded CPU generators, so
the figures rebuild identically); ``"full"`` uses more seeds, more data and longer training.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory import figures
from dltheory.control import lr as _lr
from dltheory.control import msa as _msa
from dltheory.control import pmp

__all__ = [
    "MSASizes",
    "MSAExperiment",
    "TernaryExperiment",
    "LRSchedule",
    "CSGDExperiment",
    "msa_sizes",
    "msa_experiment",
    "ternary_experiment",
    "lr_schedule_experiment",
    "csgd_experiment",
]

SCALES = ("book", "full")


def _scale(scale):
    return checks.choice("scale", scale, SCALES)


def _device(device):
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"device must be a torch.device, a string or None; got {type(device).__name__}"
        )
    return torch.device(device)


# ---------------------------------------------------------------------------------------------- MSA
@dataclass(frozen=True)
class MSASizes:
    """Sizes of the MSA experiment at one scale (see :func:`msa_sizes`)."""

    n_train: int
    n_features: int
    T: int
    n_iter: int
    n_inner: int
    inner_lrs: tuple
    rhos: tuple
    seeds: tuple
    gd_lr: float
    sgd_lr: float
    batch_size: int


def msa_sizes(scale: str = "book") -> MSASizes:
    """The sizes :func:`msa_experiment` uses at ``scale`` (cheap: runs nothing).

    Example:
        >>> msa_sizes("book").seeds, len(msa_sizes("full").seeds)
        ((0, 1, 2), 10)
    """
    common = dict(
        n_features=16,
        T=4,
        inner_lrs=(0.1, 0.3, 1.0),
        rhos=(0.0, 0.3, 1.0, 3.0, 10.0, 30.0),
        gd_lr=2.0,
        sgd_lr=0.5,
        batch_size=32,
    )
    if _scale(scale) == "book":
        return MSASizes(n_train=256, n_iter=20, n_inner=50, seeds=(0, 1, 2), **common)
    return MSASizes(n_train=1257, n_iter=40, n_inner=100, seeds=tuple(range(10)), **common)


@dataclass(frozen=True)
class MSAExperiment:
    """MSA over inner maximisers, penalties ``rho`` and seeds; then MSA against GD and SGD.

    A *maximiser* is ``n_inner`` gradient-ascent steps of one size ``inner_lrs[l]`` on ``H~``.
    Arrays indexed ``(S, ..., L, R)`` run over seeds, maximisers (inner steps) and penalties.

    Attributes:
        sizes: the :class:`MSASizes` used.
        inner_lrs: the inner steps, ``(L,)``; rhos: the penalties swept, ``(R,)``.
        loss: training loss per MSA iteration, ``(S, n_iter + 1, L, R)``.
        gain: gain ``H~(theta_new) - H~(theta_old)`` of each inner maximisation,
        ``(S, n_iter, L, R)``. residual: ``|grad H~|`` after / before each inner maximisation,
        ``(S, n_iter, L, R)``. rises: iterations whose loss rose, ``(S, L, R)``. max_rise: largest
        one-iteration rise of the loss (negative: it always fell), ``(S, L, R)``. rho_min: per
        maximiser, the smallest swept ``rho`` whose loss fell at every iteration for
            every seed (NaN if none), ``(L,)``.
        gd_loss, gd_passes: full-batch gradient descent, seed 0, ``n_iter (1 + n_inner)`` passes.
        sgd_loss, sgd_passes: minibatch SGD, seed 0, as many epochs (loss per epoch).
        msa_acc, gd_acc, sgd_acc: test accuracies, seed 0 (MSA: per maximiser at its ``rho_min``).
    """

    sizes: MSASizes
    inner_lrs: np.ndarray
    rhos: np.ndarray
    loss: np.ndarray
    gain: np.ndarray
    residual: np.ndarray
    rises: np.ndarray
    max_rise: np.ndarray
    rho_min: np.ndarray
    gd_loss: np.ndarray
    gd_passes: np.ndarray
    sgd_loss: np.ndarray
    sgd_passes: np.ndarray
    msa_acc: np.ndarray
    gd_acc: float
    sgd_acc: float

    @property
    def passes_per_iter(self) -> int:
        """Forward-backward passes per MSA iteration, ``1 + n_inner``."""
        return 1 + self.sizes.n_inner

    @property
    def msa_passes(self) -> np.ndarray:
        """Passes after each MSA iteration, ``(n_iter + 1,)``."""
        return np.arange(self.loss.shape[1]) * float(self.passes_per_iter)

    @property
    def msa_loss(self) -> np.ndarray:
        """Seed 0's loss per iteration for each maximiser at its ``rho_min``, ``(L, n_iter + 1)``
        (NaN for a maximiser without a monotone ``rho``)."""
        out = np.full((self.inner_lrs.size, self.loss.shape[1]), np.nan)
        for l, r in enumerate(self.rho_min):
            if np.isfinite(r):
                out[l] = self.loss[0, :, l, int(np.argmin(np.abs(self.rhos - r)))]
        return out

    @property
    def descent_ratio(self) -> np.ndarray:
        """Loss decrease over Hamiltonian gain, ``(J_k - J_{k+1}) / gain_k``, ``(S, n_iter, L, R)``
        (NaN where the gain is not positive)."""
        dec = -np.diff(self.loss, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.gain > 0, dec / self.gain, np.nan)

    def gd_passes_to(self, loss: float) -> float:
        """Passes gradient descent needs to reach ``loss`` (``inf`` if it never does)."""
        hit = np.nonzero(self.gd_loss <= loss)[0]
        return float(self.gd_passes[hit[0]]) if hit.size else math.inf

    @property
    def gd_gap(self) -> np.ndarray:
        """Per maximiser, passes GD needs to reach MSA's final loss (seed 0, at ``rho_min``) over
        the passes MSA used, ``(L,)`` (below 1: GD is faster per pass)."""
        return np.array(
            [
                self.gd_passes_to(m[-1]) / self.msa_passes[-1] if np.isfinite(m[-1]) else math.nan
                for m in self.msa_loss
            ]
        )


def _msa_setup(sizes, seed, device):
    x, y, xt, yt = pmp.digits_data(seed=seed, n_features=sizes.n_features)
    x, y = x[: sizes.n_train].to(device), y[: sizes.n_train].to(device)
    C = pmp.readout(K=10, d=x.shape[1], seed=seed).to(device)
    model = pmp.ResNetControl(C=C, h=0.25, lam=1e-4)
    W, b = pmp.init_params(T=sizes.T, d=x.shape[1], seed=seed)
    return model, W.to(device), b.to(device), x, y, xt.to(device), yt.to(device)


def msa_experiment(*, scale: str = "book", device=None) -> MSAExperiment:
    """Basic and extended MSA over inner maximisers, ``rho`` and seeds; then MSA against GD and SGD.

    For each seed and inner step, one batched :func:`dltheory.control.msa.msa_train` runs every
    ``rho`` from the same start. The network: ``T`` tanh residual blocks (``h = 0.25``,
    ``lambda = 1e-4``, zero initial weights) on ``n_train`` digits projected on their ``n_features``
    leading principal components, full batch. Gradient descent and SGD (seed 0) run for as many
    passes as one MSA run.

    Example:
        >>> r = msa_experiment()  # doctest: +SKIP
    """
    sizes = msa_sizes(scale)
    device = _device(device)
    R = len(sizes.rhos)
    runs = []  # per seed, one batch of all rho per inner step (batches of about 6 stay in cache)
    for seed in sizes.seeds:  # in float32 (training; a third of the time of float64)
        model, W, b, x, y, _, _ = _msa_setup(sizes, seed, device)
        m32 = pmp.ResNetControl(C=model.C.float(), h=model.h, lam=model.lam)
        runs.append(
            [
                _msa.msa_train(
                    m32,
                    W.float(),
                    b.float(),
                    x.float(),
                    y,
                    rho=list(sizes.rhos),
                    inner_lr=step,
                    n_iter=sizes.n_iter,
                    n_inner=sizes.n_inner,
                )
                for step in sizes.inner_lrs
            ]
        )

    def shape(f):
        return np.stack([np.stack([f(r) for r in rs], axis=-2) for rs in runs])

    loss = shape(lambda r: r.loss)
    gain, resid = shape(lambda r: r.gain), shape(lambda r: r.inner_residual)
    diffs = np.diff(loss, axis=1)
    rises = np.where(np.isfinite(diffs), diffs > 0, True).sum(axis=1)
    max_rise = np.where(np.isfinite(diffs), diffs, np.inf).max(axis=1)
    mono = (rises == 0).all(axis=0)  # (L, R)
    rho_min = np.array(
        [sizes.rhos[np.argmax(t)] if t.any() else math.nan for t in mono], dtype=float
    )

    model, W, b, x, y, xt, yt = _msa_setup(sizes, sizes.seeds[0], device)
    n_pass = sizes.n_iter * (1 + sizes.n_inner)
    rg = _msa.gradient_train(model, W, b, x, y, method="gd", lr=sizes.gd_lr, n_iter=n_pass)
    rs = _msa.gradient_train(
        model,
        W,
        b,
        x,
        y,
        method="sgd",
        lr=sizes.sgd_lr,
        n_iter=n_pass,
        batch_size=sizes.batch_size,
        seed=sizes.seeds[0],
    )

    def acc(W_, b_):
        return _msa.accuracy(model, W_, b_, xt, yt)

    msa_acc = []
    for l, r in enumerate(rho_min):
        j = int(np.argmin(np.abs(np.array(sizes.rhos) - r))) if np.isfinite(r) else R - 1
        r0 = runs[0][l]
        msa_acc.append(acc(r0.W[j].double(), r0.b[j].double()) if np.isfinite(r) else math.nan)
    return MSAExperiment(
        sizes=sizes,
        inner_lrs=np.array(sizes.inner_lrs),
        rhos=np.array(sizes.rhos),
        loss=loss,
        gain=gain,
        residual=resid,
        rises=rises,
        max_rise=max_rise,
        rho_min=rho_min,
        gd_loss=rg.loss,
        gd_passes=rg.passes,
        sgd_loss=rs.loss,
        sgd_passes=rs.passes,
        msa_acc=np.array(msa_acc),
        gd_acc=acc(rg.W, rg.b),
        sgd_acc=acc(rs.W, rs.b),
    )


@figures.register("control/msa", compute=functools.partial(msa_experiment, scale="book"))
def _plot_msa(d: MSAExperiment):
    import matplotlib.pyplot as plt

    L = d.inner_lrs.size
    fig, axes = plt.subplots(1, L + 1, figsize=(3.0 * (L + 1), 3.3), sharey=True)
    P = figures.PALETTE
    it = np.arange(d.loss.shape[1])
    for l, ax in enumerate(axes[:L]):
        for j, rho in enumerate(d.rhos):
            for s in range(d.loss.shape[0]):
                ax.semilogy(
                    it,
                    d.loss[s, :, l, j],
                    "-",
                    color=P[j],
                    lw=1.0,
                    alpha=0.8,
                    label=rf"$\rho = {rho:g}$" if s == 0 else None,
                )
        ax.set(xlabel="MSA iteration", title=f"inner step {d.inner_lrs[l]:g}")
    axes[0].set(ylabel=r"training loss $J$")
    axes[0].legend(title=f"MSA (experiment), {d.loss.shape[0]} seeds", fontsize=7, title_fontsize=7)
    ax = axes[L]
    for l, mark in zip(range(L), "os^v", strict=False):
        if np.isfinite(d.rho_min[l]):
            ax.semilogy(
                d.msa_passes,
                d.msa_loss[l],
                mark + "-",
                ms=3,
                color=str(0.25 + 0.2 * l),
                label=rf"MSA, step {d.inner_lrs[l]:g}, $\rho = {d.rho_min[l]:g}$",
            )
    ax.semilogy(d.gd_passes, d.gd_loss, "-", color=P[6], label="gradient descent")
    ax.semilogy(
        d.sgd_passes, d.sgd_loss, "--", color=P[7], label=f"SGD, batch {d.sizes.batch_size}"
    )
    ax.set(xlabel="forward-backward passes (epochs)", title="per pass, seed 0 (experiment)")
    ax.set_ylim(bottom=min(np.nanmin(d.gd_loss), np.nanmin(d.sgd_loss)) / 2, top=5.0)
    ax.legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------------------ ternary
@dataclass(frozen=True)
class TernaryExperiment:
    """Ternary network by the simplified MSA closed form against the same network in full precision.

    Attributes:
        loss_ternary, loss_full: training loss per iteration.
        sparsity: fraction of zero ternary weights.
        acc_ternary, acc_full: test accuracies; train_acc_ternary, train_acc_full: training
        accuracies. acc_initial: test accuracy of the untrained network (``s = 0``, i.e. ``W = 0``:
        the read-out
            of the input alone), where the ternary training starts.
        n_iter: iterations of each.
    """

    loss_ternary: np.ndarray
    loss_full: np.ndarray
    sparsity: float
    acc_ternary: float
    acc_full: float
    train_acc_ternary: float
    train_acc_full: float
    acc_initial: float
    n_iter: int


def ternary_experiment(*, scale: str = "book", device=None, seed: int = 0) -> TernaryExperiment:
    """Ternary weights (``alpha = 0.05``, ``lambda = 0.02``) against Adam in full precision, on
    digits.

    ``T = 6`` residual blocks without biases, all 1257 training digits, full batch; 300 iterations
    at book scale, 1000 at full scale.

    Example:
        >>> r = ternary_experiment()  # doctest: +SKIP
    """
    n_iter = 300 if _scale(scale) == "book" else 1000
    device = _device(device)
    seed = checks.seed(seed)
    x, y, xt, yt = (t.to(device) for t in pmp.digits_data(seed=seed))
    T = 6
    model = pmp.ResNetControl(
        C=pmp.readout(K=10, d=x.shape[1], seed=seed).to(device), h=0.25, lam=1e-4
    )
    W, b = (t.to(device) for t in pmp.init_params(T=T, d=x.shape[1], seed=seed))
    rt = _msa.ternary_msa_train(
        model, x, y, T=T, alpha=0.05, lam=0.02, lr=20.0, n_iter=n_iter, seed=seed
    )
    rf = _msa.gradient_train(
        model, W, b, x, y, method="adam", lr=0.01, n_iter=n_iter, train_bias=False
    )

    def acc(r, a, c):
        return _msa.accuracy(model, r.W, r.b, a, c)

    return TernaryExperiment(
        loss_ternary=rt.loss,
        loss_full=rf.loss,
        sparsity=rt.sparsity,
        acc_ternary=acc(rt, xt, yt),
        acc_full=acc(rf, xt, yt),
        train_acc_ternary=acc(rt, x, y),
        train_acc_full=acc(rf, x, y),
        acc_initial=_msa.accuracy(model, torch.zeros_like(W), torch.zeros_like(b), xt, yt),
        n_iter=n_iter,
    )


# ---------------------------------------------------------------------------------- learning rate
@dataclass(frozen=True)
class LRSchedule:
    """Optimal learning-rate schedule against constant rate on the noisy quadratic.

    Attributes:
        t: times ``k eta``; u: optimal multipliers ``u*(t)``.
        loss_opt, loss_const: simulated mean loss under the schedule and at constant rate.
        se_opt, se_const: Monte Carlo standard errors of the final mean losses.
        theory_opt: SME prediction ``a m(t) / 2`` under the schedule.
        discrete_opt, discrete_const: the exact discrete means ``a m_k / 2``.
        stationary_const: ``eta sigma^2 / (2 (2 - eta a))``; t_switch: ``t*``.
        a, b, eta, sigma, x0: the problem; n_paths: simulated runs.
    """

    t: np.ndarray
    u: np.ndarray
    loss_opt: np.ndarray
    loss_const: np.ndarray
    se_opt: float
    se_const: float
    theory_opt: np.ndarray
    discrete_opt: np.ndarray
    discrete_const: np.ndarray
    stationary_const: float
    t_switch: float
    a: float
    b: float
    eta: float
    sigma: float
    x0: float
    n_paths: int


def lr_schedule_experiment(
    *,
    scale: str = "book",
    a: float = 1.0,
    b: float = 0.0,
    eta: float = 0.1,
    sigma: float = 1.0,
    x0: float = 2.0,
    t_end: float = 100.0,
    seed: int = 0,
) -> LRSchedule:
    """Optimal schedule vs constant rate on the noisy quadratic: SME theory and simulated SGD.

    20000 simulated runs at book scale, 200000 at full scale.

    Example:
        >>> r = lr_schedule_experiment(t_end=1.0)
        >>> r.loss_opt.shape, r.n_paths
        ((11,), 20000)
    """
    n_paths = 20000 if _scale(scale) == "book" else 200000
    a, eta, sigma = (
        checks.positive("a", a),
        checks.positive("eta", eta),
        checks.positive("sigma", sigma),
    )
    b, x0 = checks.real("b", b), checks.real("x0", x0)
    t_end = checks.positive("t_end", t_end)
    seed = checks.seed(seed)
    n_steps = checks.integer("t_end / eta", int(round(t_end / eta)), high=10_000_000)
    t = np.arange(n_steps + 1) * eta
    m0 = (x0 - b) ** 2
    kw = dict(a=a, eta=eta, sigma=sigma)
    u = _lr.optimal_lr_schedule(t[:-1], m0=m0, **kw)
    ones = np.ones(n_steps)
    f_opt = _lr.simulate_sgd_quadratic(u, b=b, x0=x0, n_paths=n_paths, seed=seed, **kw)
    f_const = _lr.simulate_sgd_quadratic(ones, b=b, x0=x0, n_paths=n_paths, seed=seed + 1, **kw)
    return LRSchedule(
        t=t,
        u=np.concatenate([u, u[-1:]]),
        loss_opt=f_opt.mean(axis=1),
        loss_const=f_const.mean(axis=1),
        se_opt=float(f_opt[-1].std(ddof=1) / math.sqrt(n_paths)),
        se_const=float(f_const[-1].std(ddof=1) / math.sqrt(n_paths)),
        theory_opt=0.5 * a * _lr.optimal_second_moment(t, m0=m0, **kw),
        discrete_opt=0.5 * a * _lr.discrete_second_moment(u, m0=m0, **kw),
        discrete_const=0.5 * a * _lr.discrete_second_moment(ones, m0=m0, **kw),
        stationary_const=_lr.constant_rate_stationary_loss(**kw),
        t_switch=_lr.switch_time(m0=m0, **kw),
        a=a,
        b=b,
        eta=eta,
        sigma=sigma,
        x0=x0,
        n_paths=n_paths,
    )


@figures.register(
    "control/lr-schedule", compute=functools.partial(lr_schedule_experiment, scale="book")
)
def _plot_lr_schedule(d: LRSchedule):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax0.plot(d.t, d.u, label=r"optimal control $u^*(t)$ (theory)")
    ax0.axvline(d.t_switch, color="0.5", ls=":", label=r"switch time $t^*$")
    ax0.set_xscale("symlog", linthresh=1.0)
    ax0.set_xlim(0.0, float(d.t[-1]))
    ax0.set_yscale("log")
    ax0.set(xlabel=r"time $t = k\eta$", ylabel=r"learning-rate multiplier $u$")
    ax0.legend()
    t = d.t
    ax1.loglog(t[1:], d.loss_const[1:], label="SGD, constant rate (experiment)")
    ax1.loglog(t[1:], d.loss_opt[1:], label="SGD, optimal schedule (experiment)")
    ax1.loglog(t[1:], d.theory_opt[1:], "k--", lw=1.0, label=r"SME prediction $a\,m(t)/2$ (theory)")
    ax1.axhline(
        d.stationary_const,
        color="0.4",
        ls=":",
        label=r"stationary $\eta\sigma^2/(2(2 - \eta a))$ (theory)",
    )
    ax1.set(xlabel=r"time $t = k\eta$", ylabel=r"mean loss $\mathbb{E}\,f(x_k)$")
    ax1.legend()
    return fig


@dataclass(frozen=True)
class CSGDExperiment:
    """SGD and cSGD on weight-decayed softmax regression of digits, over maximal learning rates.

    Attributes:
        lrs: maximal learning rates ``(L,)``; epochs: ``0..n_epochs``; f_star: the optimum ``F*``.
        sgd, csgd: excess objective ``F(w) - F*`` after each epoch, ``(n_epochs + 1, L)``.
        sgd_u, csgd_u: mean learning-rate multiplier after each epoch.
    """

    lrs: np.ndarray
    epochs: np.ndarray
    f_star: float
    sgd: np.ndarray
    csgd: np.ndarray
    sgd_u: np.ndarray
    csgd_u: np.ndarray

    @property
    def spread_sgd(self) -> float:
        """Largest over smallest final excess objective of SGD over the learning rates."""
        return float(self.sgd[-1].max() / self.sgd[-1].min())

    @property
    def spread_csgd(self) -> float:
        """Largest over smallest final excess objective of cSGD over the learning rates."""
        return float(self.csgd[-1].max() / self.csgd[-1].min())


def csgd_experiment(
    *,
    scale: str = "book",
    lrs=(0.05, 0.5, 5.0),
    batch_size: int = 16,
    weight_decay: float = 1e-2,
    seed: int = 0,
) -> CSGDExperiment:
    """SGD and cSGD over two decades of learning rates (30 epochs at book scale, 100 at full scale).

    Example:
        >>> r = csgd_experiment()  # doctest: +SKIP
    """
    n_epochs = 30 if _scale(scale) == "book" else 100
    x, y, _, _ = _lr.digits_softmax_data(seed=seed)
    f_star = _lr.softmax_optimum(x=x, y=y, weight_decay=weight_decay)
    runs = {}
    for name, ctl in (("sgd", False), ("csgd", True)):
        runs[name] = _lr.csgd_softmax(
            lrs,
            x=x,
            y=y,
            n_epochs=n_epochs,
            batch_size=batch_size,
            weight_decay=weight_decay,
            controlled=ctl,
            seed=seed,
        )
    return CSGDExperiment(
        lrs=np.asarray(lrs, dtype=float),
        epochs=np.arange(n_epochs + 1),
        f_star=f_star,
        sgd=runs["sgd"]["loss"] - f_star,
        csgd=runs["csgd"]["loss"] - f_star,
        sgd_u=runs["sgd"]["u_mean"],
        csgd_u=runs["csgd"]["u_mean"],
    )


@figures.register("control/csgd", compute=functools.partial(csgd_experiment, scale="book"))
def _plot_csgd(d: CSGDExperiment):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, lr in enumerate(d.lrs):
        c = figures.PALETTE[i % len(figures.PALETTE)]
        ax.semilogy(
            d.epochs, d.sgd[:, i], "--", color=c, label=rf"SGD, $\eta$ = {lr:g} (experiment)"
        )
        ax.semilogy(
            d.epochs, d.csgd[:, i], "-", color=c, label=rf"cSGD, $\eta$ = {lr:g} (experiment)"
        )
    ax.set(xlabel="epoch", ylabel=r"excess training objective $F(w) - F^*$")
    ax.legend(ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return fig
