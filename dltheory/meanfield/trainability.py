"""Trainability of deep tanh networks against the depth scale xi_c (Schoenholz et al. 2017, Sec. 5).

Networks of depth ``L`` and weight variance ``sigma_w^2`` are trained with plain SGD on
scikit-learn's handwritten digits for a fixed number of steps; all ``sigma_w^2`` of one depth train
together as one batched computation (``torch.bmm`` over the grid). Schoenholz et al. predict that a
network is trainable only while ``L`` is at most a few ``xi_c`` (they draw ``6 xi_c``; the review's
code ``4.5 xi_c``).

The step size matters on the chaotic side: backpropagated squared gradients grow by ``chi_1 > 1``
per layer (Schoenholz et al. 2017), so the first layers of a deep chaotic network see far larger
gradients than the last, and a step that suits shallow networks throws deep chaotic ones off. The
book grid therefore uses a small step (0.01) and more steps (1000); with 0.05 and 300 steps the
chaotic side trains only to about 2--3 ``xi_c`` (the chapter shows both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory.device import device as pick_device
from dltheory.device import scale as pick_scale
from dltheory.meanfield._threads import single_thread
from dltheory.meanfield.activations import get_activation
from dltheory.meanfield.maps import ActivationLike

__all__ = [
    "SCALES",
    "TrainGrid",
    "load_digits_tensor",
    "train_grid",
    "max_trainable_depth",
    "grid_size",
]


#: Grids of the experiment. ``"book"`` fits the chapter's CPU budget (width 32, depth steps of 4
#: layers where the boundary lies, 3 seeds); ``"full"`` is the review's grid (width 300, 91 values
#: of sigma_w^2 in [1, 4], depths 10..100 in steps of 1, batch 256), with 5 seeds and longer
#: training, for a GPU. The review trains 200 steps with step size 1e-3; the book uses 1000 steps of
#: size 0.01 (see the module docstring), the full scale 3000.
SCALES = {
    "book": dict(
        sigma_w2=(1.0, 1.25, 1.5, 2.5, 3.0, 3.5, 4.0),
        depths=(4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 64),
        width=32,
        steps=1000,
        batch_size=32,
        lr=0.01,
        n_seeds=3,
    ),
    "full": dict(
        sigma_w2=tuple(float(x) for x in np.linspace(1.0, 4.0, 91)),
        depths=tuple(range(10, 100)),
        width=300,
        steps=3000,
        batch_size=256,
        lr=0.01,
        n_seeds=5,
    ),
}


#: The most parameters trained together in one batched model (depths are grouped to stay below it).
MAX_PARAMS = 2**26


def grid_size(scale: str = "book") -> dict:
    """The sizes :func:`train_grid` uses at ``scale`` (a copy of ``SCALES[scale]``).

    Example:
        >>> grid_size("book")["width"], grid_size("full")["width"]
        (32, 300)
    """
    return dict(SCALES[checks.choice("scale", scale, SCALES)])


@dataclass(frozen=True)
class TrainGrid:
    """Training accuracy over a depth x sigma_w^2 grid (result of :func:`train_grid`).

    Attributes:
        sigma_w2: weight variances, shape ``(S,)``.
        depths: depths, shape ``(D,)``.
        seeds: the seeds, shape ``(n_seeds,)``.
        accuracy: training accuracy on all 1797 digits, shape ``(n_seeds, D, S)``.
        width, steps, batch_size, lr: the training set-up used.
    """

    sigma_w2: np.ndarray
    depths: np.ndarray
    seeds: np.ndarray
    accuracy: np.ndarray
    width: int
    steps: int
    batch_size: int
    lr: float

    @property
    def mean_accuracy(self) -> np.ndarray:
        """Accuracy averaged over seeds, shape ``(D, S)``."""
        return self.accuracy.mean(0)


def load_digits_tensor(device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits (1797 images, bundled, no download), standardised per pixel,
    float32.

    Example:
        >>> X, y = load_digits_tensor()
        >>> tuple(X.shape), int(y.max())
        ((1797, 64), 9)
    """
    device = checks.device("device", device)
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float64)
    sd = X.std(0)
    X = (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
    return torch.as_tensor(X, dtype=torch.float32, device=device), torch.as_tensor(
        y, dtype=torch.long, device=device
    )


def _draw(sw: torch.Tensor, sb: float, depth: int, d: int, width: int, gens) -> list[torch.Tensor]:
    # The initial weights of the networks of one depth, one batch entry per (seed, sigma_w2),
    # seed-major: the layers' weights, their biases, the readout. Drawn on the CPU from one
    # generator per seed, so a run on a GPU starts from the same weights as on the CPU.
    S = sw.numel()
    dims = [d] + [width] * depth
    scale = lambda fan_in: torch.sqrt(sw / fan_in).view(S, 1, 1).float()  # noqa: E731

    def leaf(shape, std):
        return torch.cat([torch.randn(shape, generator=g) * std for g in gens])

    Ws = [leaf((S, dims[i], dims[i + 1]), scale(dims[i])) for i in range(depth)]
    bs = [leaf((S, 1, width), math.sqrt(sb)) for _ in range(depth)]
    return Ws + bs + [leaf((S, width, 10), scale(width))]


def _tanh(x: torch.Tensor) -> torch.Tensor:
    # tanh(x) = 2 sigmoid(2x) - 1: three times faster than torch.tanh in float32 on the reference
    # CPU (AVX2), absolute error ~1e-7, far below float32 training noise.
    return torch.sigmoid(2.0 * x).mul_(2.0).sub_(1.0)


class _Stack:
    """Networks of several depths and all (seed, sigma_w2) of each, trained as one batched model.

    The networks are ordered by depth, deepest first, so that the networks still active at layer
    ``i`` are a prefix of the batch: layer ``i`` is one batched product over the ``n_i`` networks
    deeper than ``i``, and a network leaves the stack (to the readout) after its last layer. Forward
    and backward passes are written out (``delta^l = phi'(h^l) * delta^{l+1} W^T``), so one SGD step
    costs a few batched operations per layer of the deepest network, whatever the number of depths.
    All parameters live in one flat buffer, and so do their gradients: the update is two operations.
    """

    def __init__(self, act, blocks: list[list[torch.Tensor]], depths: list[int], dev):
        L, G = depths[0], blocks[0][0].shape[0]
        self.L, self.n = L, [G * sum(dd > i for dd in depths) for i in range(L + 1)]
        # parameter k: weights of layer k (k < L), biases of layer k - L (k < 2L), the readout (k =
        # 2L)
        members = [
            [
                (b, k if k < L else dd + k - L)
                for b, dd in zip(blocks, depths, strict=False)
                if dd > k % L
            ]
            for k in range(2 * L)
        ] + [[(b, -1) for b in blocks]]
        parts = [[b[j] for b, j in m] for m in members]
        shapes = [(sum(t.shape[0] for t in ps), *ps[0].shape[1:]) for ps in parts]
        sizes = [math.prod(sh) for sh in shapes]
        self.flat = torch.empty(sum(sizes), device=dev)
        self.grad = torch.empty_like(self.flat)
        self.p = [v.view(sh) for v, sh in zip(self.flat.split(sizes), shapes, strict=False)]
        self.g = [v.view(sh) for v, sh in zip(self.grad.split(sizes), shapes, strict=False)]
        for p, ps in zip(self.p, parts, strict=False):
            p.copy_(torch.cat(ps))
        self.tanh = act.name == "tanh"
        self.phi, self.dphi = (_tanh, None) if self.tanh else (act.phi, act.dphi)

    def forward(self, x: torch.Tensor, keep: bool = False):
        """Logits ``(networks, batch, 10)`` for inputs ``x`` of shape ``(networks, batch, d)``."""
        L, n = self.L, self.n
        a, saved, last = x, [], []
        for i in range(L):
            inp = a[: n[i]]
            h = torch.baddbmm(self.p[L + i], inp, self.p[i])
            a = self.phi(h)
            if keep:
                saved.append((inp, a if self.tanh else h))
            if n[i + 1] < n[i]:
                last.append(a[n[i + 1] :])
        A = torch.cat(last[::-1])
        return torch.bmm(A, self.p[-1]), A, saved

    def step(self, x: torch.Tensor, onehot: torch.Tensor, lr: float) -> None:
        """One plain SGD step on the sum over networks of the mean cross-entropy of the mini-batch.

        Non-finite gradient entries (a diverging network) are set to zero.
        """
        L, n, g = self.L, self.n, self.g
        logits, A, saved = self.forward(x, keep=True)
        dz = torch.softmax(logits, -1).sub_(onehot).div_(onehot.shape[1])
        torch.bmm(A.transpose(1, 2), dz, out=g[-1])
        dA = torch.bmm(dz, self.p[-1].transpose(1, 2))
        da = None
        for i in range(L - 1, -1, -1):
            inp, s = saved[i]
            if n[i + 1] < n[i]:
                da = dA[n[i + 1] : n[i]] if da is None else torch.cat([da, dA[n[i + 1] : n[i]]])
            dh = torch.ops.aten.tanh_backward(da, s) if self.tanh else da * self.dphi(s)
            torch.bmm(inp.transpose(1, 2), dh, out=g[i])
            torch.sum(dh, 1, keepdim=True, out=g[L + i])
            if i:
                da = torch.bmm(dh, self.p[i].transpose(1, 2))
        torch.nan_to_num_(self.grad, nan=0.0, posinf=0.0, neginf=0.0)
        self.flat.sub_(self.grad.mul_(lr))


def _groups(depths: list[int], per_layer: int) -> list[list[int]]:
    # Depths (sorted, deepest first) in groups trained together, each holding at most MAX_PARAMS
    # numbers.
    out, size = [[]], 0
    for dd in depths:
        if out[-1] and size + dd * per_layer > MAX_PARAMS:
            out.append([])
            size = 0
        out[-1].append(dd)
        size += dd * per_layer
    return out


def _train(act, sw, sb, depths, seeds, X, y, width, steps, batch_size, lr) -> np.ndarray:
    # Accuracy (n_seeds, D, S) of every network. Networks of depth ``dd`` and seed ``s`` draw their
    # weights, then their mini-batches, from a generator seeded ``s * 10_007 + dd``.
    S, ns, (n, d), dev = sw.numel(), len(seeds), X.shape, X.device
    acc = {}
    for group in _groups(sorted(set(depths), reverse=True), ns * S * width * (width + 1)):
        gens = {
            dd: [torch.Generator().manual_seed(int(s) * 10_007 + int(dd)) for s in seeds]
            for dd in group
        }
        blocks = [[t.to(dev) for t in _draw(sw, sb, dd, d, width, gens[dd])] for dd in group]
        net = _Stack(act, blocks, group, dev)
        chunk = max(1, min(steps, 2**22 // (len(group) * ns * batch_size)))
        for start in range(0, steps, chunk):
            m = min(chunk, steps - start)
            idx = torch.stack(
                [
                    torch.randint(0, n, (m, batch_size), generator=g)
                    for dd in group
                    for g in gens[dd]
                ],
                1,
            ).to(dev)  # (m, blocks*ns, B)
            for t in range(m):
                xb, yb = X[idx[t]], y[idx[t]]
                expand = lambda v: v.unsqueeze(1).expand(v.shape[0], S, *v.shape[1:]).flatten(0, 1)  # noqa: E731
                net.step(expand(xb), expand(torch.nn.functional.one_hot(yb, 10).to(X.dtype)), lr)
        G = len(group) * ns * S
        pred = torch.cat(
            [net.forward(xc.expand(G, *xc.shape))[0].argmax(-1) for xc in X.split(256)], 1
        )
        right = (pred == y).float().mean(-1).double().reshape(len(group), ns, S)
        for k, dd in enumerate(group):
            acc[dd] = right[k].cpu()
    return torch.stack([acc[dd] for dd in depths], dim=1).numpy()


def train_grid(
    activation: ActivationLike = "tanh",
    *,
    sigma_w2=None,
    depths=None,
    sigma_b2: float = 0.05,
    width: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    n_seeds: int | None = None,
    scale: str | None = None,
    device: torch.device | str | None = None,
) -> TrainGrid:
    """Training accuracy after a fixed number of SGD steps over a depth x sigma_w^2 grid, over
    seeds.

    Tests the prediction of Schoenholz et al. (2017) that a tanh network of depth ``L`` is trainable
    only while ``L <~ k xi_c`` with ``k`` of order 6. Networks ``h^l = W^l phi(h^{l-1}) + b^l`` with
    ``W_ij ~ N(0, sigma_w^2 / N_{l-1})``, ``b_i ~ N(0, sigma_b^2)`` and a linear softmax readout are
    trained by plain SGD on the cross-entropy of mini-batches of the digits. All ``sigma_w^2`` and
    seeds of one depth train as one batched computation. Non-finite gradient entries (a diverging
    network) are set to zero, so such a network ends at low accuracy instead of NaN weights.

    Args:
        activation: name or torch function (the book uses tanh).
        sigma_w2: weight variances, a 1-D sequence of positive numbers (default from ``scale``).
        depths: depths, positive integers (default from ``scale``).
        sigma_b2: bias variance (>= 0).
        width, steps, batch_size, lr, n_seeds: training set-up (defaults from ``scale``).
        seed: seed of the first run; the runs use ``seed, seed + 1, ..., seed + n_seeds - 1``.
        scale: ``"book"`` (CPU budget) or ``"full"`` (the review's grid; for a GPU); default
            ``dltheory.scale()``.
        device: where to train (default: the CPU). Weights and mini-batches are drawn on the CPU
        either way.

    Returns:
        :class:`TrainGrid`.

    Example:
        >>> out = train_grid(
        ...     sigma_w2=[1.5], depths=[2], width=16, steps=5, batch_size=32, n_seeds=2
        ... )
        >>> out.accuracy.shape
        (2, 1, 1)
    """
    cfg = SCALES[pick_scale(scale)]
    sw = torch.as_tensor(
        checks.real_array(
            "sigma_w2",
            cfg["sigma_w2"] if sigma_w2 is None else sigma_w2,
            low=0.0,
            low_open=True,
            ndim=1,
        )
    )
    if sw.numel() == 0:
        raise ValueError("sigma_w2 must hold at least one value")
    sigma_b2 = checks.real("sigma_b2", sigma_b2, low=0.0)
    depths = cfg["depths"] if depths is None else depths
    if isinstance(depths, (str, bytes)) or not hasattr(depths, "__iter__"):
        raise TypeError(f"depths must be a sequence of integers; got {type(depths).__name__}")
    depths = tuple(checks.integer("depths", d, low=1, high=10_000) for d in depths)
    if not depths:
        raise ValueError("depths must hold at least one depth")
    width = checks.integer("width", cfg["width"] if width is None else width, low=1, high=100_000)
    steps = checks.integer("steps", cfg["steps"] if steps is None else steps, low=1, high=10**7)
    batch_size = checks.integer(
        "batch_size", cfg["batch_size"] if batch_size is None else batch_size, low=1, high=100_000
    )
    lr = checks.real("lr", cfg["lr"] if lr is None else lr, low=0.0, low_open=True)
    n_seeds = checks.integer(
        "n_seeds", cfg["n_seeds"] if n_seeds is None else n_seeds, low=1, high=1000
    )
    seed = checks.seed(seed)
    checks.size(
        "n_seeds x len(sigma_w2) x max(depths) x width^2 (the weights)",
        n_seeds * sw.numel() * max(depths) * width * max(width, 64),
    )
    act = get_activation(activation)
    if device is None:
        device = torch.device("cpu")
    elif isinstance(device, str):
        device = pick_device(device)
    elif not isinstance(device, torch.device):
        raise TypeError(
            f"device must be a torch.device, a string or None; got {type(device).__name__}"
        )
    X, y = load_digits_tensor(device=device)
    seeds = [seed + k for k in range(n_seeds)]
    with single_thread(), torch.no_grad():
        acc = _train(act, sw, sigma_b2, depths, seeds, X, y, width, steps, batch_size, lr)
    return TrainGrid(
        sigma_w2=sw.numpy(),
        depths=np.asarray(depths),
        seeds=np.asarray(seeds),
        accuracy=acc,
        width=width,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
    )


def max_trainable_depth(accuracy, depths, threshold: float) -> np.ndarray:
    """Deepest depth whose accuracy is at least ``threshold``, along the depth axis (``0`` where
    none is).

    Args:
        accuracy: array ``(..., D, S)`` (e.g. ``TrainGrid.accuracy``, one row per seed).
        depths: the ``D`` depths.
        threshold: in (0, 1).

    Returns:
        Integer array ``(..., S)``.

    Example:
        >>> max_trainable_depth(np.array([[0.9, 0.9], [0.9, 0.1]]), [10, 20], 0.5).tolist()
        [20, 10]
    """
    a = checks.real_array("accuracy", accuracy, low=0.0, high=1.0)
    d = checks.real_array("depths", depths, low=1.0, ndim=1)
    threshold = checks.real(
        "threshold", threshold, low=0.0, high=1.0, low_open=True, high_open=True
    )
    if a.ndim < 2 or a.shape[-2] != d.size:
        raise ValueError(
            f"accuracy must have shape (..., len(depths)={d.size}, n_sigma_w2); got {a.shape}"
        )
    ok = a >= threshold
    return np.where(ok.any(-2), np.max(np.where(ok, d[:, None], 0), axis=-2), 0).astype(int)
