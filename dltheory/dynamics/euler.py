"""ResNet blocks as fixed-grid ODE solvers: forward Euler and its convergence order.

A residual block ``x_{t+1} = x_t + h f(x_t, theta_t)`` is one forward-Euler step of the ODE
``dx/dt = f(x, theta(t))`` (E 2017; Haber & Ruthotto 2017; Lu et al. 2018). The linear field
``dx/dt = A x`` with known flow ``expm(A T)`` measures the order of Euler and RK4 blocks.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np
import scipy.linalg
import torch
from torchdiffeq import odeint

from dltheory import _checks

__all__ = [
    "FIXED_SOLVERS",
    "linear_test_field",
    "residual_stack",
    "discretisation_errors",
    "leading_error_constant",
    "fit_loglog_slope",
]

#: Fixed-grid solvers of torchdiffeq used as residual blocks, with their order of accuracy.
FIXED_SOLVERS: dict[str, int] = {"euler": 1, "midpoint": 2, "rk4": 4}

_DEFAULT_EIGENVALUES = (-1.0, 0.5, complex(-0.3, 2.0), complex(0.2, 1.0))


def linear_test_field(
    eigenvalues: Sequence[complex] = _DEFAULT_EIGENVALUES, *, seed: int = 0
) -> torch.Tensor:
    """A real matrix ``A`` with prescribed eigenvalues, for the linear field ``dx/dt = A x``.

    Each real eigenvalue gives a 1x1 block, each complex pair ``a +- ib`` (give ``a + ib`` once) the
    2x2 block ``[[a, b], [-b, a]]``; the block-diagonal matrix is conjugated by a random orthogonal
    ``Q`` so that ``A = Q B Q^T`` is dense but keeps the spectrum exactly.

    Args:
        eigenvalues: real numbers and complex numbers with positive imaginary part (finite).
        seed: seed of the random rotation.

    Returns:
        ``A``, float64 tensor of shape ``(d, d)`` with ``d = #real + 2 #complex``.

    Raises:
        TypeError: if an eigenvalue is not a number.
        ValueError: if there are none, one is not finite or has a negative imaginary part.

    Example:
        >>> A = linear_test_field((-1.0, complex(0.0, 2.0)), seed=0)
        >>> A.shape
        torch.Size([3, 3])
    """
    seed = _checks.seed(seed)
    if isinstance(eigenvalues, (str, bytes)) or not isinstance(eigenvalues, Sequence):
        raise TypeError(
            f"eigenvalues must be a sequence of numbers; got {type(eigenvalues).__name__}"
        )
    if len(eigenvalues) == 0:
        raise ValueError("eigenvalues must not be empty")
    _checks.size("eigenvalues", (2 * len(eigenvalues)) ** 2)
    blocks = []
    for i, lam in enumerate(eigenvalues):
        if isinstance(lam, bool) or not isinstance(lam, numbers.Complex):
            raise TypeError(f"eigenvalues[{i}] must be a real or complex number; got {lam!r}")
        lam = complex(lam)
        if not (np.isfinite(lam.real) and np.isfinite(lam.imag)):
            raise ValueError(f"eigenvalues[{i}] must be finite; got {lam}")
        if lam.imag == 0:
            blocks.append(np.array([[lam.real]]))
        elif lam.imag > 0:
            blocks.append(np.array([[lam.real, lam.imag], [-lam.imag, lam.real]]))
        else:
            raise ValueError(
                f"eigenvalues[{i}]: give each complex pair once, with positive imaginary "
                f"part; got {lam}"
            )
    B = scipy.linalg.block_diag(*blocks)
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal(B.shape))
    Q = Q * np.sign(np.diag(R))
    return torch.from_numpy(Q @ B @ Q.T)


def residual_stack(
    field: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    T: float,
    L: int,
    method: str = "euler",
    return_all: bool = False,
) -> torch.Tensor:
    """An ``L``-block residual network whose blocks are fixed-grid solver steps of ``field``.

    With ``method="euler"`` block ``t`` is ``x_{t+1} = x_t + h f(t h, x_t)``, ``h = T / L`` (the
    ResNet of He et al. 2016 read as forward Euler, E 2017); ``"midpoint"`` and ``"rk4"`` give
    higher-order Runge-Kutta blocks, in the spirit of Lu et al. (2018), who read FractalNet as a
    second-order Runge-Kutta scheme. The steps are torchdiffeq's fixed-grid solvers (its ``"rk4"``
    is the 3/8 rule).

    Args:
        field: ``f(t, x)`` returning a tensor shaped like ``x``.
        x0: input, shape ``(..., d)`` (a list is converted to float64).
        T: total integration time (> 0).
        L: number of blocks (positive integer).
        method: one of :data:`FIXED_SOLVERS`.
        return_all: return all ``L + 1`` states (shape ``(L + 1, ..., d)``) instead of the last.

    Example:
        >>> A = linear_test_field(seed=0)
        >>> x0 = torch.ones(6, dtype=torch.float64)
        >>> residual_stack(lambda t, x: x @ A.T, x0, T=1.0, L=64).shape
        torch.Size([6])
    """
    field = _checks.function("field", field)
    x0 = _checks.tensor("x0", x0, ndim=(1, 2, 3))
    T = _checks.positive("T", T)
    L = _checks.integer("L", L)
    method = _checks.choice("method", method, FIXED_SOLVERS)
    return_all = _checks.boolean("return_all", return_all)
    _checks.size("L", (L + 1) * max(x0.numel(), 1))
    _checks.work("L", L, x0.numel() ** 2)
    t = torch.linspace(0.0, T, L + 1, dtype=x0.dtype, device=x0.device)
    _checks.finite_output("field", field(t[0], x0))
    states = odeint(field, x0, t, method=method)
    _checks.finite_state("T", states, f"{T:g} over L={L} steps (h = T / L)")
    return states if return_all else states[-1]


def discretisation_errors(
    A: torch.Tensor,
    x0: torch.Tensor,
    *,
    T: float,
    depths: Sequence[int],
    method: str = "euler",
) -> np.ndarray:
    """Relative error of an ``L``-block network against the exact flow ``expm(A T) x0``, per ``L``.

    The error of a scheme of order ``p`` is ``O(h^p) = O(L^{-p})`` (e.g. Hairer, Norsett & Wanner
    1993).

    Args:
        A: ``(d, d)`` matrix of the field ``dx/dt = A x``.
        x0: inputs ``(n, d)`` with the dtype of ``A`` and no zero row; the error is
            ``max_i |x_L^i - e^{AT} x0^i| / |e^{AT} x0^i|`` (a zero row would make it 0/0).
        T: integration time (> 0).
        depths: depths ``L`` (positive integers, at least one).
        method: one of :data:`FIXED_SOLVERS`.

    Returns:
        Array of errors, one per depth.

    Example:
        >>> A = linear_test_field(seed=0)
        >>> x0 = torch.ones(1, 6, dtype=torch.float64)
        >>> discretisation_errors(A, x0, T=1.0, depths=[16, 32]).shape
        (2,)
    """
    A = _checks.tensor("A", A, ndim=2)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix (d, d); got shape {tuple(A.shape)}")
    x0 = _checks.tensor("x0", x0, shape=(None, A.shape[0]))
    _checks.same_dtype(A=A, x0=x0)
    if x0.shape[0] == 0 or bool((x0.norm(dim=-1) == 0).any()):
        raise ValueError(
            "x0 must have at least one row and no zero row: the error is relative "
            "to |e^{AT} x0|, which is 0 for x0 = 0"
        )
    T = _checks.positive("T", T)
    depths = _depth_list("depths", depths)
    method = _checks.choice("method", method, FIXED_SOLVERS)
    _checks.size("depths", (max(depths) + 1) * x0.numel())
    E = scipy.linalg.expm(A.detach().cpu().numpy() * T)
    exact = x0 @ torch.from_numpy(E).to(device=A.device, dtype=A.dtype).T
    out = []
    for L in depths:
        xL = residual_stack(lambda t, x: x @ A.T, x0, T=T, L=L, method=method)
        out.append(((xL - exact).norm(dim=-1) / exact.norm(dim=-1)).max().item())
    return np.array(out)


def leading_error_constant(A: torch.Tensor, x0: torch.Tensor, *, T: float, order: int) -> float:
    """Leading constant ``C`` of the error ``C h^p`` of :func:`discretisation_errors`.

    An explicit ``p``-stage method of order ``p <= 4`` (Euler, midpoint, RK4 and its 3/8 rule)
    applied to ``dx/dt = A x`` multiplies by the Taylor polynomial ``R(hA)`` of degree ``p`` of
    ``exp(hA)``, so ``R(hA) = exp(hA) (I - (hA)^{p+1} / (p+1)! + O(h^{p+2}))`` and
    ``R(hA)^L = exp(AT) (I - h^p T A^{p+1} / (p+1)! + O(h^{p+1}))`` with ``h = T / L``. The
    relative error is then ``h^p max_i T |A^{p+1} e^{AT} x0_i| / ((p+1)! |e^{AT} x0_i|)`` to
    leading order (Hairer, Norsett & Wanner 1993).

    Args:
        A: ``(d, d)`` matrix of the field.
        x0: inputs ``(n, d)`` with the dtype of ``A`` and no zero row.
        T: integration time (> 0).
        order: ``p``, 1 to 4.

    Returns:
        ``C``, so that the error at depth ``L`` is ``C (T / L)^p (1 + O(T |A| / L))``.

    Example:
        >>> A = torch.tensor([[-1.0]], dtype=torch.float64)
        >>> x0 = torch.ones(1, 1, dtype=torch.float64)
        >>> leading_error_constant(A, x0, T=2.0, order=1)  # T |A|^2 / 2
        1.0
    """
    A = _checks.tensor("A", A, ndim=2)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square matrix (d, d); got shape {tuple(A.shape)}")
    x0 = _checks.tensor("x0", x0, shape=(None, A.shape[0]))
    _checks.same_dtype(A=A, x0=x0)
    T = _checks.positive("T", T)
    p = _checks.integer("order", order, high=4)
    An = A.detach().cpu().numpy()
    y = x0.detach().cpu().numpy() @ scipy.linalg.expm(An * T).T  # e^{AT} x0, one row each
    if np.any(np.linalg.norm(y, axis=-1) == 0):
        raise ValueError("x0 must have no zero row: the error is relative to |e^{AT} x0|")
    z = y @ np.linalg.matrix_power(An, p + 1).T
    fact = float(np.prod(np.arange(1, p + 2)))
    return float((T * np.linalg.norm(z, axis=-1) / (fact * np.linalg.norm(y, axis=-1))).max())


def _depth_list(name: str, depths) -> list[int]:
    if isinstance(depths, (str, bytes)) or not isinstance(depths, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a sequence of positive integers; got {type(depths).__name__}"
        )
    if len(depths) == 0:
        raise ValueError(f"{name} must not be empty")
    return [_checks.integer(f"{name}[{i}]", L) for i, L in enumerate(depths)]


def fit_loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (the empirical order of a power law).

    Args:
        x, y: positive finite numbers, the same number (>= 2) of each; ``x`` not all equal.

    Example:
        >>> round(fit_loglog_slope([1, 2, 4], [1, 0.25, 0.0625]), 6)
        -2.0
    """
    # (bounds checked here: _checks.real_array's bounds fail on arrays of more than one element)
    x = _checks.real_array("x", x, ndim=1)
    y = _checks.real_array("y", y, ndim=1)
    for name, v in (("x", x), ("y", y)):
        if np.any(v <= 0):
            raise ValueError(f"{name} must be > 0 for a log-log fit; got a value of {v[v <= 0][0]}")
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must have the same length >= 2; got {x.shape} and {y.shape}")
    if np.all(x == x[0]):
        raise ValueError("x must not be all equal: the slope of a vertical line is undefined")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])
