"""The mean-field maps of a wide random network and their fixed points, order/chaos and depth scales.

A fully connected network ``h^l = W^l phi(h^{l-1}) + b^l`` with ``W_ij ~ N(0, sigma_w^2 / N)`` and
``b_i ~ N(0, sigma_b^2)`` propagates, as the width ``N -> infinity``, the length ``q^l = |h^l|^2 / N`` of one
input and the correlation ``c^l`` of two inputs by deterministic maps (Poole et al. 2016, eqs. 3 and 5)::

    q^l      = sigma_w^2 E_z[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2
    q_12^l   = sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2,      c^l = q_12^l / sqrt(q_11^l q_22^l)

Their fixed points ``q*``, ``c*`` and the slopes there decide everything else: ``chi_1 = sigma_w^2
E[phi'(sqrt(q*) z)^2]`` (slope of the correlation map at c = 1) separates the ordered phase (chi_1 < 1,
c* = 1 stable) from the chaotic phase (chi_1 > 1), and the depth scales (Schoenholz et al. 2017, eqs. 5
and 9) are ``xi_q = -1 / log(chi_1 + sigma_w^2 E[phi'' phi])`` and ``xi_c = -1 / log(sigma_w^2
E[phi'(u_1) phi'(u_2)])`` at ``c*``.

Every function takes ``activation`` (name or torch function) and broadcasts over array-valued ``sigma_w2``,
``sigma_b2`` (and ``q``, ``c``): a whole phase diagram is one call. Results are numpy float64 arrays (a
Python float for scalar input).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import functools

from dltheory.meanfield._threads import single_thread
from dltheory.meanfield.activations import Activation, get_activation
from dltheory.meanfield.quadrature import K_SERIES, N_QUAD, N_SERIES, gauss_expect, hermite_coefficients, hermite_rule

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
    "iterate_maps",
]

ActivationLike = str | Callable | Activation
ArrayLike = float | np.ndarray | torch.Tensor


def _scoped(fn):
    """Run ``fn`` single-threaded (scoped; see ``_threads.single_thread``): the grids are many small tensors."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with single_thread():
            return fn(*args, **kwargs)

    return wrapper


def _t(x, name: str) -> torch.Tensor:
    try:
        t = x.detach().to(torch.float64) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or an array of real numbers, got {type(x).__name__}") from None
    if torch.isnan(t).any():
        raise ValueError(f"{name} must not be NaN")
    return t


def _params(sigma_w2, sigma_b2) -> tuple[torch.Tensor, torch.Tensor]:
    sw, sb = _t(sigma_w2, "sigma_w2"), _t(sigma_b2, "sigma_b2")
    if not torch.isfinite(sw).all() or (sw <= 0).any():
        raise ValueError("sigma_w2 (weight variance) must be finite and > 0")
    if not torch.isfinite(sb).all() or (sb < 0).any():
        raise ValueError("sigma_b2 (bias variance) must be finite and >= 0")
    return sw, sb


def _out(t: torch.Tensor):
    a = t.detach().cpu().numpy()
    return float(a) if a.ndim == 0 else a


def _check_q(q: torch.Tensor, name: str = "q") -> None:
    if not torch.isfinite(q).all() or (q < 0).any():
        raise ValueError(f"{name} (length, a variance) must be finite and >= 0")


