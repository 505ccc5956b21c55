"""Mean field theory of signal propagation in wide random networks (Poole et al. 2016; Schoenholz et
al. 2017; Pennington, Schoenholz & Ganguli 2017): the public front door.

Theory: ``activations`` (names and derivatives), ``quadrature`` (Gauss--Hermite, Mehler),
``kernels`` (the Gaussian integrals, closed forms for ReLU/erf, split at kinks), ``maps`` (length
and correlation maps, fixed points, chi_1, depth scales, critical line), ``finite`` (finite-width
networks, fluctuations, gradients, depth-scale fits), ``trainability`` (training over a depth x
sigma_w^2 grid), ``spectra`` (input-output Jacobian spectra), ``reference`` (independent scipy-quad
references). ``experiments`` runs the chapter's experiments and registers its figures; it is not
imported here.
"""

from dltheory.meanfield.activations import ACTIVATIONS, Activation, get_activation
from dltheory.meanfield.finite import (
    DecayFit,
    FluctuationTheory,
    Simulation,
    decay_length,
    fluctuation_theory,
    log_rate,
    simulate,
)
from dltheory.meanfield.maps import (
    MapTrajectory,
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
from dltheory.meanfield.spectra import (
    IsometryPrediction,
    isometry_prediction,
    jacobian_spectrum,
    linear_gaussian_variance_exact,
    normalised_variance,
)
from dltheory.meanfield.trainability import (
    TrainGrid,
    load_digits_tensor,
    max_trainable_depth,
    train_grid,
)

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "get_activation",
    "gauss_expect",
    "gauss_expect_2d",
    "hermite_rule",
    "length_map",
    "q_star",
    "correlation_map",
    "c_star",
    "chi1",
    "chi_c",
    "xi_q",
    "xi_c",
    "critical_line",
    "critical_line_interpolated",
    "iterate_maps",
    "MapTrajectory",
    "simulate",
    "Simulation",
    "fluctuation_theory",
    "FluctuationTheory",
    "log_rate",
    "decay_length",
    "DecayFit",
    "isometry_prediction",
    "IsometryPrediction",
    "jacobian_spectrum",
    "linear_gaussian_variance_exact",
    "normalised_variance",
    "train_grid",
    "TrainGrid",
    "max_trainable_depth",
    "load_digits_tensor",
]
