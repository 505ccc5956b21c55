"""Neural ODEs over torchdiffeq: plain (Chen et al. 2018) and augmented (Dupont et al. 2019) classifiers.

The 2-D data sets are scikit-learn's ``make_moons`` and ``make_circles``; :func:`winding_numbers`
measures the topological obstruction of a plain planar flow.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from dltheory import figures
from dltheory.dynamics._validate import _positive, _solver
from dltheory.dynamics.euler import FIXED_SOLVERS

__all__ = [
    "ADAPTIVE_SOLVERS",
    "ODEFunc",
    "NeuralODEClassifier",
    "make_dataset",
    "train_classifier",
    "accuracy",
    "moons_experiment",
    "winding_numbers",
    "circles_experiment",
]

#: Adaptive solvers of torchdiffeq accepted by the neural-ODE helpers.
ADAPTIVE_SOLVERS: tuple[str, ...] = ("dopri5", "bosh3", "adaptive_heun", "dopri8")


class ODEFunc(nn.Module):
    """Vector field ``f(t, z) = W2 tanh(W1 [z, t] + b1) + b2`` of a neural ODE, counting evaluations.

    Attributes:
        nfe: number of function evaluations since the last :meth:`reset_nfe`.

    Example:
        >>> f = ODEFunc(dim=2, hidden=16, seed=0)
        >>> f(torch.tensor(0.0), torch.zeros(5, 2)).shape
        torch.Size([5, 2])
    """

    def __init__(self, dim: int, hidden: int = 32, *, seed: int = 0, dtype=torch.float32):
        super().__init__()
        _positive("dim", dim, integer=True)
        _positive("hidden", hidden, integer=True)
        g = torch.Generator().manual_seed(seed)
        self.l1 = nn.Linear(dim + 1, hidden, dtype=dtype)
        self.l2 = nn.Linear(hidden, dim, dtype=dtype)
        with torch.no_grad():
            for p in self.parameters():
                bound = 1 / math.sqrt(p.shape[-1] if p.ndim == 2 else hidden)
                p.copy_(torch.empty_like(p).uniform_(-bound, bound, generator=g))
        self.nfe = 0

    def reset_nfe(self) -> None:
        self.nfe = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        tt = t.to(z.dtype).expand(*z.shape[:-1], 1)
        return self.l2(torch.tanh(self.l1(torch.cat([z, tt], dim=-1))))


class NeuralODEClassifier(nn.Module):
    """Neural ODE classifier: pad the input with ``augment`` zeros, flow for time ``T``, read out linearly.

    ``augment = 0`` is the plain neural ODE of Chen et al. (2018), whose flow is a homeomorphism of the
    input space; ``augment > 0`` is the augmented neural ODE of Dupont et al. (2019).

    Args:
        dim: input dimension.
        augment: number of zero dimensions appended (>= 0).
        hidden: hidden width of the vector field.
        n_classes: number of classes (a logit per class; one logit when 2).
        T: integration time (> 0).
        method: a torchdiffeq solver name (:data:`ADAPTIVE_SOLVERS` or :data:`FIXED_SOLVERS`).
        steps: number of steps for a fixed-grid solver.
        rtol, atol: tolerances of an adaptive solver.
        adjoint: compute gradients with ``odeint_adjoint`` (else backprop through the solver).
        seed: initialisation seed.

    Example:
        >>> m = NeuralODEClassifier(dim=2, augment=1, seed=0)
        >>> m(torch.zeros(4, 2)).shape
        torch.Size([4])
    """

    def __init__(
        self, dim: int = 2, *, augment: int = 0, hidden: int = 32, n_classes: int = 2, T: float = 1.0,
        method: str = "dopri5", steps: int = 10, rtol: float = 1e-3, atol: float = 1e-4,
        adjoint: bool = True, seed: int = 0, dtype=torch.float32,
    ):
        super().__init__()
        _positive("dim", dim, integer=True)
        if isinstance(augment, bool) or not isinstance(augment, int) or augment < 0:
            raise ValueError(f"augment must be an integer >= 0; got {augment!r}")
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}")
        _positive("T", T)
        _positive("steps", steps, integer=True)
        _solver(method, ADAPTIVE_SOLVERS + tuple(FIXED_SOLVERS))
        self.dim, self.augment, self.T, self.method, self.steps = dim, augment, float(T), method, steps
        self.rtol, self.atol, self.adjoint = rtol, atol, adjoint
        self.func = ODEFunc(dim + augment, hidden, seed=seed, dtype=dtype)
        g = torch.Generator().manual_seed(seed + 10_000)
        n_out = 1 if n_classes == 2 else n_classes
        self.readout = nn.Linear(dim + augment, n_out, dtype=dtype)
        with torch.no_grad():
            self.readout.weight.copy_(torch.randn(self.readout.weight.shape, generator=g, dtype=dtype) * 0.5)
            self.readout.bias.zero_()

    def flow(self, x: torch.Tensor, n_times: int = 2) -> torch.Tensor:
        """States along the flow at ``n_times`` equally spaced times in ``[0, T]``, shape ``(n_times, n, D)``."""
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must have last dimension {self.dim}; got shape {tuple(x.shape)}")
        z0 = torch.cat([x, x.new_zeros(*x.shape[:-1], self.augment)], dim=-1)
        t = torch.linspace(0.0, self.T, n_times, dtype=x.dtype)
        solve = odeint_adjoint if self.adjoint else odeint
        kw: dict = {"method": self.method}
        if self.method in FIXED_SOLVERS:
            kw["options"] = {"step_size": self.T / self.steps}
        else:
            kw.update(rtol=self.rtol, atol=self.atol)
        if self.adjoint:
            kw["adjoint_params"] = tuple(self.func.parameters())
        return solve(self.func, z0, t, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.readout(self.flow(x)[-1])
        return out.squeeze(-1) if out.shape[-1] == 1 else out


def make_dataset(name: str, *, n: int = 256, noise: float | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D data sets of the chapter, standardised, as float32 tensors ``(X, y)``.

    ``"moons"`` is :func:`sklearn.datasets.make_moons` (default noise 0.1), ``"circles"`` is
    :func:`sklearn.datasets.make_circles` (factor 0.5, default noise 0.05): the inner circle is class 1.

    Example:
        >>> X, y = make_dataset("moons", n=10, seed=0)
        >>> X.shape, y.shape
        (torch.Size([10, 2]), torch.Size([10]))
    """
    from sklearn.datasets import make_circles, make_moons

    makers = {"moons": (make_moons, {}, 0.1), "circles": (make_circles, {"factor": 0.5}, 0.05)}
    if name not in makers:
        raise ValueError(f"unknown dataset {name!r}; valid names are {', '.join(makers)}")
    _positive("n", n, integer=True)
    fn, kw, default_noise = makers[name]
    X, y = fn(n_samples=n, noise=default_noise if noise is None else noise, random_state=seed, **kw)
    if name == "moons":
        X = (X - X.mean(0)) / X.std(0)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def train_classifier(
    model: NeuralODEClassifier, X: torch.Tensor, y: torch.Tensor, *, iters: int = 200, lr: float = 0.02
) -> dict:
    """Full-batch Adam on the logistic loss, counting function evaluations forward and backward.

    Returns:
        dict with ``loss`` and ``accuracy`` per iteration and ``nfe_forward`` / ``nfe_backward`` per
        iteration (evaluations of the vector field in the forward solve and in the adjoint solve).

    Example:
        >>> X, y = make_dataset("moons", n=32)
        >>> h = train_classifier(NeuralODEClassifier(method="rk4", steps=4, adjoint=False), X, y, iters=3)
        >>> h["loss"].shape
        (3,)
    """
    _positive("iters", iters, integer=True)
    _positive("lr", lr)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of rows; got {X.shape[0]} and {y.shape[0]}")
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    hist: dict = {"loss": [], "accuracy": [], "nfe_forward": [], "nfe_backward": []}
    for _ in range(iters):
        opt.zero_grad()
        model.func.reset_nfe()
        logit = model(X)
        nf = model.func.nfe
        loss = nn.functional.binary_cross_entropy_with_logits(logit, y)
        loss.backward()
        opt.step()
        hist["loss"].append(loss.item())
        hist["accuracy"].append(((logit > 0).float() == y).float().mean().item())
        hist["nfe_forward"].append(nf)
        hist["nfe_backward"].append(model.func.nfe - nf)
    return {k: np.array(v) for k, v in hist.items()}


