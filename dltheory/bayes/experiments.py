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
from dltheory.bayes.sgld import histogram_tv, linreg_stationary_bias, sgld_linreg, sgld_mixture, step_sizes

__all__ = [
    "FreeEnergyResult",
    "free_energy_experiment",
    "MixtureResult",
    "sgld_mixture_experiment",
    "LinregResult",
    "sgld_linreg_experiment",
    "SIZES",
]

#: Sizes of the experiments at each scale ("full": the paper's 10^4-sweep runs are out of reach for a
#: vectorised CPU run; it uses ten times the chains and steps of the book).
SIZES = {
    "book": dict(mixture_chains=1000, mixture_steps=30_000, linreg_chains=1000, linreg_steps=2_500),
    "full": dict(mixture_chains=10_000, mixture_steps=300_000, linreg_chains=10_000, linreg_steps=25_000),
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


def free_energy_experiment(*, betas=(0.5, 2.0, 8.0), n_grid: int = 601, n_directions: int = 200, scale: str = "book", seed: int = 0) -> FreeEnergyResult:
    """Check ``min_q E_q L + KL(q||p0)/beta = -log Z / beta`` at ``q*`` on a double-well loss.

    The loss is ``L = (theta^2 - 1)^2 + theta / 4`` on ``[-3, 3]``; each perturbation tilts ``q*`` by a
    random smooth direction ``h`` (a random combination of ten cosines) with steps ``s`` in ``[-2, 2]``.
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
    return FreeEnergyResult(theta, loss, prior, betas, np.array(posts), float(ident), float(excess), float(kl_err),
                            int((D // len(betas)) * len(betas) * (len(steps) - 1)), ps, pe, pk)


@figures.register("extensions/free-energy", compute=functools.partial(free_energy_experiment, seed=0))
def _plot_free_energy(d: FreeEnergyResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.5))
    dx = d.theta[1] - d.theta[0]
    ax0.plot(d.theta, d.loss, color="0.3", lw=1.2, label=r"loss $L(\theta)$")
    ax0.set(xlabel=r"parameter $\theta$", ylabel=r"loss $L(\theta)$", ylim=(-1, 6))
    ax0b = ax0.twinx()
    ax0b.plot(d.theta, d.prior / dx, color="0.6", ls=":", label=r"prior $p_0$")
    for k, (beta, q) in enumerate(zip(d.betas, d.posteriors)):
        ax0b.plot(d.theta, q / dx, color=figures.PALETTE[k + 1], label=rf"Gibbs $q^*$, $\beta={beta:g}$")
    ax0b.set_ylabel("density")
    h0, l0 = ax0.get_legend_handles_labels()
    h1, l1 = ax0b.get_legend_handles_labels()
    ax0.legend(h0 + h1, l0 + l1, loc="upper center", fontsize=8)
    ax1.plot(d.path_steps, d.path_excess, color=figures.PALETTE[1], lw=2.5, alpha=0.6,
             label=r"$F(q_s) - F(q^*)$ (computed)")
    ax1.plot(d.path_steps, d.path_kl, "k--", lw=1.0, label=r"$\mathrm{KL}(q_s\,\|\,q^*)/\beta$ (theory)")
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
        mode_fraction_se: Monte Carlo standard error of ``mode_fraction`` (chains as independent units).
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
    n_chains: int
    n_steps: int


def sgld_mixture_experiment(*, eps_start: float = 0.01, eps_end: float = 1e-4, gamma: float = 0.55, keep_fraction: float = 1 / 3, thin: int = 50, data_seed: int = 3, scale: str = "book", seed: int = 0) -> MixtureResult:
    """SGLD (batch size 1, ``eps_t = a (b + t)^(-gamma)`` from ``eps_start`` to ``eps_end``) on the mixture.

    The chains start at ``N(0, I)``; the last ``keep_fraction`` of the steps, thinned by ``thin``, are the
    samples. The grid covers ``[-1.5, 2.5] x [-3, 3]`` in bins of 0.1.

    ``data_seed`` draws the 100 data points. With 100 points the two mixture components overlap so
    much that most data sets give a single broad ridge rather than two modes (seeds 0, 1, 2: the
    density between the modes is 99% of the maximum); seed 3 is the first to give Welling & Teh's
    picture, modes at (0, 1) and (1, -1) separated by a valley at 57% of the maximum.
    """
    sz = _scale(scale)
    eps_start, eps_end = checks.positive("eps_start", eps_start), checks.positive("eps_end", eps_end)
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
    return MixtureResult(x, e1, e2, mass, s, eps, histogram_tv(s, mass, e1, e2), float(in_a.mean()),
                         float(mass[:, 30:].sum()), float(per_chain.std(ddof=1) / np.sqrt(C)), C, T)


@figures.register("extensions/sgld-mixture", compute=functools.partial(sgld_mixture_experiment, seed=0))
def _plot_sgld_mixture(d: MixtureResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.8), sharex=True, sharey=True)
    c1, c2 = (d.edges1[:-1] + d.edges1[1:]) / 2, (d.edges2[:-1] + d.edges2[1:]) / 2
    h, _, _ = np.histogram2d(*d.samples.reshape(-1, 2).T, bins=[d.edges1, d.edges2])
    vmax = d.grid_mass.max()
    ax0.pcolormesh(d.edges1, d.edges2, d.grid_mass.T, cmap="Blues", vmin=0, vmax=vmax, shading="flat")
    ax0.set_title("grid posterior (exact)", fontsize=9)
    ax1.pcolormesh(d.edges1, d.edges2, (h / h.sum()).T, cmap="Blues", vmin=0, vmax=vmax, shading="flat")
    ax1.contour(c1, c2, d.grid_mass.T, levels=vmax * np.array([0.1, 0.5]), colors="k", linewidths=0.8)
    ax1.set_title(f"SGLD, {d.n_chains} chains (experiment); contours: grid", fontsize=9)
    for ax in (ax0, ax1):
        ax.set(xlabel=r"$\theta_1$", xlim=(-1.0, 2.0), ylim=(-2.5, 2.0))
    ax0.set_ylabel(r"$\theta_2$")
    return fig


# ----------------------------------------------------------------------------------- SGLD linreg
@dataclass(frozen=True)
class LinregResult:
    """Constant-step SGLD on Bayesian linear regression against the closed-form Gaussian posterior.

    Attributes:
        mu, cov: the exact posterior mean ``(d,)`` and covariance ``(d, d)``.
        eps: the constant steps ``(S,)``.
        means: SGLD sample means ``(S, d)``; mean_se: their Monte Carlo standard errors ``(S, d)``
            (from the spread of the chains' time averages).
        covs: SGLD sample covariances ``(S, d, d)``.
        bias: relative Frobenius error of the covariance, per step ``(S,)``.
        slope, intercept: log-log least-squares fit of ``bias`` against ``eps``.
        sgd_cov: covariance of constant-step SGD (no injected noise) at ``eps[-1]``.
        batch_size, n_data, n_chains, n_steps: sizes.
    """

    mu: np.ndarray
    cov: np.ndarray
    eps: np.ndarray
    means: np.ndarray
    mean_se: np.ndarray
    covs: np.ndarray
    bias: np.ndarray
    slope: float
    intercept: float
    sgd_cov: np.ndarray
    batch_size: int
    n_data: int
    n_chains: int
    n_steps: int


def sgld_linreg_experiment(*, eps=(6.25e-5, 1.25e-4, 2.5e-4, 5e-4), n_data: int = 200, batch_size: int = 10, burn_in: int = 500, scale: str = "book", seed: int = 0) -> LinregResult:
    """Constant-step SGLD at several steps, all chains in one array, on 2-D Bayesian linear regression.

    ``sigma = tau = 1``. A burn-in of ``burn_in`` steps at the largest step brings the chains from
    ``N(0, I)`` into the posterior's neighbourhood; then every step size runs ``n_steps`` steps, of which
    the last 80% are kept.
    """
    sz = _scale(scale)
    eps = checks.real_array("eps", eps, low=0, low_open=True, ndim=1)
    N = checks.integer("n_data", n_data, low=2)
    n = checks.integer("batch_size", batch_size, high=N)
    burn_in = checks.integer("burn_in", burn_in)
    C, T = sz["linreg_chains"], sz["linreg_steps"]
    X, y, _ = linreg_data(n=N, d=2, seed=checks.seed(seed))
    mu, S = linreg_posterior(X, y, sigma=1.0, tau=1.0)
    start = sgld_linreg(X, y, sigma=1.0, tau=1.0, eps=eps.max(), batch_size=n, n_chains=C * eps.size,
                        n_steps=burn_in, n_keep=1, seed=seed + 1)[-1, 0].reshape(eps.size, C, 2)
    keep = int(0.8 * T)
    s = sgld_linreg(X, y, sigma=1.0, tau=1.0, eps=eps, batch_size=n, n_chains=C, n_steps=T, n_keep=keep,
                    init=start, seed=seed + 2)
    means = s.mean((0, 2))
    se = s.mean(0).std(1, ddof=1) / np.sqrt(C)
    covs = np.array([np.cov(s[:, k].reshape(-1, 2).T) for k in range(eps.size)])
    bias = np.array([linreg_stationary_bias(c, S) for c in covs])
    slope, intercept = np.polyfit(np.log(eps), np.log(bias), 1)
    sgd = sgld_linreg(X, y, sigma=1.0, tau=1.0, eps=eps.max(), batch_size=n, n_chains=C, n_steps=T // 2,
                      n_keep=T // 4, init=start[-1:], noise=False, seed=seed + 3)
    return LinregResult(mu, S, eps, means, se, covs, bias, float(slope), float(intercept),
                        np.cov(sgd.reshape(-1, 2).T), n, N, C, T)


@figures.register("extensions/sgld-bias", compute=functools.partial(sgld_linreg_experiment, seed=0))
def _plot_sgld_bias(d: LinregResult):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax0.loglog(d.eps, d.bias, "o", color=figures.PALETTE[1], label="SGLD (experiment)")
    e = np.geomspace(d.eps.min() / 1.5, d.eps.max() * 1.5, 20)
    ax0.loglog(e, np.exp(d.intercept) * e**d.slope, color=figures.PALETTE[1], lw=1.0,
               label=rf"fit, slope {d.slope:.2f}")
    ax0.loglog(e, d.bias[0] * e / d.eps[0], "k--", lw=1.0, label=r"slope 1 (theory, $O(\epsilon)$)")
    ax0.set(xlabel=r"step $\epsilon$", ylabel=r"$\|\hat\Sigma - \Sigma\|_F / \|\Sigma\|_F$")
    ax0.set_xticks(d.eps, [f"{e:.3g}" for e in d.eps])
    ax0.xaxis.set_minor_formatter(plt.NullFormatter())
    ax0.legend(fontsize=8)
    t = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(t), np.sin(t)])

    def ellipse(ax, cov, mean, **kw):
        L = np.linalg.cholesky(cov)
        pts = mean[:, None] + 2 * L @ circle
        ax.plot(*pts, **kw)

    ellipse(ax1, d.cov, d.mu, color="k", ls="--", lw=1.2, label="posterior (closed form)")
    ellipse(ax1, d.covs[0], d.means[0], color=figures.PALETTE[1], label=rf"SGLD, $\epsilon={d.eps[0]:.2g}$")
    ellipse(ax1, d.covs[-1], d.means[-1], color=figures.PALETTE[2], label=rf"SGLD, $\epsilon={d.eps[-1]:.2g}$")
    ellipse(ax1, d.sgd_cov, d.mu, color=figures.PALETTE[3], ls=":",
            label=rf"SGD, no injected noise, $\epsilon={d.eps[-1]:.2g}$")
    ax1.set(xlabel=r"$w_1$", ylabel=r"$w_2$")
    ax1.set_title(r"2-standard-deviation ellipses", fontsize=9)
    ax1.legend(fontsize=8)
    return fig
