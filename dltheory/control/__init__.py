"""Training as optimal control: Pontryagin costates, LQ control (discrete and continuous time), DDP,
the method of successive approximations and the learning rate as a control.

Theory lives in ``pmp`` (the residual network as a control system), ``lq`` (Riccati, Pontryagin, the
Riccati ODE), ``ddp`` (DDP and iLQR), ``msa`` (MSA, extended MSA, ternary weights) and ``lr`` (the
stochastic modified equation and cSGD); the chapter's experiments and figures are in
``experiments`` and ``experiments_training``.
"""

from dltheory.control import ddp, experiments, experiments_training, lq, lr, msa, pmp
from dltheory.control.ddp import (
    DDPResult,
    LQProblem,
    Pendulum,
    first_order_step,
    model_agreement,
    newton_step,
    quadratic_ratios,
)
from dltheory.control.ddp import (
    ddp as solve_ddp,
)
from dltheory.control.experiments import (
    CostateCheck,
    DDPConvergence,
    FirstOrderCheck,
    LQThreeWays,
    RiccatiContinuum,
    costate_check,
    ddp_convergence,
    first_order_check,
    lq_three_ways,
    riccati_continuum,
)
from dltheory.control.experiments_training import (
    CSGDExperiment,
    LRSchedule,
    MSAExperiment,
    MSASizes,
    TernaryExperiment,
    csgd_experiment,
    lr_schedule_experiment,
    msa_experiment,
    msa_sizes,
    ternary_experiment,
)
from dltheory.control.lq import dare, euler_lq, lq_cost, lq_pmp, lq_rollout, riccati, riccati_ode
from dltheory.control.msa import (
    MSARun,
    TernaryRun,
    TrainRun,
    accuracy,
    augmented_hamiltonian,
    gradient_train,
    msa_train,
    ternary_msa_train,
)
from dltheory.control.pmp import (
    NetworkProblem,
    ParamPair,
    ResNetControl,
    costate_gradient_gap,
    costates,
    digits_data,
    forward_states,
    hamiltonian,
    hamiltonian_grads,
    init_params,
    readout,
    total_loss,
)

__all__ = [
    # modules
    "ddp",
    "experiments",
    "experiments_training",
    "lq",
    "lr",
    "msa",
    "pmp",
    # theory
    "ResNetControl",
    "ParamPair",
    "NetworkProblem",
    "init_params",
    "forward_states",
    "costates",
    "hamiltonian",
    "hamiltonian_grads",
    "total_loss",
    "costate_gradient_gap",
    "digits_data",
    "readout",
    "riccati",
    "dare",
    "lq_rollout",
    "lq_cost",
    "lq_pmp",
    "riccati_ode",
    "euler_lq",
    "LQProblem",
    "Pendulum",
    "DDPResult",
    "solve_ddp",
    "first_order_step",
    "newton_step",
    "quadratic_ratios",
    "model_agreement",
    "MSARun",
    "TrainRun",
    "TernaryRun",
    "augmented_hamiltonian",
    "msa_train",
    "gradient_train",
    "ternary_msa_train",
    "accuracy",
    # experiments
    "CostateCheck",
    "LQThreeWays",
    "RiccatiContinuum",
    "DDPConvergence",
    "FirstOrderCheck",
    "costate_check",
    "lq_three_ways",
    "riccati_continuum",
    "ddp_convergence",
    "first_order_check",
    "MSASizes",
    "MSAExperiment",
    "TernaryExperiment",
    "LRSchedule",
    "CSGDExperiment",
    "msa_sizes",
    "msa_experiment",
    "ternary_experiment",
    "lr_schedule_experiment",
    "csgd_experiment",
]
