"""How far the sweep's progress bar is from the truth: its time left against the time it took.

    python scripts/progress_error.py CONFIG... [--out-dir /tmp/progress_error] [--note TEXT]
    python scripts/progress_error.py            # only rewrite the page from the JSON

Runs each sweep config as `w2s sweep` would, with no persistent compile cache (a new user's
first run), and records at each update of the bar (`sweeping.progress`) its elapsed time,
units done, cells done and the time left it showed. At the update nearest 10 %, 50 % and 90 %
of the units (the bar moves once a chunk, so that can be far from the target; the last update,
at 100 %, says nothing) it compares the time left shown with the time the bar then took to
reach 100 %; beside it, what tqdm's own estimate would have said at that update, `elapsed ·
(total − done) / done`, in flops ("flops only") and in cells ("cells"). The measurements go
into `--json` (an entry per config, replaced when measured again) and the table between the
markers of `--page` is written from that file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = (0.1, 0.5, 0.9)
BEGIN = "<!-- progress_error: written by scripts/progress_error.py from {json}; do not edit -->"
END = "<!-- /progress_error -->"


def measure(config_path: Path, out: Path) -> dict:
    """Run one sweep into `out`; return its bar's updates and what the sweep recorded."""
    from w2s_jax.sweeping import driver, progress

    made: list[progress.Progress] = []

    class Recorded(progress.Progress):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    original, progress.Progress = progress.Progress, Recorded
    try:
        started = time.perf_counter()
        result = driver.run_sweep(config_path, out)
        command_s = time.perf_counter() - started
    finally:
        progress.Progress = original
    manifest, (bar,) = result.manifest, made
    return dict(
        config=config_path.resolve().relative_to(ROOT).as_posix(),
        name=manifest["name"],
        runs=manifest["n_runs"],
        tiers=len(manifest["tiers"]),
        updates=[[round(t, 3), n, c, round(left, 3)] for t, n, c, left in bar.history],
        total_units=bar.bar.total,
        bar_s=round(bar.history[-1][0], 3),
        command_s=round(command_s, 3),
        compile_s=manifest["compile_s"],
        efficiency=manifest.get("efficiency"),
        matmul_gflops=manifest.get("matmul_gflops"),
        load_average=round(load, 2),
    )


def estimate(study: dict, target: float) -> dict | None:
    """The time left shown at the update nearest `target` of the units, the time the bar then
    took, and tqdm's estimates in flops and in cells at the same update; None where the bar
    moved only once (to 100 %)."""
    total, runs, end = study["total_units"], study["runs"], study["bar_s"]
    before_end = [u for u in study["updates"] if u[1] < total]
    if not before_end:
        return None
    elapsed, done, cells, shown = min(before_end, key=lambda u: abs(u[1] / total - target))
    actual = end - elapsed

    def error(predicted: float) -> float:
        return round((predicted - actual) / actual, 4)

    by_flops = elapsed * (total - done) / done
    by_cells = elapsed * (runs - cells) / cells
    return dict(
        target=target,
        done=round(done / total, 4),
        elapsed_s=round(elapsed, 3),
        shown_s=shown,
        actual_s=round(actual, 3),
        error=error(shown),
        flops_only_s=round(by_flops, 3),
        flops_only_error=error(by_flops),
        cells_s=round(by_cells, 3),
        cells_error=error(by_cells),
    )


def _seconds(x: float) -> str:
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s"


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:+.0%}"


def _cell(e: dict | None, earlier: list) -> str:
    if e is None:
        return "— (one update, at 100 %)"
    if any(x and x["done"] == e["done"] for x in earlier):
        return "the same update"
    return (
        f"{_seconds(e['shown_s'])} for {_seconds(e['actual_s'])}: {_share(e['error'])} "
        f"(at {e['done']:.0%}; flops only {_share(e['flops_only_error'])}, "
        f"cells {_share(e['cells_error'])})"
    )


