"""Experiments of the Bayesian section of the extensions chapter, and their figures.

Each function runs one seeded experiment at the chapter's ``scale`` (``"book"`` or ``"full"``) and
returns a frozen dataclass; the figures are registered under ``extensions/<name>``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from dltheory import _checks as checks
from dltheory import figures
from dltheory.bayes.gibbs import free_energy, gibbs_posterior, kl_divergence, log_partition, tilt
from dltheory.bayes.posterior import grid_posterior, linreg_data, linreg_posterior, mixture_data
from dltheory.bayes.sgld import (
    histogram_tv,
    sgld_linreg,
    sgld_mixture,
    step_sizes,
)

__all__ = [
    "FreeEnergyResult",
    "free_energy_experiment",
    "MixtureResult",
    "sgld_mixture_experiment",
    "LinregResult",
    "sgld_linreg_experiment",
    "SIZES",
]

#: Sizes of the experiments at each scale ("full": the paper's 10^4-sweep runs are out of reach for
#: a vectorised CPU run; it uses ten times the chains and steps of the book).
SIZES = {
    "book": dict(mixture_chains=1000, mixture_steps=30_000, linreg_chains=250, linreg_steps=2_000),
    "full": dict(
        mixture_chains=10_000, mixture_steps=300_000, linreg_chains=2_500, linreg_steps=20_000
    ),
}


def _scale(scale):
    return SIZES[checks.choice("scale", scale, SIZES)]


# ------------------------------------------------------------------------------------- free energy
@dataclass(frozen=True)
class FreeEnergyResult:
    """The Gibbs variational principle on a 1-D grid.

    Attributes:
        theta: grid points ``(G,)``.
        loss: the loss ``L(theta)`` on the grid.
        prior: the prior weights ``p0`` (a discretised ``N(0, 1)``).
        betas: inverse temperatures ``(nb,)``.
        posteriors: Gibbs posteriors ``(nb, G)``.
        identity_error: ``max_beta |F(q*) + log Z / beta|``.
        min_excess: smallest ``F(q) - F(q*)`` over all perturbed ``q``.
        kl_identity_error: ``max |F(q) - F(q*) - KL(q || q*) / beta|`` over the perturbed ``q``.
        n_perturbed: number of perturbed distributions tried.
        path_steps: steps ``s`` of one perturbation path ``q_s = tilt(q*, h, s)`` (for the figure).
        path_excess: ``F(q_s) - F(q*)`` along it, at ``beta = betas[1]``.
        path_kl: ``KL(q_s || q*) / beta`` along it.
    """

    theta: np.ndarray
    loss: np.ndarray
    prior: np.ndarray
    betas: np.ndarray
    posteriors: np.ndarray
    identity_error: float
    min_excess: float
    kl_identity_error: float
    n_perturbed: int
    path_steps: np.ndarray
    path_excess: np.ndarray
    path_kl: np.ndarray


def free_energy_experiment(
    *,
    betas=(0.5, 2.0, 8.0),
    n_grid: int = 601,
    n_directions: int = 200,
    scale: str = "book",
    seed: int = 0,
) -> FreeEnergyResult:
    """Check ``min_q E_q L + KL(q||p0)/beta = -log Z / beta`` at ``q*`` on a double-well loss.

    The loss is ``L = (theta^2 - 1)^2 + theta / 4`` on ``[-3, 3]``; each perturbation tilts ``q*``
    by a random smooth direction ``h`` (a random combination of ten cosines) with steps ``s`` in
    ``[-2, 2]``.
    """
    _scale(scale)
    betas = checks.real_array("betas", betas, low=0, low_open=True, ndim=1)
    G = checks.integer("n_grid", n_grid, low=3, high=10**7)
    D = checks.integer("n_directions", n_directions, high=10**6)
    rng = np.random.default_rng(checks.seed(seed))
    theta = np.linspace(-3.0, 3.0, G)
    loss = (theta**2 - 1) ** 2 + theta / 4
    prior = np.exp(-(theta**2) / 2)
    prior /= prior.sum()
    posts, ident, excess, kl_err = [], 0.0, math.inf, 0.0
    freqs = np.arange(1, 11)
    steps = np.linspace(-2.0, 2.0, 9)
    for beta in betas:
        q = gibbs_posterior(loss, prior, beta=beta)
        posts.append(q)
        F0 = free_energy(q, loss, prior, beta=beta)
        ident = max(ident, abs(F0 + log_partition(loss, prior, beta=beta) / beta))
        for _ in range(D // len(betas)):
            h = rng.standard_normal(10) @ np.cos(np.outer(freqs, theta) * np.pi / 3)
            for s in steps[steps != 0]:
                qs = tilt(q, h, step=s)
                dF = free_energy(qs, loss, prior, beta=beta) - F0
                excess = min(excess, dF)
                kl_err = max(kl_err, abs(dF - kl_divergence(qs, q) / beta))
    beta = float(betas[min(1, len(betas) - 1)])
    q = gibbs_posterior(loss, prior, beta=beta)
    F0 = free_energy(q, loss, prior, beta=beta)
    h = np.cos(np.pi * theta / 3) + 0.5 * np.sin(2 * np.pi * theta / 3)
    ps = np.linspace(-1.5, 1.5, 61)
    pe = np.array([free_energy(tilt(q, h, step=s), loss, prior, beta=beta) - F0 for s in ps])
    pk = np.array([kl_divergence(tilt(q, h, step=s), q) / beta for s in ps])
    return FreeEnergyResult(
        theta,
        loss,
        prior,
        betas,
        np.array(posts),
        float(ident),
        float(excess),
        float(kl_err),
        int((D // len(betas)) * len(betas) * (len(steps) - 1)),
        ps,
        pe,
        pk,
    )


@figures.register(
    "extensions/free-energy", compute=functools.partial(free_energy_experiment, seed=0)
)
def _plot_free_energy(d: FreeEnergyResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.5))
    dx = d.theta[1] - d.theta[0]
    ax0.plot(d.theta, d.loss, color="0.3", lw=1.2, label=r"loss $L(\theta)$")
    ax0.set(xlabel=r"parameter $\theta$", ylabel=r"loss $L(\theta)$", ylim=(-1, 6))
    ax0b = ax0.twinx()
    ax0b.plot(d.theta, d.prior / dx, color="0.6", ls=":", label=r"prior $p_0$")
    for k, (beta, q) in enumerate(zip(d.betas, d.posteriors, strict=False)):
        ax0b.plot(
            d.theta, q / dx, color=figures.PALETTE[k + 1], label=rf"Gibbs $q^*$, $\beta={beta:g}$"
        )
    ax0b.set_ylabel("density")
    h0, l0 = ax0.get_legend_handles_labels()
    h1, l1 = ax0b.get_legend_handles_labels()
    ax0.legend(h0 + h1, l0 + l1, loc="upper center", fontsize=8)
    ax1.plot(
        d.path_steps,
        d.path_excess,
        color=figures.PALETTE[1],
        lw=2.5,
        alpha=0.6,
        label=r"$F(q_s) - F(q^*)$ (computed)",
    )
    ax1.plot(
        d.path_steps, d.path_kl, "k--", lw=1.0, label=r"$\mathrm{KL}(q_s\,\|\,q^*)/\beta$ (theory)"
    )
    ax1.set(xlabel=r"perturbation step $s$", ylabel="excess free energy")
    ax1.legend(fontsize=8)
    return fig


# ----------------------------------------------------------------------------------- SGLD mixture
@dataclass(frozen=True)
class MixtureResult:
    """SGLD on Welling & Teh's two-mode posterior, against the grid posterior.

    Attributes:
        x: the data ``(N,)``.
        edges1, edges2: bin edges of the comparison grid.
        grid_mass: posterior mass of each bin ``(n1, n2)`` (midpoint rule on a 10x finer grid).
        samples: kept SGLD states ``(n_kept, n_chains, 2)`` (thinned).
        eps: the step sizes ``(T,)``.
        tv: total variation between the samples' histogram and ``grid_mass``.
        mode_fraction: fraction of samples in the mode with ``theta_2 > 0`` (near ``(0, 1)``).
        mode_mass: the grid posterior's mass there.
        mode_fraction_se: Monte Carlo standard error of ``mode_fraction`` (chains as independent
        units). mode_cov: within-mode covariances of the samples,
        ``(var theta_1, var theta_2, cov)`` for
            the mode with ``theta_2 > 0`` and the one with ``theta_2 < 0``, ``(2, 3)``.
        mode_cov_se: their Monte Carlo standard errors (20 groups of chains) ``(2, 3)``.
        mode_trace_se: Monte Carlo standard error of each mode's trace ``(2,)``.
        temperatures: ``(1, T_low, T_high)``; grid_mode_cov: the same within-mode covariances of the
            grid posterior tempered to each temperature, ``p^(1/T)`` ``(3, 2, 3)``.
        n_chains, n_steps: sizes.
    """

    x: np.ndarray
    edges1: np.ndarray
    edges2: np.ndarray
    grid_mass: np.ndarray
    samples: np.ndarray
    eps: np.ndarray
    tv: float
    mode_fraction: float
    mode_mass: float
    mode_fraction_se: float
    mode_cov: np.ndarray
    mode_cov_se: np.ndarray
    mode_trace_se: np.ndarray
    temperatures: np.ndarray
    grid_mode_cov: np.ndarray
    n_chains: int
    n_steps: int

    @property
    def mode_trace(self) -> np.ndarray:
        """Trace of each mode's sample covariance ``(2,)``."""
        return self.mode_cov[:, :2].sum(1)

    @property
    def grid_mode_trace(self) -> np.ndarray:
        """Trace of each mode's covariance under the grid posterior at each temperature
        ``(3, 2)``."""
        return self.grid_mode_cov[..., :2].sum(-1)


