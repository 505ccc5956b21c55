"""Mutants of the information chapter: plausible wrong estimators its claims must catch.

Three are killed before any network is trained (the initialisation check of the binned estimate and
the surrogate's label entropy); the pairwise-bound mutant is killed by the Gaussian-mixture check,
after the training cell.
"""

import math

import numpy as np
from harness import Mutant


def _nats(f):
    return lambda code: f(code) * math.log(2)


def _summed_codes(f):
    # one code per row as the *sum* of its bin indices: distinct rows collide (the cells are not
    # counted)
    return lambda idx: (idx - idx.amin(dim=(0, 1), keepdim=True)).sum(-1)


def _no_component_entropy(f):
    # the pairwise bounds without H_c = d/2 log2(2 pi e var), the entropy of one component
    def bounds(centres, *, var):
        d = np.shape(centres)[-1]
        h_c = 0.5 * d * math.log2(2 * math.pi * math.e * var)
        return tuple(v - h_c for v in f(centres, var=var))

    return bounds


def _label_entropy_nats(f):
    return lambda y: f(y) * math.log(2)


MUTANTS = [
    Mutant(
        "entropy-in-nats",
        "plug-in entropy of the binned codes in nats instead of bits",
        "dltheory.information.estimators:_code_entropy",
        _nats,
    ),
    Mutant(
        "row-codes-summed",
        "a layer's bin indices combined by summing them (distinct cells "
        "collide, so deeper and wider layers lose information unequally)",
        "dltheory.information.estimators:_row_codes",
        _summed_codes,
    ),
    Mutant(
        "kde-bounds-without-d-half",
        "pairwise-distance bounds missing the d/2 log(2 pi e var) term of one component's entropy",
        "dltheory.information.estimators:mixture_entropy_bounds",
        _no_component_entropy,
    ),
    Mutant(
        "label-entropy-in-nats",
        "H(Y) of the labels in nats instead of bits",
        "dltheory.information.data:label_entropy",
        _label_entropy_nats,
    ),
]
