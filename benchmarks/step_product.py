"""The Gram engine's step product against the square product the flop floor is timed on.

    python benchmarks/step_product.py [--sizes 5000 20000] [--json OUT.json]

A Gram step multiplies the noise coefficients `C` (`n x 2m`, `m = 20`) by the noise Gram `G`
(`n x n`): `Cᵀ G`, 40 rows against `n`. The flop floor of a sweep (`sweeping.efficiency`) is
its flops at the rate of a square 2048 x 2048 product. This times, in one process and one
after another, the square product and the step's product in the layouts XLA can be given
(the engine's `Cᵀ G` with `C` stored `(n, 2m)`, `C` stored `(2m, n)`, `G C`), each as a share
of the square product's rate: how close a run made of steps can come to its floor. It also
times a sum over `G`, one read of it, for the memory side.
Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp

HIGHEST = jax.lax.Precision.HIGHEST
ROWS = 40  # 2m at m = 20, the studies' width


def product(x, y):
    return jnp.matmul(x, y, precision=HIGHEST)


def best_of(fn, *args, reps: int = 5) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return min(times)


def measure(sizes) -> dict:
    a = jax.random.normal(jax.random.key(0), (2048, 2048))
    square = best_of(jax.jit(lambda x: jnp.matmul(x, x, precision=HIGHEST)), a)
    rate = 2 * 2048**3 / square
    rows = []
    for n in sizes:
        G = jax.random.normal(jax.random.key(1), (n, n))
        C = jax.random.normal(jax.random.key(2), (n, ROWS))
        flops = 2 * ROWS * n * n
        layouts = {
            "C^T G, C stored (n, 2m) (the engine's)": (lambda c, g: product(c.T, g), C),
            "C G, C stored (2m, n)": (product, C.T.copy()),
            "G C, C stored (n, 2m)": (lambda c, g: product(g, c), C),
        }
        row = dict(n=n, layouts={})
        for name, (fn, c) in layouts.items():
            s = best_of(jax.jit(fn), c, G)
            row["layouts"][name] = dict(seconds=s, share_of_square=flops / s / rate)
        read = best_of(jax.jit(jnp.sum), G)
        row["read_G_gb_per_s"] = 4 * n * n / read / 1e9
        rows.append(row)
        del G
    return dict(
        device=str(jax.devices()[0]),
        cpu_count=os.cpu_count(),
        loadavg=os.getloadavg(),
        square_gflops=rate / 1e9,
        sizes=rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    result = measure(args.sizes)
    print(f"square 2048 product: {result['square_gflops']:.0f} GFLOP/s")
    for row in result["sizes"]:
        for name, r in row["layouts"].items():
            ms, share = r["seconds"] * 1e3, r["share_of_square"]
            print(f"n = {row['n']}: {name}: {ms:.1f} ms, share {share:.2f}")
        print(f"n = {row['n']}: one read of G at {row['read_G_gb_per_s']:.1f} GB/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
