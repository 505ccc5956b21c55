"""The one input-checking layer: the same bad input raises the same exception everywhere, naming the
user's argument and the allowed range."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory import _checks as checks

not_a_number = st.one_of(
    st.text(max_size=3),
    st.none(),
    st.booleans(),
    st.lists(st.floats(), max_size=2),
    st.complex_numbers(allow_nan=False).filter(lambda z: z.imag != 0),
    st.dictionaries(st.text(max_size=1), st.integers(), max_size=1),
)


@settings(max_examples=60, deadline=None)
@given(not_a_number)
def test_real_refuses_what_is_not_a_real_number(value):
    with pytest.raises(TypeError, match=r"^lr must be a real number"):
        checks.real("lr", value)


@settings(max_examples=60, deadline=None)
@given(st.floats(max_value=0.0, allow_infinity=True) | st.just(math.nan) | st.just(math.inf))
def test_positive_refuses_zero_negative_nan_and_inf(value):
    with pytest.raises(ValueError, match=r"^lr must be a finite real number > 0; got"):
        checks.positive("lr", value)


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300))
def test_positive_accepts_and_converts(value):
    assert checks.positive("lr", value) == value
    assert isinstance(checks.positive("lr", np.float32(1.5)), float)


def test_ranges_and_open_ends_are_named():
    assert checks.real("c", -1.0, low=-1, high=1) == -1.0
    with pytest.raises(ValueError, match=r"c must be a finite real number in \(-1, 1\]; got -1.0"):
        checks.real("c", -1.0, low=-1, high=1, low_open=True)
    assert checks.real("q", math.inf, low=0, allow_inf=True) == math.inf
    with pytest.raises(ValueError, match="must be a real number >= 0; got nan"):
        checks.real("q", math.nan, low=0, allow_inf=True)
    assert checks.probability("p", 1) == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        checks.probability("p", 1.0, open_high=True)
    assert checks.real("x", torch.tensor(2.5)) == 2.5 and checks.real("x", np.array(3)) == 3.0


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(st.floats(), st.text(max_size=2), st.booleans(), st.none(), st.just(np.float64(2.0)))
)
def test_integer_refuses_non_integers_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"^depth must be an integer >= 1; got"):
        checks.integer("depth", value)


@settings(max_examples=60, deadline=None)
@given(st.integers(max_value=0) | st.integers(min_value=10**6 + 1))
def test_integer_refuses_out_of_range_with_a_value_error(value):
    with pytest.raises(ValueError, match=r"^depth must be an integer in \[1, 1000000\]; got"):
        checks.integer("depth", value, high=10**6)


def test_integer_accepts_numpy_integers_and_seeds():
    assert checks.integer("n", np.int64(5)) == 5 and type(checks.integer("n", np.int64(5))) is int
    assert checks.seed(0) == 0
    with pytest.raises(ValueError, match="seed"):
        checks.seed(-1)


def test_boolean_choice_function():
    assert checks.boolean("flag", True) is True
    with pytest.raises(TypeError, match="flag must be True or False"):
        checks.boolean("flag", 1)
    assert checks.choice("activation", "relu", ["tanh", "relu"]) == "relu"
    with pytest.raises(
        ValueError, match="unknown activation 'elu'; valid names are 'tanh', 'relu'"
    ):
        checks.choice("activation", "elu", ["tanh", "relu"])
    with pytest.raises(TypeError, match="activation must be a string"):
        checks.choice("activation", 3, ["tanh"])
    with pytest.raises(TypeError, match="f must be callable"):
        checks.function("f", 3)


def test_real_array_converts_and_checks_each_element():
    out = checks.real_array("c", [[-1, 0.5], [0, 1]], low=-1, high=1, ndim=2)
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert checks.real_array("c", torch.tensor([0.5])).tolist() == [0.5]
    with pytest.raises(ValueError, match=r"c must be in \[-1, 1\]; got a value of 1.5"):
        checks.real_array("c", [0.0, 1.5], low=-1, high=1)
    with pytest.raises(ValueError, match="must not contain NaN"):
        checks.real_array("c", [0.0, math.nan])
    with pytest.raises(ValueError, match="finite"):
        checks.real_array("c", [math.inf])
    with pytest.raises(TypeError, match="real number"):
        checks.real_array("c", ["a"])
    with pytest.raises(TypeError, match="real number"):
        checks.real_array("c", [True, False])
    with pytest.raises(ValueError, match="dimension"):
        checks.real_array("c", [1.0, 2.0], ndim=2)


def test_tensor_accepts_lists_and_checks_shape_and_values():
    t = checks.tensor("x0", [[1.0, 2.0]], ndim=2, shape=(None, 2))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    f32 = torch.ones(3, dtype=torch.float32)
    assert checks.tensor("x", f32).dtype == torch.float32  # a float tensor keeps its dtype
    with pytest.raises(ValueError, match=r"x0 must have shape \(\*, 3\); got \(1, 2\)"):
        checks.tensor("x0", [[1.0, 2.0]], shape=(None, 3))
    with pytest.raises(ValueError, match="x0 must be finite"):
        checks.tensor("x0", [math.nan])
    with pytest.raises(TypeError, match="x0 must be a tensor"):
        checks.tensor("x0", "abc")
    with pytest.raises(TypeError, match="real numbers"):
        checks.tensor("x0", torch.tensor([True]))


def test_labels_same_dtype_and_size():
    assert checks.labels("y", [0, 1, 1], n_classes=2, n=3).dtype == torch.long
    with pytest.raises(
        ValueError, match=r"y must be class labels in \[0, 1\]; got values in \[0, 5\]"
    ):
        checks.labels("y", [0, 5], n_classes=2)
    with pytest.raises(ValueError, match="one label per sample"):
        checks.labels("y", [0], n_classes=2, n=4)
    with pytest.raises(TypeError, match="integer class labels"):
        checks.labels("y", [0.5, 1.0], n_classes=2)
    with pytest.raises(TypeError, match="x is float32, w is float64"):
        checks.same_dtype(x=torch.ones(1), w=torch.ones(1, dtype=torch.float64))
    assert checks.size("width", 10**6) == 10**6
    with pytest.raises(ValueError, match="width asks for"):
        checks.size("width", checks.MAX_ELEMENTS + 1)
