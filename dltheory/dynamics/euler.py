"""ResNet blocks as fixed-grid ODE solvers: forward Euler and its convergence order.

A residual block ``x_{t+1} = x_t + h f(x_t, theta_t)`` is one forward-Euler step of the ODE
``dx/dt = f(x, theta(t))`` (E 2017; Haber & Ruthotto 2017; Lu et al. 2018). The linear field
``dx/dt = A x`` with known flow ``expm(A T)`` measures the order of Euler and RK4 blocks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import scipy.linalg
import torch
from torchdiffeq import odeint

from dltheory import figures
from dltheory.dynamics._validate import _positive, _solver, _square

__all__ = [
    "FIXED_SOLVERS",
    "linear_test_field",
    "residual_stack",
    "discretisation_errors",
    "fit_loglog_slope",
    "euler_convergence",
]

#: Fixed-grid solvers of torchdiffeq used as residual blocks, with their order of accuracy.
FIXED_SOLVERS: dict[str, int] = {"euler": 1, "midpoint": 2, "rk4": 4}


def linear_test_field(
    eigenvalues: Sequence[complex] = (-1.0, 0.5, complex(-0.3, 2.0), complex(0.2, 1.0)), *, seed: int = 0
) -> torch.Tensor:
    """A real matrix ``A`` with prescribed eigenvalues, for the linear field ``dx/dt = A x``.

    Each real eigenvalue gives a 1x1 block, each complex pair ``a +- ib`` (give ``a + ib`` once) the
    2x2 block ``[[a, b], [-b, a]]``; the block-diagonal matrix is conjugated by a random orthogonal
    ``Q`` so that ``A = Q B Q^T`` is dense but keeps the spectrum exactly.

    Args:
        eigenvalues: real numbers and complex numbers with positive imaginary part.
        seed: seed of the random rotation.

    Returns:
        ``A``, float64 tensor of shape ``(d, d)`` with ``d = #real + 2 #complex``.

    Example:
        >>> A = linear_test_field((-1.0, complex(0.0, 2.0)), seed=0)
        >>> A.shape
        torch.Size([3, 3])
    """
    if len(eigenvalues) == 0:
        raise ValueError("eigenvalues must not be empty")
    blocks = []
    for lam in eigenvalues:
        lam = complex(lam)
        if lam.imag == 0:
            blocks.append(np.array([[lam.real]]))
        elif lam.imag > 0:
            blocks.append(np.array([[lam.real, lam.imag], [-lam.imag, lam.real]]))
        else:
            raise ValueError(f"give each complex pair once, with positive imaginary part; got {lam}")
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

    With ``method="euler"`` block ``t`` is ``x_{t+1} = x_t + h f(t h, x_t)``, ``h = T / L`` (the ResNet of
    He et al. 2016 read as forward Euler, E 2017); ``"midpoint"`` and ``"rk4"`` give higher-order
    Runge-Kutta blocks, in the spirit of Lu et al. (2018), who read FractalNet as a second-order
    Runge-Kutta scheme. The steps are torchdiffeq's fixed-grid solvers (its ``"rk4"`` is the 3/8 rule).

    Args:
        field: ``f(t, x)`` returning a tensor shaped like ``x``.
        x0: input, shape ``(..., d)``.
        T: total integration time (> 0).
        L: number of blocks (positive integer).
        method: one of :data:`FIXED_SOLVERS`.
        return_all: return all ``L + 1`` states (shape ``(L + 1, ..., d)``) instead of the last.

    Example:
        >>> A = linear_test_field(seed=0)
        >>> xL = residual_stack(lambda t, x: x @ A.T, torch.ones(6, dtype=torch.float64), T=1.0, L=64)
    """
    if not callable(field):
        raise TypeError("field must be callable as field(t, x)")
    if not isinstance(x0, torch.Tensor):
        raise TypeError(f"x0 must be a torch.Tensor; got {type(x0).__name__}")
    _positive("T", T)
    _positive("L", L, integer=True)
    _solver(method, tuple(FIXED_SOLVERS))
    t = torch.linspace(0.0, float(T), L + 1, dtype=x0.dtype, device=x0.device)
    states = odeint(field, x0, t, method=method)
    return states if return_all else states[-1]