def _mode_moments(w, t1, t2):
    """``(var t1, var t2, cov)`` of weights ``w`` on the points ``(t1, t2)``, per mode (``t2 > 0``,
    ``t2 < 0``)."""
    out = []
    for sel in (t2 > 0, t2 < 0):
        v = w * sel
        v = v / v.sum()
        m1, m2 = (v * t1).sum(), (v * t2).sum()
        out.append(
            [
                (v * (t1 - m1) ** 2).sum(),
                (v * (t2 - m2) ** 2).sum(),
                (v * (t1 - m1) * (t2 - m2)).sum(),
            ]
        )
    return np.array(out)


def sgld_mixture_experiment(
    *,
    eps_start: float = 0.01,
    eps_end: float = 1e-4,
    gamma: float = 0.55,
    keep_fraction: float = 1 / 3,
    thin: int = 50,
    data_seed: int = 3,
    temperatures=(0.8, 1.25),
    scale: str = "book",
    seed: int = 0,
) -> MixtureResult:
    """SGLD (batch size 1, ``eps_t = a (b + t)^(-gamma)`` from ``eps_start`` to ``eps_end``) on the
    mixture.

    The chains start at ``N(0, I)``; the last ``keep_fraction`` of the steps, thinned by ``thin``,
    are the samples. The grid covers ``[-1.5, 2.5] x [-3, 3]`` in bins of 0.1.

    ``data_seed`` draws the 100 data points. With 100 points the two mixture components overlap so
    much that most data sets give a single broad ridge rather than two modes (seeds 0, 1, 2: the
    density between the modes is 99% of the maximum); seed 3 is the first to give Welling & Teh's
    picture, modes at (0, 1) and (1, -1) separated by a valley at 57% of the maximum.

    Within each mode (split at ``theta_2 = 0``) the samples' covariance is compared with the grid
    posterior's, and with the grid posterior tempered to the wrong ``temperatures``; the Monte Carlo
    standard errors come from 20 groups of chains (the chains are independent).
    """
    sz = _scale(scale)
    eps_start, eps_end = (
        checks.positive("eps_start", eps_start),
        checks.positive("eps_end", eps_end),
    )
    if eps_end >= eps_start:
        raise ValueError(f"eps_end must be below eps_start; got {eps_end} >= {eps_start}")
    keep_fraction = checks.real("keep_fraction", keep_fraction, low=0.0, high=1.0, low_open=True)
    thin = checks.integer("thin", thin)
    T, C = sz["mixture_steps"], sz["mixture_chains"]
    x = mixture_data(n=100, theta=(0.0, 1.0), seed=checks.seed(data_seed, "data_seed"))
    seed = checks.seed(seed)
    r = (eps_start / eps_end) ** (1 / gamma)
    b = T / (r - 1)
    eps = step_sizes(T, a=eps_start * b**gamma, b=b, gamma=gamma)
    s = sgld_mixture(x, n_chains=C, eps=eps, n_keep=int(T * keep_fraction), seed=seed + 1)[::thin]
    e1, e2 = np.linspace(-1.5, 2.5, 41), np.linspace(-3.0, 3.0, 61)
    f1 = np.linspace(-1.5, 2.5, 401)
    f2 = np.linspace(-3.0, 3.0, 601)
    fine = grid_posterior((f1[:-1] + f1[1:]) / 2, (f2[:-1] + f2[1:]) / 2, x)
    mass = fine.reshape(40, 10, 60, 10).sum((1, 3))
    in_a = s[..., 1] > 0
    per_chain = in_a.mean(0)
    temps = np.concatenate(
        [[1.0], checks.real_array("temperatures", temperatures, low=0, low_open=True, ndim=1)]
    )
    t1, t2 = np.meshgrid((f1[:-1] + f1[1:]) / 2, (f2[:-1] + f2[1:]) / 2, indexing="ij")
    grid_cov = np.array([_mode_moments(fine ** (1 / T), t1, t2) for T in temps])
    flat = s.reshape(-1, 2)
    mode_cov = _mode_moments(np.ones(len(flat)), flat[:, 0], flat[:, 1])
    groups = [g.reshape(-1, 2) for g in np.array_split(s, 20, axis=1)]
    gc = np.array([_mode_moments(np.ones(len(g)), g[:, 0], g[:, 1]) for g in groups])
    se = gc.std(0, ddof=1) / np.sqrt(len(groups))
    tr_se = gc[..., :2].sum(-1).std(0, ddof=1) / np.sqrt(len(groups))
    return MixtureResult(
        x,
        e1,
        e2,
        mass,
        s,
        eps,
        histogram_tv(s, mass, e1, e2),
        float(in_a.mean()),
        float(mass[:, 30:].sum()),
        float(per_chain.std(ddof=1) / np.sqrt(C)),
        mode_cov,
        se,
        tr_se,
        temps,
        grid_cov,
        C,
        T,
    )


