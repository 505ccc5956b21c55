"""Meta-learning as control of the training dynamics: unrolled costates, MAML, learned schedules."""

from dltheory.meta.maml import (
    SinusoidTasks,
    adapt,
    adaptation_curves,
    init_net,
    maml_train,
    meta_gradient,
    meta_gradient_vmap,
    net,
    pretrain,
    sample_tasks,
)
from dltheory.meta.schedule import (
    decay_exponent,
    expected_final_loss,
    greedy_optimal_schedule,
    learn_schedule,
    sde_optimal_schedule,
    sde_switch_time,
    unrolled_sgd_loss,
)
from dltheory.meta.unroll import meta_costates, meta_gradient_autograd, unroll_quadratic
from dltheory.meta.unroll import meta_gradient as unrolled_meta_gradient

__all__ = [
    "SinusoidTasks",
    "adapt",
    "adaptation_curves",
    "init_net",
    "maml_train",
    "meta_gradient",
    "meta_gradient_vmap",
    "net",
    "pretrain",
    "sample_tasks",
    "decay_exponent",
    "expected_final_loss",
    "greedy_optimal_schedule",
    "learn_schedule",
    "sde_optimal_schedule",
    "sde_switch_time",
    "unrolled_sgd_loss",
    "meta_costates",
    "meta_gradient_autograd",
    "unroll_quadratic",
    "unrolled_meta_gradient",
]
