"""Linear networks: the information plane in closed form.

For a Gaussian input ``X ~ N(0, Sigma_X)`` and a linear layer with additive Gaussian noise
``T = W X + Z``, ``Z ~ N(0, sigma^2 I)``, the mutual information is exact (Saxe et al. 2018):

    I(X;T) = 1/2 log det(I + W Sigma_X W^T / sigma^2).

It depends on the weights only, so it can be followed along training without any estimator. The
student-teacher task of Saxe et al.: a teacher ``y = w*^T x + noise``, a student ``y_hat = W2 W1 x``
with hidden layer ``T = W1 X + Z``, trained by full-batch gradient descent on ``P`` samples from
small initial weights. Its test error is exact too: ``E (y_hat - y)^2 = |W2 W1 - w*^T|^2 +
sigma_y^2`` for ``Sigma_X = I``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks

__all__ = ["gaussian_information", "LinearRun", "train_linear_student"]


def gaussian_information(w, *, noise_var: float, sigma_x=None) -> torch.Tensor:
    """``I(X; WX + Z) = 1/2 log2 det(I + W Sigma_X W^T / noise_var)`` in bits.

    Args:
        w: weights, shape ``(..., d_t, d_x)`` (leading batch dimensions allowed).
        noise_var: variance ``sigma^2`` of the isotropic Gaussian noise ``Z``, > 0.
        sigma_x: input covariance ``(d_x, d_x)``, symmetric positive semi-definite (default
        identity).

    Returns:
        float64 tensor of the batch shape.

    Example:
        >>> round(float(gaussian_information([[1.0, 0.0]], noise_var=1.0)), 6)  # 1/2 log2(2)
        0.5
    """
    w = checks.tensor("w", w, dtype=torch.float64)
    if w.ndim < 2:
        raise ValueError(f"w must have shape (..., d_t, d_x); got {tuple(w.shape)}")
    noise_var = checks.positive("noise_var", noise_var)
    d_t, d_x = w.shape[-2:]
    if sigma_x is None:
        cov = w @ w.transpose(-1, -2)
    else:
        s = checks.tensor("sigma_x", sigma_x, dtype=torch.float64, shape=(d_x, d_x))
        lowest = float(torch.linalg.eigvalsh(s).min()) if torch.allclose(s, s.T) else -math.inf
        if lowest < -1e-12 * float(s.abs().max()):
            raise ValueError("sigma_x must be symmetric positive semi-definite")
        cov = w @ s @ w.transpose(-1, -2)
    eye = torch.eye(d_t, dtype=torch.float64)
    chol = torch.linalg.cholesky(eye + cov / noise_var)  # I + PSD: always positive definite
    return torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1) / math.log(2.0)


@dataclass(frozen=True)
class LinearRun:
    """A linear student trained by gradient descent on a linear teacher.

    Attributes:
        epochs: ``(E,)`` recorded epochs.
        w1: ``(E, d_hidden, d_in)`` first-layer weights at those epochs.
        w2: ``(E, 1, d_hidden)`` second-layer weights.
        train_error: ``(E,)`` mean squared training error.
        test_error: ``(E,)`` exact generalisation error ``|W2 W1 - w*|^2 + sigma_y^2``.
        teacher: ``(d_in,)`` the teacher ``w*``.
        x_train: ``(P, d_in)`` training inputs.
    """

    epochs: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    teacher: np.ndarray
    x_train: np.ndarray


def train_linear_student(
    *,
    d_in: int,
    d_hidden: int,
    n_train: int,
    epochs: int,
    lr: float,
    init_scale: float,
    noise_std: float,
    record_epochs,
    seed: int,
) -> LinearRun:
    """Full-batch gradient descent on ``1/(2P) sum (W2 W1 x - y)^2`` for a linear teacher, in
    float64.

    Args:
        d_in, d_hidden: input and hidden widths (one output).
        n_train: number of training samples ``P``.
        epochs: number of gradient steps.
        lr: learning rate.
        init_scale: standard deviation of the initial weights (small: the regime of Saxe et al.).
        noise_std: standard deviation ``sigma_y`` of the teacher's label noise.
        record_epochs: the steps (0 = initial weights) to record.
        seed: seed of the teacher, data and initial weights.

    Example:
        >>> r = train_linear_student(
        ...     d_in=4,
        ...     d_hidden=4,
        ...     n_train=20,
        ...     epochs=200,
        ...     lr=0.1,
        ...     init_scale=0.01,
        ...     noise_std=0.1,
        ...     record_epochs=[0, 200],
        ...     seed=0,
        ... )
        >>> bool(r.test_error[-1] < r.test_error[0])
        True
    """
    d_in = checks.integer("d_in", d_in)
    d_hidden = checks.integer("d_hidden", d_hidden)
    n_train = checks.integer("n_train", n_train)
    epochs = checks.integer("epochs", epochs, low=0)
    lr = checks.positive("lr", lr)
    init_scale = checks.positive("init_scale", init_scale)
    noise_std = checks.positive("noise_std", noise_std, allow_zero=True)
    seed = checks.seed(seed)
    checks.work("epochs", epochs, n_train * d_in * d_hidden, sizes="n_train x d_in x d_hidden")
    checks.size("n_train * d_in", n_train * d_in)
    checks.size("d_hidden * d_in", d_hidden * d_in)
    record = sorted(
        {
            checks.integer("record_epochs", e, low=0, high=epochs)
            for e in checks.sequence("record_epochs", record_epochs, min_len=1)
        }
    )
    g = torch.Generator().manual_seed(seed)
    dt = torch.float64
    teacher = torch.randn(d_in, generator=g, dtype=dt) / math.sqrt(d_in)
    x = torch.randn(n_train, d_in, generator=g, dtype=dt)
    y = x @ teacher + noise_std * torch.randn(n_train, generator=g, dtype=dt)
    w1 = init_scale * torch.randn(d_hidden, d_in, generator=g, dtype=dt)
    w2 = init_scale * torch.randn(1, d_hidden, generator=g, dtype=dt)
    out = {k: [] for k in ("epochs", "w1", "w2", "train", "test")}

    def rec(e):
        w = (w2 @ w1)[0]
        out["epochs"].append(e)
        out["w1"].append(w1.clone())
        out["w2"].append(w2.clone())
        out["train"].append(float(((x @ w - y) ** 2).mean()))
        out["test"].append(float(((w - teacher) ** 2).sum()) + noise_std**2)

    for e in range(epochs + 1):
        if e in record:
            rec(e)
        if e == epochs:
            break
        r = (x @ (w2 @ w1)[0] - y) / n_train  # (P,)
        gw = (r @ x)[None, :]  # dL/d(W2 W1), shape (1, d_in)
        g1, g2 = w2.T @ gw, gw @ w1.T
        w1, w2 = w1 - lr * g1, w2 - lr * g2
        if e % 100 == 99 or e == epochs - 1:
            checks.finite_state("lr", w2, lr, step=e + 1)
    return LinearRun(
        epochs=np.array(out["epochs"]),
        w1=torch.stack(out["w1"]).numpy(),
        w2=torch.stack(out["w2"]).numpy(),
        train_error=np.array(out["train"]),
        test_error=np.array(out["test"]),
        teacher=teacher.numpy(),
        x_train=x.numpy(),
    )
