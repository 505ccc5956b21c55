"""Experiments of the SGD chapter on MLPs trained on digits: sections 3 (MLP part), 8, 9 and 10."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from scipy import stats

from dltheory import _checks as checks
from dltheory import figures
from dltheory.sgd import nets

__all__ = [
    "SIZES",
    "MLPGrid",
    "mlp_grid",
    "Rescaling",
    "rescaling",
    "GradientNoise",
    "gradient_noise",
]

#: Sizes per scale: learning rates, batch sizes, seeds, epochs, power iterations.
SIZES = {
    "book": {
        "lrs": (0.05, 0.1, 0.2, 0.4),
        "batch_sizes": (16, 64, 256),
        "seeds": (0, 1, 2),
        "epochs": 30,
        "sde_time": 120.0,
        "iters": 20,
    },
    "full": {
        "lrs": (0.025, 0.05, 0.1, 0.2, 0.4),
        "batch_sizes": (8, 16, 64, 256, 1024),
        "seeds": (0, 1, 2, 3, 4),
        "epochs": 100,
        "sde_time": 240.0,
        "iters": 50,
    },
}


def _sizes(scale):
    return SIZES[checks.choice("scale", scale, list(SIZES))]


@dataclass(frozen=True)
class MLPGrid:
    """SGD on digits over a grid of (eta, B) and seeds, at equal epochs and at equal SDE time.

    At equal epochs a run takes ``epochs N / B`` steps, so its SDE time ``k eta = epochs N eta / B``
    is proportional to ``eta / B``: noise scale and training progress vary together. At equal SDE
    time every run takes ``sde_time / eta`` steps, whatever ``B``: only the noise scale ``eta / B``
    varies.

    Attributes:
        lrs, batch_sizes, seeds: the grid axes.
        epochs: passes over the 1257 training digits (equal-epoch grid).
        sde_time: ``k eta`` of every run of the equal-SDE-time grid.
        sharpness, test_acc, train_loss: equal-epoch grid, shape ``(len(B), len(lr), len(seeds))``.
        sharpness_t, test_acc_t, train_loss_t: the same at equal SDE time.
        ratio: ``eta / B`` for every run, same shape.
        spearman_sharp, p_sharp, spearman_acc, p_acc: Spearman correlation with ``eta / B`` (equal
            epochs) of sharpness and test accuracy, and their one-sided p-values (sharpness falls,
            accuracy rises with ``eta / B``).
        spearman_sharp_t, p_sharp_t, spearman_acc_t, p_acc_t: the same at equal SDE time.
        p_large_sharper, p_large_worse: one-sided Wilcoxon signed-rank p-values that the largest
            batch ends sharper / less accurate than the smallest, paired by (eta, seed) (equal
            epochs).
        p_large_sharper_t, p_large_worse_t: the same at equal SDE time.
        n_params: parameters per network.
        net: the network trained with the smallest batch and largest rate, first seed, equal epochs
            (float64 copy).
        net_init: that network's initialisation (float64), the untrained control.
    """

    lrs: np.ndarray
    batch_sizes: np.ndarray
    seeds: np.ndarray
    epochs: int
    sde_time: float
    sharpness: np.ndarray
    test_acc: np.ndarray
    train_loss: np.ndarray
    sharpness_t: np.ndarray
    test_acc_t: np.ndarray
    train_loss_t: np.ndarray
    ratio: np.ndarray
    spearman_sharp: float
    p_sharp: float
    spearman_acc: float
    p_acc: float
    spearman_sharp_t: float
    p_sharp_t: float
    spearman_acc_t: float
    p_acc_t: float
    p_large_sharper: float
    p_large_worse: float
    p_large_sharper_t: float
    p_large_worse_t: float
    n_params: int
    net: nets.MLPs
    net_init: nets.MLPs


def _train_equal_time(init, data, lr, B, sde_time, seed):
    """Each network ``r`` takes ``round(sde_time / lr[r])`` steps; the runs share the loop in stages
    (all networks up to the fewest steps, then those with more steps left, and so on)."""
    steps = np.round(sde_time / lr).astype(int)
    done = 0
    n = data.x_train.shape[0]
    tensors = [t.clone() for t in init.tensors()]
    for j, s in enumerate(np.unique(steps)):
        active = np.flatnonzero(steps >= s)
        sub = nets.MLPs(*(t[active] for t in tensors))
        sub = nets.train_sgd(
            sub, data, lr[active], B, epochs=(s - done) * B / n, seed=seed + 100 * j
        )
        for t, u in zip(tensors, sub.tensors(), strict=False):
            t[active] = u
        done = s
    return nets.MLPs(*tensors)


def _trends(ratio, sharp, acc, Bs):
    rs = stats.spearmanr(ratio.ravel(), sharp.ravel(), alternative="less")
    ra = stats.spearmanr(ratio.ravel(), acc.ravel(), alternative="greater")
    big, small = (slice(len(Bs) - 1, len(Bs)), slice(0, 1))
    p_sh = stats.wilcoxon((sharp[big] - sharp[small]).ravel(), alternative="greater").pvalue
    p_ac = stats.wilcoxon((acc[small] - acc[big]).ravel(), alternative="greater").pvalue
    return (
        float(rs.statistic),
        float(rs.pvalue),
        float(ra.statistic),
        float(ra.pvalue),
        float(p_sh),
        float(p_ac),
    )


def mlp_grid(*, scale: str = "book", seed: int = 0, device=None) -> MLPGrid:
    """Train every (eta, B, seed) of the grid twice: at equal epochs and at equal SDE time
    ``k eta``.

    ``device`` (default CPU) holds the data and networks; minibatch indices and the power-iteration
    vectors come from seeded CPU generators, so the runs are the same on every device up to
    rounding.

    Example:
        >>> grid = mlp_grid(seed=0)  # doctest: +SKIP
        >>> grid.sharpness.shape  # doctest: +SKIP
        (3, 4, 3)
    """
    sz = _sizes(scale)
    seed = checks.seed(seed)
    dev = torch.device("cpu") if device is None else torch.device(device)
    data = nets.load_digits(device=dev)
    lrs, Bs, seeds = np.array(sz["lrs"]), np.array(sz["batch_sizes"]), np.array(sz["seeds"])
    shp = (len(Bs), len(lrs), len(seeds))
    out = {k: np.zeros(shp) for k in ("sharp", "acc", "tl", "sharp_t", "acc_t", "tl_t")}
    keep = keep0 = None
    lr = np.repeat(lrs, len(seeds))
    for i, B in enumerate(Bs):
        init = nets.init_mlps([int(s) + seed for _ in lrs for s in seeds]).to(dev)
        net = nets.train_sgd(init, data, lr, int(B), epochs=sz["epochs"], seed=seed + 1000 + i)
        net_t = _train_equal_time(init, data, lr, int(B), sz["sde_time"], seed + 2000 + i)
        for suffix, m in (("", net), ("_t", net_t)):
            out["sharp" + suffix][i] = nets.sharpness(
                m, data.x_train, data.y_train, iters=sz["iters"]
            ).reshape(shp[1:])
            out["acc" + suffix][i] = nets.accuracy(m, data.x_test, data.y_test).reshape(shp[1:])
            out["tl" + suffix][i] = (
                nets.loss(m, data.x_train, data.y_train).detach().cpu().numpy().reshape(shp[1:])
            )
        if i == 0:
            j = len(lr) - len(seeds)
            keep = nets.MLPs(*(t.double() for t in net.select(j).to("cpu").tensors()))
            keep0 = nets.MLPs(*(t.double() for t in init.select(j).to("cpu").tensors()))
    ratio = (lrs[None, :, None] / Bs[:, None, None]) * np.ones(shp)
    e = _trends(ratio, out["sharp"], out["acc"], Bs)
    t = _trends(ratio, out["sharp_t"], out["acc_t"], Bs)
    return MLPGrid(
        lrs=lrs,
        batch_sizes=Bs,
        seeds=seeds,
        epochs=sz["epochs"],
        sde_time=float(sz["sde_time"]),
        sharpness=out["sharp"],
        test_acc=out["acc"],
        train_loss=out["tl"],
        sharpness_t=out["sharp_t"],
        test_acc_t=out["acc_t"],
        train_loss_t=out["tl_t"],
        ratio=ratio,
        spearman_sharp=e[0],
        p_sharp=e[1],
        spearman_acc=e[2],
        p_acc=e[3],
        p_large_sharper=e[4],
        p_large_worse=e[5],
        spearman_sharp_t=t[0],
        p_sharp_t=t[1],
        spearman_acc_t=t[2],
        p_acc_t=t[3],
        p_large_sharper_t=t[4],
        p_large_worse_t=t[5],
        n_params=keep.n_params,
        net=keep,
        net_init=keep0,
    )


@figures.register("sgd/mlp-grid", compute=partial(mlp_grid, seed=0))
def _plot_mlp_grid(data: MLPGrid):
    import matplotlib.pyplot as plt

    P = figures.PALETTE
    fig, axes = plt.subplots(2, 2, figsize=(9.0, 6.4), sharex=True)
    rows = [
        (data.sharpness, data.test_acc, f"equal epochs ({data.epochs})"),
        (data.sharpness_t, data.test_acc_t, rf"equal SDE time $k\eta = {data.sde_time:g}$"),
    ]
    for r, (sh, ac, title) in enumerate(rows):
        for c, (y, lab) in enumerate(
            [(sh, r"sharpness $\lambda_{\max}(\nabla^2 L)$"), (100 * ac, "test accuracy (%)")]
        ):
            ax = axes[r, c]
            for i, B in enumerate(data.batch_sizes):
                x = data.ratio[i, :, 0]
                m, s = y[i].mean(1), y[i].std(1, ddof=1)
                ax.errorbar(
                    x,
                    m,
                    yerr=s,
                    fmt="o-",
                    color=P[i],
                    label=f"B = {B} (mean ± s.d., {len(data.seeds)} seeds)",
                )
            ax.set(xscale="log", ylabel=lab, title=title)
            if r == 1:
                ax.set_xlabel(r"$\eta/B$")
    axes[0, 0].legend(fontsize=8)
    return fig


@dataclass(frozen=True)
class Rescaling:
    """Section 8: Dinh et al.'s rescaling of a trained ReLU MLP (float64).

    Attributes:
        alphas: scale factors.
        out_gap: max ``|f_alpha(x) - f(x)|`` over the test set, per alpha.
        block_err_w1, block_err_w2: max relative deviation of the rescaled Hessian's first- and
            second-layer blocks (applied to random vectors) from ``alpha^{-2}`` and ``alpha^{2}``
            times the original ones.
        sharp: top Hessian eigenvalue at each alpha.
        loss_gap: max change of the training loss.
    """

    alphas: np.ndarray
    out_gap: np.ndarray
    block_err_w1: float
    block_err_w2: float
    sharp: np.ndarray
    loss_gap: float


def rescaling(
    net: nets.MLPs, *, alphas=(0.3, 0.55, 1.0, 1.7, 3.3), iters: int = 30, seed: int = 0
) -> Rescaling:
    """Section 8: outputs, Hessian blocks and sharpness of ``(alpha W1, alpha b1, W2/alpha, b2)``.

    Example:
        >>> data = rescaling(nets.init_mlps([0]), alphas=(0.5, 1.0), iters=3)
        >>> bool(data.out_gap.max() < 1e-12 and data.block_err_w1 < 1e-10)
        True
    """
    if not isinstance(net, nets.MLPs):
        raise TypeError(f"net must be MLPs; got {type(net).__name__}")
    net = nets.MLPs(*(t.double() for t in net.tensors()))
    data = nets.load_digits(torch.float64)
    x, y = data.x_train, data.y_train
    al = np.asarray(alphas, dtype=float)
    z0 = nets.outputs(net, data.x_test)
    l0 = nets.loss(net, x, y).detach()
    gen = torch.Generator().manual_seed(checks.seed(seed))
    v = [torch.randn(t.shape, generator=gen, dtype=torch.float64) for t in net.tensors()]
    h0 = nets.hvp(net, x, y, v)
    gaps, lgaps, e1, e2 = [], [], 0.0, 0.0
    for a in al:
        na = nets.rescale(net, float(a))
        gaps.append(float((nets.outputs(na, data.x_test) - z0).abs().max()))
        lgaps.append(float((nets.loss(na, x, y).detach() - l0).abs().max()))
        # H(D theta) = D^{-1} H(theta) D^{-1}, D = diag(a, a, 1/a, 1): apply to D v, compare with
        # D^{-1} H v
        d = [a, a, 1 / a, 1.0]
        ha = nets.hvp(na, x, y, [vi * di for vi, di in zip(v, d, strict=False)])
        for k in range(4):
            rel = float(((ha[k] - h0[k] / d[k]).abs().max() / (h0[k] / d[k]).abs().max()))
            if k < 2:
                e1 = max(e1, rel)
            else:
                e2 = max(e2, rel)
    sharp = np.array(
        [nets.sharpness(nets.rescale(net, float(a)), x, y, iters=iters, seed=seed)[0] for a in al]
    )
    return Rescaling(
        alphas=al,
        out_gap=np.array(gaps),
        block_err_w1=e1,
        block_err_w2=e2,
        sharp=sharp,
        loss_gap=max(lgaps),
    )


@figures.register("sgd/rescaling", compute=lambda: rescaling(mlp_grid(seed=0).net))
def _plot_rescaling(data: Rescaling):
    import matplotlib.pyplot as plt

    P = figures.PALETTE
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.loglog(data.alphas, data.sharp, "o-", color=P[0], label=r"sharpness of the rescaled network")
    ref = data.sharp[data.alphas == 1.0][0]
    ax.loglog(
        data.alphas,
        ref * np.maximum(data.alphas, 1 / data.alphas) ** 2,
        ":",
        color="grey",
        label=r"upper bound $\lambda_{\max}(1)\,\max(\alpha,\alpha^{-1})^2$",
    )
    ax2 = ax.twinx()
    ax2.semilogx(
        data.alphas, np.maximum(data.out_gap, 1e-17), "s--", color=P[1], label="max output change"
    )
    ax2.set_yscale("log")
    ax2.set_ylim(1e-17, 1e-10)
    ax2.set_ylabel(r"$\max|f_\alpha(x)-f(x)|$")
    ax2.grid(False)
    ax.set(
        xlabel=r"rescaling $\alpha$ ($W_1\to\alpha W_1$, $W_2\to W_2/\alpha$)",
        ylabel=r"$\lambda_{\max}(\nabla^2 L)$",
    )
    ax.set_xticks(data.alphas, [f"{a:g}" for a in data.alphas])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper center")
    return fig


@dataclass(frozen=True)
class GradientNoise:
    """Section 9: per-sample gradient covariance of a trained MLP and the tail of the minibatch
    noise.

    Attributes:
        eigenvalues: spectrum of the per-sample gradient covariance (descending).
        n_params: parameter count.
        rank90: number of eigenvalues holding 90% of the trace.
        participation: participation ratio ``(tr C)^2 / tr C^2``.
        alpha_pooled: tail index of minibatch-noise entries pooled over coordinates (Simsekli et
        al.). alpha_standardised: the same after dividing each coordinate by its standard deviation.
        alpha_gaussian: mean of the estimator on 10 Gaussian samples of the same size.
        alpha_gaussian_sd: their standard deviation (the estimator's spread at this size).
        batch_size: minibatch size of the noise samples. noise_std: standardised noise entries (for
        the figure), a subsample. tail_batch_sizes: batch sizes of the tail-index sweep.
        alpha_by_batch: standardised tail index at each of those batch sizes (``n_batches`` batches
        each).
    """

    eigenvalues: np.ndarray
    n_params: int
    rank90: int
    participation: float
    alpha_pooled: float
    alpha_standardised: float
    alpha_gaussian: float
    alpha_gaussian_sd: float
    batch_size: int
    noise_std: np.ndarray
    tail_batch_sizes: np.ndarray
    alpha_by_batch: np.ndarray


#: Batch sizes of the tail-index sweep of :func:`gradient_noise`.
TAIL_BATCH_SIZES = (8, 32, 128, 512)


def gradient_noise(
    net: nets.MLPs, *, batch_size: int = 32, n_batches: int = 200, seed: int = 0
) -> GradientNoise:
    """Section 9: spectrum and tail index of the gradient noise at the end of training.

    Example:
        >>> data = gradient_noise(nets.init_mlps([0]), n_batches=20)
        >>> data.n_params
        2410
    """
    if not isinstance(net, nets.MLPs):
        raise TypeError(f"net must be MLPs; got {type(net).__name__}")
    batch_size = checks.integer("batch_size", batch_size)
    n_batches = checks.integer("n_batches", n_batches, low=2)
    data = nets.load_digits(torch.float64)
    net = nets.MLPs(*(t.double() for t in net.tensors()))
    G = nets.per_sample_grads(net, data.x_train, data.y_train)
    lam = nets.spectrum(G)
    k90, pr = nets.effective_rank(lam, fraction=0.9)
    gen = torch.Generator().manual_seed(checks.seed(seed))
    idx = torch.randint(len(G), (n_batches, batch_size), generator=gen)
    noise = (G[idx].mean(1) - G.mean(0)).numpy()  # (n_batches, P)
    sd = noise.std(0)
    keep = sd > 1e-12 * sd.max()  # parameters with a gradient (dead units have none)
    # coordinate-major vectors; the estimator is applied to a random permutation of them, so its
    # sums of K1 consecutive entries mix coordinates (the entries pooled over coordinates, as
    # Simsekli et al.)
    pooled = noise[:, keep].T.ravel()
    stdzd = (noise[:, keep] / sd[keep]).T.ravel()
    rng = np.random.default_rng(seed)
    by_batch = []
    for (
        B
    ) in TAIL_BATCH_SIZES:  # the standardised index as the batch grows (a count matrix per batch)
        counts = torch.zeros(n_batches, len(G), dtype=torch.float64)
        counts.scatter_add_(
            1,
            torch.randint(len(G), (n_batches, B), generator=gen),
            torch.ones(n_batches, B, dtype=torch.float64),
        )
        nb = (counts @ G / B - G.mean(0)).numpy()
        sb = nb.std(0)
        kb = sb > 1e-12 * sb.max()  # coordinates that moved in these batches
        by_batch.append(nets.tail_index(rng.permutation((nb[:, kb] / sb[kb]).T.ravel())))
    gauss = [nets.tail_index(rng.standard_normal(stdzd.size)) for _ in range(10)]
    return GradientNoise(
        eigenvalues=lam,
        n_params=net.n_params,
        rank90=k90,
        participation=pr,
        alpha_pooled=nets.tail_index(rng.permutation(pooled)),
        alpha_standardised=nets.tail_index(rng.permutation(stdzd)),
        alpha_gaussian=float(np.mean(gauss)),
        alpha_gaussian_sd=float(np.std(gauss, ddof=1)),
        batch_size=batch_size,
        noise_std=stdzd[rng.choice(stdzd.size, 20_000, replace=False)],
        tail_batch_sizes=np.array(TAIL_BATCH_SIZES),
        alpha_by_batch=np.array(by_batch),
    )


@figures.register("sgd/gradient-noise", compute=lambda: gradient_noise(mlp_grid(seed=0).net))
def _plot_gradient_noise(data: GradientNoise):
    import matplotlib.pyplot as plt

    P = figures.PALETTE
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.6))
    ax = axes[0]
    lam = data.eigenvalues[data.eigenvalues > 1e-12 * data.eigenvalues[0]]  # above rounding
    ax.loglog(
        np.arange(1, len(lam) + 1), lam / lam[0], color=P[0], label="per-sample gradient covariance"
    )
    ax.axvline(
        data.rank90, color=P[1], ls="--", label=f"90% of trace: {data.rank90} of {data.n_params}"
    )
    ax.set(xlabel="eigenvalue index", ylabel=r"$\lambda_i/\lambda_1$")
    ax.legend(fontsize=8)
    ax = axes[1]
    bins = np.linspace(-8, 8, 81)
    ax.hist(
        data.noise_std,
        bins=bins,
        density=True,
        color="0.7",
        label=f"noise entries, B = {data.batch_size}",
    )
    g = np.linspace(-8, 8, 400)
    ax.plot(g, np.exp(-g * g / 2) / np.sqrt(2 * np.pi), color=P[0], label="standard Gaussian")
    ax.set(yscale="log", ylim=(1e-5, 1), xlabel="standardised noise entry", ylabel="density")
    ax.legend(fontsize=8)
    return fig
