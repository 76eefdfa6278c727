"""aelab.selfcheck: a visible test's failure says what was seen and what was expected."""

import numpy as np
import pytest
import torch

import aelab


def _message(fn, *args, **kwargs) -> str:
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_close_values_pass_in_every_container():
    for value in (
        torch.tensor([5.0, 0.0]),
        np.array([5.0, 0.0]),
        [5.0, 0.0],
        torch.tensor([5.0, 0.0], dtype=torch.float64),
    ):
        aelab.expect_close(value, [5.0, 0.0], "f(x)")
    aelab.expect_close(torch.full((3,), 0.5), 0.5, "f(x)")  # one number for all
    aelab.expect_close(2.0, 2.0, "f(x)")


@pytest.mark.parametrize(
    "value, words",
    [
        (torch.tensor([5.0, 0.5]), ["f(x) gave [5, 0.5]; expected [5, 0]", "index (1,)"]),
        (torch.tensor([5.0, 0.0, 1.0]), ["f(x) has shape (3,); expected (2,)"]),
        (None, ["f(x) returned None", "forget to return"]),
        ("5, 0", ["f(x) returned a str", "expected numbers"]),
        (torch.tensor([float("nan"), 0.0]), ["f(x) gave NaN", "1 place"]),
        ({"a": 1}, ["f(x) returned a dict"]),
        ([1.0, "x"], ["f(x) holds values of dtype", "expected real numbers"]),
    ],
)
def test_a_failure_names_what_was_seen_and_what_was_expected(value, words):
    text = _message(aelab.expect_close, value, [5.0, 0.0], "f(x)")
    for w in words:
        assert w in text, (w, text)


def test_a_tensor_that_needs_grad_is_compared_without_complaint():
    x = torch.tensor([5.0, 0.0], requires_grad=True)
    aelab.expect_close(x * 1, [5.0, 0.0], "f(x)")
    assert "gave [10, 0]" in _message(aelab.expect_close, x * 2, [5.0, 0.0], "f(x)")


def test_shape_dtype_and_truth():
    aelab.expect_shape(torch.zeros(5, 3), (5, 3), "z")
    assert "z has shape (3, 5); expected (5, 3)" in _message(aelab.expect_shape, torch.zeros(3, 5), (5, 3), "z")
    aelab.expect_dtype(torch.zeros(2, dtype=torch.bool), "bool", "flags")
    assert "flags holds values of dtype float32; expected booleans" in _message(
        aelab.expect_dtype, torch.zeros(2), "bool", "flags"
    )
    assert "expected floating-point" in _message(aelab.expect_dtype, torch.zeros(2, dtype=torch.long), "float", "s")
    aelab.expect_true(torch.tensor(True), "d(x)")
    aelab.expect_false(np.bool_(False), "d(x)")
    assert "d(x) gave True; expected False: at the threshold" in _message(
        aelab.expect_false, True, "d(x)", "at the threshold"
    )
    assert "expected a single True or False" in _message(aelab.expect_true, torch.tensor([True, False]), "d(x)")
    assert "expected a boolean" in _message(aelab.expect_true, torch.tensor(1.0), "d(x)")
    assert "no gradient" in _message(aelab.expect, False, "no gradient reached mu")
    with pytest.raises(ValueError, match="kind"):
        aelab.expect_dtype(torch.zeros(1), "complex", "x")
