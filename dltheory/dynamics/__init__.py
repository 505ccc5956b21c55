"""Deep networks as dynamical systems: ResNets as ODE solvers, stability, reversibility, neural
ODEs.

A residual block ``x_{t+1} = x_t + h f(x_t, theta_t)`` is one forward-Euler step of the ODE
``dx/dt = f(x, theta(t))`` (E 2017; Haber & Ruthotto 2017; Lu et al. 2018); letting the depth grow
with ``h = T / L`` gives a neural ODE (Chen et al. 2018). Theory:

* ``euler``: ResNet blocks as fixed-grid solvers (torchdiffeq) of a linear field with known flow;
* ``stability``: forward stability of the antisymmetric layers of Haber & Ruthotto;
* ``reversible``: the reversible Hamiltonian (leapfrog) network of Chang et al. (2018);
* ``node``: neural ODE classifiers, plain and augmented (Dupont et al. 2019);
* ``costate``: the adjoint state against backprop's deltas.

The adjoint's backward solve on contracting flows is in ``experiments_adjoint``.

Experiments (``experiments``, ``experiments_node``) return frozen dataclasses and register the
chapter's figures under ``dynamics/<name>``.
"""

from dltheory.dynamics.costate import (
    adjoint_recursion,
    adjoint_state,
    backprop_deltas,
    euler_states,
)
from dltheory.dynamics.euler import (
    FIXED_SOLVERS,
    discretisation_errors,
    fit_loglog_slope,
    leading_error_constant,
    linear_test_field,
    residual_stack,
)
from dltheory.dynamics.experiments import (
    SIZES,
    STABILITY_SETTINGS,
    EulerConvergence,
    Reversibility,
    StabilityExperiment,
    StabilitySetting,
    euler_convergence,
    reversibility_experiment,
    sizes,
    stability_experiment,
)
from dltheory.dynamics.experiments_adjoint import (
    AdjointStretch,
    ContractedField,
    adjoint_stretch_experiment,
)
from dltheory.dynamics.experiments_node import (
    AdjointGradient,
    AdjointReconstruction,
    CirclesExperiment,
    CirclesModel,
    CostateExperiment,
    MoonsExperiment,
    adjoint_reconstruction,
    adjoint_vs_backprop,
    circles_experiment,
    costate_experiment,
    moons_experiment,
)
from dltheory.dynamics.node import (
    ADAPTIVE_SOLVERS,
    DATASETS,
    NeuralODEClassifier,
    ODEFunc,
    TrainingHistory,
    accuracy,
    linear_baseline_accuracy,
    make_dataset,
    train_classifier,
    train_classifiers,
    winding_numbers,
)
from dltheory.dynamics.reversible import (
    euler_reversal,
    hamiltonian_forward,
    hamiltonian_inverse,
    hamiltonian_params,
)
from dltheory.dynamics.stability import (
    ACTIVATIONS,
    StabilityVerdict,
    antisymmetric_matrix,
    euler_amplification,
    perturbation_growth,
    stability_analysis,
)

__all__ = [
    # theory
    "FIXED_SOLVERS",
    "linear_test_field",
    "residual_stack",
    "discretisation_errors",
    "fit_loglog_slope",
    "leading_error_constant",
    "ACTIVATIONS",
    "antisymmetric_matrix",
    "euler_amplification",
    "StabilityVerdict",
    "stability_analysis",
    "perturbation_growth",
    "hamiltonian_params",
    "hamiltonian_forward",
    "hamiltonian_inverse",
    "euler_reversal",
    "ADAPTIVE_SOLVERS",
    "DATASETS",
    "ODEFunc",
    "NeuralODEClassifier",
    "TrainingHistory",
    "make_dataset",
    "train_classifier",
    "train_classifiers",
    "accuracy",
    "winding_numbers",
    "linear_baseline_accuracy",
    "euler_states",
    "backprop_deltas",
    "adjoint_recursion",
    "adjoint_state",
    # experiments
    "SIZES",
    "sizes",
    "EulerConvergence",
    "euler_convergence",
    "STABILITY_SETTINGS",
    "StabilitySetting",
    "StabilityExperiment",
    "stability_experiment",
    "Reversibility",
    "reversibility_experiment",
    "AdjointGradient",
    "adjoint_vs_backprop",
    "AdjointReconstruction",
    "adjoint_reconstruction",
    "MoonsExperiment",
    "moons_experiment",
    "CirclesModel",
    "CirclesExperiment",
    "circles_experiment",
    "CostateExperiment",
    "costate_experiment",
    "ContractedField",
    "AdjointStretch",
    "adjoint_stretch_experiment",
]
