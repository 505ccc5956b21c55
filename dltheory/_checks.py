"""The one input-checking layer of the package (private; every public entry point calls it).

The pattern is torchdiffeq's ``_check_inputs``: each public function validates its arguments once, at the
top, before any maths, by calling the functions below with the *user's* argument name. The rules are the
same everywhere:

* a value of the wrong kind (a string for a number, a float for a count, a bool for anything numeric)
  raises ``TypeError``;
* a value of the right kind but outside the allowed range (negative, zero, NaN, infinite, wrong shape,
  too large to allocate) raises ``ValueError``;
* the message names the argument and the allowed range, e.g.
  ``"depth must be an integer in [1, 100000]; got 0"``.

Every check returns the value converted to the type the maths uses (``float``, ``int``, a float64
``numpy.ndarray`` or a ``torch.Tensor``), so a caller writes ``lr = checks.real("lr", lr, low=0,
low_open=True)`` and never validates twice.

Example:
    >>> from dltheory import _checks as checks
    >>> checks.integer("depth", 3)
    3
    >>> checks.integer("depth", 2.0)
    Traceback (most recent call last):
        ...
    TypeError: depth must be an integer >= 1; got float 2.0
    >>> checks.real("lr", -1.0, low=0.0, low_open=True)
    Traceback (most recent call last):
        ...
    ValueError: lr must be a finite real number > 0; got -1.0
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "MAX_ELEMENTS",
    "real",
    "positive",
    "probability",
    "integer",
    "seed",
    "boolean",
    "choice",
    "function",
    "real_array",
    "tensor",
    "labels",
    "same_dtype",
    "size",
]

#: The most elements one allocation may have before a size argument is rejected up front (2**28
#: float64 numbers are 2 GiB), so that a typo in a size fails at once instead of exhausting memory.
MAX_ELEMENTS = 2**28


def _kind(value: Any) -> str:
    return type(value).__name__


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range_text(low, high, low_open: bool, high_open: bool) -> str:
    low, high = (None if v is None else _num(v) for v in (low, high))
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" {'<' if high_open else '<='} {high}"
    return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"


def _in_range(x, low, high, low_open, high_open) -> bool:
    ok = True
    if low is not None:
        ok = ok and (x > low if low_open else x >= low)
    if high is not None:
        ok = ok and (x < high if high_open else x <= high)
    return bool(ok)


def _is_real_scalar(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        return True
    if isinstance(value, torch.Tensor) and value.ndim == 0:
        return value.dtype != torch.bool and not value.is_complex()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.dtype.kind in "iuf"
    return False


def real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """``value`` as a float, after checking it is a real number in the allowed range.

    Args:
        name: the user's argument name, used in the message.
        value: the argument.
        low, high: bounds (``None``: unbounded on that side).
        low_open, high_open: whether the bound itself is excluded.
        allow_inf: accept ``+-inf`` (when in range); NaN is never accepted.

    Raises:
        TypeError: if ``value`` is not a real scalar (bools and strings are not).
        ValueError: if it is NaN, infinite (unless ``allow_inf``) or out of range.
    """
    if not _is_real_scalar(value):
        raise TypeError(f"{name} must be a real number; got {_kind(value)} {value!r}")
    x = float(value)
    finite = "" if allow_inf else "finite "
    if math.isnan(x) or (math.isinf(x) and not allow_inf) or not _in_range(x, low, high, low_open, high_open):
        raise ValueError(f"{name} must be a {finite}real number{_range_text(low, high, low_open, high_open)}; got {x}")
    return x


def positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """``value`` as a float, after checking it is finite and > 0 (>= 0 with ``allow_zero``)."""
    return real(name, value, low=0.0, low_open=not allow_zero)


def probability(name: str, value: Any, *, open_low: bool = False, open_high: bool = False) -> float:
    """``value`` as a float in [0, 1] (ends excluded on request)."""
    return real(name, value, low=0.0, high=1.0, low_open=open_low, high_open=open_high)


def integer(name: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int, after checking it is an integer in ``[low, high]``.

    A float such as ``2.0`` is a ``TypeError``: counts are integers, and accepting ``2.5`` silently
    would be worse than asking for ``2``.
    """
    what = f"an integer{_range_text(low, high, False, False)}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be {what}; got {_kind(value)} {value!r}")
    if not _in_range(int(value), low, high, False, False):
        raise ValueError(f"{name} must be {what}; got {value}")
    return int(value)


def seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**63 - 1]."""
    return integer(name, value, low=0, high=2**63 - 1)


def boolean(name: str, value: Any) -> bool:
    """``value`` as a bool, after checking it is one (``0``/``1`` are not)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {_kind(value)} {value!r}")
    return bool(value)


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """``value`` after checking it is one of ``options`` (the message lists them)."""
    options = list(options)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(map(repr, options))}; got {_kind(value)}")
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; valid names are {', '.join(map(repr, options))}")
    return value


def function(name: str, value: Any) -> Callable:
    """``value`` after checking it is callable."""
    if not callable(value):
        raise TypeError(f"{name} must be callable; got {_kind(value)}")
    return value


def _check_values(name, arr, low, high, low_open, high_open, allow_inf):
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
    if not allow_inf and not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; got a value of {arr[~np.isfinite(arr)].flat[0]}")
    if (low is not None or high is not None) and not _in_range(arr, low, high, low_open, high_open):
        bad = arr[~(_elementwise_range(arr, low, high, low_open, high_open))].flat[0]
        raise ValueError(f"{name} must be{_range_text(low, high, low_open, high_open)}; got a value of {bad}")


