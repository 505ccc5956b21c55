"""dltheory: deep learning theory as dynamical systems and optimal control, checked by experiment.

The package behind the executable book. Topic modules compute (``dynamics``, ``meanfield``,
``control``, ...); ``figures`` and ``claims`` connect them to the book.
"""

from dltheory import claims, figures
from dltheory.device import device, scale

__all__ = ["claims", "figures", "device", "scale", "__version__"]
try:  # the one version number lives in pyproject.toml
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    __version__ = _version("dltheory")
except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
    __version__ = "0+unknown"
