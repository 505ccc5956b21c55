"""The chapter's experiments (seeded, with the book's sizes) and their registered figures."""

from __future__ import annotations

import functools

import numpy as np

from dltheory import figures
from dltheory.meanfield.finite import fluctuation_theory, log_rate, simulate
from dltheory.meanfield.maps import c_star, chi1, critical_line, iterate_maps, q_star, xi_c, xi_q
from dltheory.meanfield.spectra import isometry_prediction, jacobian_spectrum
from dltheory.meanfield.trainability import max_trainable_depth, train_grid

__all__ = [
    "finite_width_summary",
    "maps_experiment",
    "phase_experiment",
    "depth_scale_experiment",
    "finite_width_experiment",
    "gradient_experiment",
    "isometry_experiment",
    "ISOMETRY_CASES",
    "trainability_experiment",
]


def maps_experiment(sigma_b2: float = 0.05, sigma_w2=(1.3, 3.0), depth: int = 25) -> dict:
    """Length and correlation maps iterated from several starting points (ordered and chaotic)."""
    q0 = np.array([0.05, 0.5, 1.5, 3.0])
    c0 = np.array([0.0, 0.3, 0.6, 0.9])
    out = {"sigma_b2": sigma_b2, "sigma_w2": np.asarray(sigma_w2), "depth": depth, "q0": q0, "c0": c0}
    for i, sw in enumerate(sigma_w2):
        qs = q_star("tanh", sw, sigma_b2)
        out[f"qs{i}"] = iterate_maps("tanh", sw, sigma_b2, q0=(q0 - sigma_b2).clip(1e-3) / sw, c0=0.5, depth=depth)["q"]
        out[f"cs{i}"] = iterate_maps("tanh", sw, sigma_b2, q0=(qs - sigma_b2) / sw, c0=c0, depth=depth)["c"]
        out[f"qstar{i}"], out[f"cstar{i}"], out[f"chi{i}"] = qs, c_star("tanh", sw, sigma_b2), chi1("tanh", sw, sigma_b2)
    return out


@figures.register(
    "meanfield/maps",
    caption=r"Mean-field length map (top) and correlation map (bottom) of tanh networks iterated layer by layer from "
    r"several starting points, in the ordered phase (left) and the chaotic phase (right). Dashed lines mark "
    r"the fixed points $q^*$ and $c^*$ computed by the package.",
    compute=functools.partial(maps_experiment),
)
def _plot_maps(d):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(7.5, 5.2), sharex=True)
    layers = np.arange(1, d["depth"] + 1)
    for i, sw in enumerate(d["sigma_w2"]):
        phase = "ordered" if d[f"chi{i}"] < 1 else "chaotic"
        ax = axes[0, i]
        for j in range(d["q0"].size):
            ax.plot(layers, d[f"qs{i}"][:, j], marker=".", ms=3, label=f"$q^1={d[f'qs{i}'][0, j]:.2f}$")
        ax.axhline(d[f"qstar{i}"], color="k", ls="--", lw=1, label="$q^*$ (fixed point)")
        ax.set_title(rf"{phase}: $\sigma_w^2={sw}$, $\chi_1={d[f'chi{i}']:.2f}$")
        ax.set_ylabel("length $q^l$")
        ax.legend(fontsize=7)
        ax = axes[1, i]
        for j in range(d["c0"].size):
            ax.plot(layers, d[f"cs{i}"][:, j], marker=".", ms=3, label=f"$c^0={d['c0'][j]:.1f}$")
        ax.axhline(d[f"cstar{i}"], color="k", ls="--", lw=1, label="$c^*$ (fixed point)")
        ax.set_xlabel("layer $l$")
        ax.set_ylabel("correlation $c^l$")
        ax.legend(fontsize=7)
    return fig


