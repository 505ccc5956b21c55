"""Small ReLU MLPs on scikit-learn's digits: many SGD runs at once, sharpness, gradient noise,
rescaling.

A batch of ``R`` one-hidden-layer networks ``x -> W2^T relu(W1^T x + b1) + b2`` is held as stacked
tensors (``W1`` of shape ``(R, 64, H)``...), so a grid of learning rates and seeds trains as one
batched computation. The sharpness (top Hessian eigenvalue of the training loss) is found by power
iteration on Hessian–vector products, all runs at once. Per-sample gradients are written out by hand
(two layers), which gives the gradient-noise covariance and its spectrum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks

__all__ = [
    "Digits",
    "load_digits",
    "MLPs",
    "init_mlps",
    "outputs",
    "loss",
    "accuracy",
    "train_sgd",
    "sharpness",
    "per_sample_grads",
    "spectrum",
    "effective_rank",
    "tail_index",
    "rescale",
    "hvp",
]


@dataclass(frozen=True)
class Digits:
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], split 1257 / 540 (fixed permutation).

    Attributes:
        x_train, y_train, x_test, y_test: tensors (float64 inputs, long labels).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(dtype: torch.dtype = torch.float32, device=None) -> Digits:
    """The digits data set (bundled with scikit-learn; no download), on ``device`` (default CPU).

    Example:
        >>> d = load_digits()
        >>> tuple(d.x_train.shape), tuple(d.x_test.shape)
        ((1257, 64), (540, 64))
    """
    dtype = checks.floating_dtype("dtype", dtype)
    device = checks.device("device", device)
    from sklearn.datasets import load_digits as _load

    x, y = _load(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(x))
    x = torch.as_tensor(x[perm] / 16.0, dtype=dtype, device=device)
    y = torch.as_tensor(y[perm], device=device)
    return Digits(x[:1257], y[:1257], x[1257:], y[1257:])


@dataclass(frozen=True)
class MLPs:
    """Parameters of ``R`` one-hidden-layer ReLU networks, stacked along the first axis.

    Attributes:
        W1: ``(R, d_in, H)``; b1: ``(R, H)``; W2: ``(R, H, K)``; b2: ``(R, K)``.
    """

    W1: torch.Tensor
    b1: torch.Tensor
    W2: torch.Tensor
    b2: torch.Tensor

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.W1, self.b1, self.W2, self.b2)

    @property
    def n_params(self) -> int:
        """Parameters of one network."""
        return sum(t[0].numel() for t in self.tensors())

    def to(self, device) -> "MLPs":
        """The same networks on ``device``."""
        return MLPs(*(t.to(device) for t in self.tensors()))

    def select(self, i: int) -> "MLPs":
        """Network ``i`` alone (``R = 1``)."""
        return MLPs(*(t[i : i + 1].clone() for t in self.tensors()))


def init_mlps(
    seeds,
    *,
    d_in: int = 64,
    hidden: int = 32,
    n_classes: int = 10,
    dtype: torch.dtype = torch.float32,
) -> MLPs:
    """He-initialised networks, one per seed (the same seed gives the same network).

    Example:
        >>> init_mlps([0, 1]).n_params
        2410
    """
    seeds = [checks.seed(s, "seeds") for s in checks.sequence("seeds", seeds, min_len=1)]
    dtype = checks.floating_dtype("dtype", dtype)
    d_in = checks.integer("d_in", d_in, high=10**5)
    hidden = checks.integer("hidden", hidden, high=10**5)
    n_classes = checks.integer("n_classes", n_classes, low=2, high=10**5)
    out = []
    for s in seeds:
        g = torch.Generator().manual_seed(s)
        out.append(
            (
                torch.randn(d_in, hidden, generator=g, dtype=torch.float64) * math.sqrt(2 / d_in),
                torch.zeros(hidden, dtype=torch.float64),
                torch.randn(hidden, n_classes, generator=g, dtype=torch.float64)
                * math.sqrt(1 / hidden),
                torch.zeros(n_classes, dtype=torch.float64),
            )
        )
    return MLPs(*(torch.stack([o[k] for o in out]).to(dtype) for k in range(4)))


def _data(nets, x, y=None, *, name="nets"):
    """``(x, y)`` checked against ``nets``: inputs ``(n, d_in)`` or ``(R, n, d_in)`` of the nets'
    dtype and device, at least one sample, labels in ``[0, K)`` with one per sample."""
    if not isinstance(nets, MLPs):
        raise TypeError(f"{name} must be MLPs; got {type(nets).__name__}")
    W1 = nets.W1
    x = checks.tensor("x", x, ndim=(2, 3), dtype=W1.dtype)
    checks.on_device("x", x, W1.device)
    if x.shape[-1] != W1.shape[1] or (x.ndim == 3 and x.shape[0] != W1.shape[0]):
        raise ValueError(
            f"x must have shape (n, {W1.shape[1]}) or ({W1.shape[0]}, n, {W1.shape[1]}); "
            f"got {tuple(x.shape)}"
        )
    checks.nonempty("x", x, axis=-2)
    if y is None:
        return x
    y = (
        checks.labels("y", y, n_classes=nets.W2.shape[-1], n=x.shape[-2])
        if not (isinstance(y, torch.Tensor) and y.ndim == 2)
        else y
    )
    return x, checks.on_device("y", y, W1.device)


def _forward(params, x):
    W1, b1, W2, b2 = params
    if x.ndim == 2:
        x = x.expand(W1.shape[0], *x.shape)
    h = torch.relu(torch.baddbmm(b1.unsqueeze(1), x, W1))
    return torch.baddbmm(b2.unsqueeze(1), h, W2)


def _losses(params, x, y):
    z = _forward(params, x)  # (R, n, K)
    if y.ndim == 1:
        y = y.expand(z.shape[0], -1)
    return torch.nn.functional.cross_entropy(z.transpose(1, 2), y, reduction="none").mean(1)


def outputs(nets: MLPs, x) -> torch.Tensor:
    """Logits of every network on ``x``, shape ``(R, n, K)``.

    Example:
        >>> tuple(outputs(init_mlps([0, 1]), torch.zeros(3, 64)).shape)
        (2, 3, 10)
    """
    x = _data(nets, x)
    with torch.no_grad():
        return _forward(nets.tensors(), x)


def loss(nets: MLPs, x, y) -> torch.Tensor:
    """Mean cross-entropy of each network on ``(x, y)``, shape ``(R,)``.

    Example:
        >>> d = load_digits()
        >>> tuple(loss(init_mlps([0, 1]), d.x_train, d.y_train).shape)
        (2,)
    """
    x, y = _data(nets, x, y)
    return _losses(nets.tensors(), x, y)


def accuracy(nets: MLPs, x, y) -> np.ndarray:
    """Classification accuracy of each network, shape ``(R,)``.

    Example:
        >>> d = load_digits()
        >>> bool(accuracy(init_mlps([0]), d.x_test, d.y_test)[0] < 0.5)
        True
    """
    x, y = _data(nets, x, y)
    with torch.no_grad():
        return (_forward(nets.tensors(), x).argmax(-1) == y).double().mean(1).cpu().numpy()


def train_sgd(
    nets: MLPs, data: Digits, lr, batch_size: int, *, epochs: float, seed: int = 0
) -> MLPs:
    """Plain SGD on every network at once, each with its own learning rate and its own minibatches.

    Network ``r`` takes ``round(epochs * N / B)`` steps ``theta <- theta - lr[r] grad L_B(theta)``
    with batches of ``B`` samples drawn with replacement.

    Args:
        lr: one learning rate per network, shape ``(R,)``.

    Example:
        >>> d = load_digits()
        >>> n = train_sgd(init_mlps([0]), d, [0.1], 64, epochs=1)
        >>> bool(loss(n, d.x_train, d.y_train)[0] < loss(init_mlps([0]), d.x_train, d.y_train)[0])
        True
    """
    if not isinstance(nets, MLPs):
        raise TypeError(f"nets must be MLPs; got {type(nets).__name__}")
    R = nets.W1.shape[0]
    lrs = checks.real_array("lr", lr, ndim=1)
    if lrs.shape != (R,) or (lrs <= 0).any():
        raise ValueError(f"lr must hold {R} positive learning rates (one per network)")
    if not isinstance(data, Digits):
        raise TypeError(f"data must be Digits (see load_digits); got {type(data).__name__}")
    n = data.x_train.shape[0]
    B = checks.integer("batch_size", batch_size, high=n)
    epochs = checks.positive("epochs", epochs)
    steps = max(1, round(epochs * n / B))
    checks.size("steps * networks * batch_size", steps * R * B // 100)
    checks.work("epochs", steps, R * B * nets.n_params)
    gen = torch.Generator().manual_seed(checks.seed(seed))
    params = [t.clone().requires_grad_(True) for t in nets.tensors()]
    lr_t = torch.as_tensor(lrs, dtype=params[0].dtype)
    scales = [lr_t.view(-1, *([1] * (p.ndim - 1))) for p in params]
    for _ in range(steps):
        idx = torch.randint(n, (R, B), generator=gen).to(data.x_train.device)
        total = _losses(params, data.x_train[idx], data.y_train[idx]).sum()
        grads = torch.autograd.grad(total, params)
        with torch.no_grad():
            for p, g, s in zip(params, grads, scales, strict=False):
                p -= s * g
    return MLPs(*(p.detach() for p in params))


def hvp(nets: MLPs, x, y, vecs) -> list[torch.Tensor]:
    """Hessian–vector products of each network's mean training loss (all networks at once).

    Example:
        >>> d = load_digits(torch.float64)
        >>> n = init_mlps([0], dtype=torch.float64)
        >>> [tuple(v.shape) for v in hvp(n, d.x_train[:10], d.y_train[:10], n.tensors())][0]
        (1, 64, 32)
    """
    x, y = _data(nets, x, y)
    vecs = checks.sequence("vecs", vecs)
    if len(vecs) != 4 or any(
        not isinstance(v, torch.Tensor) or v.shape != t.shape
        for v, t in zip(vecs, nets.tensors(), strict=False)
    ):
        raise ValueError("vecs must be four tensors shaped like nets.tensors()")
    params = [t.detach().clone().requires_grad_(True) for t in nets.tensors()]
    grads = torch.autograd.grad(_losses(params, x, y).sum(), params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vecs, strict=False))
    return list(torch.autograd.grad(dot, params))


def sharpness(nets: MLPs, x, y, *, iters: int = 30, seed: int = 0) -> np.ndarray:
    """Top Hessian eigenvalue of each network's loss on ``(x, y)`` by power iteration on HVPs.

    Returns the Rayleigh quotient ``v^T H v`` after ``iters`` iterations, shape ``(R,)`` (the
    eigenvalue of largest modulus, which at the end of training is the largest positive one).

    Example:
        >>> d = load_digits(torch.float64)
        >>> s = sharpness(init_mlps([0], dtype=torch.float64), d.x_train, d.y_train, iters=5)
        >>> bool(s[0] > 0)
        True
    """
    if not isinstance(nets, MLPs):
        raise TypeError(f"nets must be MLPs; got {type(nets).__name__}")
    iters = checks.integer("iters", iters, high=10_000)
    x, y = _data(nets, x, y)
    gen = torch.Generator().manual_seed(checks.seed(seed))
    v = [torch.randn(t.shape, generator=gen, dtype=t.dtype).to(t.device) for t in nets.tensors()]

    def norms(vs):
        return torch.sqrt(sum((u.reshape(u.shape[0], -1) ** 2).sum(1) for u in vs))

    def scale(vs, s):
        return [u / s.view(-1, *([1] * (u.ndim - 1))) for u in vs]

    v = scale(v, norms(v))
    lam = torch.zeros(nets.W1.shape[0], dtype=nets.W1.dtype, device=nets.W1.device)
    for _ in range(iters):
        hv = hvp(nets, x, y, v)
        lam = sum((a * b).reshape(a.shape[0], -1).sum(1) for a, b in zip(v, hv, strict=False))
        v = scale(hv, norms(hv))
    return lam.detach().cpu().numpy()


def per_sample_grads(net: MLPs, x, y) -> torch.Tensor:
    """Per-sample gradients of the cross-entropy of one network (``R = 1``), shape ``(n, P)``.

    Written out by hand: ``delta2 = softmax(z) - onehot(y)``, ``dW2 = h delta2^T``,
    ``delta1 = (W2 delta2) * 1[pre > 0]``, ``dW1 = x delta1^T``; order ``(W1, b1, W2, b2)``.

    Example:
        >>> d = load_digits(torch.float64)
        >>> tuple(
        ...     per_sample_grads(
        ...         init_mlps([0], dtype=torch.float64), d.x_train[:5], d.y_train[:5]
        ...     ).shape
        ... )
        (5, 2410)
    """
    if not isinstance(net, MLPs) or net.W1.shape[0] != 1:
        raise ValueError("net must be MLPs holding exactly one network (use .select(i))")
    x, y = _data(net, x, y, name="net")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, {net.W1.shape[1]}); got {tuple(x.shape)}")
    W1, b1, W2, b2 = (t[0] for t in net.tensors())
    pre = x @ W1 + b1
    h = torch.relu(pre)
    z = h @ W2 + b2
    d2 = torch.softmax(z, -1)
    d2[torch.arange(len(y)), y] -= 1
    d1 = (d2 @ W2.T) * (pre > 0)
    n = len(x)
    return torch.cat(
        [
            (x.unsqueeze(2) * d1.unsqueeze(1)).reshape(n, -1),
            d1,
            (h.unsqueeze(2) * d2.unsqueeze(1)).reshape(n, -1),
            d2,
        ],
        dim=1,
    )


def spectrum(grads: torch.Tensor) -> np.ndarray:
    """Eigenvalues (descending) of the per-sample gradient covariance
    ``(1/n) sum (g_i - g)(g_i - g)^T``.

    Computed from the ``n x n`` Gram matrix (``n`` nonzero eigenvalues at most).

    Example:
        >>> g = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
        >>> [round(float(v), 6) for v in spectrum(g)]
        [1.0, 0.0]
    """
    g = checks.tensor("grads", grads, ndim=2, dtype=torch.float64)
    c = g - g.mean(0)
    gram = c @ c.T / len(g)
    lam = torch.linalg.eigvalsh(gram).flip(0).clamp_min(0).numpy()
    return lam[: min(g.shape)]


def effective_rank(eigenvalues, *, fraction: float = 0.9) -> tuple[int, float]:
    """Two effective ranks of a spectrum: the number of top eigenvalues holding ``fraction`` of the
    trace, and the participation ratio ``(sum lambda)^2 / sum lambda^2``.

    Example:
        >>> effective_rank([1.0, 1.0, 0.0, 0.0])
        (2, 2.0)
    """
    lam = checks.real_array("eigenvalues", eigenvalues, ndim=1)
    if (lam < 0).any() or lam.sum() <= 0:
        raise ValueError("eigenvalues must be >= 0 with a positive sum")
    fraction = checks.probability("fraction", fraction, open_low=True)
    lam = np.sort(lam)[::-1]
    k = int(np.searchsorted(np.cumsum(lam) / lam.sum(), fraction - 1e-12) + 1)
    return k, float(lam.sum() ** 2 / (lam**2).sum())


def tail_index(samples, *, k1: int | None = None) -> float:
    """Tail index ``alpha`` of symmetric alpha-stable samples (Mohammadi et al. 2015; used by
    Simsekli et al. 2019): with ``K = K1 K2`` samples and ``Y_i`` the sums of ``K1`` consecutive
    ones, ``1/alpha = (mean log|Y| - mean log|X|) / log K1``. Gaussian data give 2, Cauchy data 1.

    Example:
        >>> x = np.random.default_rng(0).standard_normal(100_000)
        >>> round(tail_index(x), 1)
        2.0
    """
    x = checks.nonempty("samples", checks.real_array("samples", samples, ndim=1))
    K = len(x)
    k1 = int(round(math.sqrt(K))) if k1 is None else checks.integer("k1", k1, low=2)
    k2 = K // k1
    if k2 < 2:
        raise ValueError(f"samples must hold at least 2 * k1 values; got {K}")
    x = x[: k1 * k2]
    y = x.reshape(k2, k1).sum(1)
    inv = (np.log(np.abs(y) + 1e-300).mean() - np.log(np.abs(x) + 1e-300).mean()) / math.log(k1)
    return float(1.0 / inv) if inv > 0 else math.inf


def rescale(nets: MLPs, alpha: float) -> MLPs:
    """Dinh et al.'s reparametrisation: ``(alpha W1, alpha b1, W2 / alpha, b2)``, which leaves every
    output of a ReLU network unchanged for ``alpha > 0``.

    Example:
        >>> d = load_digits(torch.float64)
        >>> n = init_mlps([0], dtype=torch.float64)
        >>> gap = outputs(rescale(n, 3.0), d.x_test) - outputs(n, d.x_test)
        >>> bool(gap.abs().max() < 1e-12)
        True
    """
    if not isinstance(nets, MLPs):
        raise TypeError(f"nets must be MLPs; got {type(nets).__name__}")
    a = checks.positive("alpha", alpha)
    return MLPs(nets.W1 * a, nets.b1 * a, nets.W2 / a, nets.b2.clone())