@figures.register(
    "extensions/sgld-mixture", compute=functools.partial(sgld_mixture_experiment, seed=0)
)
def _plot_sgld_mixture(d: MixtureResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.8), sharex=True, sharey=True)
    c1, c2 = (d.edges1[:-1] + d.edges1[1:]) / 2, (d.edges2[:-1] + d.edges2[1:]) / 2
    h, _, _ = np.histogram2d(*d.samples.reshape(-1, 2).T, bins=[d.edges1, d.edges2])
    vmax = d.grid_mass.max()
    ax0.pcolormesh(
        d.edges1, d.edges2, d.grid_mass.T, cmap="Blues", vmin=0, vmax=vmax, shading="flat"
    )
    ax0.set_title("grid posterior (exact)", fontsize=9)
    ax1.pcolormesh(
        d.edges1, d.edges2, (h / h.sum()).T, cmap="Blues", vmin=0, vmax=vmax, shading="flat"
    )
    ax1.contour(
        c1, c2, d.grid_mass.T, levels=vmax * np.array([0.1, 0.5]), colors="k", linewidths=0.8
    )
    ax1.set_title(f"SGLD, {d.n_chains} chains (experiment); contours: grid", fontsize=9)
    for ax in (ax0, ax1):
        ax.set(xlabel=r"$\theta_1$", xlim=(-1.0, 2.0), ylim=(-2.5, 2.0))
    ax0.set_ylabel(r"$\theta_2$")
    return fig


