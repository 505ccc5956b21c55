"""Neural ODEs over torchdiffeq: plain (Chen et al. 2018) and augmented (Dupont et al. 2019).

The 2-D data sets are scikit-learn's ``make_moons`` and ``make_circles``; :func:`winding_numbers`
measures the topological obstruction of a plain planar flow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from dltheory import _checks
from dltheory.dynamics.euler import FIXED_SOLVERS

__all__ = [
    "ADAPTIVE_SOLVERS",
    "DATASETS",
    "ODEFunc",
    "NeuralODEClassifier",
    "TrainingHistory",
    "make_dataset",
    "train_classifier",
    "train_classifiers",
    "accuracy",
    "linear_baseline_accuracy",
    "winding_numbers",
]

#: Adaptive solvers of torchdiffeq accepted by the neural-ODE helpers.
ADAPTIVE_SOLVERS: tuple[str, ...] = ("dopri5", "bosh3", "adaptive_heun", "dopri8")

#: Data sets of :func:`make_dataset`.
DATASETS: tuple[str, ...] = ("moons", "circles")


def _float_dtype(name: str, dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating torch.dtype; got {dtype!r}")
    return dtype


class ODEFunc(nn.Module):
    """Field ``f(t, z) = W2 tanh(W1 [z, t] + b1) + b2`` of a neural ODE, counting evaluations.

    Its vector-Jacobian product :meth:`vjp` is written out by hand, so that it can be checked
    against autograd.

    Attributes:
        nfe: number of function evaluations since the last :meth:`reset_nfe`.

    Example:
        >>> f = ODEFunc(dim=2, hidden=16, seed=0)
        >>> f(torch.tensor(0.0), torch.zeros(5, 2)).shape
        torch.Size([5, 2])
    """

    def __init__(self, dim: int, hidden: int = 32, *, seed: int = 0, dtype=torch.float32):
        super().__init__()
        dim = _checks.integer("dim", dim)
        hidden = _checks.integer("hidden", hidden)
        seed = _checks.seed(seed)
        dtype = _float_dtype("dtype", dtype)
        _checks.size("hidden", (dim + 2) * hidden)
        g = torch.Generator().manual_seed(seed)
        self.dim = dim
        self.l1 = nn.Linear(dim + 1, hidden, dtype=dtype)
        self.l2 = nn.Linear(hidden, dim, dtype=dtype)
        with torch.no_grad():
            for p in self.parameters():
                bound = 1 / math.sqrt(p.shape[-1] if p.ndim == 2 else hidden)
                p.copy_(torch.empty_like(p).uniform_(-bound, bound, generator=g))
        self.nfe = 0

    def reset_nfe(self) -> None:
        """Set the evaluation counter to zero."""
        self.nfe = 0

    def _pre(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        tt = torch.as_tensor(t).to(z).expand(*z.shape[:-1], 1)
        return self.l1(torch.cat([z, tt], dim=-1))

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        return self.l2(torch.tanh(self._pre(t, z)))

    def vjp(self, t: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The vector-Jacobian product ``a^T df/dz(t, z)``, derived by hand (no autograd).

        With ``u = W1 [z, t] + b1``: ``df/dz = W2 diag(1 - tanh(u)^2) W1[:, :dim]``, so
        ``a^T df/dz = ((a W2) * (1 - tanh(u)^2)) W1[:, :dim]``, row by row for batched ``z``.

        Example:
            >>> f = ODEFunc(dim=2, hidden=4, seed=0, dtype=torch.float64)
            >>> f.vjp(0.0, torch.zeros(3, 2, dtype=torch.float64),
            ...       torch.ones(3, 2, dtype=torch.float64)).shape
            torch.Size([3, 2])
        """
        z = _checks.tensor("z", z)
        a = _checks.tensor("a", a, shape=tuple(z.shape))
        _checks.same_dtype(z=z, a=a, parameters=self.l1.weight)
        with torch.no_grad():
            s = torch.tanh(self._pre(t, z))
            return ((a @ self.l2.weight) * (1 - s**2)) @ self.l1.weight[:, : self.dim]


