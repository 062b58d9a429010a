"""Device memory: what a device may plan to use, the chunk size that fits it, and the refusal
of a run that cannot fit at all (before anything is compiled)."""

from __future__ import annotations

import os

from w2s_jax.engines.cost import engine_used, estimate_run_bytes
from w2s_jax.model.config import ConfigError, Static
from w2s_jax.model.engine_traits import LAW, TRAITS

__all__ = [
    "memory_budget",
    "free_bytes",
    "check_fits",
    "auto_chunk_size",
    "MAX_AUTO_CHUNK",
    "MEMORY_FRACTION",
]

#: Largest automatic chunk (runs): keeps resumable progress and host tables small.
MAX_AUTO_CHUNK = 1024
#: Share of free device memory an automatic chunk may plan to use.
MEMORY_FRACTION = 0.5


def free_bytes(device, n_devices: int) -> int:
    """Bytes free on one device. Accelerators report `bytes_limit` and `bytes_in_use`; CPU
    devices share the host's available memory."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    return _host_available_bytes() // max(n_devices, 1)


def memory_budget(device, n_devices: int) -> int:
    """Bytes one device may plan to use: `MEMORY_FRACTION` of what is free on it."""
    return int(MEMORY_FRACTION * free_bytes(device, n_devices))


def _gb(n: float) -> str:
    value, unit = (n / 2**30, "GiB") if n >= 2**28 else (n / 2**20, "MiB")
    return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"


def check_fits(static: Static, free: int, platform: str) -> None:
    """Refuse, before compiling, a run whose memory estimate exceeds `free` bytes of a device.

    The message says what one run needs, what there is, and what would fit: an engine exact
    in law that traces `d` (no `d`-sized array), or a smaller `n_st`.
    """
    need = estimate_run_bytes(static)
    if need <= free:
        return
    engine = engine_used(static)
    shapes = f"d={static.d or 'any'}, n_max={static.n_max}, m={static.m}"
    advice = "lower n_st (it holds n_st² numbers)"
    in_law = next(t for t in TRAITS.values() if t.noise == LAW)
    if not TRAITS[engine].d_traced:
        lighter = static._replace(engine=in_law.name, d=0)
        advice = (
            f'use engine = "{in_law.name}", which draws the same law with no d-sized array '
            f"({_gb(estimate_run_bytes(lighter))} a run), or lower d"
        )
    raise ConfigError(
        f"engine: one run ({shapes}) needs about {_gb(need)} with the {engine} engine and "
        f"{platform} has {_gb(free)} free; {advice}"
    )


def _host_available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 4 << 30  # unknown host: assume 4 GiB free


def auto_chunk_size(per_run_bytes: int, budget_bytes: int, n_devices: int, n_runs: int) -> int:
    """The largest chunk (a multiple of `n_devices`) whose runs fit the per-device budget."""
    per_device = max(1, budget_bytes // max(per_run_bytes, 1))
    size = min(per_device * n_devices, MAX_AUTO_CHUNK, _round_up(n_runs, n_devices))
    return max(n_devices, size // n_devices * n_devices)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple
