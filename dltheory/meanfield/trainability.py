"""Trainability of deep tanh networks against the depth scale xi_c (Schoenholz et al. 2017, Sec. 5).

Networks of depth ``L`` and weight variance ``sigma_w^2`` are trained with plain SGD on scikit-learn's
handwritten digits for a fixed number of steps; all ``sigma_w^2`` of one depth train together as one
batched computation (``torch.bmm`` over the grid). Schoenholz et al. predict that a network is trainable
only while ``L`` is at most a few ``xi_c`` (they draw ``6 xi_c``; the review's code ``4.5 xi_c``).

The step size matters on the chaotic side: backpropagated squared gradients grow by ``chi_1 > 1`` per layer
(Schoenholz et al. 2017, eq. 13), so the first layers of a deep chaotic network see far larger gradients
than the last, and a step that suits shallow networks throws deep chaotic ones off. The book grid therefore
uses a small step (0.01) and more steps (1000); with 0.05 and 300 steps the chaotic side trains only to
about 2--3 ``xi_c`` (the chapter shows both).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dltheory.device import device as pick_device
from dltheory.meanfield._threads import single_thread
from dltheory.meanfield.activations import get_activation
from dltheory.meanfield.maps import ActivationLike, _params

__all__ = ["SCALES", "load_digits_tensor", "train_grid", "max_trainable_depth", "single_thread"]


#: Grids of the experiment: ``"book"`` fits the chapter's CPU budget (depth steps of 4 layers where the
#: boundary lies); ``"full"`` is the review's grid (width 300, sigma_w^2 in [1, 4], depth 10..100, batch 256),
#: opt-in for GPU runs. The review trains 200 steps with step size 1e-3; both scales here use 1000 steps
#: with step size 0.01 (see the module docstring).
SCALES = {
    "book": dict(
        sigma_w2=(1.0, 1.25, 1.5, 2.5, 3.0, 3.5, 4.0),
        depths=(4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 64),
        width=32,
        steps=1000,
        batch_size=32,
        lr=0.01,
    ),
    "full": dict(
        sigma_w2=tuple(float(x) for x in np.linspace(1.0, 4.0, 31)),
        depths=tuple(range(10, 101, 5)),
        width=300,
        steps=1000,
        batch_size=256,
        lr=0.01,
    ),
}


def load_digits_tensor(device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 digits (1797 images, bundled, no download), standardised per pixel, float32."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float64)
    sd = X.std(0)
    X = (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
    return torch.as_tensor(X, dtype=torch.float32, device=device), torch.as_tensor(y, dtype=torch.long, device=device)


def _train_depth(act, sw: torch.Tensor, sb: float, depth: int, X, y, width, steps, batch_size, lr, gen):
    # Random numbers come from the CPU generator ``gen`` and are then moved to X's device, so a run on
    # a GPU starts from the same weights and mini-batches as on the CPU.
    G, (n, d) = sw.numel(), X.shape
    dev = X.device
    dims = [d] + [width] * depth
    scale = lambda fan_in: torch.sqrt(sw / fan_in).view(G, 1, 1).float()  # noqa: E731

    def leaf(shape, std):
        return (torch.randn(shape, generator=gen) * std).to(dev).requires_grad_()

    Ws = [leaf((G, dims[i], dims[i + 1]), scale(dims[i])) for i in range(depth)]
    bs = [leaf((G, 1, width), math.sqrt(sb)) for _ in range(depth)]
    Wo = leaf((G, width, 10), scale(width))
    params = Ws + bs + [Wo]

    def forward(xb):
        h = xb.expand(G, *xb.shape)
        for i in range(depth):
            h = torch.baddbmm(bs[i], h if i == 0 else act.phi(h), Ws[i])
        return torch.bmm(act.phi(h), Wo)

    for _ in range(steps):
        idx = torch.randint(0, n, (batch_size,), generator=gen).to(dev)
        logits = forward(X[idx])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), y[idx].repeat(G), reduction="sum") / batch_size
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= lr * torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
    with torch.no_grad():
        pred = forward(X).argmax(-1)
        return (pred == y).float().mean(-1).double()


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
    scale: str = "book",
    device: torch.device | str | None = None,
) -> dict[str, np.ndarray]:
    """Training accuracy after a fixed number of SGD steps over a depth x sigma_w^2 grid.

    Tests the prediction of Schoenholz et al. (2017), Sec. 5, that a tanh network of depth ``L`` is
    trainable only while ``L <~ k xi_c`` with ``k`` of order 6. Networks ``h^l = W^l phi(h^{l-1}) + b^l``
    with ``W_ij ~ N(0, sigma_w^2 / N_{l-1})``, ``b_i ~ N(0, sigma_b^2)`` and a linear softmax readout are
    trained by plain SGD on the cross-entropy of mini-batches of the digits. Non-finite gradient entries
    (a diverging network) are set to zero, so such a network ends at low accuracy instead of NaN weights.

    Args:
        activation: name or torch function (the book uses tanh).
        sigma_w2: weight variances (default from ``scale``).
        depths: depths (default from ``scale``).
        sigma_b2: bias variance.
        width, steps, batch_size, lr: training set-up (defaults from ``scale``).
        seed: integer seed of initialisation and mini-batches.
        scale: ``"book"`` (CPU budget) or ``"full"`` (the review's grid; for a GPU).
        device: where to train (default: the CPU). Pass ``dltheory.device()`` for the full scale on a GPU;
            weights and mini-batches are drawn on the CPU either way.

    Returns:
        ``{"sigma_w2": (S,), "depths": (D,), "accuracy": (D, S)}`` (training accuracy on all 1797 digits).

    Example:
        >>> out = train_grid(sigma_w2=[1.5], depths=[2], width=16, steps=5, batch_size=32)
        >>> out["accuracy"].shape
        (1, 1)
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}; got {scale!r}")
    cfg = SCALES[scale]
    sw = torch.as_tensor(np.asarray(cfg["sigma_w2"] if sigma_w2 is None else sigma_w2, dtype=np.float64))
    _params(sw, sigma_b2)
    if sw.ndim != 1:
        raise ValueError("sigma_w2 must be a 1-D sequence")
    depths = tuple(cfg["depths"] if depths is None else depths)
    if not depths or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in depths):
        raise ValueError(f"depths must be integers >= 1, got {depths!r}")
    width = cfg["width"] if width is None else width
    steps = cfg["steps"] if steps is None else steps
    batch_size = cfg["batch_size"] if batch_size is None else batch_size
    lr = cfg["lr"] if lr is None else lr
    for name, v in (("width", width), ("steps", steps), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr!r}")
    act = get_activation(activation)
    if device is None:
        device = torch.device("cpu")
    elif isinstance(device, str):
        device = pick_device(device)
    elif not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device, a string or None; got {type(device).__name__}")
    X, y = load_digits_tensor(device=device)
    acc = []
    for depth in depths:
        gen = torch.Generator().manual_seed(int(seed) * 10_007 + int(depth))
        with single_thread():
            acc.append(
                _train_depth(act, sw, float(sigma_b2), int(depth), X, y, int(width), int(steps), int(batch_size), float(lr), gen)
            )
    return {"sigma_w2": sw.numpy(), "depths": np.asarray(depths), "accuracy": torch.stack(acc).cpu().numpy()}


def max_trainable_depth(accuracy: np.ndarray, depths, threshold: float) -> np.ndarray:
    """Deepest depth whose accuracy is at least ``threshold``, per column (``0`` where none is).

    Example:
        >>> max_trainable_depth(np.array([[0.9, 0.9], [0.9, 0.1]]), [10, 20], 0.5).tolist()
        [20, 10]
    """
    a = np.asarray(accuracy, dtype=float)
    d = np.asarray(depths)
    if a.ndim != 2 or a.shape[0] != d.size:
        raise ValueError("accuracy must be (len(depths), n_sigma_w2)")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
    ok = a >= threshold
    return np.where(ok.any(0), np.max(np.where(ok, d[:, None], 0), axis=0), 0)
