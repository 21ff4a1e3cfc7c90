"""Chunks dispatched through joblib run on a Dask cluster, with a local run's exact scores."""

import os

import joblib
import pytest

distributed = pytest.importorskip("distributed")

import vgrid  # noqa: E402

from helpers import assert_same_search  # noqa: E402


# distributed's notice when another cluster on this machine holds its dashboard port.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use:UserWarning")
def test_dask_cluster_runs_the_chunks_with_identical_results(datasets):
    X, y = datasets["wine"]
    grid = {
        "alpha": [1e-4, 1e-2, 1.0],
        "learning_rate_init": [1e-3, 1e-2],
        "hidden_layer_sizes": [(5,), (9,)],
    }
    make = lambda: vgrid.GridSearchCV(  # noqa: E731
        vgrid.MLPClassifier(max_iter=15, random_state=0), grid, cv=3
    )
    local = make().fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        worker_pids = set(client.run(os.getpid).values())
        with joblib.parallel_backend("dask"):
            remote = make().fit(X, y)
    ran_on = {w.rsplit(":", 1)[1] for r in remote.vectorization_ for w in r.workers}
    assert ran_on and ran_on <= {str(pid) for pid in worker_pids}
    assert str(os.getpid()) not in ran_on
    assert_same_search(remote, local)
