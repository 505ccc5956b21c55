"""Mutual-information estimators for the information plane: binning and pairwise-distance KDE
bounds.

A layer ``T = f(X)`` of a deterministic network on a finite data set of ``N`` *distinct* inputs,
each with probability ``1/N`` (the 4096 patterns of the 12-bit task), has ``H(T | X) = 0``. Two ways
of turning that degenerate quantity into a finite number are in use, and this module implements
both, vectorised over any leading batch dimensions (models, epochs) of the activations ``t`` of
shape ``(..., N, d)``:

* **binning** (Shwartz-Ziv & Tishby 2017): discretise each unit into bins, so ``T`` becomes a
  discrete variable and ``I(X;T) = H(T_bin)``, ``I(T;Y) = H(T_bin) + H(Y) - H(T_bin, Y)``.
  Shwartz-Ziv & Tishby use 30 equal bins on ``[-1, 1]`` for tanh units; Saxe et al. (2018) bins of
  fixed width 0.07 for unbounded (ReLU) units. Each row of bin indices is turned into one exact
  integer code (mixed radix, re-densified with ``torch.unique`` before it could overflow), the codes
  are sorted per batch entry and the entropy is read off the run lengths: no Python loop over
  samples or models.
* **pairwise-distance KDE** (Kolchinsky & Tracey 2017; Kolchinsky, Tracey & Wolpert 2019): add
  Gaussian noise ``Z ~ N(0, var I)`` to the layer, ``T' = T + Z``. ``T'`` is a mixture of ``N``
  Gaussians, and ``I(X;T') = H(T') - H(Z)`` is bounded above by the pairwise KL bound

      I(X;T') <= - (1/N) sum_i ln (1/N) sum_j exp(-|t_i - t_j|^2 / (2 var)),

  and below by the same expression with ``8 var`` (the Bhattacharyya bound). ``I(T';Y)`` is
  estimated, as by Saxe et al., by the difference of the upper bounds on ``H(T')`` and
  ``H(T' | Y)``. One ``torch.cdist`` per batch entry gives all ``N^2`` distances.

All results are in bits.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dltheory import _checks as checks

__all__ = [
    "bin_indices",
    "binned_information",
    "kde_information",
    "mixture_entropy_bounds",
    "mixture_entropy_mc",
    "entropy_bits",
    "exact_entropy",
    "SZ_EDGES",
]

#: Shwartz-Ziv & Tishby's binning of tanh units: ``np.linspace(-1, 1, 30)`` as edges of
#: ``np.digitize`` (29 intervals of width 2/29, and +1.0 in a bin of its own).
SZ_EDGES = tuple(float(v) for v in np.linspace(-1.0, 1.0, 30))

_LN2 = math.log(2.0)


def _activations(t, *, min_ndim: int = 2, name: str = "t") -> torch.Tensor:
    t = checks.tensor(name, t)
    if t.ndim < min_ndim or t.shape[-1] < 1 or t.shape[-2] < 1:
        raise ValueError(
            f"{name} must have shape (..., N, d) with N >= 1 samples and d >= 1 units; "
            f"got shape {tuple(t.shape)}"
        )
    return t


def _binary_labels(y, n: int, device) -> torch.Tensor:
    if isinstance(y, torch.Tensor) and y.dtype == torch.bool:
        y = y.long()
    return checks.labels("y", y, n_classes=2, n=n).to(device)


def bin_indices(
    t, *, bins: int | None = None, low=-1.0, high=1.0, width: float | None = None, edges=None
) -> torch.Tensor:
    """Bin index of every unit: ``bins`` equal bins on ``[low, high]``, bins of fixed ``width``, or
    the intervals between sorted ``edges``.

    With ``bins``, values below ``low`` (above ``high``) go to the first (last) bin; ``low`` and
    ``high`` may be tensors broadcasting against the batch shape ``t.shape[:-2]`` (a range per model
    or epoch). With ``width``, the index is ``floor(t / width)`` (bin edges at multiples of
    ``width``). With ``edges`` (increasing), the index is ``np.digitize(t, edges)``: ``i`` for
    ``edges[i-1] <= t < edges[i]``, 0 below the first edge, ``len(edges)`` at or above the last;
    with
    :data:`SZ_EDGES` this is Shwartz-Ziv & Tishby's rule, where +1.0 has a bin of its own.

    Args:
        t: activations, shape ``(..., N, d)``.
        bins: number of equal bins (exclusive with ``width``).
        low, high: the binned range, ``low < high``.
        width: fixed bin width > 0.
        edges: increasing bin edges (exclusive with ``bins`` and ``width``).

    Returns:
        ``int64`` tensor of the shape of ``t``.

    Example:
        >>> bin_indices([[-1.0, 0.0, 0.99]], bins=2).tolist()
        [[0, 1, 1]]
        >>> bin_indices([[0.0, 0.069, 0.07, -0.01]], width=0.07).tolist()
        [[0, 0, 1, -1]]
        >>> bin_indices([[-1.0, 0.0, 0.999, 1.0]], edges=SZ_EDGES).tolist()
        [[1, 15, 29, 30]]
    """
    t = _activations(t)
    if (bins is not None) + (width is not None) + (edges is not None) != 1:
        raise ValueError(
            "give exactly one of bins (equal bins on [low, high]), width (fixed width) and edges"
        )
    if edges is not None:
        e = checks.tensor("edges", edges, ndim=1, dtype=t.dtype).to(t.device)
        if e.numel() < 1 or not bool((e[1:] > e[:-1]).all()):
            raise ValueError("edges must be a non-empty, strictly increasing sequence")
        return torch.bucketize(t, e, right=True)
    if width is not None:
        width = checks.positive("width", width)
        return torch.floor(t / width).long()
    bins = checks.integer("bins", bins, low=1, high=2**20)
    batch = t.shape[:-2]
    lo = checks.tensor("low", low, dtype=t.dtype).to(t.device)
    hi = checks.tensor("high", high, dtype=t.dtype).to(t.device)
    try:
        lo, hi = (torch.broadcast_to(v, batch) for v in (lo, hi))
    except RuntimeError:
        raise ValueError(
            f"low and high must broadcast to the batch shape {tuple(batch)}; got shapes "
            f"{tuple(lo.shape)} and {tuple(hi.shape)}"
        ) from None
    if not bool((hi > lo).all()):
        raise ValueError("high must be larger than low for every batch entry")
    lo, hi = lo[..., None, None], hi[..., None, None]
    idx = torch.floor((t - lo) / (hi - lo) * bins).long()
    return idx.clamp_(0, bins - 1)


def _row_codes(idx: torch.Tensor) -> torch.Tensor:
    """One exact int64 code per row of ``idx`` (shape ``(B, N, d)``), equal iff the rows are
    equal."""
    idx = idx - idx.amin(dim=(0, 1), keepdim=True)
    code = torch.zeros(idx.shape[:2], dtype=torch.long, device=idx.device)
    bound = 1
    for k in range(idx.shape[-1]):
        r = int(idx[..., k].max()) + 1
        if bound * r >= 2**62:  # re-densify: codes become ranks among the distinct codes
            code = torch.unique(code, return_inverse=True)[1]
            bound = int(code.max()) + 1
        code = code * r + idx[..., k]
        bound *= r
    return code


def _code_entropy(code: torch.Tensor) -> torch.Tensor:
    """Plug-in entropy in bits of each row of ``code`` (``(B, N)``; every sample has weight 1/N)."""
    s = torch.sort(code, dim=-1).values
    n = s.shape[-1]
    new = torch.ones_like(s, dtype=torch.bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    pos = torch.arange(n, device=s.device).expand_as(s)
    start = torch.where(new, pos, torch.zeros_like(pos)).cummax(dim=-1).values
    j = (pos - start + 1).double()  # rank inside its run of equal codes: 1, 2, ..., n_k
    jm = j - 1
    f = j * torch.log(j) - torch.where(
        jm > 0, jm * torch.log(jm.clamp(min=1)), torch.zeros_like(jm)
    )
    nats = math.log(n) - f.sum(dim=-1) / n  # sum_k n_k ln n_k, telescoped over each run
    return (nats / _LN2).clamp(min=0.0)


def entropy_bits(codes) -> torch.Tensor:
    """Plug-in entropy (bits) of discrete samples, one row per batch entry: ``codes`` of shape (...,
    N).

    Example:
        >>> [round(float(h), 6) for h in entropy_bits([[0, 0, 1, 1], [3, 3, 3, 3], [0, 1, 2, 3]])]
        [1.0, 0.0, 2.0]
    """
    try:
        c = torch.as_tensor(codes)
    except (TypeError, RuntimeError, ValueError):
        raise TypeError(
            f"codes must be an integer tensor of shape (..., N); got {type(codes).__name__}"
        ) from None
    checks.size("codes", c.numel())
    if c.dtype.is_floating_point or c.dtype == torch.bool or c.ndim < 1 or c.shape[-1] < 1:
        raise TypeError(
            f"codes must be an integer tensor of shape (..., N) with N >= 1; got {c.dtype} "
            f"of shape {tuple(c.shape)}"
        )
    return _code_entropy(c.reshape(-1, c.shape[-1]).long()).reshape(c.shape[:-1])


def exact_entropy(t) -> torch.Tensor:
    """Entropy in bits of the *unbinned* rows of ``t`` (shape ``(..., N, d)``), each of weight
    ``1/N``.

    Two rows fall together only when every unit is exactly equal in floating point: for a network on
    ``N`` distinct, equiprobable inputs this is ``I(X;T) = H(T)`` of the computed activations, at
    the precision they are stored in (a tanh unit is exactly 1.0 in float32 once its input exceeds
    about 9, in float64 about 19).

    Example:
        >>> [round(float(h), 6) for h in exact_entropy([[[0.0], [0.5]], [[1.0], [1.0]]])]
        [1.0, 0.0]
    """
    t = _activations(t)
    batch, (n, d) = t.shape[:-2], t.shape[-2:]
    flat = t.reshape(-1, n, d) + 0.0  # -0.0 becomes +0.0
    return _code_entropy(
        _row_codes(torch.stack([_ranks(flat[..., k]) for k in range(d)], -1))
    ).reshape(batch)


def _ranks(v: torch.Tensor) -> torch.Tensor:
    """Rank of every entry of ``v`` among its distinct values (equal values, equal ranks)."""
    flat = v.reshape(-1)
    s, order = torch.sort(flat)
    new = torch.ones_like(s, dtype=torch.long)
    new[1:] = s[1:] != s[:-1]
    rank = torch.empty_like(new)
    rank[order] = new.cumsum(0) - 1
    return rank.view(v.shape)


def binned_information(
    t, y, *, bins: int | None = None, low=-1.0, high=1.0, width: float | None = None, edges=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``I(X;T)`` and ``I(T;Y)`` in bits from binned activations of ``N`` distinct, equiprobable
    inputs.

    ``I(X;T) = H(T_bin)`` because ``T`` is a function of ``X``;
    ``I(T;Y) = H(T_bin) + H(Y) - H(T_bin, Y)``. Both are plug-in estimates over the ``N`` samples,
    so ``I(X;T) <= log2 N`` and ``I(T;Y) <= H(Y)``.

    Args:
        t: activations, shape ``(..., N, d)`` (any leading batch dimensions: models, epochs).
        y: labels in {0, 1}, shape ``(N,)``.
        bins, low, high, width, edges: the binning, as in :func:`bin_indices`.

    Returns:
        ``(I(X;T), I(T;Y))``, two float64 tensors of the batch shape ``t.shape[:-2]``.

    Raises:
        ValueError: for bins <= 0, width <= 0, a bad shape, or labels outside {0, 1}.

    Example:
        >>> x = torch.tensor([[-1.0], [-0.5], [0.5], [1.0]])
        >>> ixt, ity = binned_information(x, [0, 0, 1, 1], bins=2)
        >>> round(float(ixt), 6), round(float(ity), 6)
        (1.0, 1.0)
    """
    t = _activations(t)
    y = _binary_labels(y, t.shape[-2], t.device)
    idx = bin_indices(t, bins=bins, low=low, high=high, width=width, edges=edges)
    batch, (n, d) = t.shape[:-2], t.shape[-2:]
    code = _row_codes(idx.reshape(-1, n, d))
    h_t = _code_entropy(code)
    h_ty = _code_entropy(code * 2 + y)
    h_y = _code_entropy(y[None])
    return h_t.reshape(batch), (h_t + h_y - h_ty).clamp(min=0.0).reshape(batch)


