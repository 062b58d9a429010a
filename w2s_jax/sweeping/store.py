"""The results store of a sweep directory (docs/model.md#config).

    DIR/manifest.json             config, grid, versions, devices, plan, timings, efficiency
    DIR/parts/<first>-<last>.summary.parquet        one per finished chunk
    DIR/parts/<first>-<last>.trajectories.parquet
    DIR/summary.parquet, DIR/trajectories.parquet   merged at the end

Every file is written to a temporary name and renamed into place, so a killed sweep leaves
only whole files. A chunk counts as finished when its summary part exists (it is renamed
last); a rerun reads the `cell, seed` columns of those parts and skips their runs.

A directory belongs to one config and one writer. The manifest holds the hash of what fixes
the numbers (`numbers_hash`: the config, the platform and the device count) and every part
carries it in its parquet metadata: a resume reuses only parts of that hash and refuses a
directory that holds another's. A writer holds an exclusive `flock` on `DIR/.w2s.lock`
(released by the system when the process dies, so a killed sweep leaves no stale lock); a
second writer is refused with the holder's pid. A part that cannot be read (a disk error,
a file truncated outside our atomic writes) is removed and its runs are computed again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from w2s_jax.model.config import ConfigError

__all__ = [
    "Store",
    "versions",
    "code_version",
    "atomic_write_parquet",
    "atomic_write_text",
    "SORT_SUMMARY",
    "SORT_TRAJECTORIES",
    "numbers_hash",
]

MANIFEST = "manifest.json"
SUMMARY = "summary.parquet"
TRAJECTORIES = "trajectories.parquet"
PARTS = "parts"
SORT_SUMMARY = ["cell", "seed"]
SORT_TRAJECTORIES = ["cell", "seed", "step"]
LOCK = ".w2s.lock"
_OWN = (MANIFEST, SUMMARY, TRAJECTORIES, PARTS)
#: The parquet metadata key of a part's `numbers_hash`.
HASH_KEY = b"w2s_numbers_hash"


def _fsync_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_parquet(frame: pd.DataFrame, path: Path, numbers: str | None = None) -> None:
    """Write `frame` to `path` through a temporary file and a rename; `numbers` (a
    `numbers_hash`) goes into the file's metadata."""
    tmp = _tmp_name(path)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if numbers is not None:
        table = table.replace_schema_metadata(
            (table.schema.metadata or {}) | {HASH_KEY: numbers.encode()}
        )
    pq.write_table(table, tmp)
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


def code_version() -> dict[str, str | bool] | None:
    """The git commit of the checkout `w2s_jax` was imported from, and whether its tracked
    files had uncommitted changes (`dirty`); None outside a git checkout or without git."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def _identity(config: dict) -> dict:
    """The part of a config that fixes the results: all of it but the chunk size."""
    plain = json.loads(json.dumps(config))
    if isinstance(plain.get("sweep"), dict):
        plain["sweep"] = {k: v for k, v in plain["sweep"].items() if k != "chunk_size"}
        if not plain["sweep"]:
            del plain["sweep"]
    plain.pop("description", None)
    plain.pop("name", None)
    return plain


def numbers_hash(config: dict, platform: str, n_devices: int) -> str:
    """A hash of everything that fixes a sweep's numbers bit for bit: the config (but its
    chunk size), the platform and the number of devices a group is sharded over."""
    text = json.dumps(
        dict(config=_identity(config), platform=platform, devices=n_devices), sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _Lock:
    """An exclusive `flock` on `DIR/.w2s.lock`, with the holder's pid written inside."""

    def __init__(self, path: Path):
        self.path, self.file = path, None

    def acquire(self) -> None:
        self.file = open(self.path, "a+")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            holder = self.file.read().strip() or "unknown"
            self.file.close()
            self.file = None
            raise ConfigError(
                f"--out: {str(self.path.parent)!r} is in use by another sweep (pid {holder}); "
                "wait for it to finish, or choose another --out"
            ) from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"{os.getpid()}\n")
        self.file.flush()

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing drops the flock
            self.file = None