def phase_experiment(n: int = 100, sigma_w2_max: float = 4.0, sigma_b2_max: float = 0.3) -> dict:
    """chi_1 and xi_c over an n x n (sigma_w^2, sigma_b^2) grid, and the critical line (one call each)."""
    sw = np.linspace(0.5, sigma_w2_max, n)
    sb = np.linspace(0.0, sigma_b2_max, n)
    SW, SB = np.meshgrid(sw, sb)
    crit_sw, crit_q = critical_line("tanh", sb)
    return {"sigma_w2": sw, "sigma_b2": sb, "chi1": chi1("tanh", SW, SB), "xi_c": xi_c("tanh", SW, SB),
            "critical_sigma_w2": crit_sw, "critical_q": crit_q}


@figures.register(
    "meanfield/phase-diagram",
    caption=r"Order-to-chaos phase diagram of tanh networks. Colour is the depth scale $\xi_c$ (log scale) from the "
    r"mean-field maps on a $100 \times 100$ grid; the black curve is the critical line $\chi_1 = 1$ computed "
    r"directly, which separates the ordered phase (left) from the chaotic phase (right).",
    compute=functools.partial(phase_experiment),
)
def _plot_phase(d):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    xi = np.clip(d["xi_c"], 1e-1, 1e3)
    im = ax.pcolormesh(d["sigma_w2"], d["sigma_b2"], xi, norm=LogNorm(vmin=0.5, vmax=1e3), shading="auto")
    fig.colorbar(im, ax=ax, label=r"depth scale $\xi_c$ (layers)")
    ok = np.isfinite(d["critical_sigma_w2"])
    ax.plot(d["critical_sigma_w2"][ok], d["sigma_b2"][ok], "k", lw=2, label=r"critical line $\chi_1 = 1$ (theory)")
    ax.set_xlim(d["sigma_w2"][0], d["sigma_w2"][-1])
    ax.text(0.9, 0.2, "ordered\n$\\chi_1<1$", color="w", fontsize=11)
    ax.text(3.0, 0.05, "chaotic\n$\\chi_1>1$", color="w", fontsize=11)
    ax.set_xlabel(r"weight variance $\sigma_w^2$")
    ax.set_ylabel(r"bias variance $\sigma_b^2$")
    ax.legend(loc="upper right")
    return fig


def depth_scale_experiment(sigma_b2: float = 0.05, n: int = 300) -> dict:
    """xi_q and xi_c against sigma_w^2 at fixed sigma_b^2 (as in the review's code and Schoenholz Fig. 2)."""
    sw = np.linspace(1.0, 4.0, n)
    return {"sigma_w2": sw, "sigma_b2": sigma_b2, "xi_q": xi_q("tanh", sw, sigma_b2), "xi_c": xi_c("tanh", sw, sigma_b2),
            "critical": critical_line("tanh", sigma_b2)[0]}


@figures.register(
    "meanfield/depth-scales",
    caption=r"Depth scales of tanh networks at $\sigma_b^2 = 0.05$ from the mean-field theory. The correlation depth "
    r"scale $\xi_c$ diverges at the critical point (dotted line) while the length depth scale $\xi_q$ stays "
    r"finite.",
    compute=functools.partial(depth_scale_experiment),
)
def _plot_depth(d):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.semilogy(d["sigma_w2"], d["xi_c"], label=r"$\xi_c$ (theory)")
    ax.semilogy(d["sigma_w2"], d["xi_q"], label=r"$\xi_q$ (theory)")
    ax.axvline(d["critical"], color="k", ls=":", label=rf"critical $\sigma_w^2={d['critical']:.3f}$")
    ax.set_xlabel(r"weight variance $\sigma_w^2$")
    ax.set_ylabel("depth scale (layers)")
    ax.legend()
    return fig


