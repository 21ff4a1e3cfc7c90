"""Would sharing a minibatch make the first layer one wide matmul worth having? Measured here.

Candidates that share a fold (and scikit-learn's random stream) see the same minibatch, so their
first layers could be one (batch x features) @ (features x candidates*width) matmul instead of
one small matmul per model: `jax.vmap` with the input unbatched. This times both forms of one
layer's forward and backward matmuls on the shapes of the suite's grids and writes
`benchmarks/results/shared_minibatch-<device>.json`.

    python benchmarks/bench_shared_minibatch.py
"""

from __future__ import annotations

import json
import os
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)

SHAPES = [  # dtype, batch, features, width, models sharing a minibatch
    ("float64", 200, 20, 150, 3),  # core grid (a): 3 learning rates per (fold, width)
    ("float64", 200, 20, 150, 9),
    ("float32", 200, 32, 128, 4),  # core grid (b): 2 lr x 2 alpha per (fold, architecture)
    ("float32", 200, 32, 128, 20),
    ("float32", 200, 64, 256, 16),  # large grid: 4 lr x 4 alpha
    ("float32", 200, 20, 100, 256),  # scaling curve: every model shares the one split
]


def layer(x, w):
    """Forward matmul, then the two backward ones (input and weight gradients)."""
    z = jax.nn.relu(x @ w)
    return (x.T @ z).sum() + (z @ w.T).sum()


def seconds_per_call(fn, *args, repeats=200):
    fn(*args).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    out.block_until_ready()
    return (time.perf_counter() - start) / repeats


def main():
    per_model = jax.jit(jax.vmap(layer))  # each model its own minibatch copy
    shared = jax.jit(jax.vmap(layer, in_axes=(None, 0)))  # one minibatch, one wide matmul
    rows = []
    for dtype, batch, features, width, models in SHAPES:
        key = jax.random.PRNGKey(0)
        w = jax.random.normal(key, (models, features, width), dtype)
        xs = jax.random.normal(key, (models, batch, features), dtype)
        flop = models * 3 * 2 * batch * features * width
        t_per_model = seconds_per_call(per_model, xs, w)
        t_shared = seconds_per_call(shared, xs[0], w)
        rows.append(
            {
                "dtype": dtype,
                "batch": batch,
                "features": features,
                "width": width,
                "models": models,
                "per_model_gflops": flop / t_per_model / 1e9,
                "shared_gflops": flop / t_shared / 1e9,
                "shared_speedup": t_per_model / t_shared,
            }
        )
        print(json.dumps(rows[-1]))
    device = jax.devices()[0]
    name = "cpu" if device.platform == "cpu" else device.device_kind.lower().replace(" ", "-")
    out = os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results", f"shared_minibatch-{name}.json"
    )
    with open(out, "w") as f:
        json.dump(
            {
                "benchmark": "shared_minibatch",
                "device": device.device_kind,
                "machine": platform.platform(),
                "cpu_count": os.cpu_count(),
                "jax": jax.__version__,
                "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                "results": rows,
            },
            f,
            indent=2,
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
