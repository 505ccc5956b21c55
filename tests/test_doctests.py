"""Doctests that survive last-bit differences between CPUs.

Every docstring example runs under ``--doctest-modules`` with pytest's NUMBER flag (pyproject.toml):
a float in the expected output is compared to the precision it is written with. This test takes
every example's expected output, perturbs each float in it by a relative 1e-12 (and turns 0.0 into
-0.0), and checks that the doctest checker still accepts it: an example that prints a raw 17-digit
float or depends on the sign of a zero fails here, on every machine, not only on the one whose CPU
differs.
"""

import doctest
import importlib
import pkgutil
import re

import pytest
from _pytest.doctest import _get_checker, get_optionflags

import dltheory

_FLOAT = re.compile(r"(?<![\w.])-?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|(?<![\w.])-?\d+[eE][-+]?\d+")


def _examples():
    finder = doctest.DocTestFinder()
    for info in pkgutil.walk_packages(dltheory.__path__, prefix="dltheory."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for test in finder.find(module):
            for ex in test.examples:
                if _FLOAT.search(ex.want):
                    yield pytest.param(ex, id=f"{test.name}:{ex.lineno}")


def _perturb(want: str) -> str:
    def one(m: re.Match) -> str:
        x = float(m.group(0))
        return "-0.0" if x == 0 else repr(x * (1 + 1e-12))

    return _FLOAT.sub(one, want)


def test_the_number_flag_is_on(pytestconfig):
    assert get_optionflags(pytestconfig) & doctest.OPTIONFLAGS_BY_NAME["NUMBER"]


@pytest.mark.parametrize("example", list(_examples()))
def test_doctest_passes_when_the_result_differs_in_the_last_bits(example, pytestconfig):
    checker = _get_checker()
    flags = get_optionflags(pytestconfig)
    perturbed = _perturb(example.want)
    assert checker.check_output(example.want, perturbed, flags), (
        f"this doctest depends on the last bits of a float: expected {example.want!r}, "
        f"a neighbouring result prints {perturbed!r}; round the value or print fewer digits"
    )


def test_the_perturbation_catches_a_fragile_doctest(pytestconfig):
    checker, flags = _get_checker(), get_optionflags(pytestconfig)
    for fragile in ("1.9999999999999887\n", "0.1234567890123\n"):
        assert not checker.check_output(fragile, _perturb(fragile), flags)
    assert checker.check_output("0.3333\n", _perturb("0.3333\n"), flags)
    assert checker.check_output("[0.0, 2.0, 0.0]\n", "[-0.0, 2.000000000002, 1e-17]\n", flags)