def finite_width_experiment(
    sigma_w2=(1.3, 3.0), sigma_b2: float = 0.05, width: int = 1000, depth: int = 60, n_seeds: int = 8,
    widths=(64, 128, 256, 512, 1024), q0: float = 1.0, c0: float = 0.2, seed: int = 0,
) -> dict:
    """Measured q^l, c^l of random tanh networks vs the mean-field recursion and its predicted fluctuations."""
    out = {"sigma_w2": np.asarray(sigma_w2), "width": width, "depth": depth, "widths": np.asarray(widths),
           "n_seeds": n_seeds}
    for i, sw in enumerate(sigma_w2):
        sim = simulate(sigma_w2=sw, sigma_b2=sigma_b2, width=width, depth=depth, q0=q0, c0=c0, n_seeds=n_seeds, seed=seed)
        th = fluctuation_theory(sigma_w2=sw, sigma_b2=sigma_b2, width=width, depth=depth, q0=q0, c0=c0)
        out[f"sim{i}"], out[f"theory{i}"] = sim, th
        dq, dc = [], []
        for N in widths:
            s = simulate(sigma_w2=sw, sigma_b2=sigma_b2, width=int(N), depth=depth, q0=q0, c0=c0, n_seeds=n_seeds, seed=seed + 1)
            dq.append(np.sqrt(np.mean(((s["q_a"] - th["q"]) / th["q"]) ** 2)))
            dc.append(np.sqrt(np.mean((s["c"] - th["c"]) ** 2)))
        out[f"dev_q{i}"], out[f"dev_c{i}"] = np.array(dq), np.array(dc)
    return out


def finite_width_summary(data: dict) -> dict:
    """Agreement of :func:`finite_width_experiment` with theory, as the chapter's claims use it.

    * ``z_q``, ``z_c``: per setting, the z-scores ``(measured - mean field) / predicted sd`` of every layer;
    * ``rms_q``, ``rms_c``: their RMS over all settings and layers (``1`` when the fluctuation theory is right);
    * ``slope_q``, ``slope_c``: log-log slope of the RMS deviation from mean field against width, averaged
      in log over the settings (``-1/2`` by the central limit theorem).
    """
    n = len(data["sigma_w2"])
    z_q = [(data[f"sim{i}"]["q_a"] - data[f"theory{i}"]["q"]) / data[f"theory{i}"]["sd_q"] for i in range(n)]
    z_c = [(data[f"sim{i}"]["c"] - data[f"theory{i}"]["c"]) / data[f"theory{i}"]["sd_c"] for i in range(n)]
    log_n = np.log(data["widths"])
    slope = {
        k: float(np.polyfit(log_n, np.mean([np.log(data[f"dev_{k}{i}"]) for i in range(n)], axis=0), 1)[0])
        for k in ("q", "c")
    }
    return {
        "z_q": z_q,
        "z_c": z_c,
        "rms_q": float(np.sqrt(np.mean(np.square(z_q)))),
        "rms_c": float(np.sqrt(np.mean(np.square(z_c)))),
        "slope_q": slope["q"],
        "slope_c": slope["c"],
    }


@figures.register(
    "meanfield/finite-width",
    caption=r"Random tanh networks of width 1000 (8 seeds; dots, seed mean) against the mean-field recursion (lines) "
    r"with its predicted finite-width band of plus or minus two standard deviations, for the length $q$ "
    r"(left) and the correlation $c$ (middle). Right: RMS deviation from mean field against width, with the "
    r"$N^{-1/2}$ law.",
    compute=functools.partial(finite_width_experiment),
)
def _plot_finite(d):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    layers = np.arange(1, d["depth"] + 1)
    for i, sw in enumerate(d["sigma_w2"]):
        sim, th = d[f"sim{i}"], d[f"theory{i}"]
        col = figures.PALETTE[i]
        for ax, key, sd in ((axes[0], "q", "sd_q"), (axes[1], "c", "sd_c")):
            ax.plot(layers, th[key], color=col, label=rf"mean field, $\sigma_w^2={sw}$")
            ax.fill_between(layers, th[key] - 2 * th[sd], th[key] + 2 * th[sd], color=col, alpha=0.2)
            meas = sim["q_a"] if key == "q" else sim["c"]
            ax.plot(layers, meas.mean(0), ".", color=col, ms=4, label=rf"network, $\sigma_w^2={sw}$")
        axes[2].loglog(d["widths"], d[f"dev_q{i}"], "o", color=col, label=rf"$q$, $\sigma_w^2={sw}$")
        axes[2].loglog(d["widths"], d[f"dev_c{i}"], "s", color=col, mfc="none", label=rf"$c$, $\sigma_w^2={sw}$")
        ref = d[f"dev_q{i}"][0] * (d["widths"] / d["widths"][0]) ** -0.5
        axes[2].loglog(d["widths"], ref, "--", color=col, lw=1)
    axes[0].set_ylabel("length $q^l$")
    axes[1].set_ylabel("correlation $c^l$")
    for ax in axes[:2]:
        ax.set_xlabel("layer $l$")
    axes[0].legend(fontsize=7)
    axes[2].set_xlabel("width $N$")
    axes[2].set_ylabel("RMS deviation from mean field")
    axes[2].plot([], [], "k--", lw=1, label=r"$\propto N^{-1/2}$ (theory)")
    axes[2].legend(fontsize=6.5)
    return fig


