"""dltheory: deep learning theory as dynamical systems and optimal control, checked by experiment.

The package behind the executable book. Topic modules compute (``dynamics``, ``meanfield``,
``control``, ...); ``figures`` and ``claims`` connect them to the book.
"""

from dltheory import claims, figures
from dltheory.device import device, scale

__all__ = ["claims", "figures", "device", "scale", "__version__"]
__version__ = "0.1.0"
