"""Checkpoints: kill -9 a search part way, resume it, get the scores of an uninterrupted run."""

import glob
import os
import re
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold

from helpers import assert_same_search


def make_search(checkpoint=None, chunk_size=4):
    """144 fits in chunks of 4: long enough to be killed part way."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    import vgrid

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    grid = {
        "alpha": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        "learning_rate_init": [1e-4, 3e-4, 1e-3, 3e-3],
        "hidden_layer_sizes": [(64,), (96,)],
    }
    search = vgrid.GridSearchCV(
        vgrid.MLPClassifier(max_iter=300, tol=0.0, random_state=0),
        grid,
        cv=3,
        chunk_size=chunk_size,
        checkpoint=checkpoint,
        refit=False,
    )
    return search, X, y


SCRIPT = f"""
import sys, warnings
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
from test_checkpoint import make_search
search, X, y = make_search(sys.argv[1], int(sys.argv[2]))
search.set_params(verbose=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
search.fit(X, y)
"""


def _fitted(checkpoint=None, chunk_size=4):
    search, X, y = make_search(checkpoint, chunk_size)
    return search.fit(X, y)


@pytest.fixture(scope="module")
def reference():
    """The uninterrupted run."""
    return _fitted()


# Slow: a fresh process killed with SIGKILL part way. Covered by
# test_ctrl_c_stops_within_a_segment_keeps_finished_chunks_and_resumes (a process interrupted
# part way: its finished chunks are loaded, the scores are the uninterrupted run's) and
# test_checkpoint_of_another_search_is_refused_and_corrupt_chunks_recomputed (a chunk cut short,
# as a kill mid-write leaves it, is recomputed).
@pytest.mark.slow
def test_killed_run_resumes_with_identical_scores(tmp_path, reference):
    folder = str(tmp_path / "ckpt")
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, folder, "4"])
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if len(glob.glob(os.path.join(folder, "chunk-*.npz"))) >= 3:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    assert process.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    finished = len(glob.glob(os.path.join(folder, "chunk-*.npz")))

    resumed = _fitted(folder)
    loaded, saved = resumed.checkpoint_chunks_["loaded"], resumed.checkpoint_chunks_["saved"]
    assert loaded >= finished >= 3
    assert loaded + saved == 144 // 4  # the resumed run trained only the chunks not loaded
    assert_same_search(resumed, reference)


def test_checkpoint_of_another_search_is_refused_and_corrupt_chunks_recomputed(tmp_path, datasets):
    import vgrid

    X, y = datasets["iris"]
    folder = str(tmp_path / "ckpt")
    make = lambda grid: vgrid.GridSearchCV(  # noqa: E731
        vgrid.MLPClassifier(hidden_layer_sizes=(5,), max_iter=10, random_state=0),
        grid,
        cv=3,
        chunk_size=2,
        checkpoint=folder,
    )
    first = make({"alpha": [1e-4, 1e-2]}).fit(X, y)
    assert first.checkpoint_chunks_ == {"loaded": 0, "saved": 3}  # 6 fits, 2 per chunk
    with pytest.raises(ValueError, match="holds another search"):
        make({"alpha": [1e-4, 1e-1]}).fit(X, y)
    chunks = sorted(glob.glob(os.path.join(folder, "chunk-*.npz")))
    with open(chunks[0], "r+b") as f:
        f.truncate(100)
    with pytest.warns(UserWarning, match="unreadable"):
        again = make({"alpha": [1e-4, 1e-2]}).fit(X, y)
    assert again.checkpoint_chunks_["saved"] == 1
    assert_same_search(again, first)


def _chunks(folder):
    return sorted(glob.glob(os.path.join(folder, "chunk-*.npz")))


def test_ctrl_c_stops_within_a_segment_keeps_finished_chunks_and_resumes(tmp_path, reference):
    """SIGINT while a chunk trains: the run stops after the models in training (one segment
    per worker; on the CPU a segment is one model's whole fit), not after the rest of the
    chunk; the chunks already finished stay, and the next run loads them and gives the
    uninterrupted scores. The child's progress bar (verbose=1) says how many models it trained."""
    folder = str(tmp_path / "ckpt")
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, folder, "24", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None and len(_chunks(folder)) < 2:
        time.sleep(0.005)
    assert len(_chunks(folder)) == 2, "the run finished (or stalled) before its second chunk"
    os.kill(process.pid, signal.SIGINT)  # 48 of 144 models trained, the third chunk under way
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr
    trained = int(re.findall(r"(\d+)/144", stderr)[-1])
    # Waiting for the worker pool would have finished the chunk (72); stopping after the
    # current segment leaves at most a few models past the 48 of the finished chunks.
    assert 48 <= trained <= 56, trained
    assert len(_chunks(folder)) == 2

    resumed = _fitted(folder, chunk_size=24)
    assert resumed.checkpoint_chunks_["loaded"] >= 2
    assert_same_search(resumed, reference)


def test_ctrl_c_handed_to_a_worker_thread_stops_the_workers_at_once():
    """The kernel may hand SIGINT to any thread (a worker, one of XLA's); Python runs its
    handler in the main thread only when that thread runs Python code, so waiting for the
    workers in one untimed wait acted on Ctrl-C only when they had trained the whole chunk
    (the test above failed so about 1 run in 4)."""
    import threading

    from vgrid.scheduling import _run_workers

    class Workers:  # stands for `_SlotScheduler`: works until stopped
        stop = threading.Event()
        first = threading.Lock()

        def work(self, x64):
            if self.first.acquire(blocking=False):
                time.sleep(0.2)  # the main thread is waiting by now
                signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            self.stop.wait(30)

    workers = Workers()
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            _run_workers(workers, n_threads=2, x64=False)
    finally:
        workers.stop.set()
    assert time.monotonic() - start < 10


def test_a_failing_worker_stops_the_others_at_once():
    """A worker's error is raised as soon as it happens and stops the other workers after
    their current segment, instead of waiting for them to train the rest of the chunk."""
    import threading

    from vgrid.scheduling import _run_workers

    class Workers:
        stop = threading.Event()
        first = threading.Lock()

        def work(self, x64):
            if self.first.acquire(blocking=False):  # the first worker trains on
                self.stop.wait(30)
                return
            time.sleep(0.2)
            raise RuntimeError("a worker failed")

    workers = Workers()
    start = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="a worker failed"):
            _run_workers(workers, n_threads=2, x64=False)
    finally:
        workers.stop.set()
    assert time.monotonic() - start < 10


# Identity from content: no chunk of one search is ever read by another.


def _tiny_search(folder, **params):
    import vgrid

    estimator = vgrid.MLPClassifier(hidden_layer_sizes=(3,), max_iter=4, random_state=0)
    estimator.set_params(**params.pop("estimator_params", {}))
    options = {"cv": 2, "chunk_size": 2, "checkpoint": folder, "refit": False, **params}
    return vgrid.GridSearchCV(estimator, {"alpha": [1e-4, 1e-1]}, **options)


def _data(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    return X, (X[:, 0] + 0.3 * rng.randn(n) > 0).astype(int)


def test_one_changed_value_of_sparse_X_is_another_search(tmp_path):
    import scipy.sparse as sp

    X, y = _data()
    X[np.abs(X) < 0.8] = 0.0
    X = sp.csr_matrix(X)
    folder = str(tmp_path / "ckpt")
    _tiny_search(folder).fit(X, y)
    changed = X.copy()
    changed.data[7] += 1.0  # the repr (shape, number of stored values) is unchanged
    with pytest.raises(ValueError, match="holds another search"):
        _tiny_search(folder).fit(changed, y)


def test_one_changed_sample_weight_of_1200_is_another_search(tmp_path):
    X, y = _data(1200)
    weights = np.ones(len(y))
    folder = str(tmp_path / "ckpt")
    _tiny_search(folder).fit(X, y, sample_weight=weights)
    weights = weights.copy()
    weights[600] = 2.0  # NumPy's repr of 1,200 values elides the middle with "..."
    with pytest.raises(ValueError, match="holds another search"):
        _tiny_search(folder).fit(X, y, sample_weight=weights)


def test_large_dataframe_changed_in_one_cell_is_another_search(tmp_path):
    import pandas as pd

    X, y = _data(1200)
    frame = pd.DataFrame(X, columns=list("abcd"))
    folder = str(tmp_path / "ckpt")
    _tiny_search(folder).fit(frame, y)
    frame = frame.copy()
    frame.iloc[600, 2] += 1.0
    with pytest.raises(ValueError, match="holds another search"):
        _tiny_search(folder).fit(frame, y)


def test_stale_chunks_are_never_read_without_the_manifest(tmp_path):
    """Same shapes, other data: with the manifest deleted the old chunks must not be loaded."""
    X, y = _data()
    folder = str(tmp_path / "ckpt")
    make = lambda folder: _tiny_search(folder, cv=KFold(2))  # noqa: E731 - the same folds
    first = make(folder).fit(X, y)
    assert first.checkpoint_chunks_ == {"loaded": 0, "saved": 2}
    os.remove(os.path.join(folder, "manifest.json"))
    other_X, other_y = _data(seed=1)
    again = make(folder).fit(other_X, other_y)
    assert again.checkpoint_chunks_ == {"loaded": 0, "saved": 2}
    fresh = make(str(tmp_path / "fresh")).fit(other_X, other_y)
    assert_same_search(again, fresh)


def test_chunk_copied_from_another_search_is_refused_by_its_stored_fingerprint(tmp_path):
    X, y = _data()
    other_X, other_y = _data(seed=1)
    theirs, ours = str(tmp_path / "theirs"), str(tmp_path / "ours")
    make = lambda folder: _tiny_search(folder, cv=KFold(2))  # noqa: E731 - the same folds
    make(theirs).fit(other_X, other_y)
    expected = make(ours).fit(X, y)
    their_chunks = {os.path.basename(p)[-44:]: p for p in _chunks(theirs)}
    for path in _chunks(ours):  # same chunk keys (same folds and parameters), other data
        with open(their_chunks[os.path.basename(path)[-44:]], "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
    with pytest.warns(UserWarning, match="written by another search"):
        again = make(ours).fit(X, y)
    assert again.checkpoint_chunks_ == {"loaded": 0, "saved": 2}
    assert_same_search(again, expected)


def agreement(estimator, X, y):
    """A plain function as the scorer (its repr holds a memory address)."""
    return float(np.mean(estimator.predict(X) == y))


def _resumable_search(folder):
    return _tiny_search(
        folder, scoring=agreement, estimator_params={"random_state": np.random.RandomState(7)}
    )


RESUME_SCRIPT = """
import json, sys, warnings
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
sys.path.insert(0, {tests!r})
from test_checkpoint import _data, _resumable_search

X, y = _data()
search = _resumable_search(sys.argv[1]).fit(X, y)
scores = {{k: v.tolist() for k, v in search.cv_results_.items() if "test_score" in k}}
print(json.dumps({{"chunks": search.checkpoint_chunks_, "scores": scores}}))
"""


def test_random_state_instance_and_function_scorer_resume_in_a_new_process(tmp_path):
    import json

    folder = str(tmp_path / "ckpt")
    X, y = _data()
    first = _resumable_search(folder).fit(X, y)
    assert first.checkpoint_chunks_ == {"loaded": 0, "saved": 2}
    script = RESUME_SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run([sys.executable, "-c", script, folder], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["chunks"] == {"loaded": 2, "saved": 0}
    expected = {k: v.tolist() for k, v in first.cv_results_.items() if "test_score" in k}
    assert out["scores"] == expected  # the loaded chunks hold this run's very scores


def test_search_part_without_a_stable_description_is_refused_at_the_start(tmp_path):
    X, y = _data()
    splits = ((train, test) for train, test in [(np.arange(60), np.arange(60, 120))] * 2)
    with pytest.raises(
        ValueError,
        match=r"cv is an object of type builtins.generator.*"
        r"cannot tell whether a later run is the same",
    ):
        _tiny_search(str(tmp_path / "ckpt"), cv=splits).fit(X, y)
    assert not _chunks(str(tmp_path / "ckpt"))


# Files: written safely, read only when regular.


def test_writing_never_follows_a_planted_link(tmp_path):
    from vgrid.checkpoint import Checkpoint

    target = tmp_path / "victim.txt"
    target.write_text("precious")
    folder = tmp_path / "ckpt"
    folder.mkdir()
    manifest = folder / "manifest.json"
    # Links at the names a writer might use: the old fixed temporary name and the file itself.
    os.symlink(target, folder / f"manifest.json.tmp-{os.getpid()}")
    checkpoint = Checkpoint(str(folder), "f" * 64)
    chunk = checkpoint._path("k" * 64)
    os.symlink(target, f"{chunk}.tmp-{os.getpid()}")
    os.symlink(target, chunk)
    checkpoint.save("k" * 64, {"w": np.ones((2, 3))})
    assert target.read_text() == "precious"
    assert os.path.isfile(chunk) and not os.path.islink(chunk)
    assert not os.path.islink(manifest) and "f" * 64 in manifest.read_text()
    assert checkpoint.load("k" * 64, {"w": np.zeros((2, 3))})["w"].sum() == 6


def _within(seconds, function, unblock):
    """function()'s result or exception, failing (and unblocking it) if it takes too long."""
    import threading

    outcome = {}

    def call():
        try:
            outcome["result"] = function()
        except BaseException as exc:  # noqa: BLE001
            outcome["error"] = exc

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        unblock()
        thread.join(10)
        pytest.fail(f"blocked for more than {seconds} s")
    return outcome


def _open_fifo_writer(path):
    try:  # a reader blocked in open() is released by a writer that opens and closes the FIFO
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


@pytest.mark.parametrize("what", ["chunk", "manifest"])
def test_a_fifo_in_the_folder_is_refused_never_waited_on(tmp_path, what):
    from vgrid.checkpoint import Checkpoint

    folder = str(tmp_path / "ckpt")
    checkpoint = Checkpoint(folder, "f" * 64)
    path = checkpoint._path("k" * 64) if what == "chunk" else os.path.join(folder, "manifest.json")
    if what == "manifest":
        os.remove(path)
    os.mkfifo(path)
    action = (
        (lambda: checkpoint.load("k" * 64, {"w": np.zeros((2, 3))}))
        if what == "chunk"
        else (lambda: Checkpoint(folder, "f" * 64))
    )
    outcome = _within(20, action, lambda: _open_fifo_writer(path))
    assert isinstance(outcome.get("error"), ValueError), outcome
    assert re.search(r"is a FIFO \(named pipe\), not a regular file", str(outcome["error"]))


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '"x"', '{"fingerprint": 3}', ""])
def test_corrupt_manifest_is_reported_in_one_line_and_rewritten(tmp_path, content):
    X, y = _data()
    folder = str(tmp_path / "ckpt")
    first = _tiny_search(folder).fit(X, y)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        f.write(content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = _tiny_search(folder).fit(X, y)
    messages = [str(w.message) for w in caught if "manifest" in str(w.message)]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert re.search(r"checkpoint manifest .* is corrupt \(.*\); it is written again", messages[0])
    # The chunks carry their own fingerprint: still this search's, so they are loaded.
    assert again.checkpoint_chunks_ == {"loaded": 2, "saved": 0}
    assert_same_search(again, first)
    with open(os.path.join(folder, "manifest.json")) as f:
        assert len(__import__("json").load(f)["fingerprint"]) == 64