def gradient_experiment(sigma_w2=(1.0, 4.0), sigma_b2: float = 0.05, width: int = 1000, depth: int = 60,
                        n_seeds: int = 4, seed: int = 1, skip: int = 2) -> dict:
    """Backpropagated squared gradient norms per layer, inputs at q*, against chi_1."""
    out = {"sigma_w2": np.asarray(sigma_w2), "depth": depth, "skip": skip}
    for i, sw in enumerate(sigma_w2):
        qs = q_star("tanh", sw, sigma_b2)
        sim = simulate(sigma_w2=sw, sigma_b2=sigma_b2, width=width, depth=depth, q0=(qs - sigma_b2) / sw, c0=0.0,
                       n_seeds=n_seeds, seed=seed, backward=True)
        out[f"grad{i}"] = sim["grad"]
        out[f"rate{i}"] = log_rate(sim["grad"], skip=skip)
        out[f"chi{i}"] = chi1("tanh", sw, sigma_b2)
    return out


@figures.register(
    "meanfield/gradients",
    caption=r"Squared norm of the backpropagated gradient per layer in random tanh networks (width 1000, 4 seeds; "
    r"dots) against the mean-field prediction of geometric growth or decay by $\chi_1$ per layer (lines), in "
    r"the ordered and the chaotic phase.",
    compute=functools.partial(gradient_experiment),
)
def _plot_gradients(d):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    layers = np.arange(1, d["depth"] + 1)
    for i, sw in enumerate(d["sigma_w2"]):
        g = d[f"grad{i}"].mean(0)
        col = figures.PALETTE[i]
        ax.semilogy(layers, g, ".", color=col, label=rf"network, $\sigma_w^2={sw}$")
        ax.semilogy(layers, g[-1] * d[f"chi{i}"] ** (d["depth"] - layers), color=col,
                    label=rf"theory $\chi_1^{{L-l}}$, $\chi_1={d[f'chi{i}']:.3f}$")
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"$|\delta^l|^2 / N$")
    ax.legend()
    return fig


#: (activation, weights) cases of the dynamical isometry experiment.
ISOMETRY_CASES = (("linear", "gaussian"), ("linear", "orthogonal"), ("relu", "gaussian"), ("relu", "orthogonal"),
                  ("tanh", "gaussian"), ("tanh", "orthogonal"))


def isometry_experiment(width: int = 400, depth: int = 16, n_seeds: int = 8, tanh_sigma_b2: float = 1e-3,
                        seed: int = 0) -> dict:
    """Jacobian spectra at criticality: linear (sigma_w^2 = 1), ReLU (2, 0), tanh on its critical line."""
    sw_t = float(critical_line("tanh", tanh_sigma_b2)[0])
    params = {"linear": (1.0, 0.0, 1.0), "relu": (2.0, 0.0, 1.0), "tanh": (sw_t, tanh_sigma_b2, None)}
    out = {"width": width, "depth": depth, "n_seeds": n_seeds, "cases": ISOMETRY_CASES}
    for act, wt in ISOMETRY_CASES:
        sw, sb, q = params[act]
        ev = jacobian_spectrum(act, sigma_w2=sw, sigma_b2=sb, width=width, depth=depth, weights=wt, q=q,
                               n_seeds=n_seeds, seed=seed)
        out[f"{act}-{wt}"] = {"eigs": ev, "pred": isometry_prediction(act, sigma_w2=sw, sigma_b2=sb, depth=depth,
                                                                       weights=wt, q=q), "sigma_w2": sw, "sigma_b2": sb}
    return out


