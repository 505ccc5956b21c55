"""dltheory.device(): automatic choice, explicit choice, environment override and errors."""

import pytest
import torch

import dltheory


def test_automatic_choice_matches_cuda_availability(monkeypatch):
    monkeypatch.delenv("DLTHEORY_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert dltheory.device().type == expected


def test_explicit_and_environment_choice(monkeypatch):
    monkeypatch.setenv("DLTHEORY_DEVICE", "cpu")
    assert dltheory.device() == torch.device("cpu")
    assert dltheory.device("cpu") == torch.device("cpu")


def test_tensors_land_on_the_chosen_device(device):
    x = torch.ones(3, device=dltheory.device(device.type))
    assert x.device.type == device.type


def test_errors(monkeypatch):
    with pytest.raises(TypeError, match="prefer"):
        dltheory.device(0)
    with pytest.raises(ValueError, match="not a device"):
        dltheory.device("gpu0")
    with pytest.raises(ValueError, match="not supported"):
        dltheory.device("meta")
    monkeypatch.setenv("DLTHEORY_DEVICE", "nonsense")
    with pytest.raises(ValueError, match="DLTHEORY_DEVICE"):
        dltheory.device()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            dltheory.device("cuda")
