"""Bayesian learning as a dynamical system: Gibbs posteriors as free-energy minimisers, and SGLD."""

from dltheory.bayes.gibbs import free_energy, gibbs_posterior, kl_divergence, log_partition, tilt
from dltheory.bayes.posterior import (
    MixtureModel,
    grid_posterior,
    linreg_data,
    linreg_posterior,
    mixture_data,
    mixture_grad_log_lik,
    mixture_log_posterior,
)
from dltheory.bayes.sgld import (
    histogram_tv,
    langevin_noise_std,
    linreg_stationary_bias,
    linreg_stationary_covariance,
    sgld_linreg,
    sgld_mixture,
    step_sizes,
)

__all__ = [
    "free_energy",
    "gibbs_posterior",
    "kl_divergence",
    "log_partition",
    "tilt",
    "MixtureModel",
    "grid_posterior",
    "linreg_data",
    "linreg_posterior",
    "mixture_data",
    "mixture_grad_log_lik",
    "mixture_log_posterior",
    "histogram_tv",
    "langevin_noise_std",
    "linreg_stationary_bias",
    "linreg_stationary_covariance",
    "sgld_linreg",
    "sgld_mixture",
    "step_sizes",
]
