"""The mean-field maps of a wide random network and their fixed points, order/chaos and depth
scales.

A fully connected network ``h^l = W^l phi(h^{l-1}) + b^l`` with ``W_ij ~ N(0, sigma_w^2 / N)`` and
``b_i ~ N(0, sigma_b^2)`` propagates, as the width ``N -> infinity``, the length
``q^l = |h^l|^2 / N`` of one input and the correlation ``c^l`` of two inputs by deterministic maps
(Poole et al. 2016, eqs. 3 and 5)::

    q^l      = sigma_w^2 E_z[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2
    q_12^l   = sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2,      c^l = q_12^l / sqrt(q_11^l q_22^l)

Their fixed points ``q*``, ``c*`` and the slopes there decide everything else: ``chi_1 = sigma_w^2
E[phi'(sqrt(q*) z)^2]`` (slope of the correlation map at c = 1) separates the ordered phase (chi_1 <
1, c* = 1 stable) from the chaotic phase (chi_1 > 1), and the depth scales (Schoenholz et al. 2017,
eqs. 5 and 9) are ``xi_q = -1 / log(chi_1 + sigma_w^2 E[phi'' phi])`` and ``xi_c = -1 /
log(sigma_w^2 E[phi'(u_1) phi'(u_2)])`` at ``c*``.

Every function takes ``activation`` (name or torch function) and broadcasts over array-valued
``sigma_w2``, ``sigma_b2`` (and ``q``, ``c``): a whole phase diagram is one call. Results are numpy
float64 arrays (a Python float for scalar input).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from dltheory import _checks as checks
from dltheory.meanfield import kernels
from dltheory.meanfield._threads import single_thread
from dltheory.meanfield.activations import Activation, get_activation

__all__ = [
    "length_map",
    "q_star",
    "correlation_map",
    "c_star",
    "chi1",
    "chi_c",
    "xi_q",
    "xi_c",
    "critical_line",
    "critical_line_interpolated",
    "iterate_maps",
    "MapTrajectory",
    "CRITICAL_TOL",
    "MAX_DEPTH",
]

ActivationLike = str | Callable | Activation
ArrayLike = float | np.ndarray | torch.Tensor

#: Largest depth :func:`iterate_maps` accepts (each layer is a few tensor operations over the
#: batch).
MAX_DEPTH = 100_000


def _scoped(fn):
    """Run ``fn`` single-threaded (scoped; see ``_threads.single_thread``): the grids are many small
    tensors."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_thread():
            return fn(*args, **kwargs)

    return wrapper


def grid(name: str, value, **bounds) -> torch.Tensor:
    """An array argument (number, list, array or tensor) as a float64 tensor, checked
    elementwise."""
    return torch.as_tensor(checks.nonempty(name, checks.real_array(name, value, **bounds)))


def params(sigma_w2, sigma_b2, **others) -> tuple[torch.Tensor, ...]:
    """``sigma_w2 > 0``, ``sigma_b2 >= 0`` (and any further named tensors), broadcast together.

    Raises ValueError naming the arguments when they do not broadcast or when the grid is absurdly
    large.
    """
    ts = {
        "sigma_w2": grid("sigma_w2", sigma_w2, low=0.0, low_open=True),
        "sigma_b2": grid("sigma_b2", sigma_b2, low=0.0),
    }
    ts.update(others)
    try:
        shape = torch.broadcast_shapes(*(t.shape for t in ts.values()))
    except RuntimeError:
        listing = ", ".join(f"{k} {tuple(v.shape)}" for k, v in ts.items())
        raise ValueError(
            f"the array arguments must broadcast together; got shapes {listing}"
        ) from None
    checks.size(" x ".join(ts), math.prod(shape))
    return tuple(t.expand(shape) for t in ts.values())


def _out(t: torch.Tensor):
    a = t.detach().cpu().numpy()
    return float(a) if a.ndim == 0 else a