def _pairwise_terms(t, t_rows, y, y_rows, scale: float, chunk: int):
    """For each row ``i`` of ``t_rows``: ln sum_j exp(-|t_i - t_j|^2 / scale), over all ``j`` of
    ``t`` and over the ``j`` of the same label (float64)."""
    l_all, l_same = [], []
    for s in range(0, t_rows.shape[0], chunk):
        d2 = torch.cdist(t_rows[s : s + chunk], t).square_().div_(-scale)
        l_all.append(torch.logsumexp(d2, dim=-1))
        d2.masked_fill_(y_rows[s : s + chunk, None] != y[None, :], -math.inf)
        l_same.append(torch.logsumexp(d2, dim=-1))
    return torch.cat(l_all), torch.cat(l_same)


def kde_information(
    t, y, *, noise_var: float = 1e-3, rows: int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairwise-distance KDE estimates, in bits, of ``I(X;T')`` and ``I(T';Y)`` for ``T' = T + Z``.

    ``Z ~ N(0, noise_var I)``; the first value is Kolchinsky & Tracey's KL upper bound on
    ``I(X;T')`` (module docstring), the second the difference of the upper bounds on ``H(T')`` and
    ``H(T'|Y)``, as in Saxe et al. (2018); that difference is *not* a bound and can exceed ``H(Y)``.
    One ``torch.cdist`` per batch entry, in float64.

    Args:
        t: activations, shape ``(..., N, d)``.
        y: labels in {0, 1}, shape ``(N,)``.
        noise_var: variance of the added Gaussian noise, > 0 (1e-3 in Saxe et al.'s code).
        rows: if given, the outer average over ``i`` runs over this many samples drawn without
            replacement (the inner sums keep all ``N``): an unbiased estimate of the same bound at
            ``rows / N`` of the cost, still ``<= log2 N``.
        seed: seed of that subsample.

    Returns:
        ``(I(X;T'), I(T';Y))``, float64 tensors of the batch shape ``t.shape[:-2]``.

    Example:
        >>> t = torch.tensor([[0.0], [0.0], [5.0], [5.0]])  # two well separated clusters
        >>> ixt, ity = kde_information(t, [0, 0, 1, 1], noise_var=1e-3)
        >>> round(float(ixt), 6), round(float(ity), 6)
        (1.0, 1.0)
    """
    t = _activations(t)
    noise_var = checks.positive("noise_var", noise_var)
    n = t.shape[-2]
    y = _binary_labels(y, n, t.device)
    checks.size("t (pairwise distances of a chunk)", min(n, 1024) * n)
    if rows is not None:
        rows = checks.integer("rows", rows, low=1, high=n)
    n_batch = t[..., 0, 0].numel()
    checks.size("t (rows x samples pairs of the kernel sum)", (rows or n) * n)
    checks.work("t", n_batch * (rows or n), n * (t.shape[-1] + 100))
    if rows is not None:
        pick = torch.randperm(n, generator=torch.Generator().manual_seed(checks.seed(seed)))[:rows]
        pick = pick.sort().values.to(t.device)
    else:
        pick = torch.arange(n, device=t.device)
    flat = t.reshape(-1, n, t.shape[-1]).double()
    counts = torch.bincount(y, minlength=2).double()
    p = counts / n
    y_pick = y[pick]
    ixt, ity = [], []
    for tb in flat:
        l_all, l_same = _pairwise_terms(tb, tb[pick], y, y_pick, 2 * noise_var, chunk=1024)
        h_all = math.log(n) - l_all.mean()  # upper bound on H(T') - H(Z), nats
        h_cond = sum(
            p[c] * (math.log(counts[c]) - l_same[y_pick == c].mean())
            for c in (0, 1)
            if counts[c] > 0 and bool((y_pick == c).any())
        )
        ixt.append(h_all)
        ity.append(h_all - h_cond)
    batch = t.shape[:-2]
    return (torch.stack(ixt).reshape(batch) / _LN2, torch.stack(ity).reshape(batch) / _LN2)


def mixture_entropy_bounds(centres, *, var: float) -> tuple[float, float]:
    """Pairwise-distance bounds (bits) on the entropy of ``(1/N) sum_i N(centres_i, var I)``.

    Kolchinsky & Tracey (2017): with ``H_c = d/2 ln(2 pi e var)`` the entropy of one component,

        H_c - mean_i ln mean_j exp(-|mu_i - mu_j|^2 / (8 var))
            <= H <= H_c - mean_i ln mean_j exp(-|mu_i - mu_j|^2 / (2 var)),

    the Bhattacharyya (lower) and Kullback-Leibler (upper) bounds.

    Args:
        centres: component means, shape ``(N, d)``.
        var: component variance, > 0.

    Returns:
        ``(lower, upper)`` in bits.

    Example:
        >>> lo, up = mixture_entropy_bounds(
        ...     [[0.0], [100.0]], var=1.0
        ... )  # two separated unit Gaussians
        >>> round(up - lo, 6), round(up - 0.5 * math.log2(2 * math.pi * math.e), 6)
        (0.0, 1.0)
    """
    c = _activations(centres, name="centres")
    if c.ndim != 2:
        raise ValueError(f"centres must have shape (N, d); got {tuple(c.shape)}")
    var = checks.positive("var", var)
    n, d = c.shape
    checks.size("centres (pairwise distances)", n * n)
    d2 = torch.cdist(c.double(), c.double()).square()
    h_c = 0.5 * d * math.log(2 * math.pi * math.e * var)
    up = h_c + math.log(n) - float(torch.logsumexp(-d2 / (2 * var), dim=1).mean())
    lo = h_c + math.log(n) - float(torch.logsumexp(-d2 / (8 * var), dim=1).mean())
    return lo / _LN2, up / _LN2


def mixture_entropy_mc(centres, *, var: float, n_samples: int, seed: int) -> tuple[float, float]:
    """Monte Carlo entropy (bits) of ``(1/N) sum_i N(centres_i, var I)``, with its standard error.

    Draws ``n_samples`` points ``x_k`` from the mixture and averages ``-log2 p(x_k)``, the density
    being exact (a log-sum-exp over the components).

    Returns:
        ``(entropy, standard_error)`` in bits.

    Example:
        >>> h, se = mixture_entropy_mc(
        ...     [[0.0]], var=1.0, n_samples=20000, seed=0
        ... )  # one unit Gaussian
        >>> abs(h - 0.5 * math.log2(2 * math.pi * math.e)) < 4 * se
        True
    """
    c = _activations(centres, name="centres")
    if c.ndim != 2:
        raise ValueError(f"centres must have shape (N, d); got {tuple(c.shape)}")
    var = checks.positive("var", var)
    n_samples = checks.integer("n_samples", n_samples, low=2)
    seed = checks.seed(seed)
    n, d = c.shape
    checks.size("n_samples x centres", n_samples * n)
    g = torch.Generator().manual_seed(seed)
    c = c.double()
    comp = torch.randint(n, (n_samples,), generator=g)
    x = c[comp] + math.sqrt(var) * torch.randn(n_samples, d, generator=g, dtype=torch.float64)
    d2 = torch.cdist(x, c).square()
    log_p = (
        torch.logsumexp(-d2 / (2 * var), dim=1)
        - math.log(n)
        - 0.5 * d * math.log(2 * math.pi * var)
    )
    nll = -log_p / _LN2
    return float(nll.mean()), float(nll.std() / math.sqrt(n_samples))
