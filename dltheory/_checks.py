"""The one input-checking layer of the package (private; every public entry point calls it).

The pattern is torchdiffeq's ``_check_inputs``: each public function validates its arguments once,
at the top, before any maths, by calling the functions below with the *user's* argument name. The
rules are the same everywhere:

* a value of the wrong kind (a string for a number, a float for a count, a bool for anything
  numeric) raises ``TypeError``;
* a value of the right kind but outside the allowed range (negative, zero, NaN, infinite, wrong
  shape, too large to allocate) raises ``ValueError``;
* the message names the argument and the allowed range, e.g.
  ``"depth must be an integer in [1, 100000]; got 0"``.
* work is bounded as well as memory: a call whose estimated operations (steps x chains x size, see
  :func:`work`) exceed :data:`MAX_WORK` is refused before it starts, naming the step argument;
* a run that diverges raises (:func:`finite_state`, naming the step-size argument) instead of
  returning NaN, and a user's callback that returns NaN is named (:func:`finite_output`).

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
    "MAX_WORK",
    "STEP_COST",
    "work",
    "positive_array",
    "spd",
    "distribution",
    "increasing",
    "interval",
    "nonempty",
    "sequence",
    "binary_labels",
    "floating_dtype",
    "device",
    "on_device",
    "finite_output",
    "finite_state",
    "wrap_file_error",
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
    if (
        math.isnan(x)
        or (math.isinf(x) and not allow_inf)
        or not _in_range(x, low, high, low_open, high_open)
    ):
        raise ValueError(
            f"{name} must be a {finite}real "
            f"number{_range_text(low, high, low_open, high_open)}; got {x}"
        )
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
        raise TypeError(
            f"{name} must be a string, one of {', '.join(map(repr, options))}; got {_kind(value)}"
        )
    if value not in options:
        raise ValueError(
            f"unknown {name} {value!r}; valid names are {', '.join(map(repr, options))}"
        )
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
    ok = _elementwise_range(arr, low, high, low_open, high_open)
    if not ok.all():
        bad = arr[~ok].flat[0]
        raise ValueError(
            f"{name} must be{_range_text(low, high, low_open, high_open)}; got a value of {bad}"
        )


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
        if len(shape) != len(shape_spec) or any(
            s is not None and s != d for s, d in zip(shape_spec, shape, strict=False)
        ):
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
    """``value`` (a number, list, numpy array or tensor) as a float64 numpy array, checked
    elementwise.

    Raises:
        TypeError: if the values are not real numbers (strings, bools, complex, objects).
        ValueError: for NaN, infinities (unless ``allow_inf``), values out of range or a wrong
        ``ndim``.
    """
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bool or value.is_complex():
            raise TypeError(f"{name} must hold real numbers; got a {value.dtype} tensor")
        arr = value.detach().cpu().to(torch.float64).numpy()
    else:
        raw = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray([value])
        if raw.dtype.kind not in "iuf":
            raise TypeError(
                f"{name} must be a real number or an array of real numbers; got {_kind(value)} "
                f"with dtype {raw.dtype}"
            )
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
        if t.device.type not in (
            "cpu",
            "cuda",
        ):  # dltheory.device()'s rules; a meta tensor holds no values
            raise ValueError(f"{name} is on device {t.device}; use a tensor on 'cpu' or 'cuda'")
        if dtype is not None or not t.is_floating_point():
            t = t.to(dtype or torch.float64)
    else:
        raw = np.asarray(value) if not isinstance(value, (str, bytes)) else np.asarray([value])
        if raw.dtype.kind not in "iuf":
            raise TypeError(
                f"{name} must be a tensor (or array, list) of real numbers; got {_kind(value)}"
                f" with dtype {raw.dtype}"
            )
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
        if raw.dtype.kind not in "iub" and not (
            raw.dtype.kind == "f" and np.all(raw == np.round(raw))
        ):
            raise TypeError(f"{name} must hold integer class labels; got dtype {raw.dtype}")
        t = torch.as_tensor(raw)
    if t.is_floating_point():
        if not torch.equal(t, t.round()):
            raise TypeError(f"{name} must hold integer class labels; got non-integer values")
    if t.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one label per sample); got shape {tuple(t.shape)}"
        )
    if n is not None and t.shape[0] != n:
        raise ValueError(f"{name} must have one label per sample ({n}); got {t.shape[0]}")
    t = t.long()
    if t.numel() and (t.min() < 0 or t.max() >= n_classes):
        raise ValueError(
            f"{name} must be class labels in [0, {n_classes - 1}]; got values in "
            f"[{int(t.min())}, {int(t.max())}]"
        )
    return t


def same_dtype(**tensors: torch.Tensor) -> torch.dtype:
    """The common dtype of the named tensors; ``TypeError`` naming them when they differ."""
    dtypes = {k: v.dtype for k, v in tensors.items()}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{k} is {str(d).replace('torch.', '')}" for k, d in dtypes.items())
        raise TypeError(f"tensors must share one dtype: {listing}")
    return next(iter(dtypes.values()))


def size(name: str, n_elements: int, *, limit: int = MAX_ELEMENTS) -> int:
    """Reject an allocation of ``n_elements`` numbers (implied by the user's ``name``) above
    ``limit``."""
    if n_elements > limit:
        raise ValueError(
            f"{name} asks for {n_elements:.3g} numbers in one array, more than the limit of "
            f"{limit:.3g} (about {limit * 8 / 2**30:.0f} GiB in float64); use smaller sizes"
        )
    return int(n_elements)


#: The most estimated elementary operations one call may ask for before its step, epoch or depth
#: argument is rejected up front: 10**12 operations are minutes on a GPU and about an hour on one
#: CPU core, ten times the largest run of any chapter at ``DLTHEORY_SCALE=full``. A typo such as
#: ``n_steps=10**12`` then fails at once with the argument named, instead of hanging.
MAX_WORK = 10**12
#: The operations one Python-level step is counted as at least (a loop iteration with a few torch
#: calls costs about 10-100 microseconds, the time of ~2 x 10**5 floating-point operations), so that
#: a loop over tiny arrays is bounded too.
STEP_COST = 2 * 10**5


def work(
    name: str, steps: float, per_step: float = 1, *, limit: float = MAX_WORK, sizes: str = ""
) -> float:
    """Reject a run of ``steps`` steps (the user's ``name``) of ``per_step`` operations each above
    ``limit``.

    The estimate is ``steps x max(per_step, STEP_COST)``, where ``per_step`` is chains x size (the
    numbers touched by one step); it is checked before any work is done.

    Example:
        >>> from dltheory import _checks as checks
        >>> checks.work("n_steps", 10**12, 4)
        Traceback (most recent call last):
            ...
        ValueError: n_steps asks for about 1e+12 steps x ... more than the limit of 1e+12 ...
    """
    each = max(float(per_step), STEP_COST)
    ops = float(steps) * each
    if not ops <= limit:
        of = f" ({sizes})" if sizes else ""
        raise ValueError(
            f"{name} asks for about {float(steps):.3g} steps x {each:.3g} operations{of} = "
            f"{ops:.3g} "
            f"operations, more than the limit of {float(limit):.3g} "
            "(dltheory._checks.MAX_WORK); use "
            f"fewer steps or smaller sizes"
        )
    return ops


def positive_array(
    name: str, value: Any, *, ndim: int | Sequence[int] | None = None, allow_zero: bool = False
) -> np.ndarray:
    """``value`` as a float64 array of finite numbers > 0 (>= 0 with ``allow_zero``)."""
    return real_array(name, value, low=0.0, low_open=not allow_zero, ndim=ndim)


def spd(name: str, value: Any, *, psd: bool = False) -> np.ndarray:
    """``value`` as a float64 symmetric positive definite (semi-definite with ``psd``) square
    matrix."""
    m = real_array(name, value, ndim=2)
    if m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{name} must be a square matrix; got shape {m.shape}")
    size(name, m.size)
    if not np.allclose(m, m.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(m).max())):
        raise ValueError(f"{name} must be symmetric")
    lam = np.linalg.eigvalsh(m)
    if (lam.min() < -1e-12 * max(1.0, lam.max())) if psd else (lam.min() <= 0):
        kind = "positive semi-definite" if psd else "positive definite"
        raise ValueError(f"{name} must be {kind}; its smallest eigenvalue is {lam.min():.3g}")
    return m


def distribution(
    name: str, value: Any, *, ndim: int | Sequence[int] | None = None, axis=None, atol: float = 1e-6
) -> np.ndarray:
    """``value`` as float64 probabilities: finite, >= 0 and summing to 1 (over ``axis``, default
    all)."""
    p = real_array(name, value, low=0.0, ndim=ndim)
    total = p.sum(axis=axis)
    if not np.all(np.abs(total - 1.0) <= atol):
        bad = float(np.asarray(total).flat[int(np.argmax(np.abs(np.asarray(total) - 1.0)))])
        raise ValueError(f"{name} must be probabilities summing to 1; they sum to {bad:.6g}")
    return p


def increasing(name: str, value: Any, *, strict: bool = True, min_len: int = 2) -> np.ndarray:
    """``value`` as a one-dimensional float64 grid, finite and (strictly) increasing."""
    g = real_array(name, value, ndim=1)
    if g.size < min_len:
        raise ValueError(f"{name} must hold at least {min_len} points; got {g.size}")
    step = np.diff(g)
    if (step <= 0).any() if strict else (step < 0).any():
        raise ValueError(
            f"{name} must be {'strictly ' if strict else ''}increasing (a sorted grid)"
        )
    return g


def sequence(name: str, value: Any, *, min_len: int = 0, length: int | None = None) -> list:
    """``value`` as a list, after checking it is a list, tuple or 1-D array of ``length`` (or >=
    ``min_len``) items."""
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 1:
        value = list(value)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list or tuple; got {_kind(value)}")
    if length is not None and len(value) != length:
        raise ValueError(f"{name} must hold {length} items; got {len(value)}")
    if len(value) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} items; got {len(value)}")
    return list(value)


def nonempty(name: str, value: Any, *, axis: int = 0) -> Any:
    """``value`` after checking it holds at least one sample along ``axis`` (an empty batch gives
    NaN)."""
    n = value.shape[axis] if value.ndim else 1
    if n == 0:
        raise ValueError(
            f"{name} must hold at least one sample; got an empty batch of shape "
            f"{tuple(value.shape)}"
        )
    return value


def interval(name: str, value: Any) -> tuple[float, float]:
    """``value`` as a pair ``(low, high)`` of finite reals with ``low < high``."""
    arr = real_array(name, value, ndim=1)
    if arr.shape != (2,) or not arr[0] < arr[1]:
        raise ValueError(f"{name} must be a pair (low, high) with low < high; got {arr.tolist()}")
    return float(arr[0]), float(arr[1])


def binary_labels(name: str, value: Any) -> np.ndarray:
    """``value`` as a float64 array of 0/1 labels."""
    y = real_array(name, value)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError(
            f"{name} must hold binary labels (0 or 1); got a value of "
            f"{y[~np.isin(y, (0.0, 1.0))].flat[0]}"
        )
    return y


def floating_dtype(name: str, value: Any) -> torch.dtype:
    """``value`` after checking it is a floating torch dtype (integers would give integer nodes or
    data)."""
    if not isinstance(value, torch.dtype):
        raise TypeError(
            f"{name} must be a torch dtype such as torch.float64; got {_kind(value)} {value!r}"
        )
    if not value.is_floating_point:
        raise ValueError(
            f"{name} must be a floating dtype (torch.float32 or torch.float64); got {value}"
        )
    return value


def device(name: str, value: Any) -> torch.device | None:
    """``None`` or a device allowed by :func:`dltheory.device` (``cpu``, or ``cuda[:N]`` when
    present)."""
    if value is None:
        return None
    if not isinstance(value, (str, torch.device)):
        raise TypeError(
            f"{name} must be None, a string such as 'cpu' or a torch.device; got {_kind(value)}"
        )
    try:
        dev = torch.device(value)
    except RuntimeError:
        raise ValueError(
            f"{name}={value!r} is not a device; use 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name}={value!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{name}={value!r} was requested but CUDA is not available on this machine"
        )
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"{name}={value!r}: there are only {torch.cuda.device_count()} CUDA devices"
        )
    return dev


def on_device(name: str, value: torch.Tensor, dev: torch.device | str | None) -> torch.Tensor:
    """``value`` after checking it lives on ``dev`` (any of ``cpu``/``cuda`` when ``dev`` is
    None)."""
    if not isinstance(value, torch.Tensor):
        return value
    if value.device.type not in ("cpu", "cuda"):
        raise ValueError(f"{name} is on device {value.device}; use a tensor on 'cpu' or 'cuda'")
    if dev is not None and torch.device(dev).type != value.device.type:
        raise ValueError(
            f"{name} is on {value.device} but the computation runs on {torch.device(dev)}; move it "
            f"with .to(device)"
        )
    return value


def finite_output(name: str, value: Any) -> Any:
    """``value`` (what a user's callback ``name`` returned) after checking it holds no NaN or
    infinity."""
    if isinstance(value, torch.Tensor):
        ok = (
            bool(torch.isfinite(value).all())
            if value.is_floating_point() or value.is_complex()
            else True
        )
    else:
        arr = np.asarray(value)
        ok = bool(np.isfinite(arr).all()) if arr.dtype.kind in "fc" else True
    if not ok:
        raise ValueError(f"{name} returned NaN or infinity; it must return finite values")
    return value


def finite_state(name: str, value: Any, arg: float | str, *, step: int | None = None) -> Any:
    """``value`` (an iterate driven by the step size ``name`` = ``arg``) after checking it is
    finite.

    A non-finite state means the run diverged: the error names the step-size argument, its value and
    the step reached, instead of returning NaN.
    """
    if isinstance(value, torch.Tensor):
        ok = bool(torch.isfinite(value).all())
    else:
        ok = bool(np.isfinite(np.asarray(value, dtype=float)).all())
    if not ok:
        at = "" if step is None else f" at step {step}"
        raise ValueError(
            f"the iteration diverged{at} (non-finite values) with {name}={arg}; use a "
            f"smaller {name}"
        )
    return value


def wrap_file_error(path, what: str, exc: OSError) -> OSError:
    """An ``OSError`` of the same kind whose message names ``path`` and what was being
    written/read."""
    reason = exc.strerror or str(exc)
    return (
        type(exc)(exc.errno, f"cannot {what} {str(path)!r}: {reason}")
        if exc.errno
        else OSError(f"cannot {what} {str(path)!r}: {reason}")
    )
