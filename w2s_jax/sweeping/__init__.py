"""Grids of runs: the TOML config, planning (cells, tiers, chunks, memory), the compiled chunk,
the local and Ray executors, the resumable results store and the persistent compile cache."""
