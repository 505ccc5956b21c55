"""Argument checks shared by the dynamics modules (private)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dltheory import _checks


def _positive(name: str, value, *, integer: bool = False) -> None:
    if integer:
        _checks.integer(name, value)
    else:
        _checks.positive(name, value)


def _solver(method: str, allowed: Sequence[str]) -> str:
    if method not in allowed:
        raise ValueError(f"unknown solver {method!r}; valid names are {', '.join(allowed)}")
    return method


def _square(name: str, A: torch.Tensor) -> None:
    if not isinstance(A, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor; got {type(A).__name__}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ValueError(f"{name} must be a square matrix (..., d, d); got shape {tuple(A.shape)}")
