"""Adversarial training as a differential game: first-layer costates (YOPO) against PGD."""

from dltheory.adversarial.mlp import (
    PassCounter,
    costates,
    first_layer_costate,
    first_layer_input_gradient,
    forward,
    init_mlp,
    input_gradient,
    layer_flops,
    loss,
    weight_gradients,
)
from dltheory.adversarial.training import (
    accuracy,
    adversarial_step,
    adversarial_train,
    pgd_attack,
    robust_accuracy,
    step_flops,
    train_epoch,
)

__all__ = [
    "PassCounter",
    "costates",
    "first_layer_costate",
    "first_layer_input_gradient",
    "forward",
    "init_mlp",
    "input_gradient",
    "layer_flops",
    "loss",
    "weight_gradients",
    "accuracy",
    "adversarial_step",
    "adversarial_train",
    "pgd_attack",
    "robust_accuracy",
    "step_flops",
    "train_epoch",
]
