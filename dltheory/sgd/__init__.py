"""The stochastic dynamics of SGD: modified equations, stationary laws, escape, flat minima and noise.

Theory modules: ``linear`` (quadratics, Lyapunov equations, stochastic modified equations), ``escape``
(Gibbs law, Kramers escape, anisotropic noise), ``bayes`` (constant SGD as approximate inference),
``entropy`` (local entropy, Hamilton–Jacobi, Entropy-SGD), ``nets`` (MLPs on digits: sharpness, gradient
noise, rescaling). The chapter's experiments are in ``experiments*.py``.
"""

from dltheory.sgd import bayes, entropy, escape, linear, nets
from dltheory.sgd.bayes import *  # noqa: F401,F403
from dltheory.sgd.entropy import *  # noqa: F401,F403
from dltheory.sgd.escape import *  # noqa: F401,F403
from dltheory.sgd.linear import *  # noqa: F401,F403
from dltheory.sgd.nets import *  # noqa: F401,F403

__all__ = [*linear.__all__, *escape.__all__, *bayes.__all__, *entropy.__all__, *nets.__all__,
           "linear", "escape", "bayes", "entropy", "nets"]
