"""The chapter's experiments: information planes of the 12-bit networks, estimators, linear
networks.

Every function returns a frozen dataclass and takes ``scale`` (``"book"``: the sizes the book runs
on a CPU in about a minute; ``"full"``: longer training, more seeds, more epochs with MI estimates)
and ``device``. The figures of the chapter are registered here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory import figures
from dltheory.information import data as bitdata
from dltheory.information import estimators as est
from dltheory.information import linear, network

__all__ = [
    "Sizes",
    "sizes",
    "Plane",
    "BitNetworks",
    "FullBatchComparison",
    "MixtureBounds",
    "LinearPlane",
    "EstimatorComparison",
    "run_bit_networks",
    "initial_information",
    "record_epochs",
    "count_verdict",
    "FALL_BITS",
    "K_OF_N",
    "FIT_ERROR",
    "run_full_batch",
    "run_mixture_bounds",
    "run_linear",
    "WIDTHS",
    "TANH_BINS",
    "RELU_WIDTH",
    "NOISE_VAR",
]

#: Shwartz-Ziv & Tishby's network: 12 inputs, hidden layers of 10, 7, 5, 4, 3 units, 2 outputs.
WIDTHS = (12, 10, 7, 5, 4, 3, 2)
#: Equal bins on [-1, 1] of the book's first version (compared with Shwartz-Ziv & Tishby's edges,
#: :data:`dltheory.information.estimators.SZ_EDGES`, which the tanh estimates use).
TANH_BINS = 30
#: Fixed bin width for ReLU layers (Saxe et al.'s code).
RELU_WIDTH = 0.07
#: Noise variance of the KDE estimator (Saxe et al.'s code).
NOISE_VAR = 1e-3
LR = 4e-4
BATCH = 256
TRAIN_FRACTION = 0.8


@dataclass(frozen=True)
class Sizes:
    """The sizes of the experiments at one scale.

    Attributes:
        epochs: training epochs of the 12-bit networks.
        seeds: seeds per activation.
        n_record: number of log-spaced epochs with estimates.
        dense_every: estimates also at every multiple of this many epochs (the late phase).
        n_kde: number of those epochs with KDE estimates too (first seed of each activation).
        kde_rows: rows of the KDE's outer average (``None``: all 4096).
        linear_epochs: gradient steps of the linear student.
    """

    epochs: int
    seeds: tuple[int, ...]
    n_record: int
    dense_every: int
    n_kde: int
    kde_rows: int | None
    linear_epochs: int


_SIZES = {
    "book": Sizes(
        epochs=3000,
        seeds=tuple(range(8)),
        n_record=30,
        dense_every=150,
        n_kde=12,
        kde_rows=256,
        linear_epochs=5000,
    ),
    "full": Sizes(
        epochs=10000,
        seeds=tuple(range(16)),
        n_record=60,
        dense_every=100,
        n_kde=24,
        kde_rows=None,
        linear_epochs=20000,
    ),
}


def sizes(scale: str = "book") -> Sizes:
    """The :class:`Sizes` of ``scale`` (``"book"`` or ``"full"``).

    Example:
        >>> sizes("book").epochs, len(sizes("full").seeds)
        (3000, 16)
    """
    return _SIZES[checks.choice("scale", scale, tuple(_SIZES))]


def record_epochs(sz: Sizes) -> list[int]:
    """The epochs with estimates: about ``n_record`` log-spaced ones and every ``dense_every``-th.

    Example:
        >>> e = record_epochs(sizes("book"))
        >>> e[:6], e[-3:]
        ([0, 1, 2, 3, 4, 5], [2700, 2850, 3000])
    """
    dense = range(0, sz.epochs + 1, sz.dense_every)
    return sorted(set(network.log_epochs(sz.epochs, sz.n_record)) | set(dense))


#: A seed compresses when the last hidden layer loses at least this many bits from its peak; an
#: effect holds when at least ``K_OF_N[0]`` of ``K_OF_N[1]`` seeds show it, is absent when at most
#: ``n - k`` do, and is seed-dependent in between. Fixed before the 8-seed runs.
FALL_BITS = 1.0
K_OF_N = (6, 8)
#: Training error below which a network counts as fitted (the start of the compression phase).
FIT_ERROR = 0.05


@dataclass(frozen=True)
class Plane:
    """The information plane of several seeds of one network, estimated at recorded epochs.

    Attributes:
        activation: ``"tanh"`` or ``"relu"``.
        batch_size: mini-batch size (``None``: full batch).
        seeds: the seeds, one network each.
        epochs: ``(E,)`` epochs with estimates (0 = initialisation).
        ixt, ity: ``(E, S, L)`` binned ``I(X;T_l)`` and ``I(T_l;Y)`` in bits, hidden layer ``l``
            (tanh: Shwartz-Ziv & Tishby's 30 edges on [-1, 1]; ReLU: width 0.07).
        ixt_equal, ity_equal: ``(E, S, L)`` with 30 equal bins on [-1, 1] (tanh with mini-batches
            only; else ``None``).
        ixt_adaptive, ity_adaptive: ``(E, S, L)`` with 30 bins on ``[0, max activation]`` of each
            epoch and layer (ReLU only; ``None`` for tanh).
        exact_ixt: ``(E, S)`` entropy of the unbinned float64 activations of the last hidden layer
            (bits): ``I(X;T_5)`` of the network as computed.
        exact_ixt32: ``(E, S)`` the same activations rounded to float32.
        kde_epochs: ``(K,)`` epochs with KDE estimates, for the first seed.
        kde_ixt, kde_ity: ``(K, L)`` KDE estimates (noise variance 1e-3) for the first seed.
        train_error, test_error: ``(E, S)`` error rates.
        h_y: the label entropy ``H(Y)`` in bits.
        seconds: wall-clock time of the run (training and estimates of all networks in it).
    """

    activation: str
    batch_size: int | None
    seeds: tuple[int, ...]
    epochs: np.ndarray
    ixt: np.ndarray
    ity: np.ndarray
    ixt_equal: np.ndarray | None
    ity_equal: np.ndarray | None
    ixt_adaptive: np.ndarray | None
    ity_adaptive: np.ndarray | None
    exact_ixt: np.ndarray
    exact_ixt32: np.ndarray
    kde_epochs: np.ndarray
    kde_ixt: np.ndarray
    kde_ity: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    h_y: float
    seconds: float = field(compare=False)

    def _curve(self, layer: int, adaptive: bool) -> np.ndarray:
        return (self.ixt_adaptive if adaptive else self.ixt)[:, :, layer]

    def drop(self, layer: int = -1, adaptive: bool = False) -> np.ndarray:
        """``(S,)`` fall of ``I(X;T_layer)`` from its peak over the run to its final value
        (bits)."""
        curve = self._curve(layer, adaptive)
        return curve.max(axis=0) - curve[-1]

    def rise(self, layer: int = -1) -> np.ndarray:
        """``(S,)`` largest increase of ``I(X;T_layer)`` along the run: max over ``e < e'`` of
        ``I(e') - I(e)`` (bits), the size of the "fitting" phase."""
        curve = self.ixt[:, :, layer]
        running_min = np.minimum.accumulate(curve, axis=0)
        return (curve - running_min).max(axis=0)

    def fit_index(self, error: float = FIT_ERROR) -> np.ndarray:
        """``(S,)`` index of the first recorded epoch with training error below ``error`` (-1:
        never)."""
        below = self.train_error < error
        return np.where(below.any(axis=0), below.argmax(axis=0), -1)

    def drop_after_fit(
        self, layer: int = -1, adaptive: bool = False, error: float = FIT_ERROR
    ) -> np.ndarray:
        """``(S,)`` fall of ``I(X;T_layer)`` from its peak *after* the fit (training error below
        ``error``) to the end, bits; NaN for a seed that never fits."""
        curve, fit = self._curve(layer, adaptive), self.fit_index(error)
        out = np.full(curve.shape[1], np.nan)
        for s, f in enumerate(fit):
            if f >= 0:
                out[s] = curve[f:, s].max() - curve[-1, s]
        return out

    def rise_before_fit(self, layer: int = -1, error: float = FIT_ERROR) -> np.ndarray:
        """``(S,)`` largest increase of ``I(X;T_layer)`` up to the fit (the fitting phase), bits;
        NaN for a seed that never fits."""
        curve, fit = self.ixt[:, :, layer], self.fit_index(error)
        out = np.full(curve.shape[1], np.nan)
        for s, f in enumerate(fit):
            if f >= 0:
                c = curve[: f + 1, s]
                out[s] = (c - np.minimum.accumulate(c)).max()
        return out

    def peak_epoch(self, layer: int = -1) -> np.ndarray:
        """``(S,)`` epoch at which ``I(X;T_layer)`` peaks (first maximum)."""
        return self.epochs[self.ixt[:, :, layer].argmax(axis=0)]

    def dpi_violation(self, adaptive: bool = False) -> tuple[float, float]:
        """Largest excess of a deeper layer over the layer before it,
        ``max I(.;T_{l+1}) - I(.;T_l)``, over epochs, seeds and layers, for ``I(X;T)`` and
        ``I(T;Y)`` (bits; <= 0 when the binned estimates obey the data-processing inequality)."""
        ixt = self.ixt_adaptive if adaptive else self.ixt
        ity = self.ity_adaptive if adaptive else self.ity
        return float(np.diff(ixt, axis=-1).max()), float(np.diff(ity, axis=-1).max())


def count_verdict(count: int, n: int, k: int = K_OF_N[0]) -> str:
    """The k-of-n rule in words: ``"holds"`` (>= k of n), ``"absent"`` (<= n - k), else
    ``"seed-dependent"``.

    Example:
        >>> count_verdict(7, 8), count_verdict(1, 8), count_verdict(4, 8)
        ('holds', 'absent', 'seed-dependent')
    """
    k = round(k * n / K_OF_N[1])
    return "holds" if count >= k else "absent" if count <= n - k else "seed-dependent"


@dataclass(frozen=True)
class BitNetworks:
    """The tanh and ReLU networks of the 12-bit task, trained together (one batched model).

    Attributes:
        tanh: the tanh networks' information plane.
        relu: the ReLU networks' information plane.
    """

    tanh: Plane
    relu: Plane


@dataclass(frozen=True)
class FullBatchComparison:
    """Mini-batch and full-batch training of the tanh network.

    Attributes:
        minibatch: Adam with mini-batches of 256.
        full_batch: Adam on the whole training split at every step (no mini-batch noise).
    """

    minibatch: Plane
    full_batch: Plane


def _data(device):
    d = bitdata.surrogate()
    x = torch.tensor(2 * d.x - 1, dtype=torch.float32, device=device)
    y = torch.tensor(d.y, device=device)
    return d, x, y


def _estimates(kind, hk, y, *, last: bool, equal: bool):
    """Binned estimates of one kind of network's layer ``hk`` (S, N, d): a dict of (S,) arrays; the
    exact (unbinned) entropies for the ``last`` hidden layer, 30 equal bins if ``equal`` (tanh)."""
    out = {}
    if kind == "tanh":
        out["ixt"], out["ity"] = est.binned_information(hk, y, edges=est.SZ_EDGES)
        if equal:
            out["ixe"], out["iye"] = est.binned_information(
                hk, y, bins=TANH_BINS, low=-1.0, high=1.0
            )
    else:
        out["ixt"], out["ity"] = est.binned_information(hk, y, width=RELU_WIDTH)
        top = hk.amax(dim=(1, 2)).clamp(min=1e-6)
        out["ixa"], out["iya"] = est.binned_information(hk, y, bins=TANH_BINS, low=0.0, high=top)
    if last:
        out["ex"] = est.exact_entropy(hk)
        out["ex32"] = est.exact_entropy(hk.float())
    return {k: v.cpu().numpy() for k, v in out.items()}


def _train_planes(activations, seeds, *, scale, device, batch_size):
    sz = sizes(scale)
    device = torch.device("cpu") if device is None else torch.device(device)
    d, x, y = _data(device)
    h_y = bitdata.label_entropy(d.y)
    record = record_epochs(sz)
    pick = np.unique(np.round(np.linspace(0, len(record) - 1, sz.n_kde)).astype(int))
    kde_at = {record[i] for i in pick}
    model_seeds = list(seeds) * (len(activations) // len(seeds))
    kinds = sorted(set(activations), key=activations.index)
    first = {k: activations.index(k) for k in kinds}
    group = {k: [i for i, a in enumerate(activations) if a == k] for k in kinds}
    out = {k: {"est": [], "ke": [], "kx": [], "ky": [], "tr": [], "te": []} for k in kinds}

    def on_record(epoch, hidden, train_err, test_err):
        for k in kinds:
            o, sel = out[k], group[k]
            per_layer = [
                _estimates(k, h[sel], y, last=i == len(hidden) - 1, equal=batch_size is not None)
                for i, h in enumerate(hidden)
            ]
            row = {key: np.stack([e[key] for e in per_layer], -1) for key in per_layer[0]}
            row.update(ex=per_layer[-1]["ex"], ex32=per_layer[-1]["ex32"])
            o["est"].append(row)
            o["tr"].append(train_err[sel].cpu().numpy())
            o["te"].append(test_err[sel].cpu().numpy())
            if epoch in kde_at:
                kx, ky = zip(
                    *(
                        est.kde_information(
                            h[first[k]], y, noise_var=NOISE_VAR, rows=sz.kde_rows, seed=epoch
                        )
                        for h in hidden
                    ),
                    strict=False,
                )
                o["ke"].append(epoch)
                o["kx"].append(np.array([float(v) for v in kx]))
                o["ky"].append(np.array([float(v) for v in ky]))

    start = time.perf_counter()
    model = network.BatchedMLP.init(WIDTHS, activations, model_seeds, device=device)
    n_train = int(round(TRAIN_FRACTION * bitdata.N_PATTERNS))
    train_idx = network.split_indices(bitdata.N_PATTERNS, n_train, model_seeds)
    network.train_batched(
        model,
        x,
        y,
        train_idx=train_idx,
        epochs=sz.epochs,
        lr=LR,
        batch_size=batch_size,
        seeds=model_seeds,
        record_epochs=record,
        on_record=on_record,
        record_dtype=torch.float64,
    )
    seconds = time.perf_counter() - start
    planes = {}
    for k in kinds:
        o = out[k]
        e = {key: np.stack([r[key] for r in o["est"]]) for key in o["est"][0]}
        planes[k] = Plane(
            activation=k,
            batch_size=batch_size,
            seeds=tuple(seeds),
            epochs=np.array(record),
            ixt=e["ixt"],
            ity=e["ity"],
            ixt_equal=e.get("ixe"),
            ity_equal=e.get("iye"),
            ixt_adaptive=e.get("ixa"),
            ity_adaptive=e.get("iya"),
            exact_ixt=e["ex"],
            exact_ixt32=e["ex32"],
            kde_epochs=np.array(o["ke"]),
            kde_ixt=np.stack(o["kx"]),
            kde_ity=np.stack(o["ky"]),
            train_error=np.stack(o["tr"]),
            test_error=np.stack(o["te"]),
            h_y=h_y,
            seconds=seconds,
        )
    return planes


_CACHE: dict = {}


def _device_key(device) -> str:
    return str(torch.device("cpu") if device is None else torch.device(device))


def _once(fn, *key):
    """``fn()`` computed once per process for ``key`` (the figures and the chapter share one
    run)."""
    if key not in _CACHE:
        _CACHE[key] = fn()
    return _CACHE[key]


def initial_information(*, scale: str = "book") -> np.ndarray:
    """``(S, L)`` binned ``I(X;T_l)`` (Shwartz-Ziv & Tishby's edges) of the tanh networks at
    initialisation, before any training: a check of the estimator that costs no training.

    Example:
        >>> bool(initial_information()[:, 0].min() > 11.99)
        True
    """
    seeds = sizes(scale).seeds
    d, x, y = _data(None)
    model = network.BatchedMLP.init(WIDTHS, ["tanh"] * len(seeds), seeds, dtype=torch.float64)
    hidden = model.forward(x.double().expand(len(seeds), *x.shape))[:-1]
    return np.stack(
        [est.binned_information(h, y, edges=est.SZ_EDGES)[0].numpy() for h in hidden], -1
    )


def run_bit_networks(*, scale: str = "book", device=None) -> BitNetworks:
    """Train the 12-10-7-5-4-3-2 network with tanh and with ReLU units (Adam 4e-4, batches of 256,
    80% training split), all seeds as one batched model, and estimate the information plane of every
    hidden layer at log-spaced epochs.

    Example:
        >>> sizes("book").n_record  # the full run takes about a minute; see the chapter
        30
    """
    sz = sizes(scale)
    seeds = sz.seeds

    def run():
        planes = _train_planes(
            ["tanh"] * len(seeds) + ["relu"] * len(seeds),
            seeds,
            scale=scale,
            device=device,
            batch_size=BATCH,
        )
        return BitNetworks(tanh=planes["tanh"], relu=planes["relu"])

    return _once(run, "bit-networks", sz, _device_key(device))


def run_full_batch(*, scale: str = "book", device=None) -> Plane:
    """The tanh network trained exactly as in :func:`run_bit_networks` but on the whole training
    split at every step (one deterministic Adam step per epoch, no mini-batch noise)."""
    sz = sizes(scale)
    return _once(
        lambda: _train_planes(
            ["tanh"] * len(sz.seeds), sz.seeds, scale=scale, device=device, batch_size=None
        )["tanh"],
        "full-batch",
        sz,
        _device_key(device),
    )


def run_full_batch_comparison(*, scale: str = "book", device=None) -> FullBatchComparison:
    """Both runs of the full-batch figure (used when the figure is rebuilt on its own)."""
    return FullBatchComparison(
        minibatch=run_bit_networks(scale=scale, device=device).tanh,
        full_batch=run_full_batch(scale=scale, device=device),
    )


@dataclass(frozen=True)
class MixtureBounds:
    """Pairwise-distance bounds on the entropy of a Gaussian mixture against a Monte Carlo value.

    Attributes:
        var: ``(V,)`` component variances.
        lower, upper: ``(V,)`` Bhattacharyya and KL bounds (bits).
        mc, mc_se: ``(V,)`` Monte Carlo entropy and its standard error (bits).
        n_components, dim: the mixture's size.
    """

    var: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mc: np.ndarray
    mc_se: np.ndarray
    n_components: int
    dim: int


def run_mixture_bounds(
    *, n_components: int = 32, dim: int = 2, n_samples: int = 20000, seed: int = 0
) -> MixtureBounds:
    """Bounds and Monte Carlo entropy of a mixture of ``n_components`` isotropic Gaussians in
    ``dim`` dimensions (centres standard normal), over variances from 1e-3 to 10.

    Example:
        >>> m = run_mixture_bounds(n_components=4, n_samples=2000)
        >>> bool((m.lower <= m.upper).all())
        True
    """
    n_components = checks.integer("n_components", n_components, low=1, high=4096)
    dim = checks.integer("dim", dim, high=64)
    g = torch.Generator().manual_seed(checks.seed(seed))
    centres = torch.randn(n_components, dim, generator=g, dtype=torch.float64)
    var = np.logspace(-3, 1, 9)
    lo, up, mc, se = [], [], [], []
    for i, v in enumerate(var):
        a, b = est.mixture_entropy_bounds(centres, var=float(v))
        h, s = est.mixture_entropy_mc(centres, var=float(v), n_samples=n_samples, seed=seed + 1 + i)
        lo.append(a), up.append(b), mc.append(h), se.append(s)
    return MixtureBounds(
        var=var,
        lower=np.array(lo),
        upper=np.array(up),
        mc=np.array(mc),
        mc_se=np.array(se),
        n_components=n_components,
        dim=dim,
    )


@dataclass(frozen=True)
class EstimatorComparison:
    """What the estimator figure shows: the mixture check and both networks' estimates.

    Attributes:
        mixture: the Gaussian-mixture bounds.
        nets: the tanh and ReLU runs (binning, adaptive binning and KDE of the first seed).
    """

    mixture: MixtureBounds
    nets: BitNetworks


@dataclass(frozen=True)
class LinearPlane:
    """The linear student-teacher network: exact ``I(X;T)`` along training.

    Attributes:
        epochs: ``(E,)`` recorded gradient steps.
        ixt: ``(E,)`` closed form ``1/2 log2 det(I + W1 W1^T / sigma^2)`` (bits).
        ixt_svd: ``(E,)`` the same from the singular values of ``W1``,
            ``sum 1/2 log2(1 + s^2/sigma^2)`` (an independent computation).
        ixt_kde: ``(E,)`` KDE upper bound from ``n_kde`` samples of ``X``, noise variance
        ``sigma^2``. train_error, test_error: ``(E,)`` mean squared errors (test error exact).
        noise_var: ``sigma^2``. n_kde: samples used by the KDE. d_in, d_hidden, n_train: the sizes.
    """

    epochs: np.ndarray
    ixt: np.ndarray
    ixt_svd: np.ndarray
    ixt_kde: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    noise_var: float
    n_kde: int
    d_in: int
    d_hidden: int
    n_train: int


def run_linear(
    *, scale: str = "book", seed: int = 0, noise_var: float = 0.1, n_kde: int = 1000
) -> LinearPlane:
    """Train a linear 10-10-1 student on 30 samples of a noisy linear teacher by gradient descent
    and follow ``I(X;T)`` of its hidden layer (with noise ``sigma^2``) exactly, and by KDE.

    Example:
        >>> r = run_linear(n_kde=200)
        >>> bool(np.abs(r.ixt - r.ixt_svd).max() < 1e-10)
        True
    """
    sz = sizes(scale)
    noise_var = checks.positive("noise_var", noise_var)
    n_kde = checks.integer("n_kde", n_kde, low=2, high=8192)
    d_in = d_hidden = 10
    n_train = 30
    record = network.log_epochs(sz.linear_epochs, 40)
    r = linear.train_linear_student(
        d_in=d_in,
        d_hidden=d_hidden,
        n_train=n_train,
        epochs=sz.linear_epochs,
        lr=0.05,
        init_scale=0.01,
        noise_std=0.3,
        record_epochs=record,
        seed=seed,
    )
    w1 = torch.tensor(r.w1)
    ixt = linear.gaussian_information(w1, noise_var=noise_var).numpy()
    s = np.linalg.svd(r.w1, compute_uv=False)
    ixt_svd = 0.5 * np.log2(1 + s**2 / noise_var).sum(axis=1)
    g = torch.Generator().manual_seed(seed + 1)
    xs = torch.randn(n_kde, d_in, generator=g, dtype=torch.float64)
    t = xs @ w1.transpose(1, 2)  # (E, n_kde, d_hidden)
    zeros = torch.zeros(n_kde, dtype=torch.long)
    ixt_kde = est.kde_information(t, zeros, noise_var=noise_var)[0].numpy()
    return LinearPlane(
        epochs=r.epochs,
        ixt=ixt,
        ixt_svd=ixt_svd,
        ixt_kde=ixt_kde,
        train_error=r.train_error,
        test_error=r.test_error,
        noise_var=noise_var,
        n_kde=n_kde,
        d_in=d_in,
        d_hidden=d_hidden,
        n_train=n_train,
    )


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------


def _shade(color, frac):
    """``color`` mixed with white: light at ``frac = 0``, full at ``frac = 1``."""
    from matplotlib.colors import to_rgb

    c = np.array(to_rgb(color))
    f = 0.25 + 0.75 * np.asarray(frac)[:, None]
    return np.clip(1 - f * (1 - c), 0, 1)


def _plane_axes(ax, plane: Plane, ixt, ity, seed_index=0, title=""):
    e = plane.epochs
    frac = np.log1p(e) / np.log1p(e[-1])
    n_layers = ixt.shape[-1]
    for layer in range(n_layers):
        col = figures.PALETTE[layer % len(figures.PALETTE)]
        x, y = ixt[:, seed_index, layer], ity[:, seed_index, layer]
        ax.plot(
            x,
            y,
            color=col,
            lw=0.8,
            alpha=0.6,
            marker="o",
            ms=4,
            label=f"layer {layer + 1} ({WIDTHS[layer + 1]})",
        )
        ax.scatter(x, y, c=_shade(col, frac), s=14, zorder=3)
    ax.set_xlabel(r"$I(X;T)$ [bits]")
    ax.set_ylabel(r"$I(T;Y)$ [bits]")
    ax.set_title(title)


@figures.register("information/planes", compute=partial(run_bit_networks, scale="book"))
def plot_planes(data: BitNetworks):
    """Binned information planes of the tanh and ReLU networks (first seed), layers coloured."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.0), sharey=True)
    _plane_axes(
        axes[0],
        data.tanh,
        data.tanh.ixt,
        data.tanh.ity,
        title="tanh, 30 edges on $[-1, 1]$ (seed 0)",
    )
    _plane_axes(
        axes[1],
        data.relu,
        data.relu.ixt,
        data.relu.ity,
        title=f"ReLU, bins of width {RELU_WIDTH} (seed 0)",
    )
    axes[1].legend(
        loc="lower right", title="light: early, dark: late", fontsize=8, title_fontsize=8
    )
    return fig


@figures.register("information/relu-binning", compute=partial(run_bit_networks, scale="book"))
def plot_relu_binning(data: BitNetworks):
    """The same ReLU run binned with fixed width and with 30 bins on [0, max activation]."""
    import matplotlib.pyplot as plt

    r = data.relu
    fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.6))
    _plane_axes(axes[0], r, r.ixt, r.ity, title=f"seed 0, fixed width {RELU_WIDTH}")
    _plane_axes(
        axes[1], r, r.ixt_adaptive, r.ity_adaptive, title=r"seed 0, 30 bins on $[0, \max T]$"
    )
    axes[1].set_ylim(axes[0].get_ylim())
    axes[0].legend(loc="lower right", fontsize=8)
    ax = axes[2]
    e = np.maximum(r.epochs, 0.5)
    for k, s in enumerate(r.seeds):
        col = figures.PALETTE[k]
        ax.plot(e, r.ixt[:, k, -1], color=col, label=f"seed {s}, fixed width")
        ax.plot(e, r.ixt_adaptive[:, k, -1], "--", color=col, label=f"seed {s}, adaptive")
    ax.set_xscale("log")
    ax.set_xlabel("epoch (0 drawn at 0.5)")
    ax.set_ylabel(r"$I(X;T_5)$ [bits]")
    ax.set_title("last hidden layer, every seed")
    ax.legend(fontsize=8, ncol=1)
    return fig


def _bit_networks_and_mixture():
    return EstimatorComparison(
        mixture=_once(run_mixture_bounds, "mixture"), nets=run_bit_networks(scale="book")
    )


@figures.register("information/estimators", compute=_bit_networks_and_mixture)
def plot_estimators(data: EstimatorComparison):
    """Mixture bounds against Monte Carlo; last hidden layer's I(X;T) under each estimator."""
    import matplotlib.pyplot as plt

    m, nets = data.mixture, data.nets
    pal = figures.PALETTE
    fig, axes = plt.subplots(1, 3, figsize=(10.0, 3.6))
    ax = axes[0]
    ax.errorbar(
        m.var, m.mc, yerr=2 * m.mc_se, fmt="o", color=pal[7], ms=3, label="Monte Carlo (exact)"
    )
    ax.plot(m.var, m.upper, color=pal[1], label="KL bound (upper)")
    ax.plot(m.var, m.lower, color=pal[0], label="BD bound (lower)")
    ax.set_xscale("log")
    ax.set_xlabel(r"component variance $\sigma^2$")
    ax.set_ylabel(r"$H$ [bits]")
    ax.set_title(f"mixture of {m.n_components} Gaussians, $d = {m.dim}$")
    ax.legend(fontsize=8)
    for ax, plane, name in ((axes[1], nets.tanh, "tanh"), (axes[2], nets.relu, "ReLU")):
        e = np.maximum(plane.epochs, 0.5)
        label = "binning" + (f" (width {RELU_WIDTH})" if name == "ReLU" else " (30 edges)")
        ax.plot(e, plane.ixt[:, 0, -1], color=pal[0], label=label)
        if plane.ixt_adaptive is not None:
            ax.plot(
                e, plane.ixt_adaptive[:, 0, -1], color=pal[4], label=r"30 bins on $[0, \max T]$"
            )
        ax.plot(
            np.maximum(plane.kde_epochs, 0.5),
            plane.kde_ixt[:, -1],
            "s--",
            color=pal[1],
            ms=4,
            label=r"KDE upper bound ($\sigma^2 = 10^{-3}$)",
        )
        ax.plot(e, plane.exact_ixt[:, 0], ":", color=pal[2], label="unbinned, float64")
        ax.plot(
            e, plane.exact_ixt32[:, 0], "-.", color=pal[3], label="unbinned, rounded to float32"
        )
        ax.set_xscale("log")
        ax.set_xlabel("epoch (0 drawn at 0.5)")
        ax.set_ylabel(r"$I(X;T_5)$ [bits]")
        ax.set_title(f"{name}: last hidden layer, seed 0")
        ax.legend(fontsize=8)
    return fig


@figures.register(
    "information/full-batch", compute=partial(run_full_batch_comparison, scale="book")
)
def plot_full_batch(data: FullBatchComparison):
    """Binned information planes of the tanh network, mini-batch against full-batch training."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 4.0), sharey=True)
    p = data.minibatch
    _plane_axes(axes[0], p, p.ixt, p.ity, title="mini-batches of 256 (seed 0)")
    p = data.full_batch
    _plane_axes(axes[1], p, p.ixt, p.ity, title="full batch (seed 0)")
    axes[1].legend(loc="lower right", title="tanh; light: early", fontsize=8, title_fontsize=8)
    return fig


@figures.register("information/linear", compute=partial(run_linear, scale="book"))
def plot_linear(data: LinearPlane):
    """Closed-form and KDE I(X;T) of the linear student, and its errors, against training time."""
    import matplotlib.pyplot as plt

    pal = figures.PALETTE
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    e = np.maximum(data.epochs, 0.5)
    ax = axes[0]
    ax.plot(
        e,
        data.ixt,
        color=pal[0],
        label=r"closed form $\frac{1}{2}\log_2\det(I + W_1W_1^\top/\sigma^2)$",
    )
    ax.plot(e, data.ixt_kde, "--", color=pal[1], label=f"KDE upper bound ({data.n_kde} samples)")
    ax.set_xscale("log")
    ax.set_xlabel("gradient step (0 drawn at 0.5)")
    ax.set_ylabel(r"$I(X;T)$ [bits]")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(e, data.test_error, color=pal[2], label="test error (exact)")
    ax.plot(e, data.train_error, color=pal[3], label="training error")
    ax.set_xscale("log")
    ax.set_xlabel("gradient step (0 drawn at 0.5)")
    ax.set_ylabel("mean squared error")
    ax.legend(fontsize=8)
    return fig