def length_map(activation: ActivationLike, q: ArrayLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, n: int = N_QUAD):
    """One step of the length map (Poole et al. 2016, eq. 3).

    ``q^l = sigma_w^2 E_z[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2``, ``z ~ N(0, 1)``.

    Args:
        activation: name in ``ACTIVATIONS`` or an elementwise torch function.
        q: previous length ``q^{l-1}`` (>= 0).
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        n: Gauss--Hermite nodes.

    Returns:
        ``q^l``, broadcast over the arguments.

    Example:
        >>> round(float(length_map("relu", q=2.0, sigma_w2=2.0, sigma_b2=0.1)), 12)
        2.1
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    q = _t(q, "q")
    _check_q(q)
    return _out(sw * gauss_expect(lambda u: act.phi(u) ** 2, q, n) + sb)


def _length_and_slope(act: Activation, q, sw, sb, n):
    z, w = hermite_rule(n)
    u = torch.sqrt(q.clamp_min(0)).unsqueeze(-1) * z
    p = act.phi(u)
    F = sw * (p**2 * w).sum(-1) + sb
    dF = sw * ((act.dphi(u) ** 2 + p * act.d2phi(u)) * w).sum(-1)
    return F, dF


@_scoped
def q_star(
    activation: ActivationLike,
    sigma_w2: ArrayLike,
    sigma_b2: ArrayLike,
    q0: float = 1.0,
    tol: float = 1e-13,
    max_iter: int = 500,
    n: int = N_QUAD,
):
    """Fixed point ``q* = sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2`` of the length map.

    Newton steps on ``q - F(q)`` where the map is contracting (slope ``F'(q) = sigma_w^2 E[phi'^2 +
    phi phi''] < 1``), plain iteration elsewhere, started from ``q0`` and vectorised over the grid.

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0), any shape.
        sigma_b2: bias variance (>= 0), broadcasting with ``sigma_w2``.
        q0: starting length (> 0); returned unchanged where every q is a fixed point (ReLU at
            ``sigma_w2 = 2, sigma_b2 = 0``).
        tol: convergence tolerance on ``|F(q) - q| / max(1, q)``.
        max_iter: iteration cap.
        n: Gauss--Hermite nodes.

    Returns:
        ``q*``; ``inf`` where the iteration does not converge in ``max_iter`` steps, i.e. the length
        diverges (no finite fixed point, e.g. ReLU with ``sigma_w2 >= 2`` and ``sigma_b2 > 0``).

    Example:
        >>> round(q_star("relu", sigma_w2=1.0, sigma_b2=0.5), 12)   # sigma_b2 / (1 - sigma_w2 / 2)
        1.0
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    if not (np.isfinite(q0) and q0 > 0):
        raise ValueError(f"q0 (starting length) must be finite and > 0, got {q0}")
    return _out(_q_star(act, sw, sb, q0, tol, max_iter, n))


def _q_star(act, sw, sb, q0=1.0, tol=1e-13, max_iter=500, n=N_QUAD):
    sw, sb = torch.broadcast_tensors(sw, sb)
    q = torch.full_like(sw, float(q0))
    done = torch.zeros_like(sw, dtype=torch.bool)
    diverged = torch.zeros_like(done)
    for _ in range(max_iter):
        F, dF = _length_and_slope(act, q, sw, sb, n)
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


def _resolve_q(act, sw, sb, q):
    if q is None:
        return _q_star(act, sw, sb)
    q = _t(q, "q")
    _check_q(q)
    return q


def chi1(activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, q: ArrayLike | None = None, n: int = N_QUAD):
    """``chi_1 = sigma_w^2 E[phi'(sqrt(q) z)^2]`` at ``q = q*`` (Poole et al. 2016, eq. 7).

    The slope of the correlation map at ``c = 1`` and the per-layer growth factor of squared gradient
    norms (Schoenholz et al. 2017, eq. 13). ``chi_1 < 1``: ordered; ``chi_1 > 1``: chaotic.

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        q: length at which to evaluate; defaults to ``q*``.
        n: Gauss--Hermite nodes.

    Example:
        >>> chi1("relu", sigma_w2=2.0, sigma_b2=0.0)
        1.0
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    q = _resolve_q(act, sw, sb, q)
    return _out(_chi1(act, sw, q, n))


def _chi1(act, sw, q, n=N_QUAD):
    finite = torch.isfinite(q)
    qf = torch.where(finite, q, torch.ones_like(q))
    val = sw * gauss_expect(lambda u: act.dphi(u) ** 2, qf, n)
    # q* = inf only happens for positively homogeneous activations, where chi_1 does not depend on q.
    return val


def _coefficients(act, q, k=K_SERIES, n=N_SERIES):
    """Hermite coefficients of phi(sqrt(q) z) and phi'(sqrt(q) z) (Mehler's formula, see quadrature)."""
    return hermite_coefficients(act.phi, q, k, n), hermite_coefficients(act.dphi, q, k, n)


def _series(coef_sq, c):
    """``sum_k coef_sq[..., k] c^k``; the powers by a running product (several times faster than pow)."""
    K = coef_sq.shape[-1]
    col = c.unsqueeze(-1)
    powers = torch.cat([torch.ones_like(col), col.expand(*c.shape, K - 1)], dim=-1).cumprod(dim=-1)
    return (coef_sq * powers).sum(-1)


def _corr_and_slope(act, c, q, sw, sb, coefs=None):
    """Correlation map f(c) and its slope f'(c) = sigma_w^2 E[phi'(u1) phi'(u2)] at equal lengths q.

    Both are 2-D Gaussian integrals, evaluated by Mehler's formula (a 1-D Gauss--Hermite quadrature for
    the Hermite coefficients and a power series in c).
    """
    A, B = coefs if coefs is not None else _coefficients(act, q)
    f = (sw * _series(A**2, c) + sb) / q
    df = sw * _series(B**2, c)
    return f, df


def correlation_map(
    activation: ActivationLike,
    c: ArrayLike,
    sigma_w2: ArrayLike,
    sigma_b2: ArrayLike,
    q: ArrayLike | None = None,
):
    """One step of the correlation map at equal lengths ``q`` (Poole et al. 2016, eq. 5).

    ``c^l = (sigma_w^2 E[phi(u_1) phi(u_2)] + sigma_b^2) / q``, with ``u_1 = sqrt(q) z_1`` and ``u_2 =
    sqrt(q) (c z_1 + sqrt(1 - c^2) z_2)``.

    Args:
        activation: name or torch function.
        c: previous correlation in [-1, 1].
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        q: common length of the two inputs (> 0); defaults to ``q*``.

    Example:
        >>> round(correlation_map("tanh", 1.0, sigma_w2=1.5, sigma_b2=0.05), 10)
        1.0
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    c = _t(c, "c")
    if (c.abs() > 1).any():
        raise ValueError("c (correlation) must lie in [-1, 1]")
    q = _resolve_q(act, sw, sb, q)
    if (q <= 0).any() or not torch.isfinite(q).all():
        raise ValueError("q (length) must be finite and > 0 for the correlation map")
    c, q, sw, sb = torch.broadcast_tensors(c, q, sw, sb)
    return _out(_corr_and_slope(act, c, q, sw, sb)[0])