def accuracy(model: NeuralODEClassifier, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of points classified correctly (binary, threshold at logit 0).

    Example:
        >>> X, y = make_dataset("circles", n=16)
        >>> 0.0 <= accuracy(NeuralODEClassifier(method="euler", adjoint=False), X, y) <= 1.0
        True
    """
    with torch.no_grad():
        return ((model(X) > 0).float() == y).float().mean().item()


def moons_experiment(*, n: int = 200, iters: int = 40, lr: float = 0.05, seed: int = 0) -> dict:
    """Train a plain 2-D neural ODE classifier (dopri5, adjoint gradients) on ``make_moons``.

    Returns:
        dict with the data, the training history, the final training accuracy, trajectories of the data
        through the flow, the learned vector field at ``t = T/2`` on a grid and the decision function on
        a grid.

    Example:
        >>> r = moons_experiment(n=32, iters=2)  # the book uses the defaults
        >>> sorted(r)[:3]
        ['X', 'accuracy', 'boundary_grid']
    """
    X, y = make_dataset("moons", n=n, seed=seed)
    model = NeuralODEClassifier(dim=2, augment=0, hidden=32, method="dopri5", adjoint=True, seed=seed)
    t0 = time.perf_counter()
    hist = train_classifier(model, X, y, iters=iters, lr=lr)
    wall = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        traj = model.flow(X, n_times=21).numpy()
        gx, gy = np.meshgrid(np.linspace(-2.5, 2.5, 21), np.linspace(-2.5, 2.5, 21))
        grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], -1), dtype=torch.float32)
        vf = model.func(torch.tensor(model.T / 2), grid).numpy()
        bx, by = np.meshgrid(np.linspace(-2.5, 2.5, 81), np.linspace(-2.5, 2.5, 81))
        bgrid = torch.tensor(np.stack([bx.ravel(), by.ravel()], -1), dtype=torch.float32)
        dec = model(bgrid).numpy().reshape(bx.shape)
    return {
        "X": X.numpy(), "y": y.numpy(), "history": hist, "accuracy": accuracy(model, X, y),
        "trajectories": traj, "grid": (gx, gy), "field": vf.reshape(*gx.shape, 2),
        "boundary_grid": (bx, by), "decision": dec, "train_seconds": wall,
    }


@figures.register(
    "dynamics/moons",
    caption=(
        r"A plain neural ODE trained on two moons. Left: the learned vector field $f(z, T/2)$ (arrows) and "
        r"trajectories of the training points from $t = 0$ (dots) to $t = T$ (crosses). Right: the decision "
        r"boundary of flow plus linear read-out in input space, with the training data."
    ),
    compute=functools.partial(moons_experiment, seed=0),
)
def _plot_moons(data: dict):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 4.0))
    gx, gy = data["grid"]
    ax0.quiver(gx, gy, data["field"][..., 0], data["field"][..., 1], color="0.6", width=0.003)
    tr, y = data["trajectories"], data["y"]
    for c in (0, 1):
        idx = np.flatnonzero(y == c)[::4]
        ax0.plot(tr[:, idx, 0], tr[:, idx, 1], color=f"C{c}", lw=0.6, alpha=0.7)
        ax0.plot(tr[0, idx, 0], tr[0, idx, 1], "o", ms=2.5, color=f"C{c}", label=f"class {c}: $z(0)$")
        ax0.plot(tr[-1, idx, 0], tr[-1, idx, 1], "x", ms=3.5, color=f"C{c}", label=f"class {c}: $z(T)$")
    ax0.set_xlabel("$z_1$")
    ax0.set_ylabel("$z_2$")
    ax0.set_title("learned field and trajectories")
    ax0.legend(fontsize=7, loc="lower left")
    bx, by = data["boundary_grid"]
    ax1.contourf(bx, by, data["decision"] > 0, levels=[-0.5, 0.5, 1.5], colors=["#cfe3f2", "#f6d5c2"])
    ax1.contour(bx, by, data["decision"], levels=[0.0], colors="k", linewidths=1.2)
    X = data["X"]
    for c in (0, 1):
        ax1.plot(X[y == c, 0], X[y == c, 1], "o", ms=2.5, color=f"C{c}", label=f"class {c}")
    ax1.plot([], [], "k-", label="decision boundary")
    ax1.set_xlabel("$x_1$")
    ax1.set_ylabel("$x_2$")
    ax1.set_title(f"training accuracy {data['accuracy']:.3f}")
    ax1.legend(fontsize=7, loc="lower left")
    return fig


def winding_numbers(loop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Winding number of the closed polygon ``loop`` ``(m, 2)`` around each of ``points`` ``(n, 2)``.

    Computed as the summed signed angle of the polygon's edges seen from each point, over ``2 pi``.
    A homeomorphism of the plane maps a curve enclosing a point to a curve enclosing its image, and a
    flow also preserves orientation (its Jacobian determinant is ``exp(int div f dt) > 0``), so the
    winding number of a counter-clockwise circle around an inner point stays ``+1`` under any planar flow.

    Example:
        >>> th = np.linspace(0, 2 * np.pi, 100, endpoint=False)
        >>> winding_numbers(np.stack([np.cos(th), np.sin(th)], 1), np.array([[0.0, 0.0], [2.0, 0.0]]))
        array([1., 0.])
    """
    loop, points = np.asarray(loop, float), np.asarray(points, float)
    if loop.ndim != 2 or loop.shape[1] != 2 or loop.shape[0] < 3:
        raise ValueError(f"loop must have shape (m >= 3, 2); got {loop.shape}")
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2); got {points.shape}")
    a = loop[None, :, :] - points[:, None, :]
    b = np.roll(loop, -1, axis=0)[None, :, :] - points[:, None, :]
    ang = np.arctan2(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0], (a * b).sum(-1))
    return np.round(ang.sum(1) / (2 * np.pi), 6)