@figures.register(
    "meanfield/isometry",
    caption="Densities of the squared singular values of the input-output Jacobian (depth 16, width 400, 8 seeds) "
    "at criticality for linear, ReLU and tanh networks with Gaussian and orthogonal weights. The legend gives the "
    "measured spectral variance and the free-probability prediction.",
    compute=functools.partial(isometry_experiment),
)
def _plot_isometry(d):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharey=True)
    bins = np.logspace(-6, 3, 60)
    for ax, act in zip(axes, ("linear", "relu", "tanh")):
        for k, wt in enumerate(("gaussian", "orthogonal")):
            r = d[f"{act}-{wt}"]
            ev = r["eigs"]
            nv = np.mean(ev.var(1) / ev.mean(1) ** 2)
            lab = f"{wt}: var {nv:.2f} (theory {r['pred']['var']:.2f})"
            ax.hist(np.clip(ev.ravel(), 1e-6, 1e3), bins=bins, density=True, histtype="step", lw=1.6,
                    color=figures.PALETTE[k], label=lab)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(act)
        ax.set_xlabel(r"eigenvalue $\lambda$ of $JJ^T$ (clipped to $[10^{-6}, 10^3]$)")
        ax.legend(fontsize=6.5, loc="upper left")
    axes[0].set_ylabel("density")
    return fig


def trainability_experiment(scale: str = "book", sigma_b2: float = 0.05, seed: int = 0) -> dict:
    """Training accuracy over depth x sigma_w^2 (SGD on digits) and xi_c on a fine sigma_w^2 grid."""
    out = train_grid("tanh", sigma_b2=sigma_b2, seed=seed, scale=scale)
    fine = np.linspace(1.0, 4.0, 200)
    out.update({"fine_sigma_w2": fine, "fine_xi_c": xi_c("tanh", fine, sigma_b2), "xi_c": xi_c("tanh", out["sigma_w2"], sigma_b2)})
    return out


@figures.register(
    "meanfield/trainability",
    caption=r"Training accuracy of tanh networks ($\sigma_b^2 = 0.05$) on the digits after a fixed number of SGD "
    r"steps, over depth and $\sigma_w^2$ (coloured squares), with the deepest trainable depth (accuracy at "
    r"least 0.5; crosses) and the mean-field curves $4.5\xi_c$ and $6\xi_c$ inside the tested band from "
    r"$3\xi_c$ to $8\xi_c$.",
    compute=functools.partial(trainability_experiment),
)
def _plot_trainability(d):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.6, 5.0))
    SW, D = np.meshgrid(d["sigma_w2"], d["depths"])
    sc = ax.scatter(SW, D, c=d["accuracy"], vmin=0, vmax=1, cmap="viridis", marker="s", s=60, edgecolors="none")
    fig.colorbar(sc, ax=ax, label="training accuracy")
    fine, xi = d["fine_sigma_w2"], d["fine_xi_c"]
    ax.fill_between(fine, 3 * xi, 8 * xi, color="0.6", alpha=0.25, lw=0, label=r"$3\xi_c$ to $8\xi_c$ (tested band)")
    for k, ls, lab in ((4.5, "--", "4.5"), (6.0, "-", "6")):
        ax.plot(fine, k * xi, color="k", ls=ls, lw=1.5, label=rf"${lab}\,\xi_c$ (theory)")
    deep = max_trainable_depth(d["accuracy"], d["depths"], 0.5)
    ax.plot(d["sigma_w2"], deep, "x", color=figures.PALETTE[1], ms=10, mew=2.5,
            label=r"deepest depth with accuracy $\geq 0.5$ (experiment)")
    ax.set_ylim(0, d["depths"].max() * 1.15)
    ax.set_xlim(fine[0] - 0.15, fine[-1] + 0.15)
    ax.set_xlabel(r"weight variance $\sigma_w^2$")
    ax.set_ylabel("depth $L$")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=2, frameon=False)
    return fig