def _c_star(act, sw, sb, q, tol=1e-13, max_iter=100):
    """Stable fixed point c* and the slope there; vectorised Newton from c = 0 at the chaotic points."""
    sw, sb, q = torch.broadcast_tensors(sw, sb, q)
    x1 = _chi1(act, sw, q)
    chaotic = (x1 > 1) & torch.isfinite(q) & (q > 0)
    cs = torch.ones_like(sw)
    slope = x1.clone()
    if chaotic.any():
        swc, sbc, qc = sw[chaotic], sb[chaotic], q[chaotic]
        A, B = _coefficients(act, qc)
        A2, B2 = A**2, B**2
        c = torch.zeros_like(swc)
        active = torch.arange(c.numel())  # points whose Newton iteration has not converged yet
        for _ in range(max_iter):
            ca = c[active]
            f = (swc[active] * _series(A2[active], ca) + sbc[active]) / qc[active]
            df = swc[active] * _series(B2[active], ca)
            g = f - ca
            # g is convex on [0, 1] with g(0) >= 0: Newton from c = 0 increases monotonically to c*.
            step = torch.where(df < 1, g / (1 - df), g)
            c[active] = (ca + step).clamp(max=1.0)
            active = active[step.abs() > tol]
            if active.numel() == 0:
                break
        cs[chaotic] = c
        slope[chaotic] = swc * _series(B2, c)
    return cs, slope