class NeuralODEClassifier(nn.Module):
    """Binary neural ODE classifier: pad with ``augment`` zeros, flow for time ``T``, read out.

    ``augment = 0`` is the plain neural ODE of Chen et al. (2018), whose flow is a homeomorphism of
    the input space; ``augment > 0`` is the augmented neural ODE of Dupont et al. (2019). The
    read-out gives one logit (two classes, as :func:`train_classifier` trains).

    Args:
        dim: input dimension.
        augment: number of zero dimensions appended (>= 0).
        hidden: hidden width of the vector field.
        T: integration time (> 0).
        method: a torchdiffeq solver name (:data:`ADAPTIVE_SOLVERS` or :data:`FIXED_SOLVERS`).
        steps: number of steps for a fixed-grid solver.
        rtol, atol: tolerances of an adaptive solver (> 0).
        adjoint: compute gradients with ``odeint_adjoint`` (else backprop through the solver).
        seed: initialisation seed.
        dtype: floating dtype of the parameters; inputs must have it.

    Example:
        >>> m = NeuralODEClassifier(dim=2, augment=1, seed=0)
        >>> m(torch.zeros(4, 2)).shape
        torch.Size([4])
    """

    def __init__(
        self,
        dim: int = 2,
        *,
        augment: int = 0,
        hidden: int = 32,
        T: float = 1.0,
        method: str = "dopri5",
        steps: int = 10,
        rtol: float = 1e-3,
        atol: float = 1e-4,
        adjoint: bool = True,
        seed: int = 0,
        dtype=torch.float32,
    ):
        super().__init__()
        dim = _checks.integer("dim", dim)
        augment = _checks.integer("augment", augment, low=0)
        T = _checks.positive("T", T)
        method = _checks.choice("method", method, ADAPTIVE_SOLVERS + tuple(FIXED_SOLVERS))
        steps = _checks.integer("steps", steps)
        seed = _checks.seed(seed)
        self.dim, self.augment, self.T, self.method, self.steps = dim, augment, T, method, steps
        self.rtol = _checks.positive("rtol", rtol)
        self.atol = _checks.positive("atol", atol)
        self.adjoint = _checks.boolean("adjoint", adjoint)
        self.func = ODEFunc(dim + augment, hidden, seed=seed, dtype=dtype)
        g = torch.Generator().manual_seed(seed + 10_000)
        self.readout = nn.Linear(dim + augment, 1, dtype=dtype)
        with torch.no_grad():
            w = torch.randn(self.readout.weight.shape, generator=g, dtype=dtype) * 0.5
            self.readout.weight.copy_(w)
            self.readout.bias.zero_()

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the parameters (inputs must have it)."""
        return self.readout.weight.dtype

    def check_input(self, x, name: str = "x") -> torch.Tensor:
        """``x`` as a tensor of shape ``(n, dim)`` (or ``(dim,)``) in the model's dtype and
        device."""
        x = _checks.tensor(name, x, dtype=None if isinstance(x, torch.Tensor) else self.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ValueError(
                f"{name} must have shape (n, {self.dim}) (last dimension {self.dim}); "
                f"got shape {tuple(x.shape)}"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"{name} is {str(x.dtype).replace('torch.', '')} but the model is "
                f"{str(self.dtype).replace('torch.', '')}; convert one of them"
            )
        return x.to(self.readout.weight.device)

    def flow(self, x: torch.Tensor, n_times: int = 2) -> torch.Tensor:
        """States at ``n_times`` equally spaced times in ``[0, T]``, shape ``(n_times, n, D)``."""
        x = self.check_input(x)
        n_times = _checks.integer("n_times", n_times, low=2)
        _checks.size("n_times", n_times * x.numel() * (1 + self.augment))
        z0 = torch.cat([x, x.new_zeros(*x.shape[:-1], self.augment)], dim=-1)
        t = torch.linspace(0.0, self.T, n_times, dtype=x.dtype, device=x.device)
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
        return self.readout(self.flow(x)[-1]).squeeze(-1)


def make_dataset(
    name: str, *, n: int = 256, noise: float | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D data sets of the chapter, as float32 tensors ``(X, y)``.

    ``"moons"`` is :func:`sklearn.datasets.make_moons` (default noise 0.1), standardised;
    ``"circles"`` is :func:`sklearn.datasets.make_circles` (factor 0.5, default noise 0.05): the
    inner circle is class 1.

    Args:
        name: one of :data:`DATASETS`.
        n: number of points (>= 2, so that both classes occur).
        noise: standard deviation of the Gaussian noise (>= 0), or the default.
        seed: seed of scikit-learn's generator (< 2**32).

    Example:
        >>> X, y = make_dataset("moons", n=10, seed=0)
        >>> X.shape, y.shape
        (torch.Size([10, 2]), torch.Size([10]))
    """
    from sklearn.datasets import make_circles, make_moons

    makers = {"moons": (make_moons, {}, 0.1), "circles": (make_circles, {"factor": 0.5}, 0.05)}
    name = _checks.choice("name", name, DATASETS)
    n = _checks.integer("n", n, low=2)
    _checks.size("n", 2 * n)
    seed = _checks.integer("seed", seed, low=0, high=2**32 - 1)
    fn, kw, default_noise = makers[name]
    noise = default_noise if noise is None else _checks.real("noise", noise, low=0.0)
    X, y = fn(n_samples=n, noise=noise, random_state=seed, **kw)
    if name == "moons":
        X = (X - X.mean(0)) / X.std(0)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


