"""What each finished study cost: one Markdown row per `results/*/manifest.json`.

    python scripts/study_times.py [STUDIES] [--out docs/study_times.md]   # STUDIES: studies/

Columns: the study, its runs, its wall time, the share of that time spent compiling, the
analytic flops over the running time (the rate the engine reached over whole runs, from each
tier's `flops` and `run_s`), the manifest's `efficiency` (that rate as a share of a matrix
product's, measured in the sweep's process: `w2s_jax.sweeping.efficiency`), its wall time over
its flop floor (`wall_s / flop_floor_s`), the engine that computed it and the machine. The
efficiency and the floor are "not recorded" for sweeps from before the manifest kept them.
The computing engine
is the config's `train.engine` (with `gram_noise` for the Gram engine; `auto` picks per cell
and the manifest does not say which); the machine is the platform and device count (the
manifest holds no CPU model or host name). A study still running or stopped has no `wall_s`
and is listed with its status.

A results folder does not outlive the machine it was written on, so the rows already in
`--out` for studies absent from RESULTS are kept as they are: each is the measurement made
when that study ran. `--fresh` drops them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COLUMNS = (
    "study",
    "runs",
    "wall time",
    "compile share",
    "GFLOP/s running",
    "share of matmul rate",
    "wall / flop floor",
    "engine",
    "machine",
)
#: The columns added after "GFLOP/s running" since tables were first written: a kept row of
#: the earlier layout gets "not recorded" there.
ADDED = (5, 2)


def engine_of(config: dict) -> str:
    """The computing engine the config asked for, as `w2s sweep` resolves the default."""
    train = config.get("train", {})
    grid = config.get("grid", {})
    engines = grid.get("engine") or [train.get("engine", "auto")]
    names = []
    for engine in engines:
        if engine == "gram":
            engine = f"gram ({train.get('gram_noise', 'sampled')} noise)"
        elif engine == "auto":
            engine = "auto (choice per cell not recorded)"
        names.append(engine)
    return ", ".join(names)


def machine_of(manifest: dict) -> str:
    devices = manifest.get("devices")
    if not devices:  # written when a sweep finishes; a trace's steps keep theirs
        return "not recorded" + ("" if manifest.get("status") == "complete" else " (unfinished)")
    text = f"{manifest.get('platform', '?')} × {len(devices)} device{'s' * (len(devices) != 1)}"
    if manifest.get("engine") == "ray":
        text += " (ray)"
    return text


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def flop_rate(manifest: dict) -> str:
    """Analytic flops over running time (compile excluded), summed over the tiers that record
    both (sweeps from before the manifest kept them: "not recorded")."""
    tiers = [t for t in manifest.get("tiers", []) if "flops" in t and t.get("run_s")]
    if not tiers:
        return "not recorded"
    return f"{sum(t['flops'] for t in tiers) / sum(t['run_s'] for t in tiers) / 1e9:.0f}"


def efficiency(manifest: dict) -> str:
    """The running time's share of the matrix-product rate, two significant digits."""
    share = manifest.get("efficiency")
    return "not recorded" if share is None else f"{float(f'{100 * share:.2g}'):g}%"


def floor_ratio(manifest: dict) -> str:
    """How many times its flop floor the study's wall time was."""
    floor, wall = manifest.get("flop_floor_s"), manifest.get("wall_s")
    if not floor or wall is None:
        return "not recorded"
    ratio = wall / floor
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:,.0f}×"


def row(manifest: dict, folder: str) -> list[str]:
    """One table row; what the manifest lacks is said in the cell."""
    config = manifest.get("config", {})
    wall = manifest.get("wall_s")
    compile_s = manifest.get("compile_s")
    status = manifest.get("status", "?")
    if wall is None:
        wall_text, share = f"— ({status})", "—"
    else:
        wall_text = _duration(wall)
        share = "not recorded" if compile_s is None else f"{compile_s / wall:.0%}"
        if manifest.get("runs_resumed"):
            wall_text += f" ({manifest['runs_resumed']} runs resumed)"
    name = manifest.get("name") or config.get("name") or folder
    if manifest.get("smoke"):
        name += " (smoke)"
    return [
        name,
        str(manifest.get("n_runs", "?")),
        wall_text,
        share,
        flop_rate(manifest),
        efficiency(manifest),
        floor_ratio(manifest),
        engine_of(config),
        machine_of(manifest),
    ]


#: Marks a row kept from an earlier table: its study's data is not in the folder read.
EARLIER = " (earlier run; its data is not committed)"


