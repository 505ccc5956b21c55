"""The chapter's experiments (seeded, sized by ``scale``), their typed results, and the registered
figures.

Each ``*_experiment`` function returns a frozen dataclass; each figure is registered with
``figures.register(id, compute=...)`` on a function ``plot(data) -> Figure``. The captions live in
the chapter (``book/meanfield.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from dltheory import _checks as checks
from dltheory import figures
from dltheory.device import scale as pick_scale
from dltheory.meanfield.finite import (
    DecayFit,
    FluctuationTheory,
    Simulation,
    decay_length,
    fluctuation_theory,
    log_rate,
    simulate,
)
from dltheory.meanfield.maps import c_star, chi1, critical_line, iterate_maps, q_star, xi_c, xi_q
from dltheory.meanfield.spectra import IsometryPrediction, isometry_prediction, jacobian_spectrum
from dltheory.meanfield.trainability import TrainGrid, max_trainable_depth, train_grid

__all__ = [
    "MapsData",
    "maps_experiment",
    "PhaseData",
    "phase_experiment",
    "DepthScaleData",
    "depth_scale_experiment",
    "FiniteWidthData",
    "FiniteWidthSummary",
    "finite_width_experiment",
    "finite_width_summary",
    "DepthScaleFit",
    "depth_scale_fit_experiment",
    "GradientData",
    "gradient_experiment",
    "IsometryCase",
    "IsometryData",
    "ISOMETRY_CASES",
    "isometry_experiment",
    "TrainabilityData",
    "trainability_experiment",
]

#: Font sizes of the three-panel figures (shown ~7.5 in wide on the page; 8 pt stays readable
#: there).
_SMALL = 8.0


# --------------------------------------------------------------------------------------------- maps
@dataclass(frozen=True)
class MapsData:
    """Length and correlation maps iterated from several starting points (:func:`maps_experiment`).

    Attributes:
        sigma_w2: the two weight variances (ordered, chaotic); ``sigma_b2``: the bias variance.
        depth: number of layers.
        q0: the four target first-layer lengths; ``c0``: the four input cosines.
        q_traj: per ``sigma_w2``, the lengths ``(depth, 4)``; ``c_traj``: the correlations
        ``(depth, 4)``. q_star, c_star, chi1: per ``sigma_w2``, the fixed points and chi_1.
    """

    sigma_w2: np.ndarray
    sigma_b2: float
    depth: int
    q0: np.ndarray
    c0: np.ndarray
    q_traj: tuple[np.ndarray, ...]
    c_traj: tuple[np.ndarray, ...]
    q_star: np.ndarray
    c_star: np.ndarray
    chi1: np.ndarray


def maps_experiment(sigma_b2: float = 0.05, sigma_w2=(1.3, 3.0), depth: int = 25) -> MapsData:
    """Length and correlation maps of tanh iterated from several starting points (ordered and
    chaotic).

    Example:
        >>> d = maps_experiment(depth=3)
        >>> d.q_traj[0].shape
        (3, 4)
    """
    sw_all = checks.real_array("sigma_w2", sigma_w2, low=0.0, low_open=True, ndim=1)
    q0 = np.array([0.05, 0.5, 1.5, 3.0])
    c0 = np.array([0.0, 0.3, 0.6, 0.9])
    qt, ct, qs_, cs_, ch_ = [], [], [], [], []
    for sw in sw_all:
        sw = float(sw)
        qs = q_star("tanh", sw, sigma_b2)
        qt.append(
            iterate_maps(
                "tanh", sw, sigma_b2, q0=(q0 - sigma_b2).clip(1e-3) / sw, c0=0.5, depth=depth
            ).q
        )
        ct.append(iterate_maps("tanh", sw, sigma_b2, q0=(qs - sigma_b2) / sw, c0=c0, depth=depth).c)
        qs_.append(qs)
        cs_.append(c_star("tanh", sw, sigma_b2))
        ch_.append(chi1("tanh", sw, sigma_b2))
    return MapsData(
        sigma_w2=sw_all,
        sigma_b2=float(sigma_b2),
        depth=depth,
        q0=q0,
        c0=c0,
        q_traj=tuple(qt),
        c_traj=tuple(ct),
        q_star=np.array(qs_),
        c_star=np.array(cs_),
        chi1=np.array(ch_),
    )


@figures.register("meanfield/maps", compute=maps_experiment)
def _plot_maps(d: MapsData):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(7.5, 5.2), sharex=True)
    layers = np.arange(1, d.depth + 1)
    for i, sw in enumerate(d.sigma_w2):
        phase = "ordered" if d.chi1[i] < 1 else "chaotic"
        ax = axes[0, i]
        for j in range(d.q0.size):
            ax.plot(
                layers, d.q_traj[i][:, j], marker=".", ms=3, label=f"$q^1={d.q_traj[i][0, j]:.2f}$"
            )
        ax.axhline(d.q_star[i], color="k", ls="--", lw=1, label="$q^*$ (fixed point)")
        ax.set_title(rf"{phase}: $\sigma_w^2={sw}$, $\chi_1={d.chi1[i]:.2f}$")
        ax.set_ylabel("length $q^l$")
        ax.legend(fontsize=_SMALL)
        ax = axes[1, i]
        for j in range(d.c0.size):
            ax.plot(layers, d.c_traj[i][:, j], marker=".", ms=3, label=f"$c^0={d.c0[j]:.1f}$")
        ax.axhline(d.c_star[i], color="k", ls="--", lw=1, label="$c^*$ (fixed point)")
        ax.set_xlabel("layer $l$")
        ax.set_ylabel("correlation $c^l$")
        ax.legend(fontsize=_SMALL)
    return fig


# ------------------------------------------------------------------------------------ phase diagram
@dataclass(frozen=True)
class PhaseData:
    """chi_1 and xi_c over a (sigma_b^2, sigma_w^2) grid and the critical line
    (:func:`phase_experiment`).

    Attributes:
        sigma_w2: ``(n,)`` axis; ``sigma_b2``: ``(n,)`` axis.
        chi1, xi_c: ``(n, n)`` arrays indexed ``[sigma_b2, sigma_w2]``.
        critical_sigma_w2, critical_q: the critical line at each ``sigma_b2``.
    """

    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    chi1: np.ndarray
    xi_c: np.ndarray
    critical_sigma_w2: np.ndarray
    critical_q: np.ndarray


def phase_experiment(
    n: int = 100, sigma_w2_max: float = 4.0, sigma_b2_max: float = 0.3
) -> PhaseData:
    """chi_1 and xi_c of tanh over an n x n (sigma_w^2, sigma_b^2) grid, and the critical line.

    Example:
        >>> phase_experiment(n=3).xi_c.shape
        (3, 3)
    """
    n = checks.integer("n", n, low=2, high=4000)
    sw = np.linspace(0.5, sigma_w2_max, n)
    sb = np.linspace(0.0, sigma_b2_max, n)
    SW, SB = np.meshgrid(sw, sb)
    crit_sw, crit_q = critical_line("tanh", sb)
    return PhaseData(
        sigma_w2=sw,
        sigma_b2=sb,
        chi1=chi1("tanh", SW, SB),
        xi_c=xi_c("tanh", SW, SB),
        critical_sigma_w2=crit_sw,
        critical_q=crit_q,
    )


@figures.register("meanfield/phase-diagram", compute=phase_experiment)
def _plot_phase(d: PhaseData):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    xi = np.clip(d.xi_c, 1e-1, 1e3)
    im = ax.pcolormesh(d.sigma_w2, d.sigma_b2, xi, norm=LogNorm(vmin=0.5, vmax=1e3), shading="auto")
    fig.colorbar(im, ax=ax, label=r"depth scale $\xi_c$ (layers)")
    ok = np.isfinite(d.critical_sigma_w2)
    ax.plot(
        d.critical_sigma_w2[ok],
        d.sigma_b2[ok],
        "k",
        lw=2,
        label=r"critical line $\chi_1 = 1$ (theory)",
    )
    ax.set_xlim(d.sigma_w2[0], d.sigma_w2[-1])
    ax.text(0.9, 0.2, "ordered\n$\\chi_1<1$", color="w", fontsize=11)
    ax.text(3.0, 0.05, "chaotic\n$\\chi_1>1$", color="w", fontsize=11)
    ax.set_xlabel(r"weight variance $\sigma_w^2$")
    ax.set_ylabel(r"bias variance $\sigma_b^2$")
    ax.legend(loc="upper right")
    return fig


# ------------------------------------------------------------------------------------- depth scales
@dataclass(frozen=True)
class DepthScaleData:
    """xi_q and xi_c against sigma_w^2 at fixed sigma_b^2 (:func:`depth_scale_experiment`).

    Attributes:
        sigma_w2: ``(n,)``; ``sigma_b2``: scalar; ``xi_q``, ``xi_c``: ``(n,)``; ``critical``: the
        critical ``sigma_w^2``.
    """

    sigma_w2: np.ndarray
    sigma_b2: float
    xi_q: np.ndarray
    xi_c: np.ndarray
    critical: float


def depth_scale_experiment(sigma_b2: float = 0.05, n: int = 300) -> DepthScaleData:
    """xi_q and xi_c of tanh against sigma_w^2 in [1, 4] at fixed sigma_b^2 (as in the review's
    code).

    Example:
        >>> depth_scale_experiment(n=4).xi_c.shape
        (4,)
    """
    n = checks.integer("n", n, low=2, high=100_000)
    sw = np.linspace(1.0, 4.0, n)
    return DepthScaleData(
        sigma_w2=sw,
        sigma_b2=float(sigma_b2),
        xi_q=xi_q("tanh", sw, sigma_b2),
        xi_c=xi_c("tanh", sw, sigma_b2),
        critical=float(critical_line("tanh", sigma_b2)[0]),
    )


@figures.register("meanfield/depth-scales", compute=depth_scale_experiment)
def _plot_depth(d: DepthScaleData):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.semilogy(d.sigma_w2, d.xi_c, label=r"$\xi_c$ (theory)")
    ax.semilogy(d.sigma_w2, d.xi_q, label=r"$\xi_q$ (theory)")
    ax.axvline(d.critical, color="k", ls=":", label=rf"critical $\sigma_w^2={d.critical:.3f}$")
    ax.set_xlabel(r"weight variance $\sigma_w^2$")
    ax.set_ylabel("depth scale (layers)")
    ax.legend()
    return fig


# ------------------------------------------------------------------------------------- finite width
@dataclass(frozen=True)
class FiniteWidthData:
    """Random tanh networks against the mean-field recursion (:func:`finite_width_experiment`).

    Attributes:
        sigma_w2: the settings; ``width``, ``depth``, ``n_seeds``: of the main simulation.
        sims: per setting, the :class:`Simulation` at ``width``.
        theories: per setting, the :class:`FluctuationTheory` at ``width``.
        widths: the widths of the scaling study; ``dev_q``, ``dev_c``: ``(settings, widths)`` RMS
        deviations from mean field (relative for ``q``).
    """

    sigma_w2: np.ndarray
    width: int
    depth: int
    n_seeds: int
    sims: tuple[Simulation, ...]
    theories: tuple[FluctuationTheory, ...]
    widths: np.ndarray
    dev_q: np.ndarray
    dev_c: np.ndarray


def finite_width_experiment(
    sigma_w2=(1.3, 3.0),
    sigma_b2: float = 0.05,
    width: int = 1000,
    depth: int = 60,
    n_seeds: int = 8,
    widths=(64, 128, 256, 512, 1024),
    q0: float = 1.0,
    c0: float = 0.2,
    seed: int = 0,
) -> FiniteWidthData:
    """Measured q^l, c^l of random tanh networks vs the mean-field recursion and its predicted
    fluctuations.

    Example:
        >>> d = finite_width_experiment(
        ...     sigma_w2=(1.3,), width=16, depth=3, n_seeds=2, widths=(8, 16)
        ... )
        >>> d.dev_q.shape
        (1, 2)
    """
    sw_all = checks.real_array("sigma_w2", sigma_w2, low=0.0, low_open=True, ndim=1)
    widths = tuple(checks.integer("widths", w, low=2, high=100_000) for w in widths)
    sims, ths, dq_all, dc_all = [], [], [], []
    for sw in sw_all:
        sw = float(sw)
        common = dict(sigma_w2=sw, sigma_b2=sigma_b2, depth=depth, q0=q0, c0=c0, n_seeds=n_seeds)
        sim = simulate(width=width, seed=seed, **common)
        th = fluctuation_theory(
            sigma_w2=sw, sigma_b2=sigma_b2, width=width, depth=depth, q0=q0, c0=c0
        )
        dq, dc = [], []
        for N in widths:
            s = simulate(width=N, seed=seed + 1, **common)
            dq.append(np.sqrt(np.mean(((s.q_a - th.q) / th.q) ** 2)))
            dc.append(np.sqrt(np.mean((s.c - th.c) ** 2)))
        sims.append(sim)
        ths.append(th)
        dq_all.append(dq)
        dc_all.append(dc)
    return FiniteWidthData(
        sigma_w2=sw_all,
        width=width,
        depth=depth,
        n_seeds=n_seeds,
        sims=tuple(sims),
        theories=tuple(ths),
        widths=np.asarray(widths),
        dev_q=np.array(dq_all),
        dev_c=np.array(dc_all),
    )


@dataclass(frozen=True)
class FiniteWidthSummary:
    """Agreement of :class:`FiniteWidthData` with theory (:func:`finite_width_summary`).

    Attributes:
        z_q, z_c: per setting, z-scores ``(measured - mean field) / predicted sd``,
        ``(n_seeds, depth)``. rms_z_q, rms_z_c: per setting, their RMS. rms_q, rms_c: RMS over all
        settings and layers (1 when the fluctuation theory is right). slope_q, slope_c: log-log
        slope of the RMS deviation against width, averaged in log over the
            settings (-1/2 by the central limit theorem).
        sampling_rms_q, sampling_rms_c: the RMS z-score expected if the measured kernel had only its
            own Wishart sampling noise (sd ``q sqrt(2/N)`` and ``(1 - c^2) / sqrt(N)``), no noise
            propagated from earlier layers: ``sqrt(mean(sd_sampling^2 / sd^2))``.
        propagated_rms_q, propagated_rms_c: the same if it had only the propagated noise, without
            its own sampling noise: ``sqrt(mean(1 - sd_sampling^2 / sd^2))``.
    """

    z_q: tuple[np.ndarray, ...]
    z_c: tuple[np.ndarray, ...]
    rms_z_q: np.ndarray
    rms_z_c: np.ndarray
    rms_q: float
    rms_c: float
    slope_q: float
    slope_c: float
    sampling_rms_q: float
    sampling_rms_c: float
    propagated_rms_q: float
    propagated_rms_c: float


def finite_width_summary(data: FiniteWidthData) -> FiniteWidthSummary:
    """z-scores and width scaling of :func:`finite_width_experiment`, as the chapter's claims use
    them.

    Example:
        >>> d = finite_width_experiment(
        ...     sigma_w2=(1.3,), width=16, depth=3, n_seeds=2, widths=(8, 16)
        ... )
        >>> finite_width_summary(d).z_q[0].shape
        (2, 3)
    """
    if not isinstance(data, FiniteWidthData):
        raise TypeError(f"data must be a FiniteWidthData; got {type(data).__name__}")
    z_q = tuple((s.q_a - t.q) / t.sd_q for s, t in zip(data.sims, data.theories, strict=False))
    z_c = tuple((s.c - t.c) / t.sd_c for s, t in zip(data.sims, data.theories, strict=False))
    log_n = np.log(data.widths)
    slope_q = float(np.polyfit(log_n, np.mean(np.log(data.dev_q), axis=0), 1)[0])
    slope_c = float(np.polyfit(log_n, np.mean(np.log(data.dev_c), axis=0), 1)[0])
    rms = lambda zs: np.array([np.sqrt(np.mean(z**2)) for z in zs])  # noqa: E731
    # share of the predicted variance that is the measured kernel's own sampling noise (<= 1 for a
    # theory whose propagated part is a variance; clipped so that a wrong theory gives a finite
    # rival)
    share_q = np.clip([2 * t.q**2 / data.width / t.sd_q**2 for t in data.theories], 0, 1)
    share_c = np.clip([(1 - t.c**2) ** 2 / data.width / t.sd_c**2 for t in data.theories], 0, 1)
    return FiniteWidthSummary(
        z_q=z_q,
        z_c=z_c,
        rms_z_q=rms(z_q),
        rms_z_c=rms(z_c),
        rms_q=float(np.sqrt(np.mean(np.square(z_q)))),
        rms_c=float(np.sqrt(np.mean(np.square(z_c)))),
        slope_q=slope_q,
        slope_c=slope_c,
        sampling_rms_q=float(np.sqrt(share_q.mean())),
        sampling_rms_c=float(np.sqrt(share_c.mean())),
        propagated_rms_q=float(np.sqrt(np.mean(1 - share_q))),
        propagated_rms_c=float(np.sqrt(np.mean(1 - share_c))),
    )


@figures.register("meanfield/finite-width", compute=finite_width_experiment)
def _plot_finite(d: FiniteWidthData):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    layers = np.arange(1, d.depth + 1)
    for i, sw in enumerate(d.sigma_w2):
        sim, th = d.sims[i], d.theories[i]
        col = figures.PALETTE[i]
        for ax, mean, sd, meas in (
            (axes[0], th.q, th.sd_q, sim.q_a),
            (axes[1], th.c, th.sd_c, sim.c),
        ):
            ax.plot(layers, mean, color=col, label=rf"mean field, $\sigma_w^2={sw}$")
            ax.fill_between(layers, mean - 2 * sd, mean + 2 * sd, color=col, alpha=0.2)
            ax.plot(
                layers, meas.mean(0), ".", color=col, ms=4, label=rf"network, $\sigma_w^2={sw}$"
            )
        axes[2].loglog(d.widths, d.dev_q[i], "o", color=col, label=rf"$q$, $\sigma_w^2={sw}$")
        axes[2].loglog(
            d.widths, d.dev_c[i], "s", color=col, mfc="none", label=rf"$c$, $\sigma_w^2={sw}$"
        )
        ref = d.dev_q[i][0] * (d.widths / d.widths[0]) ** -0.5
        axes[2].loglog(d.widths, ref, "--", color=col, lw=1)
    axes[0].set_ylabel("length $q^l$")
    axes[1].set_ylabel("correlation $c^l$")
    for ax in axes[:2]:
        ax.set_xlabel("layer $l$")
    axes[0].legend(fontsize=_SMALL)
    axes[2].set_xlabel("width $N$")
    axes[2].set_ylabel("RMS deviation from mean field")
    axes[2].plot([], [], "k--", lw=1, label=r"$\propto N^{-1/2}$ (theory)")
    axes[2].legend(fontsize=_SMALL)
    _small_ticks(axes)
    return fig


def _small_ticks(axes) -> None:
    for ax in np.ravel(axes):
        ax.tick_params(labelsize=_SMALL + 1)
        ax.xaxis.label.set_size(_SMALL + 1.5)
        ax.yaxis.label.set_size(_SMALL + 1.5)


# ------------------------------------------------------------------ depth scales in finite networks
@dataclass(frozen=True)
class DepthScaleFit:
    """xi_c and xi_q measured in finite networks against theory
    (:func:`depth_scale_fit_experiment`).

    Attributes:
        sigma_w2, sigma_b2: the settings (tanh); ``width``, ``n_seeds``: of the networks.
        xi_c, xi_q: theory, per setting.
        fit_c, fit_q: per setting, the :class:`DecayFit` of ``|c^l - c*|`` and ``|q^l - q*|`` in the
        networks. mf_xi_c, mf_xi_q: per setting, the same fit (same window) applied to the
        mean-field
            recursion: its difference from theory is the transient (non-linear) part of the decay.
        c_traj, q_traj: per setting, the measured trajectories ``(n_seeds, depth)``.
        c_star, q_star: per setting, the fixed points.
    """

    sigma_w2: np.ndarray
    sigma_b2: float
    width: int
    n_seeds: int
    xi_c: np.ndarray
    xi_q: np.ndarray
    fit_c: tuple[DecayFit, ...]
    fit_q: tuple[DecayFit, ...]
    mf_xi_c: np.ndarray
    mf_xi_q: np.ndarray
    c_traj: tuple[np.ndarray, ...]
    q_traj: tuple[np.ndarray, ...]
    c_star: np.ndarray
    q_star: np.ndarray


def _mf_fit(traj: np.ndarray, x_star: float, fit: DecayFit) -> float:
    return decay_length(traj[None, :], x_star, first=fit.first, last=fit.last).xi


def depth_scale_fit_experiment(
    sigma_w2=(1.3, 3.0),
    sigma_b2: float = 0.05,
    width: int = 128,
    n_seeds: int = 256,
    depth_c: int = 24,
    depth_q: int = 8,
    n_seeds_q: int = 256,
    seed: int = 11,
) -> DepthScaleFit:
    """Fit the decay of ``|c^l - c*|`` and ``|q^l - q*|`` in random tanh networks; compare with
    xi_c, xi_q.

    For ``xi_c`` both inputs start at ``q*`` (so only the correlation relaxes) with ``c^1 = 0.9``
    (ordered, ``c* = 1``) or ``c^1 = c* + 0.3`` (chaotic; closer starts drown in the finite-width
    noise); for ``xi_q`` the inputs start at ``q^1 = 1.5 q*`` (``n_seeds_q`` networks of width
    ``2 width``: q relaxes within a few layers). The window of each fit ends where the seed mean
    falls below 10 (c) or 5 (q) standard errors of the finite-width noise.

    Example:
        >>> d = depth_scale_fit_experiment(
        ...     sigma_w2=(1.3,), width=64, n_seeds=64, depth_c=8, depth_q=5, n_seeds_q=256
        ... )
        >>> d.fit_c[0].first, d.fit_c[0].last > 3
        (1, True)
    """
    sw_all = checks.real_array("sigma_w2", sigma_w2, low=0.0, low_open=True, ndim=1)
    out = {k: [] for k in ("xc", "xq", "fc", "fq", "mc", "mq", "ct", "qt", "cs", "qs")}
    for k, sw in enumerate(sw_all):
        sw = float(sw)
        qs, cs = q_star("tanh", sw, sigma_b2), c_star("tanh", sw, sigma_b2)
        c1 = 0.9 if cs == 1.0 else cs + 0.3
        c0 = (c1 * qs - sigma_b2) / (qs - sigma_b2)  # so that c^1 = c1 (with q^1 = q*)
        common = dict(sigma_w2=sw, sigma_b2=sigma_b2)
        sc = simulate(
            width=width,
            depth=depth_c,
            q0=(qs - sigma_b2) / sw,
            c0=c0,
            n_seeds=n_seeds,
            seed=seed + 2 * k,
            **common,
        )
        sq = simulate(
            width=2 * width,
            depth=depth_q,
            q0=(1.5 * qs - sigma_b2) / sw,
            c0=0.0,
            n_seeds=n_seeds_q,
            seed=seed + 2 * k + 1,
            **common,
        )
        fc, fq = decay_length(sc.c, cs), decay_length(sq.q_a, qs, snr=5.0)
        mc = iterate_maps("tanh", sw, sigma_b2, q0=(qs - sigma_b2) / sw, c0=c0, depth=depth_c).c
        mq = iterate_maps(
            "tanh", sw, sigma_b2, q0=(1.5 * qs - sigma_b2) / sw, c0=0.0, depth=depth_q
        ).q
        for key, val in (
            ("xc", xi_c("tanh", sw, sigma_b2)),
            ("xq", xi_q("tanh", sw, sigma_b2)),
            ("fc", fc),
            ("fq", fq),
            ("mc", _mf_fit(mc, cs, fc)),
            ("mq", _mf_fit(mq, qs, fq)),
            ("ct", sc.c),
            ("qt", sq.q_a),
            ("cs", cs),
            ("qs", qs),
        ):
            out[key].append(val)
    return DepthScaleFit(
        sigma_w2=sw_all,
        sigma_b2=float(sigma_b2),
        width=width,
        n_seeds=n_seeds,
        xi_c=np.array(out["xc"]),
        xi_q=np.array(out["xq"]),
        fit_c=tuple(out["fc"]),
        fit_q=tuple(out["fq"]),
        mf_xi_c=np.array(out["mc"]),
        mf_xi_q=np.array(out["mq"]),
        c_traj=tuple(out["ct"]),
        q_traj=tuple(out["qt"]),
        c_star=np.array(out["cs"]),
        q_star=np.array(out["qs"]),
    )


@figures.register("meanfield/depth-scale-fits", compute=depth_scale_fit_experiment)
def _plot_depth_fits(d: DepthScaleFit):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.6))
    for i, sw in enumerate(d.sigma_w2):
        col = figures.PALETTE[i]
        for ax, traj, star, fit, xi in (
            (axes[0], d.c_traj[i], d.c_star[i], d.fit_c[i], d.xi_c[i]),
            (axes[1], d.q_traj[i], d.q_star[i], d.fit_q[i], d.xi_q[i]),
        ):
            dev = np.abs(traj.mean(0) - star)
            layers = np.arange(1, dev.size + 1)
            ax.semilogy(layers, dev, ".", color=col, label=rf"network, $\sigma_w^2={sw}$")
            ref = dev[fit.first - 1] * np.exp(-(layers - fit.first) / xi)
            ax.semilogy(
                layers, ref, "-", color=col, lw=1, label=rf"$e^{{-l/\xi}}$, theory $\xi={xi:.2f}$"
            )
            ax.axvspan(fit.first, fit.last, color=col, alpha=0.07)
    axes[0].set_ylabel(r"$|c^l - c^*|$ (seed mean)")
    axes[1].set_ylabel(r"$|q^l - q^*|$ (seed mean)")
    for ax in axes:
        ax.set_xlabel("layer $l$")
        ax.legend(fontsize=_SMALL)
    _small_ticks(axes)
    return fig


# ---------------------------------------------------------------------------------------- gradients
@dataclass(frozen=True)
class GradientData:
    """Backpropagated squared gradient norms per layer (:func:`gradient_experiment`).

    Attributes:
        sigma_w2: settings; ``depth``; ``skip``: layers left out at both ends of the fit.
        grad: per setting, ``(n_seeds, depth)`` values of ``|delta^l|^2 / N``.
        rate: per setting, the fitted per-layer log growth (``log_rate``); ``chi1``: per setting,
        theory.
    """

    sigma_w2: np.ndarray
    depth: int
    skip: int
    grad: tuple[np.ndarray, ...]
    rate: np.ndarray
    chi1: np.ndarray


def gradient_experiment(
    sigma_w2=(1.0, 4.0),
    sigma_b2: float = 0.05,
    width: int = 1000,
    depth: int = 60,
    n_seeds: int = 4,
    seed: int = 1,
    skip: int = 2,
) -> GradientData:
    """Backpropagated squared gradient norms per layer of tanh networks, inputs at q*, against
    chi_1.

    Example:
        >>> gradient_experiment(sigma_w2=(1.0,), width=16, depth=6, n_seeds=2, skip=1).grad[0].shape
        (2, 6)
    """
    sw_all = checks.real_array("sigma_w2", sigma_w2, low=0.0, low_open=True, ndim=1)
    grads, rates, chis = [], [], []
    for sw in sw_all:
        sw = float(sw)
        qs = q_star("tanh", sw, sigma_b2)
        sim = simulate(
            sigma_w2=sw,
            sigma_b2=sigma_b2,
            width=width,
            depth=depth,
            q0=(qs - sigma_b2) / sw,
            c0=0.0,
            n_seeds=n_seeds,
            seed=seed,
            backward=True,
        )
        grads.append(sim.grad)
        rates.append(log_rate(sim.grad, skip=skip))
        chis.append(chi1("tanh", sw, sigma_b2))
    return GradientData(
        sigma_w2=sw_all,
        depth=depth,
        skip=skip,
        grad=tuple(grads),
        rate=np.array(rates),
        chi1=np.array(chis),
    )


@figures.register("meanfield/gradients", compute=gradient_experiment)
def _plot_gradients(d: GradientData):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    layers = np.arange(1, d.depth + 1)
    for i, sw in enumerate(d.sigma_w2):
        g = d.grad[i].mean(0)
        col = figures.PALETTE[i]
        ax.semilogy(layers, g, ".", color=col, label=rf"network, $\sigma_w^2={sw}$")
        ax.semilogy(
            layers,
            g[-1] * d.chi1[i] ** (d.depth - layers),
            color=col,
            label=rf"theory $\chi_1^{{L-l}}$, $\chi_1={d.chi1[i]:.3f}$",
        )
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"$|\delta^l|^2 / N$")
    ax.legend()
    return fig


# ---------------------------------------------------------------------------------------- isometry
#: (activation, weights) cases of the dynamical isometry experiment.
ISOMETRY_CASES = (
    ("linear", "gaussian"),
    ("linear", "orthogonal"),
    ("relu", "gaussian"),
    ("relu", "orthogonal"),
    ("tanh", "gaussian"),
    ("tanh", "orthogonal"),
)


@dataclass(frozen=True)
class IsometryCase:
    """One (activation, weights) case of :func:`isometry_experiment`.

    Attributes:
        activation, weights: the case; ``sigma_w2``, ``sigma_b2``: its critical point.
        eigs: ``(n_seeds, width)`` eigenvalues of ``J J^T``; ``pred``: the free-probability
        prediction.
    """

    activation: str
    weights: str
    sigma_w2: float
    sigma_b2: float
    eigs: np.ndarray
    pred: IsometryPrediction


@dataclass(frozen=True)
class IsometryData:
    """Jacobian spectra at criticality (:func:`isometry_experiment`).

    Attributes:
        width, depth, n_seeds: the networks; ``cases``: the :class:`IsometryCase` s, in
        ``ISOMETRY_CASES`` order.
    """

    width: int
    depth: int
    n_seeds: int
    cases: tuple[IsometryCase, ...]

    def case(self, activation: str, weights: str) -> IsometryCase:
        """The case of ``activation`` with ``weights``."""
        for c in self.cases:
            if (c.activation, c.weights) == (activation, weights):
                return c
        raise KeyError(f"no case {activation!r}, {weights!r}")


def isometry_experiment(
    width: int = 400, depth: int = 16, n_seeds: int = 8, tanh_sigma_b2: float = 1e-3, seed: int = 0
) -> IsometryData:
    """Jacobian spectra at criticality: linear (sigma_w^2 = 1), ReLU (2, 0), tanh on its critical
    line.

    Example:
        >>> isometry_experiment(width=8, depth=2, n_seeds=2).case("relu", "gaussian").eigs.shape
        (2, 8)
    """
    sw_t = float(critical_line("tanh", tanh_sigma_b2)[0])
    params = {
        "linear": (1.0, 0.0, 1.0),
        "relu": (2.0, 0.0, 1.0),
        "tanh": (sw_t, tanh_sigma_b2, None),
    }
    cases = []
    for act, wt in ISOMETRY_CASES:
        sw, sb, q = params[act]
        ev = jacobian_spectrum(
            act,
            sigma_w2=sw,
            sigma_b2=sb,
            width=width,
            depth=depth,
            weights=wt,
            q=q,
            n_seeds=n_seeds,
            seed=seed,
        )
        pred = isometry_prediction(act, sigma_w2=sw, sigma_b2=sb, depth=depth, weights=wt, q=q)
        cases.append(
            IsometryCase(activation=act, weights=wt, sigma_w2=sw, sigma_b2=sb, eigs=ev, pred=pred)
        )
    return IsometryData(width=width, depth=depth, n_seeds=n_seeds, cases=tuple(cases))


@figures.register("meanfield/isometry", compute=isometry_experiment)
def _plot_isometry(d: IsometryData):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharey=True)
    bins = np.logspace(-6, 3, 60)
    for ax, act in zip(axes, ("linear", "relu", "tanh"), strict=False):
        for k, wt in enumerate(("gaussian", "orthogonal")):
            r = d.case(act, wt)
            nv = np.mean(r.eigs.var(1) / r.eigs.mean(1) ** 2)
            lab = f"{wt[:5]}.: var {nv:.2f}\n(theory {r.pred.var:.2f})"
            ax.hist(
                np.clip(r.eigs.ravel(), 1e-6, 1e3),
                bins=bins,
                density=True,
                histtype="step",
                lw=1.6,
                color=figures.PALETTE[k],
                label=lab,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(act)
        ax.set_xlabel(r"eigenvalue $\lambda$ of $JJ^T$ (clipped to $[10^{-6}, 10^3]$)")
        ax.legend(fontsize=_SMALL, loc="upper left")
    axes[0].set_ylabel("density")
    _small_ticks(axes)
    return fig


# ------------------------------------------------------------------------------------- trainability
@dataclass(frozen=True)
class TrainabilityData:
    """Training accuracy over depth x sigma_w^2 with xi_c (:func:`trainability_experiment`).

    Attributes:
        grid: the :class:`TrainGrid` (accuracy per seed, depth, sigma_w^2).
        sigma_b2: the bias variance.
        xi_c: theory at the grid's ``sigma_w2``; ``fine_sigma_w2``, ``fine_xi_c``: a fine curve of
        xi_c. deepest: ``(n_seeds, S)`` deepest depth with accuracy >= ``threshold`` per seed.
        threshold: the trainability threshold (0.5).
    """

    grid: TrainGrid
    sigma_b2: float
    xi_c: np.ndarray
    fine_sigma_w2: np.ndarray
    fine_xi_c: np.ndarray
    deepest: np.ndarray
    threshold: float

    @property
    def ratio(self) -> np.ndarray:
        """Deepest trainable depth / xi_c, per seed and sigma_w^2, ``(n_seeds, S)``."""
        return self.deepest / self.xi_c


def trainability_experiment(
    scale: str | None = None,
    sigma_b2: float = 0.05,
    seed: int = 0,
    device=None,
    threshold: float = 0.5,
    **overrides,
) -> TrainabilityData:
    """Training accuracy of tanh networks over depth x sigma_w^2 (SGD on digits), over seeds, and
    xi_c.

    Args:
        scale: ``"book"`` or ``"full"`` (default ``dltheory.scale()``), which sets the grid and
            training (``trainability.SCALES``).
        sigma_b2, seed, device: passed to :func:`train_grid`.
        threshold: accuracy that counts as trainable.
        overrides: further arguments of :func:`train_grid` (e.g. ``lr``, ``steps``, ``depths``).

    Example:
        >>> d = trainability_experiment(sigma_w2=[1.5], depths=[2], width=8, steps=2, n_seeds=2)
        >>> d.deepest.shape
        (2, 1)
    """
    grid = train_grid(
        "tanh", sigma_b2=sigma_b2, seed=seed, scale=pick_scale(scale), device=device, **overrides
    )
    fine = np.linspace(1.0, 4.0, 200)
    return TrainabilityData(
        grid=grid,
        sigma_b2=float(sigma_b2),
        xi_c=np.asarray(xi_c("tanh", grid.sigma_w2, sigma_b2)),
        fine_sigma_w2=fine,
        fine_xi_c=xi_c("tanh", fine, sigma_b2),
        deepest=max_trainable_depth(grid.accuracy, grid.depths, threshold),
        threshold=threshold,
    )


@figures.register("meanfield/trainability", compute=partial(trainability_experiment, scale="book"))
def _plot_trainability(d: TrainabilityData):
    import matplotlib.pyplot as plt

    g = d.grid
    fig, ax = plt.subplots(figsize=(6.6, 5.0))
    SW, D = np.meshgrid(g.sigma_w2, g.depths)
    sc = ax.scatter(
        SW,
        D,
        c=g.mean_accuracy,
        vmin=0,
        vmax=1,
        cmap="viridis",
        marker="s",
        s=60,
        edgecolors="none",
    )
    fig.colorbar(sc, ax=ax, label=f"training accuracy (mean of {g.seeds.size} seeds)")
    fine, xi = d.fine_sigma_w2, d.fine_xi_c
    ax.fill_between(
        fine,
        3 * xi,
        8 * xi,
        color="0.6",
        alpha=0.25,
        lw=0,
        label=r"$3\xi_c$ to $8\xi_c$ (tested band)",
    )
    for k, ls, lab in ((4.5, "--", "4.5"), (6.0, "-", "6")):
        ax.plot(fine, k * xi, color="k", ls=ls, lw=1.5, label=rf"${lab}\,\xi_c$ (theory)")
    mean, lo, hi = d.deepest.mean(0), d.deepest.min(0), d.deepest.max(0)
    ax.errorbar(
        g.sigma_w2,
        mean,
        yerr=[mean - lo, hi - mean],
        fmt="x",
        color=figures.PALETTE[1],
        ms=10,
        mew=2.5,
        capsize=4,
        label=r"deepest depth with accuracy $\geq 0.5$ (seed mean, range)",
    )
    ax.set_ylim(0, g.depths.max() * 1.15)
    ax.set_xlim(fine[0] - 0.15, fine[-1] + 0.15)
    ax.set_xlabel(r"weight variance $\sigma_w^2$")
    ax.set_ylabel("depth $L$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=2, frameon=False)
    return fig