def table(data: dict) -> str:
    """The page's Markdown: the table and the largest error at each target."""
    head = ["study", "runs", "bar updates", "compile s", "to 100 %"]
    head += [f"near {t:.0%}: shown for took" for t in TARGETS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in data["studies"]:
        cells = [
            f"`{Path(s['config']).stem}`",
            str(s["runs"]),
            str(len(s["updates"])),
            f"{s['compile_s']:.0f}",
            _seconds(s["bar_s"]),
        ] + [_cell(e, s["estimates"][:i]) for i, e in enumerate(s["estimates"])]
        lines.append("| " + " | ".join(cells) + " |")
    machine = data["machine"]
    loads = ", ".join(f"{s['load_average']:g}" for s in data["studies"])
    note = f" {data['note']}" if data.get("note") else ""
    return (
        "\n".join(lines)
        + "\n\nAt the updates read, as a share of the time the sweep then took, the time left"
        + f" shown was off by {spread(data, 'error')} ({within(data)}); tqdm's estimate in flops by"
        + f" {spread(data, 'flops_only_error')}, in cells by {spread(data, 'cells_error')}."
        + f" Measured on {machine['platform']} with {machine['cpus']} cores (load average over"
        + f" the minute before each start: {loads}).{note}\n"
    )


def errors_read(data: dict, key: str) -> list[float]:
    """The error `key` at each update read, each update once (two targets may read one)."""
    errors = []
    for study in data["studies"]:
        read = {e["done"]: e[key] for e in study["estimates"] if e}
        errors += read.values()
    return errors


def spread(data: dict, key: str) -> str:
    """The smallest and largest error `key` over the updates read (each once), "−35% to +42%"."""
    errors = errors_read(data, key)
    return f"{min(errors):+.0%} to {max(errors):+.0%}" if errors else "nothing (no update read)"


def within(data: dict) -> str:
    """Whether each update read showed a time left within `STATED_ERROR` of the time taken."""
    from w2s_jax.sweeping.progress import STATED_ERROR

    errors = errors_read(data, "error")
    outside = sum(abs(e) > STATED_ERROR for e in errors)
    bound = f"the stated ±{STATED_ERROR:.0%}, `progress.STATED_ERROR`"
    if not outside:
        return f"all {len(errors)} within {bound}"
    return f"{outside} of {len(errors)} outside {bound}"


def write_page(page: Path, json_path: Path, data: dict) -> None:
    """Replace the text between the markers of `page` with `table(data)`."""
    text = page.read_text()
    begin = BEGIN.format(json=json_path.relative_to(ROOT).as_posix())
    start, stop = text.find(begin), text.find(END)
    if start < 0 or stop < start:
        raise SystemExit(f"progress_error: {page} has no {begin!r} ... {END!r} block")
    page.write_text(text[: start + len(begin)] + "\n" + table(data) + text[stop:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", type=Path)
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/progress_error"))
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "progress_error.json")
    parser.add_argument("--page", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--note", help="what else ran on the machine (kept in the JSON)")
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text()) if args.json.exists() else dict(studies=[])
    for path in args.configs:
        entry = measure(path, args.out_dir / path.stem)
        data["studies"] = [s for s in data["studies"] if s["config"] != entry["config"]]
        data["studies"].append(entry)
        data["studies"].sort(key=lambda s: s["config"])
    if args.note is not None:
        data["note"] = args.note
    if args.configs:
        import jax

        data["machine"] = dict(
            platform=jax.devices()[0].platform,
            cpus=os.cpu_count(),
            processor=platform.processor() or platform.machine(),
        )
    for study in data["studies"]:  # from the updates, so a new reading needs no new run
        study["estimates"] = [estimate(study, target) for target in TARGETS]
    args.json.write_text(json.dumps(data, indent=1) + "\n")
    write_page(args.page, args.json.resolve(), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
