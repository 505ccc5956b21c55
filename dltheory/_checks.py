"""Argument checks shared by the topic modules (private).

Each check returns the value converted (``float`` or ``int``) and raises a ``TypeError`` for the wrong
kind of value or a ``ValueError`` for one out of range, naming the argument and the allowed range.
"""

from __future__ import annotations

import math
import numbers


def positive(name: str, value, *, allow_zero: bool = False) -> float:
    """``value`` as a float, after checking it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    value = float(value)
    ok = value >= 0 if allow_zero else value > 0
    if not (math.isfinite(value) and ok):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite; got {value}")
    return value


def integer(name: str, value, *, low: int = 1) -> int:
    """``value`` as an int, after checking it is an integer >= ``low``."""
    what = "a positive integer" if low == 1 else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}; got {type(value).__name__}")
    if value < low:
        bound = "> 0" if low == 1 else f">= {low}"
        raise ValueError(f"{name} must be {bound} ({what}); got {value}")
    return int(value)


def seed(value) -> int:
    """A seed: a non-negative integer."""
    return integer("seed", value, low=0)