def discretisation_errors(
    A: torch.Tensor, x0: torch.Tensor, *, T: float, depths: Sequence[int], method: str = "euler"
) -> np.ndarray:
    """Relative error of an ``L``-block network against the exact flow ``expm(A T) x0``, for each ``L``.

    The error of a scheme of order ``p`` is ``O(h^p) = O(L^{-p})`` (e.g. Hairer, Norsett & Wanner 1993).

    Args:
        A: ``(d, d)`` float64 matrix of the field ``dx/dt = A x``.
        x0: inputs, shape ``(n, d)``; the error is ``max_i |x_L^i - e^{AT} x0^i| / |e^{AT} x0^i|``.
        T: integration time (> 0).
        depths: depths ``L``.
        method: one of :data:`FIXED_SOLVERS`.

    Returns:
        Array of errors, one per depth.

    Example:
        >>> A = linear_test_field(seed=0)
        >>> x0 = torch.ones(1, 6, dtype=torch.float64)
        >>> discretisation_errors(A, x0, T=1.0, depths=[16, 32]).shape
        (2,)
    """
    _square("A", A)
    if x0.ndim != 2 or x0.shape[-1] != A.shape[-1]:
        raise ValueError(f"x0 must have shape (n, {A.shape[-1]}) to match A; got {tuple(x0.shape)}")
    _positive("T", T)
    if len(depths) == 0:
        raise ValueError("depths must not be empty")
    exact = x0 @ torch.from_numpy(scipy.linalg.expm(A.numpy() * T)).T
    out = []
    for L in depths:
        xL = residual_stack(lambda t, x: x @ A.T, x0, T=T, L=int(L), method=method)
        out.append(((xL - exact).norm(dim=-1) / exact.norm(dim=-1)).max().item())
    return np.array(out)


def fit_loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (the empirical order of a power law).

    Example:
        >>> round(fit_loglog_slope([1, 2, 4], [1, 0.25, 0.0625]), 12)
        -2.0
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must have the same length >= 2; got {x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be positive for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def euler_convergence(
    *, depths: Sequence[int] = tuple(2**k for k in range(4, 11)), T: float = 1.0, n: int = 8, seed: int = 0
) -> dict:
    """Errors of Euler and RK4 ResNets on a linear field against ``expm(A T)`` (the book's Section 1).

    Returns:
        dict with ``depths``, ``euler``, ``rk4`` (relative errors), ``slope_euler``, ``slope_rk4`` and
        ``eigenvalues`` of ``A``.

    Example:
        >>> r = euler_convergence(depths=(16, 32, 64))
        >>> abs(r["slope_euler"] + 1) < 0.05
        True
    """
    _positive("n", n, integer=True)
    A = linear_test_field(seed=seed)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, A.shape[0], generator=g, dtype=torch.float64)
    eu = discretisation_errors(A, x0, T=T, depths=depths, method="euler")
    rk = discretisation_errors(A, x0, T=T, depths=depths, method="rk4")
    return {
        "depths": np.asarray(depths),
        "euler": eu,
        "rk4": rk,
        "slope_euler": fit_loglog_slope(depths, eu),
        "slope_rk4": fit_loglog_slope(depths, rk),
        "eigenvalues": np.linalg.eigvals(A.numpy()),
        "T": T,
    }


@figures.register(
    "dynamics/euler-convergence",
    caption=(
        r"Relative error of an $L$-block residual network against the exact flow $e^{AT}x_0$ of a linear "
        r"field. Euler blocks (the ResNet) converge at first order, RK4 blocks at fourth order; the dashed "
        r"lines, shifted up by a factor 4 for visibility, have the theoretical slopes $-1$ and $-4$."
    ),
    compute=functools.partial(euler_convergence, seed=0),
)
def _plot_euler_convergence(data: dict):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    L = data["depths"].astype(float)
    for k, (key, p, name) in enumerate((("euler", 1, "Euler (ResNet)"), ("rk4", 4, "RK4 block"))):
        err = data[key]
        ax.loglog(L, err, "o-", color=f"C{k}", label=f"{name}: experiment, slope ${data['slope_' + key]:.3f}$")
        # the theory line is drawn a factor 4 above the data so that both stay visible
        ax.loglog(L, 4 * err[0] * (L / L[0]) ** (-p), "--", color=f"C{k}", lw=1,
                  label=f"theory: $\\propto L^{{-{p}}}$ (shifted up $\\times 4$)")
    ax.set_xticks(L)
    ax.set_xticklabels([str(int(x)) for x in L])
    ax.minorticks_off()
    ax.set_xlabel("depth $L$ (step $h = T/L$)")
    ax.set_ylabel(r"relative error $\|x_L - e^{AT}x_0\| / \|e^{AT}x_0\|$")
    ax.legend(fontsize=8)
    return fig
