"""The chapter's experiments, sections 4-6: neural ODEs, the adjoint, and backprop as costate.

Like :mod:`dltheory.dynamics.experiments`: seeded functions of ``scale`` and ``device`` returning
frozen dataclasses; the figures ``dynamics/moons``, ``dynamics/circles`` and ``dynamics/costate``
are registered here.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from dltheory import _checks, figures
from dltheory.dynamics.costate import (
    adjoint_recursion,
    adjoint_state,
    backprop_deltas,
    euler_states,
)
from dltheory.dynamics.euler import FIXED_SOLVERS, fit_loglog_slope
from dltheory.dynamics.experiments import _override, as_device, sizes
from dltheory.dynamics.node import (
    ADAPTIVE_SOLVERS,
    NeuralODEClassifier,
    ODEFunc,
    TrainingHistory,
    accuracy,
    linear_baseline_accuracy,
    make_dataset,
    train_classifier,
    train_classifiers,
    winding_numbers,
)

__all__ = [
    "AdjointGradient",
    "adjoint_vs_backprop",
    "AdjointReconstruction",
    "adjoint_reconstruction",
    "MoonsExperiment",
    "moons_experiment",
    "CirclesModel",
    "CirclesExperiment",
    "circles_experiment",
    "CostateExperiment",
    "costate_experiment",
]


# ---------------------------------------------------------------- adjoint = backprop
@dataclass(frozen=True)
class AdjointGradient:
    """Result of :func:`adjoint_vs_backprop`.

    Attributes:
        rel_diff: relative 2-norm difference of the concatenated gradients (w.r.t. the parameters
            and ``z(0)``) by ``odeint_adjoint`` and by backprop through ``odeint``.
        nfe_forward: field evaluations of the forward solve.
        nfe_adjoint: field evaluations of the backward adjoint solve (backprop through the solver
            evaluates no field).
    """

    rel_diff: float
    nfe_forward: int
    nfe_adjoint: int


def adjoint_vs_backprop(
    *,
    scale: str = "book",
    dim: int = 2,
    hidden: int | None = None,
    n: int | None = None,
    T: float = 1.0,
    rtol: float = 1e-10,
    atol: float = 1e-10,
    method: str = "dopri5",
    seed: int = 0,
    device=None,
) -> AdjointGradient:
    """Gradients of ``sum |z(T)|^2 / n`` by the adjoint method and by backprop through the solver.

    Both use the same float64 field, solver and tolerances.

    Args:
        scale: ``"book"`` (width 16, 32 inputs) or ``"full"`` (width 64, 256 inputs).
        dim: state dimension.
        hidden, n: width of the field and number of inputs (default: from ``scale``).
        T: time horizon (> 0).
        rtol, atol: solver tolerances (> 0).
        method: a torchdiffeq solver.
        seed: seed of the field (inputs: ``seed + 1``).
        device: where to compute (default the CPU).

    Example:
        >>> adjoint_vs_backprop(rtol=1e-6, atol=1e-6).rel_diff < 1e-3
        True
    """
    sz = _override(sizes("adjoint", scale), hidden=hidden, n=n)
    n = _checks.integer("n", sz["n"])
    T = _checks.positive("T", T)
    rtol = _checks.positive("rtol", rtol)
    atol = _checks.positive("atol", atol)
    method = _checks.choice("method", method, ADAPTIVE_SOLVERS + tuple(FIXED_SOLVERS))
    dim = _checks.integer("dim", dim)
    _checks.size("n", n * dim)
    seed = _checks.seed(seed)
    dev = as_device(device)
    f = ODEFunc(dim, sz["hidden"], seed=seed, dtype=torch.float64).to(dev)
    g = torch.Generator().manual_seed(seed + 1)
    z0 = torch.randn(n, dim, generator=g, dtype=torch.float64).to(dev)
    t = torch.tensor([0.0, T], dtype=torch.float64, device=dev)
    grads, nfe = {}, {}
    for key, solve in (("adjoint", odeint_adjoint), ("backprop", odeint)):
        z = z0.clone().requires_grad_()
        f.reset_nfe()
        zT = solve(f, z, t, rtol=rtol, atol=atol, method=method)[-1]
        n_fwd = f.nfe
        loss = (zT**2).sum() / n
        gr = torch.autograd.grad(loss, [z, *f.parameters()])
        nfe[key] = (n_fwd, f.nfe - n_fwd)
        grads[key] = torch.cat([x.reshape(-1) for x in gr])
    diff = (grads["adjoint"] - grads["backprop"]).norm() / grads["backprop"].norm()
    return AdjointGradient(
        rel_diff=diff.item(), nfe_forward=nfe["adjoint"][0], nfe_adjoint=nfe["adjoint"][1]
    )


# ---------------------------------------------------------------- the adjoint's backward solve
@dataclass(frozen=True)
class AdjointReconstruction:
    """Result of :func:`adjoint_reconstruction` (Gholami et al. 2019).

    Attributes:
        rtol, atol: the tolerances of the model (those it was trained with).
        error_max: ``max_i |z~_i(0) - x_i|``, where ``z~(0)`` is the input reconstructed by solving
            the ODE backwards from ``z(T)`` at those tolerances, as the adjoint method does.
        error_median: the median over the inputs.
        forward_error: ``max_i |z_i(T) - z*_i(T)|``, the error of the forward solve alone
            against the accurate one (float64, tolerance ``tight``).
        error_tight: ``max_i`` of the same error in float64 with ``rtol = atol = tight``.
        tight: the tight tolerance.
        amplification: ``max_i 1 / s_min(dz(T)/dz(0))`` at input ``i``: the largest factor by
            which the backward flow stretches an error made near ``t = T``.
        amplification_worst: the same factor at the input with the largest reconstruction error.
        grad_diff_backprop: relative difference of the field-parameter gradients of the training
            loss by the adjoint method and by backprop through the same solver (the exact
            gradient of the computed loss), both at the model's tolerances.
        grad_diff_exact: relative difference of the adjoint gradient from the accurate gradient
            (float64, backprop through the solver at the tight tolerance).
        backprop_diff_exact: the same for backprop through the solver at the model's tolerances.
    """

    rtol: float
    atol: float
    error_max: float
    error_median: float
    forward_error: float
    error_tight: float
    tight: float
    amplification: float
    amplification_worst: float
    grad_diff_backprop: float
    grad_diff_exact: float
    backprop_diff_exact: float


def _field_grad(model: NeuralODEClassifier, X, y, *, adjoint: bool) -> torch.Tensor:
    model = copy.deepcopy(model)
    model.adjoint = adjoint
    loss = nn.functional.binary_cross_entropy_with_logits(model(X), y)
    gr = torch.autograd.grad(loss, list(model.func.parameters()))
    return torch.cat([x.reshape(-1) for x in gr]).double()


def adjoint_reconstruction(
    model: NeuralODEClassifier, X: torch.Tensor, y: torch.Tensor, *, tight: float = 1e-9
) -> AdjointReconstruction:
    """How accurately the adjoint's backward solve reconstructs ``z(t)``, and what it does to the
    gradient.

    The adjoint method (Chen et al. 2018) stores no trajectory: it solves ``z`` backwards from
    ``z(T)`` alongside the adjoint. Gholami et al. (2019) point out that this reconstruction can be
    inaccurate, and with it the gradient: where the forward flow contracts, the backward flow
    expands, and the solver's local errors grow by that factor.

    Args:
        model: an adaptive-solver :class:`NeuralODEClassifier` (typically trained).
        X, y: the data the loss is measured on.
        tight: the accurate tolerance (float64) for the reference solves (> 0).

    Example:
        >>> X, y = make_dataset("moons", n=16)
        >>> r = adjoint_reconstruction(NeuralODEClassifier(seed=0), X, y)
        >>> r.error_tight < r.error_max
        True
    """
    if not isinstance(model, NeuralODEClassifier):
        raise TypeError(f"model must be a NeuralODEClassifier; got {type(model).__name__}")
    if model.method not in ADAPTIVE_SOLVERS:
        raise ValueError(
            f"model must use an adaptive solver ({', '.join(ADAPTIVE_SOLVERS)}); "
            f"got {model.method!r}"
        )
    X = model.check_input(X, "X")
    y = _checks.labels("y", y, n_classes=2, n=X.shape[0]).to(X)
    tight = _checks.positive("tight", tight)
    f = model.func
    z0 = torch.cat([X, X.new_zeros(X.shape[0], model.augment)], -1)
    t = torch.tensor([0.0, model.T], dtype=X.dtype, device=X.device)
    tol = {"rtol": model.rtol, "atol": model.atol, "method": model.method}
    with torch.no_grad():
        zT = odeint(f, z0, t, **tol)[-1]
        back = odeint(f, zT, t.flip(0), **tol)[-1]
        err = (back - z0).norm(dim=-1)
        f64 = copy.deepcopy(f).double()
        z64 = z0.double()
        t64 = t.double()
        tt = {"rtol": tight, "atol": tight, "method": model.method}
        zT64 = odeint(f64, z64, t64, **tt)[-1]
        fwd = (zT.double() - zT64).norm(dim=-1).max().item()
        err64 = (odeint(f64, zT64, t64.flip(0), **tt)[-1] - z64).norm(dim=-1)
        # Jacobian of the forward flow by central differences (float64, tight tolerance)
        eps, D = 1e-5, z0.shape[-1]
        cols = []
        for j in range(D):
            e = torch.zeros(D, dtype=torch.float64, device=X.device)
            e[j] = eps
            plus = odeint(f64, z64 + e, t64, **tt)[-1]
            minus = odeint(f64, z64 - e, t64, **tt)[-1]
            cols.append((plus - minus) / (2 * eps))
        J = torch.stack(cols, -1)
        amp = 1 / torch.linalg.svdvals(J)[..., -1]
    worst = int(err.argmax())
    m64 = copy.deepcopy(model).double()
    m64.rtol = m64.atol = tight
    g_adj = _field_grad(model, X, y, adjoint=True)
    g_bp = _field_grad(model, X, y, adjoint=False)
    g_ex = _field_grad(m64, X.double(), y.double(), adjoint=False)

    def rel(a, b):
        return ((a - b).norm() / b.norm()).item()

    return AdjointReconstruction(
        rtol=model.rtol,
        atol=model.atol,
        error_max=err.max().item(),
        error_median=err.median().item(),
        forward_error=fwd,
        error_tight=err64.max().item(),
        tight=tight,
        amplification=amp.max().item(),
        amplification_worst=amp[worst].item(),
        grad_diff_backprop=rel(g_adj, g_bp),
        grad_diff_exact=rel(g_adj, g_ex),
        backprop_diff_exact=rel(g_bp, g_ex),
    )


# ---------------------------------------------------------------- moons
@dataclass(frozen=True)
class MoonsExperiment:
    """Result of :func:`moons_experiment`.

    Attributes:
        X, y: the training data.
        history: the :class:`~dltheory.dynamics.node.TrainingHistory`.
        accuracy: final training accuracy.
        baseline: training accuracy of a linear classifier on the raw inputs (no flow).
        trajectories: states of the data along the flow, ``(21, n, 2)``.
        grid: ``(gx, gy)`` of the vector-field plot; ``field``: the learned ``f(z, T/2)`` there.
        boundary_grid: ``(bx, by)``; ``decision``: the logit of the model there.
        reconstruction: the :class:`AdjointReconstruction` of the trained model.
    """

    X: np.ndarray
    y: np.ndarray
    history: TrainingHistory
    accuracy: float
    baseline: float
    trajectories: np.ndarray
    grid: tuple[np.ndarray, np.ndarray]
    field: np.ndarray
    boundary_grid: tuple[np.ndarray, np.ndarray]
    decision: np.ndarray
    reconstruction: AdjointReconstruction


def moons_experiment(
    *,
    scale: str = "book",
    n: int | None = None,
    iters: int | None = None,
    lr: float = 0.05,
    seed: int = 0,
    device=None,
) -> MoonsExperiment:
    """Train a plain 2-D neural ODE classifier (dopri5, adjoint gradients) on ``make_moons``.

    Args:
        scale: ``"book"`` (200 points, 40 Adam steps) or ``"full"`` (1000 points, 200 steps).
        n, iters: number of points and Adam steps (default: from ``scale``).
        lr: learning rate.
        seed: seed of the data and the model.
        device: where to train (default the CPU).

    Example:
        >>> r = moons_experiment(n=32, iters=2)  # the book uses the defaults
        >>> r.history.loss.shape
        (2,)
    """
    sz = _override(sizes("moons", scale), n=n, iters=iters)
    dev = as_device(device)
    X, y = make_dataset("moons", n=sz["n"], seed=seed)
    X, y = X.to(dev), y.to(dev)
    model = NeuralODEClassifier(
        dim=2, augment=0, hidden=32, method="dopri5", adjoint=True, seed=seed
    ).to(dev)
    hist = train_classifier(model, X, y, iters=sz["iters"], lr=lr)
    model.eval()
    with torch.no_grad():
        traj = model.flow(X, n_times=21).cpu().numpy()
        gx, gy = np.meshgrid(np.linspace(-2.5, 2.5, 21), np.linspace(-2.5, 2.5, 21))
        grid = torch.tensor(np.stack([gx.ravel(), gy.ravel()], -1), dtype=torch.float32).to(dev)
        vf = model.func(torch.tensor(model.T / 2), grid).cpu().numpy()
        bx, by = np.meshgrid(np.linspace(-2.5, 2.5, 81), np.linspace(-2.5, 2.5, 81))
        bgrid = torch.tensor(np.stack([bx.ravel(), by.ravel()], -1), dtype=torch.float32).to(dev)
        dec = model(bgrid).cpu().numpy().reshape(bx.shape)
    acc = accuracy(model, X, y)
    return MoonsExperiment(
        X=X.cpu().numpy(),
        y=y.cpu().numpy(),
        history=hist,
        accuracy=acc,
        baseline=linear_baseline_accuracy(X, y),
        trajectories=traj,
        grid=(gx, gy),
        field=vf.reshape(*gx.shape, 2),
        boundary_grid=(bx, by),
        decision=dec,
        reconstruction=adjoint_reconstruction(model, X, y),
    )


@figures.register("dynamics/moons", compute=functools.partial(moons_experiment, seed=0))
def _plot_moons(data: MoonsExperiment):
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9.0, 4.0))
    gx, gy = data.grid
    ax0.quiver(gx, gy, data.field[..., 0], data.field[..., 1], color="0.6", width=0.003)
    tr, y = data.trajectories, data.y
    for c in (0, 1):
        idx = np.flatnonzero(y == c)[::4]
        ax0.plot(tr[:, idx, 0], tr[:, idx, 1], color=f"C{c}", lw=0.6, alpha=0.7)
        ax0.plot(
            tr[0, idx, 0], tr[0, idx, 1], "o", ms=2.5, color=f"C{c}", label=f"class {c}: $z(0)$"
        )
        ax0.plot(
            tr[-1, idx, 0], tr[-1, idx, 1], "x", ms=3.5, color=f"C{c}", label=f"class {c}: $z(T)$"
        )
    ax0.set_xlabel("$z_1$")
    ax0.set_ylabel("$z_2$")
    ax0.set_title("learned field and trajectories")
    ax0.legend(fontsize=8, loc="lower left")
    bx, by = data.boundary_grid
    ax1.contourf(bx, by, data.decision > 0, levels=[-0.5, 0.5, 1.5], colors=["#cfe3f2", "#f6d5c2"])
    ax1.contour(bx, by, data.decision, levels=[0.0], colors="k", linewidths=1.2)
    X = data.X
    for c in (0, 1):
        ax1.plot(X[y == c, 0], X[y == c, 1], "o", ms=2.5, color=f"C{c}", label=f"class {c}")
    ax1.plot([], [], "k-", label="decision boundary")
    ax1.set_xlabel("$x_1$")
    ax1.set_ylabel("$x_2$")
    ax1.set_title(f"training accuracy {data.accuracy:.3f}")
    ax1.legend(fontsize=8, loc="lower left")
    return fig


# ---------------------------------------------------------------- circles
@dataclass(frozen=True)
class CirclesModel:
    """One model (plain or augmented, one seed) of :func:`circles_experiment`.

    Attributes:
        augment: number of extra dimensions.
        seed: seed of the data and the model.
        train_acc: training accuracy at the training tolerance (last step).
        acc: training accuracy at the tight evaluation tolerance.
        loss: loss per Adam step.
        nfe: forward function evaluations at the training tolerance of the trained model alone.
        features: ``z(T)`` of the training points (tight tolerance).
        readout: ``(w, b)`` of the linear read-out.
        loop_error: fraction of the image of the outer data circle that the read-out puts on the
            inner class's side.
        winding: for the plain model, the winding number of the image of the outer data circle
            around the images of the inner one (empty for an augmented model); the image is
            sampled until consecutive points are at most 0.02 apart.
        inner_correct: for the plain model, the fraction of those inner images on the inner side.
    """

    augment: int
    seed: int
    train_acc: float
    acc: float
    loss: np.ndarray
    nfe: int
    features: np.ndarray
    readout: tuple[np.ndarray, np.ndarray]
    loop_error: float
    winding: np.ndarray
    inner_correct: float

    def steps_to(self, loss: float) -> int:
        """The first Adam step whose loss is below ``loss`` (``len(self.loss)`` if none).

        Example:
            >>> m = circles_experiment(n=16, iters=2, loop_points=40, seeds=(0,)).aug[0]
            >>> m.steps_to(10.0)
            0
        """
        loss = _checks.positive("loss", loss)
        below = np.flatnonzero(self.loss < loss)
        return int(below[0]) if below.size else len(self.loss)


@dataclass(frozen=True)
class CirclesExperiment:
    """Result of :func:`circles_experiment`.

    Attributes:
        X, y: the training data of the first seed; ``baseline``: the training accuracy of a
            linear classifier on those raw inputs (no flow).
        seeds: the seeds.
        plain, aug: the :class:`CirclesModel` per seed.
        loop_image: image of the outer data circle under the first seed's plain flow (the
            ``loop_points`` equally spaced points; the winding numbers use a finer sample where
            the image is stretched).
        inner_image: image of the inner data circle (every 10th of the loop points).
    """

    X: np.ndarray
    y: np.ndarray
    baseline: float
    seeds: tuple[int, ...]
    plain: tuple[CirclesModel, ...]
    aug: tuple[CirclesModel, ...]
    loop_image: np.ndarray
    inner_image: np.ndarray


def _loop_image(
    model: NeuralODEClassifier, n: int, *, max_gap: float = 0.02, max_points: int = 200_000
) -> np.ndarray:
    """Image of the unit circle under the model's flow, sampled finely enough to be a curve.

    Starts from ``n`` equally spaced angles and bisects every arc whose image is longer than
    ``max_gap`` until none is (or ``max_points`` are reached), so that the polygon through the
    image points follows the image curve, whose thin fingers a uniform sample can cut across.
    """
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    dev, dt = model.readout.weight.device, model.dtype

    def image(angles):
        ring = torch.tensor(np.stack([np.cos(angles), np.sin(angles)], 1), dtype=dt, device=dev)
        with torch.no_grad():
            return model.flow(ring)[-1].cpu().numpy()

    img = image(th)
    while len(th) < max_points:
        gap = np.linalg.norm(np.roll(img, -1, axis=0) - img, axis=1)
        long = np.flatnonzero(gap > max_gap)
        if long.size == 0:
            break
        nxt = np.where(long + 1 < len(th), th[(long + 1) % len(th)], 2 * np.pi)
        mid = (th[long] + nxt) / 2
        th = np.concatenate([th, mid])
        img = np.concatenate([img, image(mid)])
        order = np.argsort(th)
        th, img = th[order], img[order]
    return img


def circles_experiment(
    *,
    scale: str = "book",
    n: int | None = None,
    iters: int | None = None,
    lr: float = 0.05,
    augment: int = 1,
    loop_points: int | None = None,
    seeds=(0, 1, 2),
    device=None,
) -> CirclesExperiment:
    """Plain vs augmented neural ODEs on concentric circles (Dupont et al. 2019), over seeds.

    For each seed, a plain and an augmented model of the same width are trained alike on that
    seed's data (dopri5 with rtol 1e-3, atol 1e-4, backprop through the solver; the models of one
    kind are trained together by :func:`~dltheory.dynamics.node.train_classifiers`). They are
    then evaluated with tight tolerances (1e-7), so that the maps are the exact flows up to
    ~1e-7. The two data circles (radii 1 and 0.5) are pushed densely through each plain flow: the
    winding number of the image of the outer circle around the images of the inner circle, and
    the fraction of the outer circle's image that the linear read-out puts on the inner class's
    side, measure the topological obstruction.

    Args:
        scale: ``"book"`` (200 points, 300 steps, 2000 loop points) or ``"full"`` (1000, 1000,
            10000).
        n, iters, loop_points: sizes (default: from ``scale``).
        lr: learning rate.
        augment: extra dimensions of the augmented model (>= 1).
        seeds: seeds of the data and the models (non-empty).
        device: where to train (default the CPU).

    Example:
        >>> r = circles_experiment(n=32, iters=2, loop_points=100, seeds=(0,))
        >>> set(r.plain[0].winding.tolist())
        {1.0}
    """
    sz = _override(sizes("circles", scale), n=n, iters=iters, loop_points=loop_points)
    loop_points = _checks.integer("loop_points", sz["loop_points"], low=30)
    _checks.size("loop_points", loop_points * loop_points // 10)
    augment = _checks.integer("augment", augment)
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__len__") or len(seeds) == 0:
        raise TypeError(f"seeds must be a non-empty sequence of integers; got {seeds!r}")
    seeds = tuple(
        _checks.integer(f"seeds[{i}]", s, low=0, high=2**31 - 1) for i, s in enumerate(seeds)
    )
    dev = as_device(device)
    data = [make_dataset("circles", n=sz["n"], seed=s) for s in seeds]
    X = torch.stack([d[0] for d in data]).to(dev)
    y = torch.stack([d[1] for d in data]).to(dev)
    th = np.linspace(0, 2 * np.pi, loop_points, endpoint=False)
    ring = torch.tensor(np.stack([np.cos(th), np.sin(th)], 1), dtype=torch.float32).to(dev)
    out: dict[int, list[CirclesModel]] = {}
    images = {}
    for aug in (0, augment):
        models = [
            NeuralODEClassifier(
                dim=2, augment=aug, hidden=32, method="dopri5", adjoint=False, seed=s
            ).to(dev)
            for s in seeds
        ]
        hists = train_classifiers(models, X, y, iters=sz["iters"], lr=lr)
        out[aug] = []
        for i, (model, hist) in enumerate(zip(models, hists, strict=False)):
            model.func.reset_nfe()
            with torch.no_grad():
                model(X[i])
            nfe = model.func.nfe
            model.rtol = model.atol = 1e-7
            with torch.no_grad():
                feats = model.flow(X[i])[-1].cpu().numpy()
                w = model.readout.weight.cpu().numpy().ravel()
                b = model.readout.bias.cpu().numpy()
                outer_img = model.flow(ring)[-1].cpu().numpy()
                inner_img = model.flow(0.5 * ring[::10])[-1].cpu().numpy()
            wind, inner_ok = np.zeros(0), float("nan")
            if aug == 0:
                wind = winding_numbers(_loop_image(model, loop_points), inner_img)
                inner_ok = float(np.mean(inner_img @ w + b > 0))
                if i == 0:
                    images = {"loop_image": outer_img, "inner_image": inner_img}
            out[aug].append(
                CirclesModel(
                    augment=aug,
                    seed=seeds[i],
                    train_acc=float(hist.accuracy[-1]),
                    acc=accuracy(model, X[i], y[i]),
                    loss=hist.loss,
                    nfe=nfe,
                    features=feats,
                    readout=(w, b),
                    loop_error=float(np.mean(outer_img @ w + b > 0)),
                    winding=wind,
                    inner_correct=inner_ok,
                )
            )
    return CirclesExperiment(
        X=X[0].cpu().numpy(),
        y=y[0].cpu().numpy(),
        baseline=linear_baseline_accuracy(X[0], y[0]),
        seeds=seeds,
        plain=tuple(out[0]),
        aug=tuple(out[augment]),
        **images,
    )


@figures.register(
    "dynamics/circles", compute=functools.partial(circles_experiment, seeds=(0, 1, 2))
)
def _plot_circles(data: CirclesExperiment):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(9.0, 4.0))
    plain, aug = data.plain[0], data.aug[0]
    G = aug.features
    ax0 = fig.add_subplot(1, 2, 1)
    ax1 = fig.add_subplot(1, 2, 2, projection="3d" if G.shape[1] >= 3 else None)
    y = data.y
    loop = np.vstack([data.loop_image, data.loop_image[:1]])
    ax0.plot(loop[:, 0], loop[:, 1], color="0.5", lw=1, label="image of outer circle")
    ax0.plot(
        data.inner_image[:, 0],
        data.inner_image[:, 1],
        color="C1",
        lw=1,
        label="image of inner circle",
    )
    F = plain.features
    for c, name in ((0, "outer"), (1, "inner")):
        ax0.plot(
            F[y == c, 0], F[y == c, 1], "o", ms=2.5, color=f"C{c}", label=f"{name} class: $z(T)$"
        )
    w, b = plain.readout
    xs = np.linspace(F[:, 0].min(), F[:, 0].max(), 10)
    if abs(w[1]) > 1e-12:
        ax0.plot(xs, -(w[0] * xs + b[0]) / w[1], "k--", lw=1, label="linear read-out boundary")
    ax0.set_ylim(F[:, 1].min() - 0.5, F[:, 1].max() + 0.5)
    ax0.set_xlabel("$z_1(T)$")
    ax0.set_ylabel("$z_2(T)$")
    ax0.set_title(f"plain neural ODE: accuracy {plain.acc:.3f}")
    ax0.legend(fontsize=8, loc="best")
    for c, name in ((0, "outer"), (1, "inner")):
        pts = G[y == c]
        if G.shape[1] >= 3:
            ax1.scatter(
                pts[:, 0], pts[:, 1], pts[:, 2], s=4, color=f"C{c}", label=f"{name} class: $z(T)$"
            )
        else:
            ax1.plot(pts[:, 0], pts[:, 1], "o", ms=2.5, color=f"C{c}", label=f"{name} class")
    ax1.set_xlabel("$z_1(T)$")
    ax1.set_ylabel("$z_2(T)$")
    if G.shape[1] >= 3:
        ax1.set_zlabel("$z_3(T)$ (augmented)")
    ax1.set_title(f"augmented neural ODE: accuracy {aug.acc:.3f}")
    ax1.legend(fontsize=8, loc="upper left")
    return fig


# ---------------------------------------------------------------- costate
@dataclass(frozen=True)
class CostateExperiment:
    """Result of :func:`costate_experiment`.

    Attributes:
        t, a: the continuous adjoint ``a(t)`` at times ``t`` descending from ``T`` to 0.
        grad_z0: ``dLoss/dz(0)`` by autograd through an accurate forward solve.
        a0_vs_grad: relative difference of ``a(0)`` and ``grad_z0``.
        depths: the ResNet depths ``L``.
        deltas: depth -> backprop's deltas of the Euler ResNet (the hand-derived recursion),
            ``(L + 1, d)``.
        errors: ``|delta_0 - a(0)| / |a(0)|`` per depth.
        slope: fitted log-log slope of ``errors`` against ``depths`` (theory: -1).
        recursion_error: max over depths, layers of the relative difference between the deltas
            autograd stores and the recursion with the hand-derived vector-Jacobian product.
        T: time horizon.
    """

    t: np.ndarray
    a: np.ndarray
    grad_z0: np.ndarray
    a0_vs_grad: float
    depths: np.ndarray
    deltas: dict[int, np.ndarray]
    errors: np.ndarray
    slope: float
    recursion_error: float
    T: float


def costate_experiment(
    *,
    scale: str = "book",
    dim: int = 2,
    hidden: int = 16,
    T: float = 1.0,
    depths=None,
    seed: int = 0,
    device=None,
) -> CostateExperiment:
    """Continuous adjoint ``a(t)`` of a neural ODE against backprop's deltas of Euler ResNets.

    Args:
        scale: ``"book"`` (depths 8 to 256) or ``"full"`` (8 to 2048).
        dim, hidden: state dimension and width of the field.
        T: time horizon.
        depths: ResNet depths (default: from ``scale``).
        seed: seed of the field (initial state: ``seed + 1``).
        device: where to compute (default the CPU).

    Example:
        >>> r = costate_experiment(depths=(8, 16))
        >>> r.a0_vs_grad < 1e-6
        True
    """
    sz = _override(sizes("costate", scale), depths=depths)
    depths = tuple(_checks.integer(f"depths[{i}]", L) for i, L in enumerate(sz["depths"]))
    if len(depths) < 2:
        raise ValueError("depths must hold at least two depths (for the slope)")
    T = _checks.positive("T", T)
    seed = _checks.seed(seed)
    dev = as_device(device)
    f = ODEFunc(dim, hidden, seed=seed, dtype=torch.float64).to(dev)
    with torch.no_grad():  # a field strong enough to bend trajectories visibly
        f.l2.weight.mul_(3.0)
    g = torch.Generator().manual_seed(seed + 1)
    z0 = torch.randn(dim, generator=g, dtype=torch.float64).to(dev)
    tt = torch.tensor([0.0, T], dtype=torch.float64, device=dev)
    z = z0.clone().requires_grad_()
    zT = odeint(f, z, tt, rtol=1e-10, atol=1e-10)[-1]
    loss = lambda x: (x**2).sum()  # noqa: E731
    grad_z0 = torch.autograd.grad(loss(zT), z)[0]
    aT = 2 * zT.detach()
    t, a = adjoint_state(f, z0, T=T, aT=aT)
    deltas, errs, ident = {}, [], 0.0
    for L in depths:
        auto = backprop_deltas(f, z0, T=T, L=L, loss=loss)
        xs = euler_states(f, z0, T=T, L=L)
        rec = adjoint_recursion(f.vjp, xs, 2 * xs[-1], T=T)  # hand-derived, no autograd
        ident = max(ident, ((auto - rec).norm(dim=-1) / auto.norm(dim=-1)).max().item())
        deltas[L] = rec.cpu().numpy()
        errs.append(((rec[0] - a[-1]).norm() / a[-1].norm()).item())
    return CostateExperiment(
        t=t.cpu().numpy(),
        a=a.cpu().numpy(),
        grad_z0=grad_z0.cpu().numpy(),
        a0_vs_grad=((a[-1] - grad_z0).norm() / grad_z0.norm()).item(),
        depths=np.asarray(depths),
        deltas=deltas,
        errors=np.array(errs),
        slope=fit_loglog_slope(depths, errs),
        recursion_error=ident,
        T=T,
    )


@figures.register("dynamics/costate", compute=functools.partial(costate_experiment, seed=0))
def _plot_costate(data: CostateExperiment):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    t, a = data.t, data.a
    for i in range(a.shape[1]):
        ax.plot(t, a[:, i], color=f"C{i}", label=f"adjoint ODE: $a_{i + 1}(t)$")
    for L, m in ((8, "o"), (32, "x")):
        d = data.deltas[L]
        tk = np.linspace(0, data.T, L + 1)
        for i in range(d.shape[1]):
            ax.plot(
                tk,
                d[:, i],
                m,
                ms=3.5,
                ls="none",
                color=f"C{i}",
                label=f"backprop $\\delta_{i + 1}$, $L = {L}$",
            )
    ax.set_xlabel("time $t$ (layer $k$ at $t = kT/L$)")
    ax.set_ylabel(r"$a(t) = \partial \mathcal{L} / \partial z(t)$")
    ax.legend(fontsize=8, ncol=2)
    return fig
