"""Deep networks as dynamical systems: ResNets as ODE solvers, stability, reversibility, neural ODEs.

A residual block ``x_{t+1} = x_t + h f(x_t, theta_t)`` is one forward-Euler step of the ODE
``dx/dt = f(x, theta(t))`` (E 2017; Haber & Ruthotto 2017; Lu et al. 2018); letting the depth grow with
``h = T / L`` gives a neural ODE (Chen et al. 2018). The chapter ``book/dynamics.md`` calls:

* ``euler``: :func:`linear_test_field`, :func:`residual_stack`, :func:`discretisation_errors`: ResNet
  blocks as fixed-grid solvers (torchdiffeq) of a linear field with known flow ``expm(A T)``;
* ``stability``: :func:`antisymmetric_matrix`, :func:`euler_amplification`, :func:`stability_analysis`,
  :func:`perturbation_growth`: forward stability of the antisymmetric layers of Haber & Ruthotto;
* ``reversible``: :func:`hamiltonian_forward`, :func:`hamiltonian_inverse`: the reversible Hamiltonian
  (leapfrog) network of Chang et al. (2018);
* ``node``: :class:`ODEFunc`, :class:`NeuralODEClassifier`, :func:`train_classifier`,
  :func:`make_dataset`: neural ODEs over torchdiffeq (plain and augmented, Dupont et al. 2019) on
  scikit-learn's ``make_moons`` and ``make_circles``;
* ``costate``: :func:`adjoint_vs_backprop`, :func:`adjoint_state`, :func:`backprop_deltas`: the adjoint
  state against backprop's deltas.

Every experiment of the chapter is a seeded function; its figures are registered under
``dynamics/<name>``.
"""

from dltheory.dynamics.costate import adjoint_state, adjoint_vs_backprop, backprop_deltas, costate_experiment
from dltheory.dynamics.euler import (
    FIXED_SOLVERS,
    discretisation_errors,
    euler_convergence,
    fit_loglog_slope,
    linear_test_field,
    residual_stack,
)
from dltheory.dynamics.node import (
    ADAPTIVE_SOLVERS,
    NeuralODEClassifier,
    ODEFunc,
    accuracy,
    circles_experiment,
    make_dataset,
    moons_experiment,
    train_classifier,
    winding_numbers,
)
from dltheory.dynamics.reversible import (
    hamiltonian_forward,
    hamiltonian_inverse,
    hamiltonian_params,
    reversibility_experiment,
)
from dltheory.dynamics.stability import (
    StabilityVerdict,
    antisymmetric_matrix,
    euler_amplification,
    perturbation_growth,
    stability_analysis,
    stability_experiment,
)

__all__ = [
    "FIXED_SOLVERS", "ADAPTIVE_SOLVERS", "linear_test_field", "residual_stack", "discretisation_errors",
    "fit_loglog_slope", "euler_convergence", "accuracy", "antisymmetric_matrix", "euler_amplification",
    "stability_analysis", "StabilityVerdict", "perturbation_growth", "stability_experiment",
    "hamiltonian_params", "hamiltonian_forward", "hamiltonian_inverse", "reversibility_experiment", "ODEFunc",
    "NeuralODEClassifier", "make_dataset", "train_classifier", "adjoint_vs_backprop", "adjoint_state",
    "backprop_deltas", "costate_experiment", "winding_numbers", "moons_experiment", "circles_experiment",
]
