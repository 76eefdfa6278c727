"""Every subset the labs take keeps all ten digits, in proportion (read from the executed solutions)."""

import re

import nbformat
import pytest

from aelab.course import registry

MNIST_LABS = ["03_mnist_outlier_lab", "04_leave_one_digit_auroc"]


def _printed(assignment: str) -> str:
    path = registry.course_root() / "solutions" / assignment / registry.assignment(assignment).notebook
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("assignment", MNIST_LABS)
def test_fast_mode_data_holds_every_digit_in_its_share(assignment):
    text = _printed(assignment)
    shares = re.findall(r"in use: (.*)", text)
    assert shares, "the data cell prints no 'in use:' line"
    counts = re.findall(r"per class (\d+)\.\.(\d+)", shares[0])
    assert len(counts) == 2  # training and test data
    for low, high in counts:
        assert int(low) >= 1 and int(high) <= 1.2 * int(low), shares[0]


def test_lab04_trains_each_model_on_the_nine_other_digits():
    held_out = re.findall(
        r"digit (\d) held out: [\d,]+ training images of the digits \[([\d, ]+)\]", _printed(MNIST_LABS[1])
    )
    assert held_out
    for digit, trained_on in held_out:
        assert sorted(int(d) for d in trained_on.split(",")) == [d for d in range(10) if d != int(digit)]
