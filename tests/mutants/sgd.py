"""Mutants of the SGD chapter: plausible wrong theories its claims must catch."""

from harness import Mutant


def _correction_sign(f):
    # the discrete correction with a sign slip: eta s2 / (B a (2 + eta a)) instead of 1/(2 - eta a).
    # (Dropping the correction altogether gives the first-order SME's value, which is the rival of
    # the claim that tests it: the check then refuses to run instead of failing, so it is not a
    # mutant here.)
    def wrong(lr, a, s2, batch_size=1):
        return f(lr, a, s2, batch_size) * (2 - lr * a) / (2 + lr * a)

    return wrong


def _sme2_dropped(f):
    # the "second-order" SME computed without its -(eta/4) grad |grad L|^2 drift correction
    def wrong(lr, **kwargs):
        return f(lr, **{**kwargs, "order": 1})

    return wrong


def _noise_ignores_batch(f):
    # gradient noise scaled with eta instead of eta / B: the batch size never reaches the noise
    def wrong(A, C, lr, batch_size=1, **kwargs):
        return f(A, C, lr, 1, **kwargs)

    return wrong


def _kramers_twice(f):
    # Eyring-Kramers prefactor off by 2 (2 pi / sqrt(...) taken as 4 pi / sqrt(...))
    def wrong(*args, **kwargs):
        return 2 * f(*args, **kwargs)

    return wrong


def _mandt_half(f):
    # Mandt's eps* without the factor 2 of the OU variance: S D / (N tr C)
    def wrong(*args, **kwargs):
        return f(*args, **kwargs) / 2

    return wrong


MUTANTS = [
    Mutant(
        "variance-correction-sign",
        "stationary variance with 1/(2 + eta a) for 1/(2 - eta a)",
        "dltheory.sgd.linear:stationary_variance_sgd",
        _correction_sign,
    ),
    Mutant(
        "sme2-without-correction",
        "second-order SME without its second-order drift term",
        "dltheory.sgd.linear:quadratic_weak_error",
        _sme2_dropped,
    ),
    Mutant(
        "noise-eta-not-eta-over-b",
        "gradient noise scaling with eta instead of eta / B",
        "dltheory.sgd.linear:simulate_linear_sgd",
        _noise_ignores_batch,
    ),
    Mutant(
        "mandt-missing-factor-2",
        "Mandt's optimal rate without its factor 2",
        "dltheory.sgd.bayes:mandt_lr",
        _mandt_half,
    ),
    Mutant(
        "kramers-prefactor-2",
        "Eyring-Kramers prefactor off by a factor 2",
        "dltheory.sgd.escape:kramers_time",
        _kramers_twice,
    ),
]
