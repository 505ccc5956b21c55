"""Experiments of the SGD chapter, sections 5-7: Gibbs law and Kramers escape, anisotropic noise,
local entropy."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy import stats

from dltheory import _checks as checks
from dltheory import figures
from dltheory.sgd import entropy, escape

__all__ = [
    "SIZES",
    "Kramers",
    "kramers",
    "Anisotropic",
    "anisotropic_escape",
    "LocalEntropy",
    "local_entropy_experiment",
]

#: Sizes per scale.
SIZES = {
    "book": {"gibbs_chains": 10_000, "escapes": 3000, "basin_chains": 1000, "starts": 300},
    "full": {"gibbs_chains": 100_000, "escapes": 30_000, "basin_chains": 10_000, "starts": 3000},
}


def _sizes(scale):
    return SIZES[checks.choice("scale", scale, list(SIZES))]


@dataclass(frozen=True)
class Kramers:
    """Section 5: the double well ``L = (x^2 - 1)^2 / 4`` (``Delta L = 1/4``, ``L''_min = 2``,
    ``L''_s = -1``).

    Attributes:
        gibbs_T: temperature of the stationary experiment.
        gibbs_samples: final states of the chains there.
        gibbs_p: p-value of the Kolmogorov–Smirnov test against ``exp(-L/T)/Z``.
        lr: learning rate of the SGD chains.
        temperatures: temperatures of the escape experiment.
        escapes: escapes counted per temperature.
        tau: measured mean escape times (time units ``k eta``).
        tau_rel_se: their relative standard errors.
        tau_kramers: Eyring–Kramers times.
        tau_exact: exact mean first-passage times of the Langevin SDE (quadrature).
        slope: slope of ``log tau`` against ``1/T`` (weighted least squares).
        slope_se: its standard error.
        target: the escape threshold (``x >= target`` counts as an escape from -1).
        window: simulated time per chain (ten exact mean escape times at the lowest temperature).
        tau_limit_ratio: exact MFPT / Eyring–Kramers at ``Delta L / T = 20`` (the small-T limit).
    """

    gibbs_T: float
    gibbs_samples: np.ndarray
    gibbs_p: float
    lr: float
    temperatures: np.ndarray
    escapes: np.ndarray
    tau: np.ndarray
    tau_rel_se: np.ndarray
    tau_kramers: np.ndarray
    tau_exact: np.ndarray
    slope: float
    slope_se: float
    target: float
    window: float
    tau_limit_ratio: float


def kramers(*, lr: float = 0.01, scale: str = "book", seed: int = 0) -> Kramers:
    """Section 5: Gibbs histogram at ``T = 1/8`` and escape times at ``Delta L / T = 2 ... 3.5``.

    Example:
        >>> data = kramers(seed=0)  # doctest: +SKIP
        >>> round(data.slope, 2)  # doctest: +SKIP
        0.25
    """
    sz = _sizes(scale)
    seed = checks.seed(seed)
    Tg = 0.125
    x = escape.simulate_double_well(
        Tg, lr, n_chains=sz["gibbs_chains"], n_steps=int(10 / lr), seed=seed
    ).numpy()
    p = float(stats.kstest(x, lambda v: escape.gibbs_cdf(v, Tg)).pvalue)
    T = 0.25 / np.array([2.0, 2.5, 3.0, 3.5])
    kr = escape.kramers_time(2.0, -1.0, 0.25, T)
    target = 0.5
    exact = np.array([escape.mfpt_exact(t, target=target) for t in T])
    # renewal windows of ten mean escape times at the lowest temperature (more at the others): the
    # count per window then estimates the mean first-passage time from -1, with no burn-in needed
    window = 10 * float(exact.max())
    n_steps = int(round(window / lr))
    chains = np.round(sz["escapes"] * exact / window).astype(int)
    c = escape.simulate_escapes(T, lr, target=target, chains=chains, n_steps=n_steps, seed=seed + 1)
    t_low = 0.25 / 20
    w = c.escapes  # weights 1 / var(log tau) = escapes
    X = np.stack([1 / T, np.ones_like(T)], 1)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = cov @ X.T @ (w * np.log(c.mean_time))
    return Kramers(
        gibbs_T=Tg,
        gibbs_samples=x,
        gibbs_p=p,
        lr=lr,
        temperatures=T,
        escapes=c.escapes,
        tau=c.mean_time,
        tau_rel_se=c.rel_se,
        tau_kramers=kr,
        tau_exact=exact,
        slope=float(beta[0]),
        slope_se=float(np.sqrt(cov[0, 0])),
        target=target,
        window=window,
        tau_limit_ratio=escape.mfpt_exact(t_low, target=target)
        / float(escape.kramers_time(2.0, -1.0, 0.25, t_low)),
    )


@figures.register("sgd/kramers", compute=partial(kramers, seed=0))
def _plot_kramers(data: Kramers):
    import matplotlib.pyplot as plt

    P = figures.PALETTE
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax = axes[0]
    ax.hist(data.gibbs_samples, bins=80, density=True, color="0.75", label="SGD chains")
    g = np.linspace(-2, 2, 400)
    dens = np.gradient(escape.gibbs_cdf(g, data.gibbs_T), g)
    ax.plot(g, dens, color=P[0], label=r"Gibbs $e^{-L/T}/Z$")
    ax.set(xlabel=r"$x$", ylabel="density", title=rf"double well, $T={data.gibbs_T:g}$")
    ax.legend(fontsize=8)
    ax = axes[1]
    inv = 1 / data.temperatures
    ax.errorbar(
        inv,
        data.tau,
        yerr=2 * data.tau * data.tau_rel_se,
        fmt="o",
        color=P[1],
        label=r"SGD, mean escape time",
    )
    ax.plot(inv, data.tau_kramers, "-", color=P[0], label="Eyring–Kramers")
    ax.plot(inv, data.tau_exact, "--", color=P[2], label="exact Langevin MFPT")
    ax.set(yscale="log", xlabel=r"$1/T$", ylabel=r"mean escape time $\tau$ ($t=k\eta$)")
    ax.legend(fontsize=8)
    return fig


@dataclass(frozen=True)
class Anisotropic:
    """Section 6: escape from a 2-D quadratic basin ``{L < Delta L}``,
    ``H = diag(h_sharp, h_flat)``.

    Attributes:
        hessian: ``H``.
        lr, barrier: learning rate and basin level ``Delta L``.
        noise_iso, noise_aligned: gradient-noise covariances of equal trace.
        indicator_iso, indicator_aligned: Zhu et al.'s ``tr(H Sigma)``.
        tau: mean escape times (isotropic, aligned).
        escapes: escapes counted (isotropic, aligned).
        ratio, ratio_low, ratio_high: ``tau_iso / tau_aligned`` and its 99% confidence interval.
        p_value: one-sided p-value of "equal escape rates" against "aligned noise escapes faster"
            (normal approximation of the log-ratio of two Poisson rates).
    """

    hessian: np.ndarray
    lr: float
    barrier: float
    noise_iso: np.ndarray
    noise_aligned: np.ndarray
    indicator_iso: float
    indicator_aligned: float
    tau: np.ndarray
    escapes: np.ndarray
    ratio: float
    ratio_low: float
    ratio_high: float
    p_value: float


def anisotropic_escape(*, scale: str = "book", seed: int = 0) -> Anisotropic:
    """Section 6: isotropic against sharp-aligned noise of equal total variance (Zhu et al. 2019).

    Example:
        >>> data = anisotropic_escape(seed=0)  # doctest: +SKIP
        >>> bool(data.ratio_low > 1)  # doctest: +SKIP
        True
    """
    n = _sizes(scale)["basin_chains"]
    H = np.diag([4.0, 0.25])
    iso, al = 0.5 * np.eye(2), np.diag([1.0, 0.0])
    lr, barrier = 0.05, 0.05
    c = escape.simulate_basin_escapes(
        H, np.stack([iso, al]), lr, barrier, chains=n, n_steps=1000, seed=checks.seed(seed)
    )
    r, lo, hi = escape.rate_ratio_interval(c, 0, 1, level=0.99)
    return Anisotropic(
        hessian=H,
        lr=lr,
        barrier=barrier,
        noise_iso=iso,
        noise_aligned=al,
        indicator_iso=float(np.trace(H @ iso)),
        indicator_aligned=float(np.trace(H @ al)),
        tau=c.mean_time,
        escapes=c.escapes,
        ratio=r,
        ratio_low=lo,
        ratio_high=hi,
        p_value=float(stats.norm.sf(np.log(r) / np.sqrt((1 / c.escapes).sum()))),
    )


@figures.register("sgd/anisotropic-escape", compute=partial(anisotropic_escape, seed=0))
def _plot_anisotropic(data: Anisotropic):
    import matplotlib.pyplot as plt

    P = figures.PALETTE
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax = axes[0]
    t = np.linspace(0, 2 * np.pi, 300)
    h1, h2 = np.diag(data.hessian)
    r = np.sqrt(2 * data.barrier)
    ax.plot(
        r * np.cos(t) / np.sqrt(h1),
        r * np.sin(t) / np.sqrt(h2),
        "k-",
        label=r"basin edge $L=\Delta L$",
    )
    for S, col, lab in [
        (data.noise_iso, P[0], "isotropic noise"),
        (data.noise_aligned, P[1], "aligned noise"),
    ]:
        # stationary covariance of the OU approximation, H X + X H = eta Sigma (diagonal here)
        sd = np.sqrt(data.lr * np.diag(S) / (2 * np.diag(data.hessian)))
        ax.plot(
            2 * sd[0] * np.cos(t),
            2 * sd[1] * np.sin(t),
            color=col,
            lw=2,
            label=f"{lab}: 2 s.d. of the stationary law",
        )
    ax.set(
        xlabel=r"$\theta_1$ (sharp, $h=4$)",
        ylabel=r"$\theta_2$ (flat, $h=1/4$)",
        xlim=(-0.3, 0.3),
        ylim=(-0.9, 0.9),
    )
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[1]
    ax.bar([0, 1], data.tau, yerr=2 * data.tau / np.sqrt(data.escapes), color=[P[0], P[1]])
    ax.set_xticks(
        [0, 1],
        [
            rf"isotropic, tr$(H\Sigma)$={data.indicator_iso:.3g}",
            rf"aligned, tr$(H\Sigma)$={data.indicator_aligned:.3g}",
        ],
    )
    ax.set(ylabel=r"mean escape time ($t=k\eta$)")
    return fig


@dataclass(frozen=True)
class LocalEntropy:
    """Section 7: local entropy, its Hamilton–Jacobi equation and Entropy-SGD's basin preference.

    Attributes:
        curv_a, curv_gamma: curvature ``a`` and scopes of the quadratic check.
        curv_quadrature, curv_exact: curvature of ``f_gamma`` at 0 by quadrature and
        ``a / (1 + a gamma)``. hj_dx: grid spacings of the finite-difference solves. hj_err: max
        interior error of the FD solution against Cole–Hopf (quadrature). hj_order: observed order
        ``log2(err(dx) / err(dx / 2))``. x, f, f_gamma: the two-basin landscape and its local
        entropy at ``gamma``. gamma: the scope. argmin_f_gamma: the minimiser of ``f_gamma`` on the
        grid ``x``. saddle: the basin boundary of ``f``. starts: common starting points. end_sgd,
        end_esgd: final points of SGD and Entropy-SGD. wide_sgd, wide_esgd: fractions ending in the
        wide basin. p_mcnemar: exact one-sided McNemar (binomial) p-value on the discordant pairs
        (Entropy-SGD
            against the matched-noise SGD below).
        matched_T: temperature of the matched-noise SGD (that of Entropy-SGD's inner Langevin loop).
        end_matched: final points of SGD at ``matched_T`` with Entropy-SGD's step and number of
            gradient evaluations.
        wide_matched: its fraction in the wide basin.
        sweep_T, wide_sweep: the same fraction for SGD at other temperatures (same budget).
        p_mcnemar_small: the McNemar p-value against low-noise SGD (``end_sgd``).
    """

    curv_a: float
    curv_gamma: np.ndarray
    curv_quadrature: np.ndarray
    curv_exact: np.ndarray
    hj_dx: np.ndarray
    hj_err: np.ndarray
    hj_order: float
    x: np.ndarray
    f: np.ndarray
    f_gamma: np.ndarray
    gamma: float
    argmin_f_gamma: float
    saddle: float
    starts: np.ndarray
    end_sgd: np.ndarray
    end_esgd: np.ndarray
    wide_sgd: float
    wide_esgd: float
    p_mcnemar: float
    matched_T: float
    end_matched: np.ndarray
    wide_matched: float
    sweep_T: np.ndarray
    wide_sweep: np.ndarray
    p_mcnemar_small: float


#: The two-basin landscape of section 7: a deep narrow minimum at 0 beside a shallow wide one
#: near 1.
LANDSCAPE = entropy.TwoBasins(c1=0.0, w1=0.1, d1=1.5, c2=1.0, w2=0.8, d2=1.0, k=0.05)


def local_entropy_experiment(
    *, gamma: float = 0.5, scale: str = "book", seed: int = 0
) -> LocalEntropy:
    """Section 7: curvature of the local entropy, its Hamilton–Jacobi equation, Entropy-SGD vs SGD.

    Example:
        >>> data = local_entropy_experiment(seed=0)  # doctest: +SKIP
        >>> round(data.hj_order)  # doctest: +SKIP
        2
    """
    n = _sizes(scale)["starts"]
    a = 10.0
    gs = np.array([0.01, 0.1, 1.0])
    cq = np.array(
        [
            1 / g - entropy.local_gibbs_moments(lambda y: 0.5 * a * y**2, [0.3], g)[1][0] / g**2
            for g in gs
        ]
    )
    f_hj = lambda y: 0.5 * y**2 + 0.3 * np.cos(3 * y)  # noqa: E731
    errs, dxs = [], []
    for npts in (81, 161):
        xg = np.linspace(-4, 4, npts)
        u = entropy.hamilton_jacobi(f_hj(xg), xg, 0.3)
        ex = entropy.local_entropy(f_hj, xg, 0.3)
        errs.append(np.abs(u - ex)[np.abs(xg) <= 2].max())
        dxs.append(xg[1] - xg[0])
    L = LANDSCAPE
    x = np.linspace(-1.5, 2.5, 401)
    starts = np.random.default_rng(checks.seed(seed)).uniform(-0.5, 0.5, n)
    inner_lr = 0.008
    e_sgd = entropy.descend(L, starts, method="sgd", lr=0.01, n_steps=500, noise=0.1, seed=seed)
    e_esgd = entropy.descend(
        L,
        starts,
        method="entropy-sgd",
        lr=0.2,
        n_steps=50,
        gamma=gamma,
        inner_steps=100,
        inner_lr=inner_lr,
        seed=seed + 1,
    )
    # SGD with Entropy-SGD's noise and budget: its inner loop's step and temperature (T = 1), as
    # many gradient evaluations (outer x inner steps)
    budget, T_m = 50 * 100, 1.0

    def sgd_at(T, k):
        return entropy.descend(
            L,
            starts,
            method="sgd",
            lr=inner_lr,
            n_steps=budget,
            noise=float(np.sqrt(2 * T / inner_lr)),
            seed=seed + 2 + k,
        )

    e_m = sgd_at(T_m, 0)
    sweep_T = np.array([0.045, 0.1, 0.3])
    s = L.saddle
    wide_sweep = np.array([(sgd_at(float(t), 1 + k) > s).mean() for k, t in enumerate(sweep_T)])
    fg = entropy.local_entropy(L, x, gamma)
    w1, w2, wm = e_sgd > s, e_esgd > s, e_m > s

    def mcnemar(w_base, w_new):
        b, c = int((~w_base & w_new).sum()), int((w_base & ~w_new).sum())
        return float(stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue) if b + c else 1.0

    return LocalEntropy(
        curv_a=a,
        curv_gamma=gs,
        curv_quadrature=cq,
        curv_exact=a / (1 + a * gs),
        hj_dx=np.array(dxs),
        hj_err=np.array(errs),
        hj_order=float(np.log2(errs[0] / errs[1])),
        x=x,
        f=L(x),
        f_gamma=fg,
        gamma=gamma,
        argmin_f_gamma=float(x[np.argmin(fg)]),
        saddle=s,
        starts=starts,
        end_sgd=e_sgd,
        end_esgd=e_esgd,
        wide_sgd=float(w1.mean()),
        wide_esgd=float(w2.mean()),
        p_mcnemar=mcnemar(wm, w2),
        matched_T=T_m,
        end_matched=e_m,
        wide_matched=float(wm.mean()),
        sweep_T=sweep_T,
        wide_sweep=wide_sweep,
        p_mcnemar_small=mcnemar(w1, w2),
    )


@figures.register("sgd/local-entropy", compute=partial(local_entropy_experiment, seed=0))
def _plot_local_entropy(data: LocalEntropy):
    import matplotlib.pyplot as plt

    P = figures.PALETTE
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax = axes[0]
    ax.plot(data.x, data.f, color=P[0], label=r"loss $f$")
    ax.plot(
        data.x,
        data.f_gamma,
        color=P[1],
        label=rf"local entropy $f_\gamma$, $\gamma={data.gamma:g}$",
    )
    ax.axvline(data.saddle, color="grey", ls=":", label="basin boundary of $f$")
    ax.set(xlabel=r"$x$", ylabel="loss")
    ax.legend(fontsize=8)
    ax = axes[1]
    bins = np.linspace(-0.6, 2.5, 40)
    ax.hist(
        data.end_sgd,
        bins=bins,
        alpha=0.6,
        color=P[0],
        label=f"SGD, low noise ({100 * data.wide_sgd:.0f}% wide)",
    )
    ax.hist(
        data.end_esgd,
        bins=bins,
        alpha=0.6,
        color=P[1],
        label=f"Entropy-SGD ({100 * data.wide_esgd:.0f}% wide)",
    )
    ax.hist(
        data.end_matched,
        bins=bins,
        histtype="step",
        lw=1.5,
        color=P[2],
        label=f"SGD, matched noise T = {data.matched_T:g} ({100 * data.wide_matched:.0f}% wide)",
    )
    ax.axvline(data.saddle, color="grey", ls=":")
    ax.set(xlabel=r"final $x$", ylabel="runs")
    ax.legend(fontsize=8)
    return fig