def _elementwise_range(arr, low, high, low_open, high_open):
    ok = np.ones(arr.shape, dtype=bool)
    if low is not None:
        ok &= arr > low if low_open else arr >= low
    if high is not None:
        ok &= arr < high if high_open else arr <= high
    return ok


def _shape_check(name, shape, ndim, shape_spec):
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(shape) not in allowed:
            dims = " or ".join(map(str, allowed))
            raise ValueError(f"{name} must have {dims} dimension(s); got shape {tuple(shape)}")
    if shape_spec is not None:
        if len(shape) != len(shape_spec) or any(s is not None and s != d for s, d in zip(shape_spec, shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape_spec) + ")"
            raise ValueError(f"{name} must have shape {want}; got {tuple(shape)}")


def real_array(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    ndim: int | Sequence[int] | None = None,
) -> np.ndarray:
    """``value`` (a number, list, numpy array or tensor) as a float64 numpy array, checked elementwise.

    Raises:
        TypeError: if the values are not real numbers (strings, bools, complex, objects).
        ValueError: for NaN, infinities (unless ``allow_inf``), values out of range or a wrong ``ndim``.
    """
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must hold real numbers; got a {value.dtype} tensor")
        arr = value.detach().cpu().to(torch.float64).numpy()
    else:
        raw = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray([value])
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a real number or an array of real numbers; got {_kind(value)} "
                            f"with dtype {raw.dtype}")
        arr = raw.astype(np.float64)
    _shape_check(name, arr.shape, ndim, None)
    _check_values(name, arr, low, high, low_open, high_open, allow_inf)
    return arr


def tensor(
    name: str,
    value: Any,
    *,
    dtype: torch.dtype | None = None,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    finite: bool = True,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``value`` as a floating-point tensor, after checking its kind, shape and values.

    Lists and numpy arrays are converted (to ``dtype``, default float64), so a user may pass either;
    an existing floating tensor keeps its dtype unless ``dtype`` is given.

    Args:
        name: the user's argument name.
        value: a tensor, numpy array, list or number.
        dtype: the floating dtype to convert to.
        ndim: allowed number(s) of dimensions.
        shape: required shape; ``None`` entries match any size.
        finite: reject NaN and infinities.
        device: move the result there.

    Raises:
        TypeError: if the values are not real numbers.
        ValueError: for a wrong shape or non-finite values.
    """
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must hold real numbers; got a {value.dtype} tensor")
        t = value
        if dtype is not None or not t.is_floating_point():
            t = t.to(dtype or torch.float64)
    else:
        raw = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray([value])
        if raw.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be a tensor (or array, list) of real numbers; got {_kind(value)}"
                            f" with dtype {raw.dtype}")
        t = torch.as_tensor(raw.astype(np.float64), dtype=dtype or torch.float64)
    _shape_check(name, tuple(t.shape), ndim, shape)
    if finite and t.numel() and not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return t.to(device) if device is not None else t


def labels(name: str, value: Any, *, n_classes: int, n: int | None = None) -> torch.Tensor:
    """Class labels as a long tensor, after checking they are integers in ``[0, n_classes)``.

    Args:
        n: the number of samples the labels must match, when known.
    """
    if isinstance(value, torch.Tensor):
        t = value
    else:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iub" and not (raw.dtype.kind == "f" and np.all(raw == np.round(raw))):
            raise TypeError(f"{name} must hold integer class labels; got dtype {raw.dtype}")
        t = torch.as_tensor(raw)
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise TypeError(f"{name} must hold integer class labels; got non-integer values")
    if t.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one label per sample); got shape {tuple(t.shape)}")
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} must have one label per sample ({n}); got {t.shape[0]}")
    t = t.long()
    if t.numel() and (t.min() < 0 or t.max() >= n_classes):
        raise ValueError(f"{name} must be class labels in [0, {n_classes - 1}]; got values in "
                         f"[{int(t.min())}, {int(t.max())}]")
    return t


def same_dtype(**tensors: torch.Tensor) -> torch.dtype:
    """The common dtype of the named tensors; ``TypeError`` naming them when they differ."""
    dtypes = {k: v.dtype for k, v in tensors.items()}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{k} is {str(d).replace('torch.', '')}" for k, d in dtypes.items())
        raise TypeError(f"tensors must share one dtype: {listing}")
    return next(iter(dtypes.values()))


def size(name: str, n_elements: int, *, limit: int = MAX_ELEMENTS) -> int:
    """Reject an allocation of ``n_elements`` numbers (implied by the user's ``name``) above ``limit``."""
    if n_elements > limit:
        raise ValueError(f"{name} asks for {n_elements:.3g} numbers in one array, more than the limit of "
                         f"{limit:.3g} (about {limit * 8 / 2**30:.0f} GiB in float64); use smaller sizes")
    return int(n_elements)


def nonnegative_array(name: str, value: Any, *, strict: bool = False, ndim: int | Sequence[int] | None = None) -> np.ndarray:
    """``value`` as a finite float64 array whose entries are all ``>= 0`` (``> 0`` with ``strict``).

    (Appended for the extensions chapter: ``real_array(..., low=...)`` on a multi-element array raises
    numpy's "truth value of an array is ambiguous" from ``_in_range``; this check does the elementwise
    comparison itself.)

    Example:
        >>> nonnegative_array("eps", [0.1, 0.2], strict=True).tolist()
        [0.1, 0.2]
    """
    arr = real_array(name, value, ndim=ndim)
    bad = arr <= 0 if strict else arr < 0
    if bad.any():
        raise ValueError(f"{name} must be {'> 0' if strict else '>= 0'} everywhere; got a value of {arr[bad].flat[0]}")
    return arr