def kept_rows(previous: str, measured: set[str]) -> dict[str, list[str]]:
    """The table rows of a previous `--out` whose study is not among `measured`, by name,
    each marked as an earlier run."""
    rows = {}
    for line in previous.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        at, added = ADDED
        if len(cells) == len(COLUMNS) - added:  # the earlier layout
            cells[at:at] = ["not recorded"] * added
        if len(cells) != len(COLUMNS) or cells[0] in (COLUMNS[0], "") or set(cells[0]) <= {"-"}:
            continue
        name = cells[0].removesuffix(EARLIER)
        if name not in measured:
            rows[name] = [name + EARLIER, *cells[1:]]
    return rows


def table(results: Path, previous: str = "") -> str:
    """The Markdown table of every study in `results`, beside the rows of `previous` (an
    earlier table) for studies not in `results`, sorted by name."""
    rows = []
    for path in sorted(results.glob("*/manifest.json")):
        try:
            manifest = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            unreadable = [path.parent.name, "?", f"unreadable manifest ({err})"]
            rows.append(unreadable + [""] * (len(COLUMNS) - len(unreadable)))
            continue
        rows.append(row(manifest, path.parent.name))
    rows += kept_rows(previous, {r[0] for r in rows}).values()
    rows.sort(key=lambda r: r[0])
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


#: The study `make paper` runs (sweeps/paper.toml): its tiers against their flop floor.
MAIN_JOB = "paper"


def main_job(results: Path) -> str:
    """The main job's tiers (runs, lanes, compile and running seconds, their flops' floor at
    the manifest's matrix-product rate) and its whole running time over the floor, or "" when
    its manifest predates the efficiency fields or is not in `results`."""
    path = results / MAIN_JOB / "manifest.json"
    if not path.exists():
        return ""
    m = json.loads(path.read_text())
    rate = m.get("matmul_gflops")
    if not isinstance(rate, int | float) or not m.get("flop_floor_s"):
        return ""
    lines = [
        "| n_st tier | runs | lanes | compile s | running s | flop floor s | running / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in m["tiers"]:
        floor = t["flops"] / (rate * 1e9)
        lines.append(
            f"| {t['n_max']} | {t['runs']} | {t['lanes']} | {t['compile_s']:.1f} | "
            f"{t['run_s']:.1f} | {floor:.3g} | {t['run_s'] / floor:.2f} |"
        )
    code = m.get("code") or {}
    return (
        f"## The main job against its floor\n\n`make paper` (`sweeps/{MAIN_JOB}.toml`), from "
        f"`{results}/{MAIN_JOB}/manifest.json` (commit `{str(code.get('commit'))[:7]}`, "
        f"{m['numbers']['platform']} with {m['numbers']['devices']} device(s), matrix product "
        f"{rate} GFLOP/s timed in the same process): {m['wall_s']:.0f} s in all, compiling "
        f"{m['compile_s']:.1f} s ({m['compile_share']:.0%} of the wall time), running "
        f"{m['run_s']:.0f} s against a flop floor of {m['flop_floor_s']} s: "
        f"**{m['run_s'] / m['flop_floor_s']:.2f}×** its floor (efficiency {m['efficiency']}). "
        "Where the running time goes beyond the floor: "
        "[measured speed](performance.md#main-job).\n\n" + "\n".join(lines) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", default="studies", type=Path)
    parser.add_argument("--out", default="docs/study_times.md", type=Path)
    parser.add_argument(
        "--fresh", action="store_true", help="drop the rows of studies absent from RESULTS"
    )
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"study_times: error: {str(args.results)!r} is not a folder", file=sys.stderr)
        return 2
    previous = "" if args.fresh or not args.out.exists() else args.out.read_text()
    text = (
        "# What each study cost\n\n"
        f"Written by `scripts/study_times.py` from `{args.results}/*/manifest.json`\n"
        "(`make figures`: the committed data of [the studies](studies.md)). The compile share\n"
        "is `compile_s / wall_s` of the manifest; GFLOP/s is the tiers' analytic flops\n"
        "(`engines.cost.run_flops`) over their running time. The share of the matmul rate is\n"
        "the manifest's `efficiency`: its flop floor (those flops over the rate of one large\n"
        "matrix product timed in the sweep's process, `w2s_jax.sweeping.efficiency`) over the\n"
        "running time; wall / flop floor is how many times its floor the whole sweep took,\n"
        "compiling included; sweeps from before the manifest kept them say *not recorded*. A\n"
        "study below half the rate is explained in\n"
        "[measured speed](performance.md#efficiency). The engine is the config's\n"
        "`train.engine` (the manifest records neither the engine `auto` picked nor the\n"
        "CPU model). Rows marked *earlier run* are kept from the run that measured them, before\n"
        "their data was committed; they can come from other machines, which need not run at\n"
        "the same speed. Wall times count the machine's time only while it ran.\n\n"
        + table(args.results, previous)
    )
    job = main_job(args.results)
    text += f"\n{job}" if job else ""
    args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
