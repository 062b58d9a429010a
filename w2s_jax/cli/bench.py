"""`w2s bench [--out FILE.json] [--smoke]`: the same grid run as a Python loop of single jitted
runs, vmapped with the direct engine and vmapped with the Gram engine, with a matrix-product
flop rate for reference and scaling in n_st, d and the number of cells; the d → ∞ limit engine
against the Wishart engine at n_st = 4000 and over a grid of 10^4 runs; then a cold start of
a whole sweep against the per-cell loop, each in a fresh process, and a second sweep that
loads its program from the persistent compile cache.
"""

from __future__ import annotations

import json


def register(sub):
    p = sub.add_parser(
        "bench",
        help="time every way to run a grid (loop, vmap direct, vmap Gram)",
        description=__doc__,
    )
    p.add_argument("--out", default=None, metavar="FILE", help="write the results as JSON to FILE")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes: checks that the benchmark runs, measures nothing useful",
    )
    p.set_defaults(execute=execute)


def execute(args) -> int:
    from w2s_jax.bench.studies import SIZES, SMOKE, benchmark, format_table
    from w2s_jax.sweeping.places import check_writable_file, path_arg

    args.out = path_arg(args.out, "--out")
    if args.out is not None:
        check_writable_file(args.out, "--out")
    result = benchmark(SMOKE if args.smoke else SIZES)
    print(format_table(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=_plain))
        print(f"results written to {args.out}")
    return 0


def _plain(value):
    """numpy scalars and tuples into JSON."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
