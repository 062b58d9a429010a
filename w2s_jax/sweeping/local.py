"""The local executor: per tier one compile, then its chunks on this host's devices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from w2s_jax.engines.cost import estimate_run_bytes
from w2s_jax.sweeping.chunk import ChunkProgram, is_out_of_memory, out_of_memory, program_for
from w2s_jax.sweeping.memory import auto_chunk_size, memory_budget
from w2s_jax.sweeping.plan import Tier, chunks, tier_report
from w2s_jax.sweeping.tables import chunk_tables

__all__ = ["compile_tier", "execute_local"]


def compile_tier(tier: Tier, size: int | None, devices: Sequence, n_runs: int) -> ChunkProgram:
    """Compile a tier; with `size=None` pick the chunk size from a memory estimate.

    The shape-based estimate picks a first size; the compiled `memory_analysis()`, where
    available, then shrinks it if the real program is larger than the budget.
    """
    n = len(devices)
    if size is not None:
        size = -(-min(size, n_runs) // n) * n  # pad the chunk to a multiple of the devices
        return program_for(tier.static, size, devices, tier.runs)
    budget = memory_budget(devices[0], n)
    size = auto_chunk_size(estimate_run_bytes(tier.static), budget, n, n_runs)
    program = program_for(tier.static, size, devices, tier.runs)
    used = program.memory_bytes
    if used is not None and used > budget and size > n:
        size = max(n, int(size * budget / used) // n * n)
        compile_s = program.compile_s
        program = program_for(tier.static, size, devices, tier.runs)
        program.compile_s += compile_s
    return program


def execute_local(
    tiers: Sequence[Tier],
    done: set[int],
    base_seed: int,
    chunk_size: int | None,
    devices: list,
    record: Callable,
) -> dict[str, Any]:
    """The host loop: per tier one compile, then its chunks, dispatched one ahead.

    `record(runs, summary, trajectories)` is called for each finished chunk.
    """
    report, compile_s = [], 0.0
    for tier in tiers:
        todo = [r for r in tier.runs if r.index not in done]
        if not todo:
            continue
        program = compile_tier(tier, chunk_size, devices, len(todo))
        compile_s += program.compile_s
        per_chunk = min(chunk_size, program.size) if chunk_size else program.size
        parts = chunks(todo, per_chunk)
        report.append(
            tier_report(
                tier,
                todo,
                program.size,
                len(parts),
                compile_s=round(program.compile_s, 3),
                lower_s=round(program.lower_s, 3),
                cache=program.cache,
                memory_bytes=program.memory_bytes,
            )
        )
        pending, steps = None, tier.static.record_steps
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
                raise out_of_memory(program.size, len(devices)) from None
            raise
    return dict(
        compile_s=round(compile_s, 3),
        tiers=report,
        devices=[str(d) for d in devices],
        platform=devices[0].platform if devices else None,
    )