def circles_experiment(
    *, n: int = 200, iters: int = 60, lr: float = 0.05, augment: int = 1, loop_points: int = 2000, seed: int = 0
) -> dict:
    """Plain vs augmented neural ODEs on concentric circles (Dupont et al. 2019).

    Both models have the same vector-field width and are trained alike (dopri5 with rtol 1e-3,
    atol 1e-4, backprop through the solver). They are then evaluated with tight tolerances (1e-7), so
    that the maps are the exact flows up to ~1e-7. The two data circles (radii 1 and 0.5) are pushed
    densely through the plain flow: the winding number of the image of the outer circle around the
    images of the inner circle, and the fraction of the outer circle's image that the linear read-out
    puts on the inner class's side, measure the topological obstruction.

    Returns:
        dict with the data; per model (``plain``, ``aug``): training accuracy at the training tolerance
        (``train_acc_*``) and at the tight tolerance (``acc_*``), loss and forward NFE histories, features
        ``z(T)`` and read-out; for the plain model ``loop_image``, ``inner_image``, ``winding`` and
        ``loop_error`` (fraction of the outer-circle image classified as inner), and ``inner_correct``.

    Example:
        >>> r = circles_experiment(n=32, iters=2, loop_points=100)  # the book uses the defaults
        >>> set(r["winding"].tolist())
        {1.0}
    """
    _positive("loop_points", loop_points, integer=True)
    X, y = make_dataset("circles", n=n, seed=seed)
    out: dict = {"X": X.numpy(), "y": y.numpy()}
    th = np.linspace(0, 2 * np.pi, loop_points, endpoint=False)
    ring = torch.tensor(np.stack([np.cos(th), np.sin(th)], 1), dtype=torch.float32)
    for key, aug in (("plain", 0), ("aug", augment)):
        model = NeuralODEClassifier(dim=2, augment=aug, hidden=32, method="dopri5", adjoint=False, seed=seed)
        hist = train_classifier(model, X, y, iters=iters, lr=lr)
        out[f"train_acc_{key}"] = float(hist["accuracy"][-1])
        out[f"loss_{key}"], out[f"nfe_{key}"] = hist["loss"], hist["nfe_forward"]
        model.rtol = model.atol = 1e-7
        out[f"acc_{key}"] = accuracy(model, X, y)
        with torch.no_grad():
            out[f"features_{key}"] = model.flow(X)[-1].numpy()
            w, b = model.readout.weight.numpy().ravel(), model.readout.bias.numpy()
            out[f"readout_{key}"] = (w, b)
            outer_img, inner_img = model.flow(ring)[-1].numpy(), model.flow(0.5 * ring[::10])[-1].numpy()
            out[f"loop_error_{key}"] = float(np.mean(outer_img @ w + b > 0))
            if aug == 0:
                out["loop_image"], out["inner_image"] = outer_img, inner_img
                out["winding"] = winding_numbers(outer_img, inner_img)
                out["inner_correct"] = float(np.mean(inner_img @ w + b > 0))
    return out


