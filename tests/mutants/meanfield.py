"""Mutants of the mean-field chapter: plausible wrong theories its claims must catch."""

import dataclasses

import numpy as np
from harness import Mutant


def _mean_slope_squared(original):
    # chi_1 = sigma_w^2 E[phi']^2 (the square of the mean slope) instead of sigma_w^2 E[phi'^2].
    from dltheory.meanfield import kernels

    def wrong(act, q):
        if kernels.rule(act) != "smooth":
            return original(act, q)
        return kernels.expect(act, act.dphi, q) ** 2

    return wrong


def _slope_at_c1(original):
    # xi_c from the slope of the correlation map at c = 1 (chi_1) in both phases: right in the
    # ordered phase, wrong in the chaotic one, where the slope at c* < 1 sets xi_c.
    from dltheory.meanfield import maps

    def wrong(activation, sigma_w2, sigma_b2):
        return 1 / np.abs(np.log(maps.chi1(activation, sigma_w2, sigma_b2)))

    return wrong


def _no_phi_phi2(original):
    # The length map's slope without its sigma_w^2 E[phi'' phi] term (xi_q = -1/log chi_1).
    from dltheory.meanfield import kernels

    return lambda act, q: kernels.dphi2(act, q)


def _no_sampling_noise(original):
    # Finite-width theory without the Wishart sampling noise of the measured kernel (only the noise
    # propagated from earlier layers).
    def wrong(*args, **kwargs):
        th = original(*args, **kwargs)
        n = kwargs["width"]
        var_q = np.maximum(th.sd_q**2 - 2 * th.q**2 / n, 1e-300)
        var_c = np.maximum(th.sd_c**2 - (1 - th.c**2) ** 2 / n, 1e-300)
        return dataclasses.replace(th, sd_q=np.sqrt(var_q), sd_c=np.sqrt(var_c))

    return wrong


MUTANTS = [
    Mutant(
        "chi1-mean-slope-squared",
        "chi_1 = sigma_w^2 E[phi']^2 instead of sigma_w^2 E[phi'^2]",
        "dltheory.meanfield.kernels:dphi2",
        _mean_slope_squared,
    ),
    Mutant(
        "xi-c-slope-at-c1",
        "xi_c = 1/|log chi_1| in both phases (slope at c = 1, not at c*)",
        "dltheory.meanfield.maps:xi_c",
        _slope_at_c1,
    ),
    Mutant(
        "xi-q-no-phi-phi2",
        "length-map slope without sigma_w^2 E[phi'' phi] (xi_q = -1/log chi_1)",
        "dltheory.meanfield.kernels:length_slope",
        _no_phi_phi2,
    ),
    Mutant(
        "fluctuations-no-sampling",
        "finite-width theory without the kernel's own sampling noise",
        "dltheory.meanfield.finite:fluctuation_theory",
        _no_sampling_noise,
    ),
]
