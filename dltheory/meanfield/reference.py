"""Independent references by scipy's adaptive quadrature (QUADPACK), for tests and the chapter's
claims.

Nothing here uses the package's own rules (Gauss--Hermite, Mehler, closed forms, split
Gauss--Legendre), so agreement is a check of those rules. Slow (milliseconds per integral); scalars
only.

:func:`recursion_depth_scale` is the exception: it measures a depth scale on the package's own maps,
iterated, without the derivative formulas that :func:`dltheory.meanfield.xi_q` and ``xi_c`` use, so
agreement checks those formulas against the recursion they describe.
"""

from __future__ import annotations

import math

from scipy import integrate, optimize

from dltheory import _checks as checks

__all__ = ["expect", "critical_point", "recursion_depth_scale"]

_PDF = 1.0 / math.sqrt(2 * math.pi)


def expect(f, q: float, points=()) -> float:
    """``E[f(sqrt(q) z)]``, ``z ~ N(0, 1)``, by ``scipy.integrate.quad`` (tolerance 1e-13).

    Args:
        f: scalar function of a float.
        q: variance (> 0).
        points: kinks of ``f`` in ``u`` (the integral is split there).

    Example:
        >>> round(expect(lambda u: u * u, 2.0), 9)
        2.0
    """
    f = checks.function("f", f)
    q = checks.real("q", q, low=0.0, low_open=True)
    s = math.sqrt(q)
    brk = sorted(p / s for p in points if abs(p / s) < 12)
    edges = [-12.0, *brk, 12.0]
    g = lambda z: f(s * z) * _PDF * math.exp(-z * z / 2)  # noqa: E731
    return float(
        sum(
            integrate.quad(g, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        )
    )


def critical_point(sigma_b2: float, q_max: float = 100.0) -> tuple[float, float]:
    """Critical ``(sigma_w^2, q*)`` of tanh at ``sigma_b2``: ``brentq`` on
    ``q - E[tanh^2] / E[tanh'^2] - sigma_b^2`` with both integrals by ``quad``;
    ``sigma_w^2 = 1 / E[tanh'^2]`` (root to 1e-14).

    Example:
        >>> round(critical_point(0.05)[0], 4)
        1.761
    """
    sigma_b2 = checks.real("sigma_b2", sigma_b2, low=0.0, low_open=True)
    e2 = lambda q: expect(lambda u: math.tanh(u) ** 2, q)  # noqa: E731
    d2 = lambda q: expect(lambda u: (1 - math.tanh(u) ** 2) ** 2, q)  # noqa: E731
    h = lambda q: q - e2(q) / d2(q) - sigma_b2  # noqa: E731
    q = optimize.brentq(h, 1e-8, q_max, xtol=1e-14, rtol=1e-14)
    return 1.0 / d2(q), float(q)


def recursion_depth_scale(
    activation, sigma_w2: float, sigma_b2: float, which: str = "c", delta: float = 1e-4
) -> float:
    """Depth scale of the late layers of the iterated length (``which="q"``) or correlation map
    (``"c"``).

    Late in the recursion the deviation from the fixed point shrinks by the same factor every layer:
    ``x^{l+1} - x* = s (x^l - x*) + O((x^l - x*)^2)``. The per-layer ratio is measured on one step
    of the map from ``x* + delta`` and ``x* + delta / 2`` (``c* - delta`` for correlations) and
    extrapolated to zero deviation (Richardson, error ``O(delta^2)``); the depth scale is
    ``-1 / log s``.

    Example:
        >>> round(recursion_depth_scale("tanh", 1.0, 0.05, "c"), 5)   # xi_c = 3.62698
        3.62698
    """
    from dltheory.meanfield.maps import c_star, correlation_map, length_map, q_star

    which = checks.choice("which", which, ("q", "c"))
    delta = checks.real("delta", delta, low=0.0, high=1e-2, low_open=True)
    qs = float(q_star(activation, sigma_w2, sigma_b2))
    if which == "q":
        step = lambda d: (float(length_map(activation, qs + d, sigma_w2, sigma_b2)) - qs) / d  # noqa: E731
    else:
        cs = float(c_star(activation, sigma_w2, sigma_b2, q=qs))
        step = lambda d: (  # noqa: E731
            (cs - float(correlation_map(activation, cs - d, sigma_w2, sigma_b2, q=qs))) / d
        )
    slope = 2 * step(delta / 2) - step(delta)
    return -1.0 / math.log(slope)
