"""Shared fixtures of the unit tests."""

import pytest
import torch


def _devices():
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    return devs


@pytest.fixture(params=_devices())
def device(request) -> torch.device:
    """Every test using this fixture runs on the CPU, and on CUDA too when it is available."""
    return torch.device(request.param)


@pytest.fixture
def fresh_claims():
    """An empty claims registry that writes no files, restored after the test."""
    from dltheory import claims

    with claims.scoped():
        yield claims


# The book's machinery lives in book/_ext (not in the package); the tests import it from there.
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book" / "_ext"))
