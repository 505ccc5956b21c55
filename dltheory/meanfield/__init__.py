"""Mean field theory of signal propagation in wide random networks (Poole et al. 2016; Schoenholz et al.
2017; Pennington, Schoenholz & Ganguli 2017).

``activations`` (names and derivatives), ``quadrature`` (Gauss--Hermite), ``maps`` (length and correlation
maps, fixed points, chi_1, depth scales, critical line), ``finite`` (finite-width networks, fluctuations and
gradients), ``trainability`` (training over a depth x sigma_w^2 grid), ``spectra`` (input-output Jacobian
spectra and dynamical isometry), ``plots`` (the chapter's registered figures).
"""

from dltheory.meanfield.activations import ACTIVATIONS, Activation, get_activation
from dltheory.meanfield.maps import (
    c_star,
    chi1,
    chi_c,
    correlation_map,
    critical_line,
    critical_line_interpolated,
    iterate_maps,
    length_map,
    q_star,
    xi_c,
    xi_q,
)
from dltheory.meanfield.quadrature import gauss_expect, gauss_expect_2d, hermite_rule
from dltheory.meanfield import plots  # noqa: F401  (registers the chapter's figures)

__all__ = [
    "ACTIVATIONS", "Activation", "get_activation", "gauss_expect", "gauss_expect_2d", "hermite_rule",
    "length_map", "q_star", "correlation_map", "c_star", "chi1", "chi_c", "xi_q", "xi_c", "critical_line", "critical_line_interpolated",
    "iterate_maps",
]
