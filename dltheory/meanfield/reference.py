"""Independent references by scipy's adaptive quadrature (QUADPACK), for tests and the chapter's claims.

Nothing here uses the package's own rules (Gauss--Hermite, Mehler, closed forms, split Gauss--Legendre),
so agreement is a check of those rules. Slow (milliseconds per integral); scalars only.
"""

from __future__ import annotations

import math

from scipy import integrate, optimize

from dltheory import _checks as checks

__all__ = ["expect", "critical_point"]

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
    return float(sum(integrate.quad(g, a, b, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
                     for a, b in zip(edges[:-1], edges[1:])))


def critical_point(sigma_b2: float, q_max: float = 100.0) -> tuple[float, float]:
    """Critical ``(sigma_w^2, q*)`` of tanh at ``sigma_b2``: ``brentq`` on ``q - E[tanh^2] / E[tanh'^2] -
    sigma_b^2`` with both integrals by ``quad``; ``sigma_w^2 = 1 / E[tanh'^2]`` (root to 1e-14).

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