@_scoped
def c_star(activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, q: ArrayLike | None = None):
    """Stable fixed point ``c*`` of the correlation map (Poole et al. 2016; Schoenholz et al. 2017).

    ``c* = 1`` in the ordered phase (``chi_1 <= 1``); in the chaotic phase the map, convex on [0, 1] with
    ``f(1) = 1`` and ``f'(1) = chi_1 > 1``, has a second fixed point ``c* < 1``, found by Newton's method.

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0).
        sigma_b2: bias variance (>= 0).
        q: common length; defaults to ``q*``.

    Example:
        >>> c_star("tanh", sigma_w2=1.0, sigma_b2=0.05)
        1.0
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    q = _resolve_q(act, sw, sb, q)
    return _out(_c_star(act, sw, sb, q)[0])


@_scoped
def chi_c(activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, q: ArrayLike | None = None):
    """Slope of the correlation map at its stable fixed point: ``chi_c* = sigma_w^2 E[phi'(u_1) phi'(u_2)]``.

    Equal to ``chi_1`` in the ordered phase (Schoenholz et al. 2017, eq. 8).

    Example:
        >>> round(chi_c("relu", sigma_w2=1.0, sigma_b2=0.1), 12)
        0.5
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
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
def xi_q(activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike, n: int = N_QUAD):
    """Depth scale of the length: ``xi_q^{-1} = -log(chi_1 + sigma_w^2 E[phi''(u) phi(u)])`` at ``q*``.

    Schoenholz et al. (2017), eq. 5: ``|q^l - q*| ~ exp(-l / xi_q)``. The argument of the log is the slope
    of the length map at ``q*``. Returns ``inf`` where that slope is >= 1 (no attracting finite ``q*``).

    Example:
        >>> round(xi_q("relu", sigma_w2=1.0, sigma_b2=0.1), 6)   # -1 / log(1/2)
        1.442695
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    sw, sb = torch.broadcast_tensors(sw, sb)
    q = _q_star(act, sw, sb, n=n)
    qf = torch.where(torch.isfinite(q), q, torch.ones_like(q))
    slope = _length_and_slope(act, qf, sw, sb, n)[1]
    slope = torch.where(torch.isfinite(q), slope, torch.full_like(q, float("inf")))
    return _out(_depth(slope))


@_scoped
def xi_c(activation: ActivationLike, sigma_w2: ArrayLike, sigma_b2: ArrayLike):
    """Depth scale of correlations: ``xi_c^{-1} = -log(sigma_w^2 E[phi'(u_1) phi'(u_2)])`` at ``(q*, c*)``.

    Schoenholz et al. (2017), eq. 9: ``|c^l - c*| ~ exp(-l / xi_c)``; in the ordered phase the slope is
    ``chi_1``. At criticality (slope within ``CRITICAL_TOL = 1e-12`` of 1) the depth scale is infinite and
    ``inf`` is returned (never NaN).

    Args:
        activation: name or torch function.
        sigma_w2: weight variance (> 0), any shape.
        sigma_b2: bias variance (>= 0), broadcasting with ``sigma_w2``.

    Example:
        >>> round(xi_c("tanh", sigma_w2=1.0, sigma_b2=0.05), 3)
        3.627
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    sw, sb = torch.broadcast_tensors(sw, sb)
    q = _q_star(act, sw, sb)
    return _out(_depth(_c_star(act, sw, sb, q)[1]))


@_scoped
def critical_line_interpolated(
    activation: ActivationLike, sigma_b2: float, *, q_max: float = 2.25, n_points: int = 50, n: int = N_QUAD
) -> float:
    """Critical ``sigma_w^2`` at ``sigma_b2`` by the review's method: a tabulated line, linearly interpolated.

    The critical line is parametrised by ``q*``: ``sigma_w^2(q) = 1 / E[phi'(sqrt(q) z)^2]`` and
    ``sigma_b^2(q) = q - sigma_w^2(q) E[phi(sqrt(q) z)^2]``, tabulated at ``n_points`` values of ``q`` in
    ``[1e-5, q_max]`` and interpolated linearly at ``sigma_b2`` (Liu & Theodorou 2019, code for the phase
    diagram). :func:`critical_line` solves the same equations exactly; the difference is the
    interpolation error of the table.

    Example:
        >>> round(critical_line_interpolated("tanh", 0.05), 6)
        1.760392
    """
    act = get_activation(activation)
    if not (np.isfinite(sigma_b2) and sigma_b2 >= 0):
        raise ValueError(f"sigma_b2 (bias variance) must be finite and >= 0, got {sigma_b2}")
    if not q_max > 1e-5:
        raise ValueError(f"q_max must be > 1e-5, got {q_max}")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}")
    q = np.linspace(1e-5, q_max, n_points)
    sw = 1.0 / gauss_expect(lambda u: act.dphi(u) ** 2, q, n).numpy()
    sb = q - sw * gauss_expect(lambda u: act.phi(u) ** 2, q, n).numpy()
    return float(np.interp(sigma_b2, sb, sw))