@figures.register(
    "dynamics/circles",
    caption=(
        "Concentric circles through a plain and an augmented neural ODE. Left: the plain flow is a "
        "homeomorphism of the plane, so the image of the outer circle (grey loop) still encloses the "
        "image of the inner circle, and any line with the inner circle on one side cuts the outer loop. "
        "Right: with one extra dimension the inner "
        "class is lifted out, and the linear read-out separates the classes."
    ),
    compute=functools.partial(circles_experiment, seed=0),
)
def _plot_circles(data: dict):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9.0, 4.0))
    ax0 = fig.add_subplot(1, 2, 1)
    ax1 = fig.add_subplot(1, 2, 2, projection="3d" if data["features_aug"].shape[1] >= 3 else None)
    y = data["y"]
    loop = np.vstack([data["loop_image"], data["loop_image"][:1]])
    ax0.plot(loop[:, 0], loop[:, 1], color="0.5", lw=1, label="image of outer circle")
    ax0.plot(data["inner_image"][:, 0], data["inner_image"][:, 1], color="C1", lw=1, label="image of inner circle")
    F = data["features_plain"]
    for c, name in ((0, "outer"), (1, "inner")):
        ax0.plot(F[y == c, 0], F[y == c, 1], "o", ms=2.5, color=f"C{c}", label=f"{name} class: $z(T)$")
    w, b = data["readout_plain"]
    xs = np.linspace(F[:, 0].min(), F[:, 0].max(), 10)
    if abs(w[1]) > 1e-12:
        ax0.plot(xs, -(w[0] * xs + b[0]) / w[1], "k--", lw=1, label="linear read-out boundary")
    ax0.set_ylim(F[:, 1].min() - 0.5, F[:, 1].max() + 0.5)
    ax0.set_xlabel("$z_1(T)$")
    ax0.set_ylabel("$z_2(T)$")
    ax0.set_title(f"plain neural ODE: accuracy {data['acc_plain']:.3f}")
    ax0.legend(fontsize=7, loc="best")
    G = data["features_aug"]
    for c, name in ((0, "outer"), (1, "inner")):
        pts = G[y == c]
        if G.shape[1] >= 3:
            ax1.scatter(pts[:, 0], pts[:, 1], pts[:, 2], s=4, color=f"C{c}", label=f"{name} class: $z(T)$")
        else:
            ax1.plot(pts[:, 0], pts[:, 1], "o", ms=2.5, color=f"C{c}", label=f"{name} class")
    ax1.set_xlabel("$z_1(T)$")
    ax1.set_ylabel("$z_2(T)$")
    if G.shape[1] >= 3:
        ax1.set_zlabel("$z_3(T)$ (augmented)")
    ax1.set_title(f"augmented neural ODE: accuracy {data['acc_aug']:.3f}")
    ax1.legend(fontsize=7, loc="upper left")
    return fig
