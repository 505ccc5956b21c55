"""Speed benchmark: xi_c of tanh networks, vectorised (dltheory) against adaptive scipy quadrature.

The review's reference code computes one xi_c point with adaptive 2-D quadrature (scipy
``dblquad``). This script computes xi_c over a 100 x 100 (sigma_w^2, sigma_b^2) grid with
``dltheory.meanfield.xi_c`` (one call) and, for a few of the same points, with a straightforward
scipy version written for the comparison: q* by fixed-point iteration with ``quad``, c* by iterating
the correlation map with ``dblquad``, and the slope at c* with ``dblquad``. It prints the time per
point both ways, the speed ratio and the largest relative difference.

Run: ``python benchmarks/meanfield_xi_c.py [--points K]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import integrate

from dltheory import meanfield as mf

GAUSS = 1.0 / np.sqrt(2 * np.pi)
LIM = 10.0  # integrate z over [-10, 10]


def _e1(f):
    return integrate.quad(
        lambda z: f(z) * GAUSS * np.exp(-z * z / 2), -LIM, LIM, epsabs=1e-12, epsrel=1e-12
    )[0]


def _e2(f):
    g = lambda z2, z1: f(z1, z2) * GAUSS**2 * np.exp(-(z1 * z1 + z2 * z2) / 2)  # noqa: E731
    return integrate.dblquad(g, -LIM, LIM, -LIM, LIM, epsabs=1e-10, epsrel=1e-10)[0]


def xi_c_scipy(sw: float, sb: float, tol: float = 1e-10, max_iter: int = 1000) -> float:
    q = 1.0
    for _ in range(max_iter):
        qn = sw * _e1(lambda z, q=q: np.tanh(np.sqrt(q) * z) ** 2) + sb
        if abs(qn - q) < tol:
            q = qn
            break
        q = qn
    chi1 = sw * _e1(lambda z: (1 - np.tanh(np.sqrt(q) * z) ** 2) ** 2)
    if chi1 <= 1:
        return -1.0 / np.log(chi1)
    sq = np.sqrt(q)
    c = 0.0
    for _ in range(max_iter):
        s = np.sqrt(max(1 - c * c, 0.0))
        cn = (
            sw * _e2(lambda a, b, c=c, s=s: np.tanh(sq * a) * np.tanh(sq * (c * a + s * b))) + sb
        ) / q
        if abs(cn - c) < 1e-8:
            c = cn
            break
        c = cn
    s = np.sqrt(max(1 - c * c, 0.0))
    slope = sw * _e2(
        lambda a, b: (1 - np.tanh(sq * a) ** 2) * (1 - np.tanh(sq * (c * a + s * b)) ** 2)
    )
    return -1.0 / np.log(slope)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--points", type=int, default=4, help="grid points recomputed with scipy (default 4)"
    )
    args = ap.parse_args()
    sw_axis, sb_axis = np.linspace(1.0, 4.0, 100), np.linspace(0.0, 0.3, 100)
    SW, SB = np.meshgrid(sw_axis, sb_axis)
    mf.xi_c("tanh", 2.0, 0.05)  # warm-up (quadrature tables)
    t0 = time.perf_counter()
    grid = mf.xi_c("tanh", SW, SB)
    t_grid = time.perf_counter() - t0
    print(
        f"dltheory: xi_c on a 100 x 100 grid in {t_grid:.3f} s ({t_grid / SW.size * 1e3:.3f} "
        "ms per point)"
    )
    rng = np.random.default_rng(0)
    idx = [(16, 0), (16, 99)] + [
        tuple(rng.integers(0, 100, size=2)) for _ in range(max(args.points - 2, 0))
    ]
    idx = idx[: args.points]
    t_sc, rel = [], []
    for i, j in idx:
        sw, sb = SW[i, j], SB[i, j]
        t0 = time.perf_counter()
        ref = xi_c_scipy(sw, sb)
        t_sc.append(time.perf_counter() - t0)
        rel.append(abs(grid[i, j] - ref) / abs(ref))
        print(
            f"  sigma_w2={sw:.4f} sigma_b2={sb:.4f}: scipy {ref:.6f} ({t_sc[-1]:.2f} s)  "
            f"dltheory {grid[i, j]:.6f}"
        )
    per_point = t_grid / SW.size
    print(f"scipy: {np.mean(t_sc):.2f} s per point (mean over {len(idx)})")
    print(f"speed ratio per point (scipy / dltheory): {np.mean(t_sc) / per_point:.3g}")
    print(
        f"whole grid: dltheory {t_grid:.2f} s vs scipy estimated "
        f"{np.mean(t_sc) * SW.size / 3600:.1f} h"
    )
    print(f"largest relative difference: {max(rel):.3g}")


if __name__ == "__main__":
    main()