# ----------------------------------------------------------------------------------- SGLD linreg
@dataclass(frozen=True)
class LinregResult:
    """Constant-step SGLD on Bayesian linear regression, several data sets, against closed forms.

    The steps are set per data set in units of the posterior's largest precision eigenvalue,
    ``eps = h / lambda_max``, so that ``h`` is the step in units of the fastest relaxation time; the
    bias is measured along the top eigenvector ``u`` of the precision (the direction the step biases
    most): ``u' Sigma_hat u / u' Sigma u - 1``.

    Attributes:
        h: dimensionless steps ``(H,)``; data_seeds: the data sets ``(D,)`` (chain seeds are
        separate). mu, cov: exact posterior means ``(D, d)`` and covariances ``(D, d, d)``. lam:
        eigenvalues of the posterior precision ``(D, d)``, ascending. eps: the steps ``(D, H)``;
        burn_in: burn-in steps per data set ``(D,)``. means, mean_se: SGLD sample means and their
        Monte Carlo standard errors ``(D, H, d)`` (from
            the spread of the chains' time averages).
        covs: SGLD sample covariances ``(D, H, d, d)``.
        top_bias, top_bias_se: relative variance error along ``u`` and its Monte Carlo standard
            error (ten groups of chains) ``(D, H)``.
        top_theory: the same from the discrete Lyapunov equation ``(D, H)``
            (:func:`~dltheory.bayes.sgld.linreg_stationary_covariance`).
        top_euler: the same without the minibatch noise (the Euler step's bias alone) ``(D, H)``.
        slopes, theory_slopes: log-log slopes of ``top_bias`` and ``top_theory`` against ``h``
        ``(D,)``. z_max: largest ``|mean - mu| / se`` over data sets, steps and coordinates.
        z_rival: the same for the likelihood-only mean ``(X'X)^{-1} X'y`` (a sampler without the
        prior). sgd_cov: covariance of constant-step SGD (no injected noise) on the first data set
        at ``h[-1]``. batch_size, n_data, n_chains, n_steps: sizes.
    """

    h: np.ndarray
    data_seeds: np.ndarray
    mu: np.ndarray
    cov: np.ndarray
    lam: np.ndarray
    eps: np.ndarray
    burn_in: np.ndarray
    means: np.ndarray
    mean_se: np.ndarray
    covs: np.ndarray
    top_bias: np.ndarray
    top_bias_se: np.ndarray
    top_theory: np.ndarray
    top_euler: np.ndarray
    slopes: np.ndarray
    theory_slopes: np.ndarray
    z_max: float
    z_rival: float
    sgd_cov: np.ndarray
    batch_size: int
    n_data: int
    n_chains: int
    n_steps: int


