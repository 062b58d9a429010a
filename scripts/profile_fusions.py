"""Where one run's time goes, per compiled XLA operation: JAX's profiler around one run.

    python scripts/profile_fusions.py [--engine limit] [--n-st 4000] [--T 400] [--top 12]

Compiles one run of the `w2s bench` limit study's shape (`m = 20`, `n_wk = 1000`, log-spaced
records) on the chosen engine, runs it once to warm up, then once inside `jax.profiler.trace`
and prints the operations that took the most time in total, with their count (an operation
inside the training loop runs once a step). On the CPU backend the names are XLA's fusions
(`ynn_fusion` is a fusion handed to the YNNPACK library); read one in the compiled program
(`--hlo FILE` writes it) to see which part of the step it is.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import tempfile
from pathlib import Path

import jax

from w2s_jax.bench.limit import _EQUAL
from w2s_jax.engines.run import run, run_key
from w2s_jax.model.config import DATA_FIELDS, DataConfig, TrainConfig, split

ENGINES = dict(limit=dict(engine="limit"), wishart=dict(engine="gram", gram_noise="wishart"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(ENGINES), default="limit")
    parser.add_argument("--n-st", type=int, default=_EQUAL["n_st"])
    parser.add_argument("--T", type=int, default=_EQUAL["T"])
    parser.add_argument("--teacher", choices=("trained", "oracle"), default="trained")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--hlo", type=Path, help="write the compiled program's text here")
    args = parser.parse_args(argv)

    fields = _EQUAL | dict(n_st=args.n_st, T=args.T, teacher=args.teacher) | ENGINES[args.engine]
    data = DataConfig(**{k: v for k, v in fields.items() if k in DATA_FIELDS})
    train = TrainConfig(**{k: v for k, v in fields.items() if k not in DATA_FIELDS})
    static, params = split(data, train)
    key = run_key(0, 0)
    compiled = jax.jit(run, static_argnums=0).lower(static, params, key).compile()
    if args.hlo:
        args.hlo.write_text(compiled.as_text())
    jax.block_until_ready(compiled(params, key))

    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            jax.block_until_ready(compiled(params, key))
        trace = next(Path(folder).rglob("*.trace.json.gz"))
        with gzip.open(trace) as file:
            events = json.load(file)["traceEvents"]

    total, count = collections.Counter(), collections.Counter()
    for event in events:
        # The run's XLA operations only (they carry `hlo_op`): not the Python frames, the
        # runtime's own spans or the small programs that make the key.
        info = event.get("args") or {}
        if event.get("ph") == "X" and "hlo_op" in info and info.get("hlo_module") == "jit_run":
            total[event["name"]] += event.get("dur", 0)
            count[event["name"]] += 1
    whole = sum(total.values())
    print(f"{args.engine}, n_st = {args.n_st}, T = {args.T}, teacher {args.teacher}: ", end="")
    print(f"{whole / 1e3:.1f} ms in XLA operations")
    print("| operation | runs | ms | us a run | share |")
    print("|---|---|---|---|---|")
    for name, us in total.most_common(args.top):
        runs = count[name]
        print(f"| {name} | {runs} | {us / 1e3:.1f} | {us / runs:.0f} | {us / whole:.2f} |")


if __name__ == "__main__":
    main()
