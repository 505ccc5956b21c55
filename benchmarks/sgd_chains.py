"""Speed benchmark: SGD chains as one tensor (dltheory.sgd) against a plain Python loop over chains.

The chapter's stationary and escape experiments move 10^4 independent SGD chains at once, as one
``(n_chains,)`` or ``(n_chains, d)`` tensor. This script times, for the 1-D double well and the 2-D
linear SGD of the chapter, the vectorised simulators of ``dltheory.sgd`` and a straightforward loop
over chains (each chain advanced with Python floats and ``random.gauss``), and prints chain-steps
per second both ways and their ratio. The issue's target: 10^4 chains of a 1-D or 2-D process well
under a second per 10^3 steps.

Run: ``python benchmarks/sgd_chains.py [--chains N] [--steps K] [--loop-chains M]``
"""

from __future__ import annotations

import argparse
import math
import random
import time

import numpy as np
import torch

from dltheory import sgd


def loop_double_well(
    n_chains: int, n_steps: int, T: float = 0.125, lr: float = 0.01, seed: int = 0
):
    rng = random.Random(seed)
    sd = math.sqrt(2 * T * lr)
    out = []
    for c in range(n_chains):
        x = -1.0 if c < n_chains // 2 else 1.0
        for _ in range(n_steps):
            x = x - lr * (x * (x * x - 1)) + sd * rng.gauss(0.0, 1.0)
        out.append(x)
    return out


def loop_linear(n_chains: int, n_steps: int, A, L, lr: float, B: int, seed: int = 0):
    rng = random.Random(seed)
    M = (np.eye(2) - lr * A).tolist()
    L = L.tolist()
    s = lr / math.sqrt(B)
    out = []
    for _ in range(n_chains):
        a, b = 0.0, 0.0
        for _ in range(n_steps):
            z1, z2 = rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0)
            a, b = (
                M[0][0] * a + M[0][1] * b - s * (L[0][0] * z1 + L[0][1] * z2),
                M[1][0] * a + M[1][1] * b - s * (L[1][0] * z1 + L[1][1] * z2),
            )
        out.append((a, b))
    return out


def _time(fn, repeat=3):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chains", type=int, default=10_000, help="chains of the vectorised run")
    ap.add_argument("--steps", type=int, default=1000, help="steps per chain")
    ap.add_argument("--loop-chains", type=int, default=100, help="chains of the Python loop")
    args = ap.parse_args()
    torch.set_num_threads(1)
    n, k, m = args.chains, args.steps, args.loop_chains
    A = np.array([[2.25, 1.5], [1.5, 2.25]])
    C = np.array([[2.0, 0.3], [0.3, 0.5]])
    lam, V = np.linalg.eigh(C)
    L = V * np.sqrt(lam) @ V.T
    cases = [
        (
            "1-D double well",
            lambda: sgd.simulate_double_well(0.125, 0.01, n_chains=n, n_steps=k),
            lambda: loop_double_well(m, k),
        ),
        (
            "2-D linear SGD",
            lambda: sgd.simulate_linear_sgd(A, C, 0.1, 4, n_chains=n, n_steps=k),
            lambda: loop_linear(m, k, A, L, 0.1, 4),
        ),
    ]
    print(
        f"{n} chains x {k} steps vectorised (torch, 1 thread); {m} chains x {k} steps in a "
        "Python loop"
    )
    for name, vec, loop in cases:
        tv, tl = _time(vec), _time(loop, repeat=1)
        rv, rl = n * k / tv, m * k / tl
        print(
            f"{name:16s}: vectorised {tv:6.3f} s ({rv:.3g} chain-steps/s), "
            f"loop {rl:.3g} chain-steps/s, ratio {rv / rl:.0f}x"
        )


if __name__ == "__main__":
    main()
