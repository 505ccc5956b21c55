"""Mutants of the extensions chapter: plausible wrong theories its claims must catch."""

from harness import Mutant


def _half_noise(f):
    # the drift eps/2 grad log p of one convention with the noise of the other, halved: temperature
    # 1/2
    return lambda eps: f(eps / 2)


def _gibbs_wrong_temperature(f):
    return lambda loss, prior, *, beta=1.0: f(loss, prior, beta=2 * beta)


def _yopo_without_first_layer_update(f):
    # layer 0 trained at the full pass's input eta^{j,0}: the n first-layer steps feed no weight
    # update
    return lambda params, x0, eta_start, eta_end, p1: f(params, x0, eta_start, eta_start, p1)


def _costate_without_activation_derivative(f):
    import torch

    def wrong(params, x, p1):  # -(p_1) W_0' instead of -(s_0 * p_1) W_0'
        return -torch.bmm(p1, params[0].transpose(1, 2))

    return wrong


MUTANTS = [
    Mutant(
        "sgld-half-noise",
        "SGLD noise of variance eps/2 with drift eps/2 grad log p (T = 1/2)",
        "dltheory.bayes.sgld:langevin_noise_std",
        _half_noise,
    ),
    Mutant(
        "gibbs-wrong-temperature",
        "Gibbs posterior at twice the inverse temperature",
        "dltheory.bayes.gibbs:gibbs_posterior",
        _gibbs_wrong_temperature,
    ),
    Mutant(
        "yopo-no-first-layer-update",
        "YOPO trains layer 0 at eta^{j,0}, not by H_0 at eta^{j,n}",
        "dltheory.adversarial.training:_yopo_first_layer_update",
        _yopo_without_first_layer_update,
    ),
    Mutant(
        "costate-no-tanh-derivative",
        "adversary's gradient without the tanh derivative s_0",
        "dltheory.adversarial.mlp:_first_layer_grad",
        _costate_without_activation_derivative,
    ),
]
