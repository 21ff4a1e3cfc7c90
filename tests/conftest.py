import os

# Tests count compilations: keep vgrid's persistent compilation cache out of them.
os.environ["VGRID_COMPILATION_CACHE"] = "0"

import jax
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.preprocessing import StandardScaler

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture()
def fresh_hosts(monkeypatch):
    """For tests that count compilations: start with no compiled program to host their
    models. A program an earlier test compiled (for wider inputs, say) would otherwise take
    them, and the counts would depend on the order tests run in. Within the test, hosting
    works as usual. (Not for every test: hosting across tests saves the suite compilations.)"""
    from collections import deque

    from vgrid import scheduling

    monkeypatch.setattr(scheduling.PROGRAMS, "_hosts", deque(maxlen=64))


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def datasets():
    """scikit-learn's bundled data sets, standardized, float64."""
    data = {
        name: _scaled(loader)
        for name, loader in [
            ("iris", load_iris),
            ("wine", load_wine),
            ("breast_cancer", load_breast_cancer),
            ("digits", load_digits),
            ("diabetes", load_diabetes),
        ]
    }
    X, y = data["diabetes"]
    data["diabetes"] = (X, y / 100.0)
    X, y = data["digits"]
    data["digits"] = (X[:600], y[:600])
    X, y = data["iris"]
    data["iris_multilabel"] = (X, np.column_stack([y == 0, y == 2, X[:, 0] > 0]).astype(int))
    return data