def critical_line(activation: ActivationLike, sigma_b2: ArrayLike, n: int = N_QUAD, q_max: float = 100.0):
    """The order-to-chaos transition ``chi_1(sigma_w^2, sigma_b^2) = 1`` and the ``q*`` on it.

    On the line ``sigma_w^2 = 1 / E[phi'(sqrt(q*) z)^2]`` and ``q* = sigma_w^2 E[phi^2] + sigma_b^2``, so
    ``q*`` solves ``q - E[phi^2] / E[phi'^2] = sigma_b^2`` (one equation, solved by bisection in
    ``log q``); then ``sigma_w^2`` follows. Poole et al. (2016), Fig. 2; Schoenholz et al. (2017), Fig. 1.

    Args:
        activation: name or torch function.
        sigma_b2: bias variance(s) (>= 0).
        n: Gauss--Hermite nodes.
        q_max: upper end of the search for ``q*``.

    Returns:
        ``(sigma_w2, q_star)`` arrays shaped like ``sigma_b2``. For positively homogeneous activations
        (ReLU, linear) ``chi_1`` does not depend on ``q``: the critical ``sigma_w2`` is ``1 / E[phi'(z)^2]``
        and ``q*`` is ``0`` at ``sigma_b2 = 0`` (every ``q`` is then a fixed point) and ``inf`` otherwise.
        Where no critical point exists both are ``inf``.

    Example:
        >>> sw, q = critical_line("tanh", sigma_b2=0.05)
        >>> round(sw, 4)
        1.761
    """
    act = get_activation(activation)
    sb = _t(sigma_b2, "sigma_b2")
    if not torch.isfinite(sb).all() or (sb < 0).any():
        raise ValueError("sigma_b2 (bias variance) must be finite and >= 0")
    if not q_max > 1e-10:
        raise ValueError("q_max must be > 1e-10")
    ones = torch.ones(1, dtype=torch.float64)
    if act.name in ("relu", "linear"):
        sw = 1.0 / gauss_expect(lambda u: act.dphi(u) ** 2, ones, n)[0] * torch.ones_like(sb)
        q = torch.where(sb == 0, torch.zeros_like(sb), torch.full_like(sb, float("inf")))
        return _out(sw), _out(q)

    def h(logq):
        qq = torch.exp(logq)
        e2 = gauss_expect(lambda u: act.phi(u) ** 2, qq, n)
        d2 = gauss_expect(lambda u: act.dphi(u) ** 2, qq, n)
        return qq - e2 / d2 - sb

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
    sw = 1.0 / gauss_expect(lambda u: act.dphi(u) ** 2, q, n)
    inf = torch.full_like(sb, float("inf"))
    return _out(torch.where(ok, sw, inf)), _out(torch.where(ok, q, inf))


def iterate_maps(
    activation: ActivationLike,
    sigma_w2: ArrayLike,
    sigma_b2: ArrayLike,
    q0: ArrayLike,
    c0: ArrayLike,
    depth: int,
) -> dict[str, np.ndarray]:
    """Iterate the mean-field kernel of a pair of inputs with equal input length ``q0`` and cosine ``c0``.

    Layer 1 is linear in the input (``q^1 = sigma_w^2 q0 + sigma_b^2``, ``q_12^1 = sigma_w^2 c0 q0 +
    sigma_b^2``); each further layer applies the length and correlation maps with the current ``q^l``
    (Poole et al. 2016, eqs. 3 and 5), so the transient of ``q`` is part of the prediction.

    Args:
        activation: name or torch function.
        sigma_w2, sigma_b2: variances (broadcast with ``q0`` and ``c0``).
        q0: input length ``|x|^2 / N_0`` (> 0).
        c0: input cosine in [-1, 1].
        depth: number of layers L >= 1.

    Returns:
        ``{"q": (L, ...), "c": (L, ...)}`` for layers 1..L.

    Example:
        >>> out = iterate_maps("tanh", 1.5, 0.05, q0=1.0, c0=0.5, depth=3)
        >>> out["q"].shape
        (3,)
    """
    act = get_activation(activation)
    sw, sb = _params(sigma_w2, sigma_b2)
    q0, c0 = _t(q0, "q0"), _t(c0, "c0")
    if not torch.isfinite(q0).all() or (q0 <= 0).any():
        raise ValueError("q0 (input length) must be finite and > 0")
    if (c0.abs() > 1).any():
        raise ValueError("c0 (input correlation) must lie in [-1, 1]")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, got {depth!r}")
    sw, sb, q0, c0 = torch.broadcast_tensors(sw, sb, q0, c0)
    q = sw * q0 + sb
    c = (sw * c0 * q0 + sb) / q
    qs, cs = [q], [c]
    for _ in range(int(depth) - 1):
        qn = sw * gauss_expect(lambda u: act.phi(u) ** 2, q, N_QUAD) + sb
        q12 = _corr_and_slope(act, c, q, sw, sb)[0] * q  # sigma_w^2 E[phi phi] + sigma_b^2
        q, c = qn, (q12 / qn).clamp(-1.0, 1.0)
        qs.append(q)
        cs.append(c)
    return {"q": torch.stack(qs).numpy(), "c": torch.stack(cs).numpy()}
