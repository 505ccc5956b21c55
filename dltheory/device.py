"""Choosing where tensors live: CUDA when there is one, else the CPU.

Chapters call :func:`device` once and pass the result to the package, so the same chapter runs on a
laptop, on this project's CPU-only CI and on a Colab GPU without edits.
"""

from __future__ import annotations

import os

import torch

__all__ = ["device", "scale", "ENV_VAR", "SCALE_ENV_VAR", "SCALES"]

#: Environment variable that overrides the automatic choice (``cpu``, ``cuda`` or ``cuda:N``).
ENV_VAR = "DLTHEORY_DEVICE"
#: Environment variable choosing the size of the experiments: ``book`` (default) or ``full``.
SCALE_ENV_VAR = "DLTHEORY_SCALE"
#: The scales an experiment can run at. ``book``: the sizes the book is built with, on the CPU in
#: minutes, figures rebuild identically. ``full``: the papers' sizes, meant for a GPU.
SCALES = ("book", "full")


def device(prefer: str | None = None) -> torch.device:
    """Return the device the experiments should run on.

    The order of precedence is: the ``prefer`` argument, then the ``DLTHEORY_DEVICE`` environment
    variable, then CUDA when ``torch.cuda.is_available()``, else the CPU.

    Args:
        prefer: ``None`` (automatic), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        The chosen :class:`torch.device`.

    Raises:
        TypeError: if ``prefer`` is not a string or ``None``.
        ValueError: if the requested device is not ``cpu``/``cuda[:N]``, or CUDA is requested but
            unavailable.

    Example:
        >>> import dltheory
        >>> dltheory.device("cpu")
        device(type='cpu')
    """
    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(
            f"prefer must be a string such as 'cpu' or 'cuda', or None; got {type(prefer).__name__}"
        )
    choice = prefer if prefer is not None else os.environ.get(ENV_VAR) or None
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(choice)
    except RuntimeError as exc:
        source = "prefer" if prefer is not None else ENV_VAR
        raise ValueError(
            f"{source}={choice!r} is not a device; use 'cpu', 'cuda' or 'cuda:N'"
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {choice!r} is not supported; use 'cpu', 'cuda' or 'cuda:N'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {choice!r} was requested but CUDA is not available on this machine"
        )
    return dev


def scale(prefer: str | None = None) -> str:
    """Return the scale the chapters run their experiments at: ``"book"`` or ``"full"``.

    ``prefer`` wins, then the ``DLTHEORY_SCALE`` environment variable, then ``"book"``. Every
    chapter reads it once (``SCALE = dltheory.scale()``) and passes it to its experiments, which
    choose their sizes from it; the claims checked are the same at both scales.

    Raises:
        TypeError: if ``prefer`` is not a string or ``None``.
        ValueError: if the scale is not one of :data:`SCALES`.

    Example:
        >>> import dltheory
        >>> dltheory.scale("book")
        'book'
    """
    if prefer is not None and not isinstance(prefer, str):
        raise TypeError(f"prefer must be 'book', 'full' or None; got {type(prefer).__name__}")
    choice = prefer if prefer is not None else (os.environ.get(SCALE_ENV_VAR) or "book")
    if choice not in SCALES:
        source = "prefer" if prefer is not None else SCALE_ENV_VAR
        raise ValueError(f"{source}={choice!r} is not a scale; use one of {', '.join(SCALES)}")
    return choice
