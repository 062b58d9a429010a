"""The results store of a sweep directory (SPEC §6).

    DIR/manifest.json             config, grid, versions, devices, plan, timings
    DIR/parts/<first>-<last>.summary.parquet        one per finished chunk
    DIR/parts/<first>-<last>.trajectories.parquet
    DIR/summary.parquet, DIR/trajectories.parquet   merged at the end

Every file is written to a temporary name and renamed into place, so a killed sweep leaves
only whole files. A chunk counts as finished when its summary part exists (it is renamed
last); a rerun reads the `cell, seed` columns of those parts and skips their runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from w2s_jax.model.config import ConfigError

__all__ = [
    "Store",
    "versions",
    "atomic_write_parquet",
    "atomic_write_text",
    "SORT_SUMMARY",
    "SORT_TRAJECTORIES",
]

MANIFEST = "manifest.json"
SUMMARY = "summary.parquet"
TRAJECTORIES = "trajectories.parquet"
PARTS = "parts"
SORT_SUMMARY = ["cell", "seed"]
SORT_TRAJECTORIES = ["cell", "seed", "step"]
_OWN = (MANIFEST, SUMMARY, TRAJECTORIES, PARTS)


def _fsync_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to `path` through a temporary file and a rename."""
    tmp = _tmp_name(path)
    frame.to_parquet(tmp, index=False)
    _fsync_replace(tmp, path)


def atomic_write_text(text: str, path: Path) -> None:
    tmp = _tmp_name(path)
    tmp.write_text(text)
    _fsync_replace(tmp, path)


def versions() -> dict[str, str]:
    """Versions of Python and the packages that fix the numbers."""
    out = {"python": platform.python_version()}
    for name in ("w2s_jax", "jax", "jaxlib", "numpy", "pandas", "pyarrow", "optax", "equinox"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def _identity(config: dict) -> dict:
    """The part of a config that fixes the results (`[sweep]` only tunes chunking)."""
    return json.loads(json.dumps({k: v for k, v in config.items() if k != "sweep"}))


class Store:
    """A sweep directory. `check` only reads; nothing is written before `begin`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.parts = self.root / PARTS

    def check(self, config: dict, force: bool = False) -> None:
        """Refuse a directory that holds other things or another config, unless `force`,
        and one that cannot be created or written."""
        from w2s_jax.sweeping.places import check_writable_dir

        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out: {str(self.root)!r} exists and is not a directory")
        check_writable_dir(self.root, "--out")
        if force or not self.root.exists() or not any(self.root.iterdir()):
            return
        manifest = self.root / MANIFEST
        if not manifest.exists():
            raise ConfigError(
                f"--out: {str(self.root)!r} is not empty and holds no sweep "
                "(choose an empty directory or pass --force)"
            )
        try:
            previous = json.loads(manifest.read_text())["config"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ConfigError(
                f"--out: {manifest} is unreadable (pass --force to start over)"
            ) from None
        if _identity(previous) != _identity(config):
            changed = sorted(
                k
                for k in set(previous) | set(config)
                if k != "sweep" and _identity({k: previous.get(k)}) != _identity({k: config.get(k)})
            )
            raise ConfigError(
                f"--out: {str(self.root)!r} holds a sweep of a different config "
                f"(differs in {', '.join(changed)}); pass --force to replace it"
            )

    def begin(self, manifest: dict[str, Any], force: bool = False) -> None:
        """Create the directory (clearing our own files if `force`) and write the manifest."""
        if force:
            for name in _OWN:
                path = self.root / name
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
        self.parts.mkdir(parents=True, exist_ok=True)
        self.write_manifest(manifest)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_text(json.dumps(manifest, indent=2, default=str) + "\n", self.root / MANIFEST)

    def read_manifest(self) -> dict[str, Any]:
        return json.loads((self.root / MANIFEST).read_text())

    def _finished(self) -> list[Path]:
        if not self.parts.is_dir():
            return []
        return sorted(self.parts.glob("[!.]*.summary.parquet"))

    def done_runs(self, seeds: int) -> set[int]:
        """Run indices (`cell * seeds + seed`) of every finished chunk."""
        done: set[int] = set()
        for path in self._finished():
            frame = pd.read_parquet(path, columns=["cell", "seed"])
            done.update((frame["cell"] * seeds + frame["seed"]).tolist())
        return done

    def has_chunk(self, name: str) -> bool:
        return (self.parts / f"{name}.summary.parquet").exists()

    def write_chunk(self, name: str, summary: pd.DataFrame, trajectories: pd.DataFrame) -> None:
        """Write one finished chunk; its summary part goes last and marks it finished."""
        self.parts.mkdir(parents=True, exist_ok=True)
        atomic_write_parquet(trajectories, self.parts / f"{name}.trajectories.parquet")
        atomic_write_parquet(summary, self.parts / f"{name}.summary.parquet")

    def merge(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Merge the finished parts into summary.parquet and trajectories.parquet.

        Trajectory parts without a summary part (a chunk killed between its two writes) and
        leftover temporary files are removed.
        """
        finished = self._finished()
        names = [p.name[: -len(".summary.parquet")] for p in finished]
        summary = merge_frames([pd.read_parquet(p) for p in finished], SORT_SUMMARY)
        trajectories = merge_frames(
            [pd.read_parquet(self.parts / f"{n}.trajectories.parquet") for n in names],
            SORT_TRAJECTORIES,
        )
        atomic_write_parquet(summary, self.root / SUMMARY)
        atomic_write_parquet(trajectories, self.root / TRAJECTORIES)
        keep = {f"{n}.trajectories.parquet" for n in names} | {p.name for p in finished}
        for path in self.parts.iterdir():
            if path.name not in keep and (path.name.startswith(".") or path.suffix == ".parquet"):
                path.unlink(missing_ok=True)
        return summary, trajectories


def merge_frames(frames: list[pd.DataFrame], order: list[str]) -> pd.DataFrame:
    """Concatenate chunk tables and sort them into grid order."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    merged = pd.concat(frames, ignore_index=True)
    return merged.sort_values(order, kind="stable").reset_index(drop=True)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
