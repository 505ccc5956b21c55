"""A documented surrogate of Shwartz-Ziv & Tishby's (2017) 12-bit data set.

Shwartz-Ziv & Tishby train on all ``2**12 = 4096`` patterns of 12 binary inputs with a binary label.
Their data file cannot be shipped, so this module generates a surrogate with the same statistics:

* all 4096 patterns, each exactly once (so ``X`` is uniform and ``H(X) = 12`` bits);
* the label is a deterministic function of the pattern (so a network can fit it);
* ``P(y = 1) = 2118 / 4096`` exactly (``H(Y) = 0.99916`` bits);
* ``P(y = 1 | k ones)`` is 0 for ``k <= 4``, ``60/792 ~ 0.076`` for ``k = 5``, ``532/924 ~ 0.576``
  for ``k = 6``, ``732/792 ~ 0.924`` for ``k = 7`` and 1 for ``k >= 8``.

Inside each of the three mixed shells the patterns with label 1 are the ones with the largest value
of a fixed smooth score of the bit positions: the 12 inputs sit on the vertices ``v_i`` of a regular
icosahedron (12 points spread uniformly over the sphere, as in the original construction), and

    s(x) = sum_i x_i exp(v_i . u) + 0.5 |sum_i x_i v_i|^2,

with a fixed unit vector ``u``: a term linear in ``x`` (smooth in the position) plus a
rotation-invariant quadratic one. The score has no ties at the three thresholds (checked by the
tests), so the labels are exactly reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dltheory import _checks as checks

__all__ = [
    "N_BITS",
    "N_PATTERNS",
    "SHELL_POSITIVES",
    "BitData",
    "patterns",
    "score",
    "surrogate",
    "label_entropy",
    "shell_table",
]

#: Number of binary inputs and of patterns.
N_BITS = 12
N_PATTERNS = 2**N_BITS
#: Number of patterns with label 1 in each shell of ``k`` ones (0 below 5 ones, all of them from 8).
SHELL_POSITIVES = {
    k: (0 if k <= 4 else math.comb(N_BITS, k) if k >= 8 else {5: 60, 6: 532, 7: 732}[k])
    for k in range(N_BITS + 1)
}


def _icosahedron() -> np.ndarray:
    phi = (1 + 5**0.5) / 2
    v = []
    for a in (-1.0, 1.0):
        for b in (-phi, phi):
            v += [(0.0, a, b), (a, b, 0.0), (b, 0.0, a)]
    v = np.array(v)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


_U = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])


def patterns() -> np.ndarray:
    """All 4096 patterns as a ``(4096, 12)`` int array of 0/1, row ``i`` the binary digits of ``i``.

    Example:
        >>> x = patterns()
        >>> x.shape, int(x[5].sum()), x[5, -3:].tolist()
        ((4096, 12), 2, [1, 0, 1])
    """
    i = np.arange(N_PATTERNS)
    return ((i[:, None] >> np.arange(N_BITS - 1, -1, -1)[None, :]) & 1).astype(np.int64)


def score(x: np.ndarray) -> np.ndarray:
    """The smooth score ``s(x)`` of the module docstring for patterns ``x`` of shape ``(n, 12)``.

    Example:
        >>> round(float(score(patterns())[0]), 6)
        0.0
    """
    v = _icosahedron()
    x = np.asarray(x, dtype=np.float64)
    total = x @ v
    return x @ np.exp(v @ _U) + 0.5 * (total**2).sum(axis=1)


@dataclass(frozen=True)
class BitData:
    """The 12-bit data set.

    Attributes:
        x: ``(4096, 12)`` float array of inputs in {0, 1} (the networks see ``2x - 1`` in {-1, 1}).
        y: ``(4096,)`` int array of labels in {0, 1}.
        ones: ``(4096,)`` number of ones of each pattern.
        p_y1: ``P(y = 1)``.
        p_y1_given_ones: ``(13,)`` ``P(y = 1 | k ones)`` for ``k = 0..12``.
    """

    x: np.ndarray
    y: np.ndarray
    ones: np.ndarray
    p_y1: float
    p_y1_given_ones: np.ndarray


def surrogate() -> BitData:
    """The surrogate of Shwartz-Ziv & Tishby's data set (deterministic; see the module docstring).

    Example:
        >>> d = surrogate()
        >>> int(d.y.sum()), round(label_entropy(d.y), 5)
        (2118, 0.99916)
        >>> [round(float(p), 3) for p in d.p_y1_given_ones[4:9]]
        [0.0, 0.076, 0.576, 0.924, 1.0]
    """
    x = patterns()
    ones = x.sum(axis=1)
    s = score(x)
    y = np.zeros(N_PATTERNS, dtype=np.int64)
    for k, n_pos in SHELL_POSITIVES.items():
        idx = np.flatnonzero(ones == k)
        order = idx[np.argsort(-s[idx], kind="stable")]
        y[order[:n_pos]] = 1
    p_k = np.array([y[ones == k].mean() for k in range(N_BITS + 1)])
    return BitData(
        x=x.astype(np.float64), y=y, ones=ones, p_y1=float(y.mean()), p_y1_given_ones=p_k
    )


def label_entropy(y) -> float:
    """Entropy in bits of a 0/1 label vector.

    Example:
        >>> label_entropy([0, 1, 0, 1])
        1.0
    """
    y = checks.nonempty("y", checks.binary_labels("y", y))
    p = float(np.mean(y == 1))
    return float(-sum(q * math.log2(q) for q in (p, 1 - p) if q > 0))


def shell_table(d: BitData) -> str:
    """The label statistics of ``d`` per shell of ``k`` ones, as a text table (one line per ``k``).

    Example:
        >>> print(shell_table(surrogate()).splitlines()[6])
          5   792    60  0.0758
    """
    lines = ["  k  size  y=1  P(y=1|k)"]
    for k in range(N_BITS + 1):
        shell = d.y[d.ones == k]
        lines.append(f"{k:3d} {len(shell):5d} {int(shell.sum()):5d}  {shell.mean():.4f}")
    return "\n".join(lines)