def length_map(activation: ActivationLike, q: ArrayLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike):
    """One step of the length map (Poole et al. 2016).

    ``q^l = sigma_w^2 E_z[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2``, ``z ~ N(0, 1)``; the Gaussian
    integral is exact for ReLU, erf and linear, split at the kinks for hard tanh, Gauss--Hermite
    otherwise (see
    :mod:`dltheory.meanfield.kernels` for the rule and its error).

    Args:
        activation: name in ``ACTIVATIONS`` or an elementwise torch function.
        q: previous length ``q^{l-1}`` (>= 0).
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).

    Returns:
        ``q^l``, broadcast over the arguments (a float for scalar input).

    Example:
        >>> round(float(length_map("relu", q=2.0, sigma_w2=2.0, sigma_b2=0.1)), 12)
        2.1
    """
    act = get_activation(activation)
    sw, sb, q = params(sigma_w2, sigma_b2, q=grid("q", q, low=0.0))
    return _out(checks.finite_output("activation", sw * kernels.phi2(act, q) + sb))


def _q_star(act, sw, sb, q0=1.0, tol=1e-13, max_iter=500):
    sw, sb = torch.broadcast_tensors(sw, sb)
    q = torch.full_like(sw, float(q0))
    done = torch.zeros_like(sw, dtype=torch.bool)
    diverged = torch.zeros_like(done)
    for _ in range(max_iter):
        e2, de2 = kernels.phi2_and_slope(act, q)
        F = sw * e2 + sb
        dF = sw * de2
        g = F - q
        done = done | (g.abs() <= tol * q.clamp_min(1.0))
        diverged = diverged | (q > 1e15)
        if bool((done | diverged).all()):
            break
        newton = q - g / (dF - 1)
        use_newton = (dF < 1 - 1e-12) & (newton >= 0) & torch.isfinite(newton)
        step = torch.where(use_newton, newton, F)
        q = torch.where(done | diverged, q, step)
    return torch.where(diverged | ~done, torch.full_like(q, float("inf")), q)


@_scoped
def q_star(
    activation: ActivationLike,
    sigma_w2: ArrayLike,
    sigma_b2: ArrayLike,
    q0: float = 1.0,
    tol: float = 1e-13,
    max_iter: int = 500,
):
    """Fixed point ``q* = sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2`` of the length map.

    Newton steps on ``q - F(q)`` where the map is contracting (slope ``F'(q) < 1``), plain iteration
    elsewhere, started from ``q0`` and vectorised over the grid.

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0), any shape.
        sigma_b2: bias variance (>= 0), broadcasting with ``sigma_w2``.
        q0: starting length (> 0); returned unchanged where every q is a fixed point (ReLU at
            ``sigma_w2 = 2, sigma_b2 = 0``).
        tol: convergence tolerance on ``|F(q) - q| / max(1, q)``, in (0, 1).
        max_iter: iteration cap, in [1, 100000].

    Returns:
        ``q*``; ``inf`` where the iteration does not converge in ``max_iter`` steps, i.e. the length
        diverges (no finite fixed point, e.g. ReLU with ``sigma_w2 >= 2`` and ``sigma_b2 > 0``).

    Raises:
        TypeError, ValueError: for arguments of the wrong kind or out of range.

    Example:
        >>> round(q_star("relu", sigma_w2=1.0, sigma_b2=0.5), 12)   # sigma_b2 / (1 - sigma_w2 / 2)
        1.0
    """
    act = get_activation(activation)
    sw, sb = params(sigma_w2, sigma_b2)
    q0 = checks.real("q0", q0, low=0.0, low_open=True)
    tol = checks.real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)
    max_iter = checks.integer("max_iter", max_iter, low=1, high=100_000)
    return _out(_q_star(act, sw, sb, q0, tol, max_iter))


def _resolve_q(act, sw, sb, q):
    """The length at which to evaluate: ``q`` (checked, > 0) or ``q*``."""
    if q is None:
        return _q_star(act, sw, sb)
    return grid("q", q, low=0.0, low_open=True)


