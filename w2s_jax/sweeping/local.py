"""The local executor: per tier one compile, then its chunks on this host's devices."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from w2s_jax.engines.cost import run_flops
from w2s_jax.sweeping.chunk import (
    ChunkProgram,
    is_out_of_memory,
    lanes_for,
    out_of_memory,
    program_for,
    runs_per_chunk,
)
from w2s_jax.sweeping.memory import memory_budget
from w2s_jax.sweeping.plan import Tier, chunks, tier_report
from w2s_jax.sweeping.tables import chunk_tables

__all__ = ["compile_tier", "execute_local"]


def compile_tier(tier: Tier, devices: Sequence, lanes: int | None = None) -> ChunkProgram:
    """Compile a tier at its lane width (`chunk.lanes_for`), never the chunk size."""
    n = len(devices)
    lanes = lanes_for(tier.static, len(tier.runs), devices[0].platform, n, lanes)
    return program_for(tier.static, lanes, devices, tier.runs)


def execute_local(
    tiers: Sequence[Tier],
    done: set[int],
    base_seed: int,
    chunk_size: int | None,
    devices: list,
    record: Callable,
    lanes: int | None = None,
) -> dict[str, Any]:
    """The host loop: per tier one compile, then its chunks, dispatched one ahead.

    `record(runs, summary, trajectories)` is called for each finished chunk.
    """
    report, compile_s = [], 0.0
    for tier in tiers:
        todo = [r for r in tier.runs if r.index not in done]
        if not todo:
            continue
        program = compile_tier(tier, devices, lanes)
        compile_s += program.compile_s
        budget = memory_budget(devices[0], len(devices))
        per_chunk = runs_per_chunk(chunk_size, program.size, tier.static, budget, len(todo))
        parts = chunks(todo, per_chunk)
        report.append(
            tier_report(
                tier,
                todo,
                per_chunk,
                len(parts),
                lanes=program.lanes,
                compile_s=round(program.compile_s, 3),
                lower_s=round(program.lower_s, 3),
                cache=program.cache,
                memory_bytes=program.memory_bytes,
            )
        )
        pending, steps = None, tier.static.record_steps
        start = time.perf_counter()
        try:
            # Dispatch chunk k+1 before turning chunk k into tables, so the host work
            # overlaps the device work.
            for part in parts:
                try:
                    outputs = program(part, base_seed)
                except Exception:
                    if pending is not None:  # keep the chunk that did finish
                        record(pending[0], *chunk_tables(pending[0], steps, pending[1]))
                    raise
                if pending is not None:
                    record(pending[0], *chunk_tables(pending[0], steps, pending[1]))
                pending = (part, outputs)
            record(pending[0], *chunk_tables(pending[0], steps, pending[1]))
        except Exception as err:
            if is_out_of_memory(err):
                raise out_of_memory(program.lanes, len(devices)) from None
            raise
        # The tier's running time (compile excluded) and its analytic flops: their ratio is
        # the rate the engine reached over whole runs (`scripts/study_times.py` reads them).
        report[-1].update(
            run_s=round(time.perf_counter() - start, 3),
            flops=float(run_flops(tier.static) * len(todo)),
        )
    return dict(
        compile_s=round(compile_s, 3),
        tiers=report,
        devices=[str(d) for d in devices],
        platform=devices[0].platform if devices else None,
    )