@dataclass(frozen=True)
class TrainingHistory:
    """Per-iteration record of :func:`train_classifier`.

    Attributes:
        loss: logistic loss before each Adam step.
        accuracy: training accuracy (threshold at logit 0) before each step.
        nfe_forward: evaluations of the vector field in the forward solve.
        nfe_backward: evaluations in the backward pass (the adjoint solve; 0 for backprop through
            the solver).
        seconds: wall-clock time of the whole training.
    """

    loss: np.ndarray
    accuracy: np.ndarray
    nfe_forward: np.ndarray
    nfe_backward: np.ndarray
    seconds: float


def _check_model_data(model, X, y) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(model, NeuralODEClassifier):
        raise TypeError(f"model must be a NeuralODEClassifier; got {type(model).__name__}")
    X = model.check_input(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (n, {model.dim}); got {tuple(X.shape)}")
    y = _checks.labels("y", y, n_classes=2, n=X.shape[0])
    return X, y.to(device=X.device, dtype=X.dtype)


def train_classifier(
    model: NeuralODEClassifier,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    iters: int = 200,
    lr: float = 0.02,
) -> TrainingHistory:
    """Full-batch Adam on the logistic loss, counting function evaluations forward and backward.

    Args:
        model: the classifier (trained in place).
        X: inputs ``(n, dim)`` in the model's dtype.
        y: labels in {0, 1}, one per row of ``X``.
        iters: number of Adam steps.
        lr: learning rate (> 0).

    Example:
        >>> X, y = make_dataset("moons", n=32)
        >>> m = NeuralODEClassifier(method="rk4", steps=4, adjoint=False)
        >>> train_classifier(m, X, y, iters=3).loss.shape
        (3,)
    """
    import time

    X, y = _check_model_data(model, X, y)
    iters = _checks.integer("iters", iters, high=10**7)
    lr = _checks.positive("lr", lr)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_h, acc_h, nf_h, nb_h = [], [], [], []
    t0 = time.perf_counter()
    for _ in range(iters):
        opt.zero_grad()
        model.func.reset_nfe()
        logit = model(X)
        nf = model.func.nfe
        loss = nn.functional.binary_cross_entropy_with_logits(logit, y)
        loss.backward()
        opt.step()
        loss_h.append(loss.item())
        acc_h.append(((logit > 0).to(y.dtype) == y).to(y.dtype).mean().item())
        nf_h.append(nf)
        nb_h.append(model.func.nfe - nf)
    return TrainingHistory(
        loss=np.array(loss_h),
        accuracy=np.array(acc_h),
        nfe_forward=np.array(nf_h),
        nfe_backward=np.array(nb_h),
        seconds=time.perf_counter() - t0,
    )


class _BatchedField(nn.Module):
    """The fields of several :class:`ODEFunc` of one shape, evaluated as one batched field."""

    def __init__(self, funcs: list[ODEFunc]):
        super().__init__()

        def stack(get, unsqueeze=False):
            w = torch.stack([get(f).detach() for f in funcs]).clone()
            return nn.Parameter(w[:, None] if unsqueeze else w)

        self.W1 = stack(lambda f: f.l1.weight)
        self.b1 = stack(lambda f: f.l1.bias, True)
        self.W2 = stack(lambda f: f.l2.weight)
        self.b2 = stack(lambda f: f.l2.bias, True)
        self.nfe = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        tt = torch.as_tensor(t).to(z).expand(*z.shape[:-1], 1)
        u = torch.cat([z, tt], -1) @ self.W1.transpose(1, 2) + self.b1
        return torch.tanh(u) @ self.W2.transpose(1, 2) + self.b2

    def copy_to(self, funcs: list[ODEFunc]) -> None:
        with torch.no_grad():
            for i, f in enumerate(funcs):
                f.l1.weight.copy_(self.W1[i])
                f.l1.bias.copy_(self.b1[i, 0])
                f.l2.weight.copy_(self.W2[i])
                f.l2.bias.copy_(self.b2[i, 0])


def train_classifiers(
    models: list[NeuralODEClassifier],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    iters: int = 200,
    lr: float = 0.02,
) -> list[TrainingHistory]:
    """Train several classifiers of one architecture at once, each on its own data set.

    The models' fields are stacked into one batched field and solved together (backprop through
    the solver), so the adaptive solver takes common steps, set by the hardest model; each model
    has its own full-batch Adam (Adam acts element by element, so one optimiser over the summed
    losses is one Adam per model). The models are trained in place.

    Args:
        models: classifiers with equal ``dim``, ``augment``, width, ``T``, solver and tolerances,
            and ``adjoint=False``.
        X: inputs ``(len(models), n, dim)``, one data set per model.
        y: labels ``(len(models), n)`` in {0, 1}.
        iters: number of Adam steps.
        lr: learning rate (> 0).

    Returns:
        One :class:`TrainingHistory` per model (the evaluation counts, shared, are the batch's).

    Example:
        >>> X, y = make_dataset("circles", n=16)
        >>> ms = [NeuralODEClassifier(seed=s, adjoint=False) for s in (0, 1)]
        >>> [h.loss.shape for h in train_classifiers(ms, torch.stack([X, X]), torch.stack([y, y]),
        ...                                          iters=2)]
        [(2,), (2,)]
    """
    import time

    if not isinstance(models, (list, tuple)) or not models:
        raise TypeError("models must be a non-empty list of NeuralODEClassifier")
    first = models[0]
    keys = ("dim", "augment", "T", "method", "steps", "rtol", "atol", "adjoint", "dtype")
    for m in models:
        if not isinstance(m, NeuralODEClassifier):
            raise TypeError(f"models must hold NeuralODEClassifier; got {type(m).__name__}")
        if (
            any(getattr(m, k) != getattr(first, k) for k in keys)
            or m.func.l1.weight.shape != first.func.l1.weight.shape
        ):
            raise ValueError("models must share dim, augment, width, T, solver and tolerances")
    if first.adjoint:
        raise ValueError("train_classifiers backpropagates through the solver: use adjoint=False")
    S = len(models)
    X = _checks.tensor("X", X, shape=(S, None, first.dim))
    y = _checks.tensor("y", y, shape=(S, X.shape[1]))
    for i in range(S):
        _check_model_data(models[i], X[i], y[i])
    iters = _checks.integer("iters", iters, high=10**7)
    lr = _checks.positive("lr", lr)
    dev = first.readout.weight.device
    X, y = X.to(dev), y.to(device=dev, dtype=X.dtype)
    field = _BatchedField([m.func for m in models]).to(dev)
    rw = nn.Parameter(torch.stack([m.readout.weight.detach() for m in models]).clone())
    rb = nn.Parameter(torch.stack([m.readout.bias.detach() for m in models]).clone())
    opt = torch.optim.Adam([*field.parameters(), rw, rb], lr=lr)
    z0 = torch.cat([X, X.new_zeros(*X.shape[:-1], first.augment)], -1)
    t = torch.tensor([0.0, first.T], dtype=X.dtype, device=dev)
    kw: dict = {"method": first.method}
    if first.method in FIXED_SOLVERS:
        kw["options"] = {"step_size": first.T / first.steps}
    else:
        kw.update(rtol=first.rtol, atol=first.atol)
    loss_h, acc_h, nf_h = [], [], []
    t0 = time.perf_counter()
    for _ in range(iters):
        opt.zero_grad()
        field.nfe = 0
        logit = (odeint(field, z0, t, **kw)[-1] @ rw.transpose(1, 2)).squeeze(-1) + rb
        nf_h.append(field.nfe)
        loss = nn.functional.binary_cross_entropy_with_logits(logit, y, reduction="none").mean(-1)
        loss.sum().backward()
        opt.step()
        loss_h.append(loss.detach().cpu().numpy())
        acc_h.append(((logit > 0).to(y.dtype) == y).to(y.dtype).mean(-1).detach().cpu().numpy())
    seconds = time.perf_counter() - t0
    field.copy_to([m.func for m in models])
    with torch.no_grad():
        for i, m in enumerate(models):
            m.readout.weight.copy_(rw[i])
            m.readout.bias.copy_(rb[i])
    loss_a, acc_a, nf = np.array(loss_h), np.array(acc_h), np.array(nf_h)
    return [
        TrainingHistory(
            loss=loss_a[:, i],
            accuracy=acc_a[:, i],
            nfe_forward=nf,
            nfe_backward=np.zeros_like(nf),
            seconds=seconds,
        )
        for i in range(S)
    ]


def linear_baseline_accuracy(X: torch.Tensor, y: torch.Tensor) -> float:
    """Training accuracy of a linear classifier (logistic regression) on the raw inputs.

    What a read-out without a flow achieves: the rival of a neural ODE classifier's accuracy.

    Example:
        >>> X, y = make_dataset("circles", n=200)
        >>> linear_baseline_accuracy(X, y) < 0.8
        True
    """
    from sklearn.linear_model import LogisticRegression

    X = _checks.tensor("X", X, ndim=2)
    y = _checks.labels("y", y, n_classes=2, n=X.shape[0])
    Xn, yn = X.detach().cpu().double().numpy(), y.detach().cpu().numpy()
    return float(LogisticRegression(C=1e4, max_iter=10_000).fit(Xn, yn).score(Xn, yn))


def accuracy(model: NeuralODEClassifier, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of points classified correctly (binary, threshold at logit 0).

    ``y`` must have one label in {0, 1} per row of ``X`` (no broadcasting).

    Example:
        >>> X, y = make_dataset("circles", n=16)
        >>> 0.0 <= accuracy(NeuralODEClassifier(method="euler", adjoint=False), X, y) <= 1.0
        True
    """
    X, y = _check_model_data(model, X, y)
    with torch.no_grad():
        return ((model(X) > 0).to(y.dtype) == y).to(y.dtype).mean().item()


def winding_numbers(loop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Winding number of the closed polygon ``loop`` ``(m, 2)`` around each of ``points``
    ``(n, 2)``.

    Computed as the summed signed angle of the polygon's edges seen from each point, over ``2 pi``.
    A homeomorphism of the plane maps a curve enclosing a point to a curve enclosing its image, and
    a flow also preserves orientation (its Jacobian determinant is ``exp(int div f dt) > 0``), so
    the winding number of a counter-clockwise circle around an inner point stays ``+1`` under any
    planar flow. A point on the loop gets NaN (its winding number is undefined).

    Example:
        >>> th = np.linspace(0, 2 * np.pi, 100, endpoint=False)
        >>> circle = np.stack([np.cos(th), np.sin(th)], 1)
        >>> winding_numbers(circle, np.array([[0.0, 0.0], [2.0, 0.0]])).tolist()
        [1.0, 0.0]
    """
    loop = _checks.real_array("loop", loop, ndim=2)
    points = _checks.real_array("points", points, ndim=2)
    if loop.shape[1] != 2 or loop.shape[0] < 3:
        raise ValueError(f"loop must have shape (m >= 3, 2); got {loop.shape}")
    if points.shape[1] != 2:
        raise ValueError(f"points must have shape (n, 2); got {points.shape}")
    _checks.size("loop and points", loop.shape[0] * points.shape[0] * 4)
    a = loop[None, :, :] - points[:, None, :]
    b = np.roll(loop, -1, axis=0)[None, :, :] - points[:, None, :]
    ang = np.arctan2(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0], (a * b).sum(-1))
    w = np.round(ang.sum(1) / (2 * np.pi), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    on_loop = (np.abs(a).sum(-1) == 0).any(1)
    return np.where(on_loop, np.nan, w)
