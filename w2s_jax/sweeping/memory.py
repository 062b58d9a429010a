"""Device memory: what a device may plan to use, and the chunk size that fits it."""

from __future__ import annotations

import os

__all__ = ["memory_budget", "auto_chunk_size", "MAX_AUTO_CHUNK", "MEMORY_FRACTION"]

#: Largest automatic chunk (runs): keeps resumable progress and host tables small.
MAX_AUTO_CHUNK = 1024
#: Share of free device memory an automatic chunk may plan to use.
MEMORY_FRACTION = 0.5


def memory_budget(device, n_devices: int) -> int:
    """Bytes one device may plan to use: `MEMORY_FRACTION` of what is free on it.

    Accelerators report `bytes_limit` and `bytes_in_use`; CPU devices share the host's
    available memory.
    """
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    else:
        free = _host_available_bytes() // max(n_devices, 1)
    return int(MEMORY_FRACTION * free)


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