def sgld_linreg_experiment(
    *,
    h=(0.025, 0.05, 0.1, 0.2),
    data_seeds=(1, 2, 3, 4, 5),
    n_data: int = 200,
    batch_size: int = 10,
    burn_in_relaxations: float = 20.0,
    scale: str = "book",
    seed: int = 0,
) -> LinregResult:
    """Constant-step SGLD at several steps on several 2-D Bayesian linear regressions
    (``sigma = tau = 1``).

    Per data set, ``C`` chains start at ``N(0, I)`` and burn in at the largest step for
    ``burn_in_relaxations / (eps_max lambda_min)`` steps (the mean relaxes at the rate
    ``eps lambda_min / 2`` per step, so its start is forgotten to
    ``exp(-burn_in_relaxations / 2)``); their states start every step size, all ``H C`` chains in
    one array, for ``n_steps`` steps, of which the last 80% are kept. ``seed`` seeds the chains
    only; the data come from ``data_seeds``.
    """
    from dltheory.bayes.sgld import linreg_stationary_covariance

    sz = _scale(scale)
    h = checks.real_array("h", h, low=0, low_open=True, high=2.0, ndim=1)
    seeds = [checks.seed(int(ds), "data_seeds") for ds in np.atleast_1d(data_seeds)]
    N = checks.integer("n_data", n_data, low=2)
    n = checks.integer("batch_size", batch_size, high=N)
    relax = checks.positive("burn_in_relaxations", burn_in_relaxations)
    seed = checks.seed(seed)
    C, T = sz["linreg_chains"], sz["linreg_steps"]
    keep, G = int(0.8 * T), 10
    out = {
        k: []
        for k in (
            "mu",
            "cov",
            "lam",
            "eps",
            "burn",
            "means",
            "se",
            "covs",
            "top",
            "top_se",
            "theory",
            "euler",
            "zr",
        )
    }
    for k, ds in enumerate(seeds):
        X, y, _ = linreg_data(n=N, d=2, seed=ds)
        mu, S = linreg_posterior(X, y, sigma=1.0, tau=1.0)
        lam, U = np.linalg.eigh(np.linalg.inv(S))
        u, eps = U[:, -1], h / lam[-1]
        Tb = int(math.ceil(relax / (eps.max() * lam[0])))
        start = sgld_linreg(
            X,
            y,
            sigma=1.0,
            tau=1.0,
            eps=eps.max(),
            batch_size=n,
            n_chains=C,
            n_steps=Tb,
            n_keep=1,
            seed=1000 * seed + 10 * k + 1,
        )[-1, 0]
        s = sgld_linreg(
            X,
            y,
            sigma=1.0,
            tau=1.0,
            eps=eps,
            batch_size=n,
            n_chains=C,
            n_steps=T,
            n_keep=keep,
            init=np.broadcast_to(start, (h.size, C, 2)),
            seed=1000 * seed + 10 * k + 2,
        )
        means, se = s.mean((0, 2)), s.mean(0).std(1, ddof=1) / np.sqrt(C)
        uSu = u @ S @ u
        top = np.array(
            [[np.var(g @ u) / uSu - 1 for g in np.split(s[:, j], G, axis=1)] for j in range(h.size)]
        )
        w_ml = np.linalg.solve(X.T @ X, X.T @ y)
        out["zr"].append((np.abs(w_ml - mu) / se).max())
        for key, v in (
            ("mu", mu),
            ("cov", S),
            ("lam", lam),
            ("eps", eps),
            ("burn", Tb),
            ("means", means),
            ("se", se),
            ("top", [np.var(s[:, j] @ u) / uSu - 1 for j in range(h.size)]),
            ("top_se", top.std(1, ddof=1) / np.sqrt(G)),
            ("covs", [np.cov(s[:, j].reshape(-1, 2).T) for j in range(h.size)]),
            (
                "theory",
                [
                    u
                    @ linreg_stationary_covariance(X, y, sigma=1.0, tau=1.0, eps=e, batch_size=n)
                    @ u
                    / uSu
                    - 1
                    for e in eps
                ],
            ),
            (
                "euler",
                [
                    u
                    @ linreg_stationary_covariance(X, y, sigma=1.0, tau=1.0, eps=e, batch_size=N)
                    @ u
                    / uSu
                    - 1
                    for e in eps
                ],
            ),
        ):
            out[key].append(v)
        if k == 0:
            X0, y0, eps0, start0 = X, y, eps[-1], start
    o = {k: np.array(v) for k, v in out.items()}
    z = np.abs(o["means"] - o["mu"][:, None]) / o["se"]
    fit = lambda b: np.array([np.polyfit(np.log(h), np.log(r), 1)[0] for r in b])  # noqa: E731
    with np.errstate(invalid="ignore"):
        slopes = fit(o["top"])
    sgd = sgld_linreg(
        X0,
        y0,
        sigma=1.0,
        tau=1.0,
        eps=eps0,
        batch_size=n,
        n_chains=C,
        n_steps=T // 2,
        n_keep=T // 4,
        init=start0[None],
        noise=False,
        seed=1000 * seed + 3,
    )
    return LinregResult(
        h,
        np.array(seeds),
        o["mu"],
        o["cov"],
        o["lam"],
        o["eps"],
        o["burn"],
        o["means"],
        o["se"],
        o["covs"],
        o["top"],
        o["top_se"],
        o["theory"],
        o["euler"],
        slopes,
        fit(o["theory"]),
        float(z.max()),
        float(o["zr"].max()),
        np.cov(sgd.reshape(-1, 2).T),
        n,
        N,
        C,
        T,
    )