class Store:
    """A sweep directory. `check` only reads; nothing is written before `begin`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.parts = self.root / PARTS
        self.numbers: str | None = None  # the numbers_hash of this sweep, set by `begin`
        self._unreadable: list[Path] = []  # parts `done_runs` could not read
        self._lock = _Lock(self.root / LOCK)

    def check(self, config: dict, force: bool = False) -> None:
        """Refuse a directory that holds other things or another config, unless `force`,
        and one that cannot be created or written."""
        from w2s_jax.sweeping.places import check_writable_dir

        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out: {str(self.root)!r} exists and is not a directory")
        check_writable_dir(self.root, "--out")
        if force or not self.root.exists() or not self._contents():
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
                if _identity({k: previous.get(k)}) != _identity({k: config.get(k)})
            )
            raise ConfigError(
                f"--out: {str(self.root)!r} holds a sweep of a different config "
                f"(differs in {', '.join(changed)}); pass --force to replace it"
            )

    def _contents(self) -> list[Path]:
        """What the directory holds besides an idle lock file."""
        return [p for p in self.root.iterdir() if p.name != LOCK]

    def check_numbers(self, numbers: str, where: str) -> None:
        """Refuse to resume results whose numbers were fixed elsewhere: another platform or
        device count (`numbers_hash`), which would mix last bits. `where` describes ours."""
        try:
            previous = self.read_manifest()
        except (OSError, ValueError):
            return  # no manifest: nothing to resume (`check` refused foreign contents)
        if previous.get("numbers_hash", numbers) != numbers:
            was = previous.get("numbers", {})
            raise ConfigError(
                f"--out: {str(self.root)!r} holds results computed on {was.get('platform')} "
                f"with {was.get('devices')} device(s), and this sweep runs on {where}; a "
                "resume would mix their last bits: resume it there, or pass --force"
            )

    def acquire(self) -> None:
        """Become the directory's one writer (idempotent); see `_Lock`."""
        if self._lock.file is None:
            self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def begin(self, manifest: dict[str, Any], force: bool = False) -> None:
        """Create the directory, take its lock, clear our own files if `force` (else remove
        unreadable parts) and write the manifest. `manifest["numbers_hash"]` marks the parts."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.acquire()
        try:
            if force:
                for name in _OWN:
                    path = self.root / name
                    if path.is_dir():
                        shutil.rmtree(path)
                    elif path.exists():
                        path.unlink()
            else:
                self.check(manifest["config"])  # again, now that we hold the lock
                for path in self._unreadable:
                    path.unlink(missing_ok=True)
            self.numbers = manifest.get("numbers_hash")
            self.parts.mkdir(parents=True, exist_ok=True)
            self.write_manifest(manifest)
        except BaseException:
            self.release()
            raise

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_text(json.dumps(manifest, indent=2, default=str) + "\n", self.root / MANIFEST)

    def read_manifest(self) -> dict[str, Any]:
        return json.loads((self.root / MANIFEST).read_text())

    def _finished(self) -> list[Path]:
        if not self.parts.is_dir():
            return []
        return sorted(self.parts.glob("[!.]*.summary.parquet"))

    def _part_hash(self, path: Path) -> str | None:
        """The `numbers_hash` in a part's metadata; raises `OSError`/`ArrowException` when
        the file is not a readable parquet file."""
        metadata = pq.read_schema(path).metadata or {}
        value = metadata.get(HASH_KEY)
        return value.decode() if value is not None else None

    def done_runs(self, seeds: int, numbers: str | None = None) -> set[int]:
        """Run indices (`cell * seeds + seed`) of every finished chunk of `numbers`.

        A part of another hash (or of none: an older version) is refused, since the folder
        then mixes sweeps; an unreadable part is set aside (removed by `begin`) and its
        runs are computed again.
        """
        numbers = numbers or self.numbers
        done: set[int] = set()
        self._unreadable = []
        for path in self._finished():
            try:
                found = self._part_hash(path)
                frame = pd.read_parquet(path, columns=["cell", "seed"])
            except (OSError, pa.ArrowException, ValueError):
                self._unreadable.append(path)
                continue
            if found != numbers:
                raise ConfigError(
                    f"--out: {path} was computed by another sweep (its numbers hash is {found}, "
                    f"this sweep's {numbers}): the folder mixes results; pass --force to start "
                    "over, or choose another --out"
                )
            done.update((frame["cell"] * seeds + frame["seed"]).tolist())
        return done

    def has_chunk(self, name: str) -> bool:
        return (self.parts / f"{name}.summary.parquet").exists()

    def write_chunk(self, name: str, summary: pd.DataFrame, trajectories: pd.DataFrame) -> None:
        """Write one finished chunk; its summary part goes last and marks it finished."""
        self.parts.mkdir(parents=True, exist_ok=True)
        parts, numbers = self.parts, self.numbers
        atomic_write_parquet(trajectories, parts / f"{name}.trajectories.parquet", numbers)
        atomic_write_parquet(summary, parts / f"{name}.summary.parquet", numbers)

    def merge(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Merge the finished parts of this sweep's hash into summary.parquet and
        trajectories.parquet, one row per run (and record step).

        Trajectory parts without a summary part (a chunk killed between its two writes) and
        leftover temporary files are removed.
        """
        finished = [p for p in self._finished() if self._part_hash(p) == self.numbers]
        names = [p.name[: -len(".summary.parquet")] for p in finished]
        summary = merge_frames([pd.read_parquet(p) for p in finished], SORT_SUMMARY)
        trajectories = merge_frames(
            [pd.read_parquet(self.parts / f"{n}.trajectories.parquet") for n in names],
            SORT_TRAJECTORIES,
        )
        # Two chunkings of one run (a resume with another chunk size) hold the same numbers.
        summary = summary.drop_duplicates(SORT_SUMMARY, ignore_index=True)
        trajectories = trajectories.drop_duplicates(SORT_TRAJECTORIES, ignore_index=True)
        atomic_write_parquet(summary, self.root / SUMMARY, self.numbers)
        atomic_write_parquet(trajectories, self.root / TRAJECTORIES, self.numbers)
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
