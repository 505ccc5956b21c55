"""The information bottleneck and its critique: surrogate data, MI estimators, networks,
experiments."""

from dltheory.information import data, estimators, experiments, linear, network
from dltheory.information.data import surrogate
from dltheory.information.estimators import (
    bin_indices,
    binned_information,
    entropy_bits,
    kde_information,
    mixture_entropy_bounds,
    mixture_entropy_mc,
)
from dltheory.information.linear import gaussian_information, train_linear_student
from dltheory.information.network import BatchedMLP, log_epochs, train_batched

__all__ = [
    "data",
    "estimators",
    "experiments",
    "linear",
    "network",
    "surrogate",
    "bin_indices",
    "binned_information",
    "entropy_bits",
    "kde_information",
    "mixture_entropy_bounds",
    "mixture_entropy_mc",
    "gaussian_information",
    "train_linear_student",
    "BatchedMLP",
    "log_epochs",
    "train_batched",
]