@figures.register("extensions/sgld-bias", compute=functools.partial(sgld_linreg_experiment, seed=0))
def _plot_sgld_bias(d: LinregResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    for k, ds in enumerate(d.data_seeds):
        col = figures.PALETTE[k % len(figures.PALETTE)]
        ax0.errorbar(
            d.h,
            d.top_bias[k],
            yerr=2 * d.top_bias_se[k],
            fmt="o",
            ms=3,
            color=col,
            capsize=2,
            label=f"data set {ds} (experiment)" if k < 2 else None,
        )
        ax0.plot(d.h, d.top_theory[k], color=col, lw=1.0, alpha=0.7)
    ax0.plot(d.h, d.top_euler.mean(0), "k:", lw=1.0, label="Euler bias alone (no minibatch noise)")
    ax0.plot([], [], color="0.4", lw=1.0, label="discrete Lyapunov (theory)")
    ax0.set(
        xscale="log",
        yscale="log",
        xlabel=r"step $h = \epsilon\lambda_{\max}$",
        ylabel=r"$u^\top\hat\Sigma u / u^\top\Sigma u - 1$",
    )
    ax0.set_xticks(d.h, [f"{v:g}" for v in d.h])
    ax0.xaxis.set_minor_formatter(plt.NullFormatter())
    ax0.legend(fontsize=7)
    mu, cov = d.mu[0], d.cov[0]
    t = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(t), np.sin(t)])

    def ellipse(ax, cov, mean, **kw):
        L = np.linalg.cholesky(cov)
        pts = mean[:, None] + 2 * L @ circle
        ax.plot(*pts, **kw)

    ellipse(ax1, cov, mu, color="k", ls="--", lw=1.2, label="posterior (closed form)")
    ellipse(
        ax1, d.covs[0, 0], d.means[0, 0], color=figures.PALETTE[1], label=rf"SGLD, $h={d.h[0]:g}$"
    )
    ellipse(
        ax1,
        d.covs[0, -1],
        d.means[0, -1],
        color=figures.PALETTE[2],
        label=rf"SGLD, $h={d.h[-1]:g}$",
    )
    ellipse(
        ax1,
        d.sgd_cov,
        mu,
        color=figures.PALETTE[3],
        ls=":",
        label=rf"SGD, no injected noise, $h={d.h[-1]:g}$",
    )
    ax1.set(xlabel=r"$w_1$", ylabel=r"$w_2$")
    ax1.set_title(r"2-standard-deviation ellipses", fontsize=9)
    ax1.legend(fontsize=8)
    return fig
