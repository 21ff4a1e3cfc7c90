"""Checkpoints: kill -9 a search part way, resume it, get the scores of an uninterrupted run."""

import glob
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

def make_search(checkpoint=None):
    """72 fits in chunks of 4: long enough to be killed part way."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    import vgrid

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    grid = {"alpha": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
            "learning_rate_init": [1e-4, 3e-4, 1e-3, 3e-3], "hidden_layer_sizes": [(64,), (96,)]}
    search = vgrid.GridSearchCV(vgrid.MLPClassifier(max_iter=300, tol=0.0, random_state=0),
                                grid, cv=3, chunk_size=4, checkpoint=checkpoint, refit=False)
    return search, X, y


SCRIPT = f"""
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from test_checkpoint import make_search
search, X, y = make_search(sys.argv[1])
search.fit(X, y)
"""


def _fitted(checkpoint=None):
    search, X, y = make_search(checkpoint)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y)


def test_killed_run_resumes_with_identical_scores(tmp_path):
    folder = str(tmp_path / "ckpt")
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, folder])
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if len(glob.glob(os.path.join(folder, "chunk-*.npz"))) >= 3:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    finished = len(glob.glob(os.path.join(folder, "chunk-*.npz")))

    resumed = _fitted(folder)
    total = resumed.checkpoint_chunks_["loaded"] + resumed.checkpoint_chunks_["saved"]
    assert resumed.checkpoint_chunks_["loaded"] >= finished >= 3
    assert resumed.checkpoint_chunks_["saved"] < total  # the resumed run did less work

    reference = _fitted()
    for key in [k for k in reference.cv_results_ if "test_score" in k]:
        np.testing.assert_array_equal(resumed.cv_results_[key], reference.cv_results_[key])


def test_checkpoint_of_another_search_is_refused_and_corrupt_chunks_recomputed(tmp_path, datasets):
    import vgrid

    X, y = datasets["iris"]
    folder = str(tmp_path / "ckpt")
    make = lambda grid: vgrid.GridSearchCV(  # noqa: E731
        vgrid.MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0), grid, cv=3,
        chunk_size=2, checkpoint=folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = make({"alpha": [1e-4, 1e-2]}).fit(X, y)
    assert first.checkpoint_chunks_ == {"loaded": 0, "saved": 3}  # 6 fits, 2 per chunk
    with pytest.raises(ValueError, match="holds another search"):
        make({"alpha": [1e-4, 1e-1]}).fit(X, y)
    chunks = sorted(glob.glob(os.path.join(folder, "chunk-*.npz")))
    with open(chunks[0], "r+b") as f:
        f.truncate(100)
    with pytest.warns(UserWarning, match="unreadable"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            again = make({"alpha": [1e-4, 1e-2]}).fit(X, y)
    assert again.checkpoint_chunks_["saved"] == 1
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"],
                                  first.cv_results_["mean_test_score"])