def chi1(
    activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, q: ArrayLike | None = None
):
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2]`` at ``q = q*`` (Poole et al. 2016).

    The slope of the correlation map at ``c = 1`` and the per-layer growth factor of squared
    gradient norms (Schoenholz et al. 2017). ``chi_1 < 1``: ordered; ``chi_1 > 1``: chaotic.

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        q: length (> 0) at which to evaluate; defaults to ``q*``.

    Example:
        >>> chi1("relu", sigma_w2=2.0, sigma_b2=0.0)
        1.0
    """
    act = get_activation(activation)
    sw, sb = params(sigma_w2, sigma_b2)
    q = _resolve_q(act, sw, sb, q)
    sw, q = torch.broadcast_tensors(sw, q)
    return _out(_chi1(act, sw, q))


def _chi1(act, sw, q):
    # q* = inf only happens for positively homogeneous activations, where chi_1 does not depend on
    # q.
    qf = torch.where(torch.isfinite(q), q, torch.ones_like(q))
    return sw * kernels.dphi2(act, qf)


def _corr_map(pair: kernels.Pair, sw, sb, q, c, idx=None):
    """Correlation map ``(sigma_w^2 E[phi phi] + sigma_b^2) / q`` (the limit ``q -> inf`` for
    ReLU/linear)."""
    e = pair.corr(c, idx)
    if not pair.has_inf:
        return (sw * e + sb) / q
    inf = torch.isinf(q)
    # Positively homogeneous phi: E[phi phi] = q k(c), so the map tends to k(c) / k(1) as q -> inf.
    qf = torch.where(inf, torch.ones_like(q), q)
    return torch.where(inf, e / pair.corr(torch.ones_like(c), idx), (sw * e + sb) / qf)


def _pair(act, q):
    """A :class:`kernels.Pair` at ``q``; an infinite ``q*`` (ReLU, linear) is evaluated at q = 1
    (scale-free)."""
    inf = torch.isinf(q)
    has_inf = bool(inf.any())
    if has_inf and not rule_homogeneous(act):
        raise ValueError("q* is infinite here (the length diverges); pass a finite q")
    pair = kernels.Pair(act, torch.where(inf, torch.ones_like(q), q) if has_inf else q)
    pair.has_inf = has_inf
    return pair


def rule_homogeneous(act) -> bool:
    """Whether ``act`` is positively homogeneous of degree 1 (ReLU, linear): E[phi phi] scales with
    q."""
    return kernels.rule(act) == "closed" and act.name in ("relu", "linear")


def correlation_map(
    activation: ActivationLike,
    c: ArrayLike,
    sigma_w2: ArrayLike,
    sigma_b2: ArrayLike,
    q: ArrayLike | None = None,
):
    """One step of the correlation map at equal lengths ``q`` (Poole et al. 2016).

    ``c^l = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q``, with ``u_1 = sqrt(q) z_1`` and
    ``u_2 = sqrt(q) (c z_1 + sqrt(1 - c^2) z_2)``. Exact for ReLU (arc-cosine kernel), erf (arcsine
    kernel) and linear; split at the kinks for hard tanh; Mehler's series for smooth activations.

    Args:
        activation: name or torch function.
        c: previous correlation in [-1, 1].
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        q: common length of the two inputs (> 0); defaults to ``q*``. Where ``q*`` is infinite
            (ReLU, linear) the map is its limit ``k(c) / k(1)`` with
            ``E[phi(u_1) phi(u_2)] = q k(c)``.

    Example:
        >>> round(correlation_map("tanh", 1.0, sigma_w2=1.5, sigma_b2=0.05), 10)
        1.0
    """
    act = get_activation(activation)
    sw, sb, c = params(sigma_w2, sigma_b2, c=grid("c", c, low=-1.0, high=1.0))
    q = _resolve_q(act, sw, sb, q)
    c, q, sw, sb = torch.broadcast_tensors(c, q, sw, sb)
    return _out(_corr_map(_pair(act, q), sw, sb, q, c))


def _c_star(act, sw, sb, q, tol=1e-13, max_iter=100):
    """Stable fixed point c* and the slope there; vectorised Newton from c = 0 at the chaotic
    points."""
    sw, sb, q = torch.broadcast_tensors(sw, sb, q)
    x1 = _chi1(act, sw, q)
    chaotic = (x1 > 1) & (q > 0) & torch.isfinite(q)
    cs = torch.ones_like(sw)
    slope = x1.clone()
    if chaotic.any():
        swc, sbc, qc = sw[chaotic], sb[chaotic], q[chaotic]
        pair = _pair(act, qc)
        c = torch.zeros_like(swc)
        active = torch.arange(c.numel())  # points whose Newton iteration has not converged yet
        for _ in range(max_iter):
            ca = c[active]
            f = _corr_map(pair, swc[active], sbc[active], qc[active], ca, active)
            df = swc[active] * pair.dcorr(ca, active)
            g = f - ca
            # g is convex on [0, 1] with g(0) >= 0: Newton from c = 0 increases monotonically to c*.
            step = torch.where(df < 1, g / (1 - df), g)
            c[active] = (ca + step).clamp(max=1.0)
            active = active[step.abs() > tol]
            if active.numel() == 0:
                break
        cs[chaotic] = c
        slope[chaotic] = swc * pair.dcorr(c)
    return cs, slope


@_scoped
def c_star(
    activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, q: ArrayLike | None = None
):
    """Stable fixed point ``c*`` of the correlation map (Poole et al. 2016; Schoenholz et al. 2017).

    ``c* = 1`` in the ordered phase (``chi_1 <= 1``); in the chaotic phase the map, convex on [0, 1]
    with ``f(1) = 1`` and ``f'(1) = chi_1 > 1``, has a second fixed point ``c* < 1``, found by
    Newton's method (to 1e-13).

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        q: common length (> 0); defaults to ``q*``. Where ``q*`` is not finite and positive (ReLU,
            linear), ``c* = 1`` and the slope returned by :func:`chi_c` is ``chi_1``.

    Example:
        >>> c_star("tanh", sigma_w2=1.0, sigma_b2=0.05)
        1.0
    """
    act = get_activation(activation)
    sw, sb = params(sigma_w2, sigma_b2)
    q = _resolve_q(act, sw, sb, q)
    return _out(_c_star(act, sw, sb, q)[0])


@_scoped
def chi_c(
    activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, q: ArrayLike | None = None
):
    """Slope of the correlation map at its stable fixed point:
    ``chi_c* = sigma_w^2 E[phi'(u_1) phi'(u_2)]``.

    Equal to ``chi_1`` in the ordered phase (Schoenholz et al. 2017). Arguments as
    in :func:`c_star`.

    Example:
        >>> round(chi_c("relu", sigma_w2=1.0, sigma_b2=0.1), 12)
        0.5
    """
    act = get_activation(activation)
    sw, sb = params(sigma_w2, sigma_b2)
    q = _resolve_q(act, sw, sb, q)
    return _out(_c_star(act, sw, sb, q)[1])


#: Slopes within this distance of 1 count as critical (infinite depth scale).
CRITICAL_TOL = 1e-12


def _depth(slope: torch.Tensor) -> torch.Tensor:
    sub = slope < 1 - CRITICAL_TOL
    safe = torch.where(sub, slope, torch.full_like(slope, 0.5))
    xi = -1.0 / torch.log(safe)
    return torch.where(sub, xi, torch.full_like(slope, float("inf")))


@_scoped
def xi_q(activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike):
    """Depth scale of the length: ``xi_q^{-1} = -log(chi_1 + sigma_w^2 E[phi''(u) phi(u)])`` at
    ``q*``.

    Schoenholz et al. (2017): ``|q^l - q*| ~ exp(-l / xi_q)``. The argument of the log is the slope
    of the length map at ``q*`` (with the delta terms of ``phi''`` at kinks, see
    :func:`dltheory.meanfield.kernels.length_slope`). Returns ``inf`` where that slope is >= 1 (no
    attracting finite ``q*``).

    Example:
        >>> round(xi_q("relu", sigma_w2=1.0, sigma_b2=0.1), 6)   # -1 / log(1/2)
        1.442695
    """
    act = get_activation(activation)
    sw, sb = params(sigma_w2, sigma_b2)
    q = _q_star(act, sw, sb)
    finite = torch.isfinite(q)
    qf = torch.where(finite, q, torch.ones_like(q))
    slope = sw * kernels.length_slope(act, qf)
    slope = torch.where(finite, slope, torch.full_like(q, float("inf")))
    return _out(_depth(slope))


@_scoped
def xi_c(activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike):
    """Depth scale of correlations: ``xi_c^{-1} = -log(sigma_w^2 E[phi'(u_1) phi'(u_2)])`` at
    ``(q*, c*)``.

    Schoenholz et al. (2017): ``|c^l - c*| ~ exp(-l / xi_c)``; in the ordered phase the slope is
    ``chi_1``. At criticality (slope within ``CRITICAL_TOL = 1e-12`` of 1) the depth scale is
    infinite and ``inf`` is returned (never NaN).

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0), any shape.
        sigma_b2: bias variance (>= 0), broadcasting with ``sigma_w2``.

    Example:
        >>> round(xi_c("tanh", sigma_w2=1.0, sigma_b2=0.05), 3)
        3.627
    """
    act = get_activation(activation)
    sw, sb = params(sigma_w2, sigma_b2)
    q = _q_star(act, sw, sb)
    return _out(_depth(_c_star(act, sw, sb, q)[1]))


def _line_table(act, q_max: float, n_points: int):
    q = torch.linspace(1e-5, q_max, n_points, dtype=torch.float64)
    sw = 1.0 / kernels.dphi2(act, q)
    sb = q - sw * kernels.phi2(act, q)
    return sw.numpy(), sb.numpy()


@_scoped
def critical_line_interpolated(
    activation: ActivationLike, sigma_b2: float, *, q_max: float = 2.25, n_points: int = 50
) -> float:
    """Critical ``sigma_w^2`` at ``sigma_b2`` by the review's method: a tabulated line, linearly
    interpolated.

    The critical line is parametrised by ``q*``: ``sigma_w^2(q) = 1 / E[phi'(sqrt(q) z)^2]`` and
    ``sigma_b^2(q) = q - sigma_w^2(q) E[phi(sqrt(q) z)^2]``, tabulated at ``n_points`` values of
    ``q`` in ``[1e-5, q_max]`` and interpolated linearly at ``sigma_b2`` (Liu & Theodorou 2019, code
    for the phase diagram). :func:`critical_line` solves the same equations exactly; the difference
    is the interpolation error of the table.

    Raises:
        ValueError: if ``sigma_b2`` lies outside the table's range of ``sigma_b^2`` (no
            extrapolation), or if the tabulated ``sigma_b^2`` is not increasing (ReLU, linear: no
            critical line).

    Example:
        >>> round(critical_line_interpolated("tanh", 0.05), 6)
        1.760392
    """
    act = get_activation(activation)
    sigma_b2 = checks.real("sigma_b2", sigma_b2, low=0.0)
    q_max = checks.real("q_max", q_max, low=1e-5, high=1e6, low_open=True)
    n_points = checks.integer("n_points", n_points, low=2, high=1_000_000)
    sw, sb = _line_table(act, q_max, n_points)
    if not np.all(np.diff(sb) > 0):
        raise ValueError(
            f"the tabulated sigma_b2 of {act.name!r} is not increasing in q; no table to "
            "interpolate"
        )
    if not sb[0] <= sigma_b2 <= sb[-1]:
        raise ValueError(
            f"sigma_b2 must lie in the table's range [{sb[0]:.4g}, {sb[-1]:.4g}] (q in [1e-5, "
            f"q_max={q_max:g}]); got {sigma_b2} (raise q_max, or use critical_line)"
        )
    return float(np.interp(sigma_b2, sb, sw))


@_scoped
def critical_line(activation: ActivationLike, sigma_b2: ArrayLike, q_max: float = 100.0):
    """The order-to-chaos transition ``chi_1(sigma_w^2, sigma_b^2) = 1`` and the ``q*`` on it.

    On the line ``sigma_w^2 = 1 / E[phi'(sqrt(q*) z)^2]`` and
    ``q* = sigma_w^2 E[phi^2] + sigma_b^2``, so ``q*`` solves
    ``q - E[phi^2] / E[phi'^2] = sigma_b^2`` (one equation, solved by bisection in ``log q``, 80
    halvings); then ``sigma_w^2`` follows. Poole et al. (2016); Schoenholz et al. (2017).

    Args:
        activation: name or torch function.
        sigma_b2: bias variance(s) (>= 0).
        q_max: upper end of the search for ``q*``.

    Returns:
        ``(sigma_w2, q_star)`` shaped like ``sigma_b2``. For positively homogeneous activations
        (ReLU, linear) ``chi_1`` does not depend on ``q``: the critical ``sigma_w2`` is
        ``1 / E[phi'(z)^2]`` (ReLU: 2, the initialisation of He et al. 2015) and ``q*`` is ``0`` at
        ``sigma_b2 = 0`` (every ``q`` is then a fixed point) and ``inf`` otherwise. Where no
        critical point exists both are ``inf``.

    Example:
        >>> sw, q = critical_line("tanh", sigma_b2=0.05)
        >>> round(sw, 4)
        1.761
    """
    act = get_activation(activation)
    sb = grid("sigma_b2", sigma_b2, low=0.0)
    checks.size("sigma_b2", sb.numel())
    q_max = checks.real("q_max", q_max, low=1e-10, high=1e12, low_open=True)
    if rule_homogeneous(act):
        sw = 1.0 / kernels.dphi2(act, torch.ones_like(sb))
        q = torch.where(sb == 0, torch.zeros_like(sb), torch.full_like(sb, float("inf")))
        return _out(sw), _out(q)

    def h(logq):
        qq = torch.exp(logq)
        return qq - kernels.phi2(act, qq) / kernels.dphi2(act, qq) - sb

    lo = torch.full_like(sb, np.log(1e-10))
    hi = torch.full_like(sb, np.log(q_max))
    hlo, hhi = h(lo), h(hi)
    ok = (hlo <= 1e-12) & (hhi >= 0)  # h(0) = 0 at sigma_b2 = 0: the line ends at q* -> 0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        hm = h(mid)
        lo = torch.where(hm <= 0, mid, lo)
        hi = torch.where(hm <= 0, hi, mid)
    q = torch.exp(0.5 * (lo + hi))
    sw = 1.0 / kernels.dphi2(act, q)
    inf = torch.full_like(sb, float("inf"))
    return _out(torch.where(ok, sw, inf)), _out(torch.where(ok, q, inf))


@dataclass(frozen=True)
class MapTrajectory:
    """Mean-field kernel of an input pair, layer by layer (result of :func:`iterate_maps`).

    Attributes:
        q: lengths ``q^l``, shape ``(L, ...)`` for layers 1..L (both inputs have the same length).
        c: correlations ``c^l``, same shape.
    """

    q: np.ndarray
    c: np.ndarray


@_scoped
def iterate_maps(
    activation: ActivationLike,
    sigma_w2: ArrayLike,
    sigma_b2: ArrayLike,
    q0: ArrayLike,
    c0: ArrayLike,
    depth: int,
) -> MapTrajectory:
    """Iterate the mean-field kernel of a pair of inputs with equal input length ``q0`` and cosine
    ``c0``.

    Layer 1 is linear in the input (``q^1 = sigma_w^2 q0 + sigma_b^2``, ``q_12^1 = sigma_w^2 c0 q0 +
    sigma_b^2``); each further layer applies the length and correlation maps with the current
    ``q^l`` (Poole et al. 2016), so the transient of ``q`` is part of the prediction.

    Args:
        activation: name or torch function.
        sigma_w2, sigma_b2: variances (broadcast with ``q0`` and ``c0``).
        q0: input length ``|x|^2 / N_0`` (> 0).
        c0: input cosine in [-1, 1].
        depth: number of layers, an integer in [1, MAX_DEPTH].

    Returns:
        :class:`MapTrajectory` with ``q`` and ``c`` of shape ``(L, ...)``. A length that overflows
        (ReLU in the chaotic phase) becomes ``inf``; its correlation then follows the ``q -> inf``
        limit.

    Example:
        >>> out = iterate_maps("tanh", 1.5, 0.05, q0=1.0, c0=0.5, depth=3)
        >>> out.q.shape
        (3,)
    """
    act = get_activation(activation)
    depth = checks.integer("depth", depth, low=1, high=MAX_DEPTH)
    sw, sb, q0, c0 = params(
        sigma_w2,
        sigma_b2,
        q0=grid("q0", q0, low=0.0, low_open=True),
        c0=grid("c0", c0, low=-1.0, high=1.0),
    )
    checks.size("depth x the broadcast arguments", 2 * depth * max(sw.numel(), 1))
    q = sw * q0 + sb
    c = ((sw * c0 * q0 + sb) / q).clamp(-1.0, 1.0)
    qs, cs = [q], [c]
    for _ in range(depth - 1):
        qn = sw * kernels.phi2(act, torch.where(torch.isfinite(q), q, torch.ones_like(q))) + sb
        qn = torch.where(torch.isfinite(q), qn, q)
        cn = _corr_map(_pair(act, q), sw, sb, q, c) * torch.where(
            torch.isinf(q), torch.ones_like(q), q
        )
        cn = torch.where(
            torch.isinf(q), cn, cn / torch.where(torch.isinf(q), torch.ones_like(q), qn)
        )
        jump = torch.isinf(qn) & torch.isfinite(
            q
        )  # q overflows at this layer: use the q -> inf limit
        if bool(jump.any()):
            qi = torch.where(jump, torch.full_like(q, math.inf), q)
            cn = torch.where(jump, _corr_map(_pair(act, qi), sw, sb, qi, c), cn)
        q, c = qn, cn.clamp(-1.0, 1.0)
        qs.append(q)
        cs.append(c)
    return MapTrajectory(q=torch.stack(qs).numpy(), c=torch.stack(cs).numpy())
