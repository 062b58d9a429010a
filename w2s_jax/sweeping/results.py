"""Reading a sweep's results: the tables `w2s sweep` writes (`sweeping/store.py`), from a
results folder or by the name of a study whose data the repository keeps under `studies/`.

    load_results("plane_coin")            # studies/plane_coin/ of this checkout
    load_results("results/my_sweep")      # any folder `w2s sweep --out` wrote

A name is looked up in the folders of `W2S_STUDIES` (a path list, like `PATH`) and then in
the checkout's `studies/`; `study_names()` lists what is there.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from w2s_jax.model.config import ConfigError
from w2s_jax.model.schema import FIELDS

__all__ = [
    "Results",
    "load_results",
    "study_dirs",
    "study_names",
    "resolve",
    "with_field_defaults",
    "SUMMARY_REQUIRED",
    "TRAJECTORY_REQUIRED",
]

#: The checkout's folder of committed study data (absent from an installed wheel).
STUDIES = Path(__file__).resolve().parents[2] / "studies"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class Results(NamedTuple):
    """A sweep's tables: one row a run (`summary`), one row a recorded step of a run
    (`trajectories`), and the manifest (config, grid, versions, code commit, timings)."""

    summary: pd.DataFrame
    trajectories: pd.DataFrame
    manifest: dict


def study_dirs() -> list[Path]:
    """Where study names are looked up, in order: `W2S_STUDIES`, then the checkout's
    `studies/`."""
    extra = [Path(p) for p in os.environ.get("W2S_STUDIES", "").split(os.pathsep) if p]
    return [*extra, STUDIES]


def study_names() -> list[str]:
    """The studies with finished data in the folders of `study_dirs()`."""
    found = {
        p.parent.name
        for folder in study_dirs()
        if folder.is_dir()
        for p in folder.glob("*/summary.parquet")
    }
    return sorted(found)


def resolve(study: str | Path) -> Path:
    """The folder of `study`: an existing path as given, else a study name."""
    path = Path(study)
    if path.exists() or not _NAME.fullmatch(str(study)):
        return path
    for folder in study_dirs():
        if (folder / str(study)).is_dir():
            return folder / str(study)
    return path


def load_results(study: str | Path) -> Results:
    """`(summary, trajectories, manifest)` of a sweep folder or a committed study
    (`load_results("plane_coin")`; `study_names()` lists them). Columns are described in
    docs/model.md#config; a field a study predates reads as its default."""
    directory = resolve(study)
    missing = [
        n for n in ("summary.parquet", "trajectories.parquet") if not (directory / n).exists()
    ]
    if missing:
        known = study_names()
        hint = (
            f"; committed studies: {', '.join(known)}"
            if known and _NAME.fullmatch(str(study))
            else ""
        )
        raise ConfigError(
            f"DIR: {str(study)!r} holds no finished sweep "
            f"(missing {', '.join(missing)}; run `w2s sweep CONFIG --out DIR`{hint})"
        )
    manifest_path = directory / "manifest.json"
    manifest = {}
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"DIR: {str(manifest_path)!r} is not a readable JSON manifest ({_short(err)}); "
                "rerun `w2s sweep CONFIG --out DIR`"
            ) from None
        if not isinstance(manifest, dict):
            raise ConfigError(
                f"DIR: {str(manifest_path)!r} is not a manifest of w2s sweep (not a JSON object)"
            )
    summary = _read_table(directory / "summary.parquet", SUMMARY_REQUIRED)
    trajectories = _read_table(directory / "trajectories.parquet", TRAJECTORY_REQUIRED)
    return Results(with_field_defaults(summary), with_field_defaults(trajectories), manifest)


def with_field_defaults(table: pd.DataFrame) -> pd.DataFrame:
    """A result table (`summary` or `trajectories`, which both carry the config) with a column
    for every config field it lacks, at the field's default.

    A study written before a field existed ran with that field's default behaviour, so it
    reads as the default: two studies from either side of a new field then concatenate
    without NaN in its column, which would otherwise split a map's cells or drop them from
    a grouping. Coordinates and fields without a default are left out."""
    missing = {
        f.name: f.default
        for f in FIELDS
        if f.name not in table and not f.coordinate and f.default is not None
    }
    table = table.assign(**missing) if missing else table
    return _with_followed(table)


def _with_followed(table: pd.DataFrame) -> pd.DataFrame:
    """`rule_share` follows `hard_labels` where a run predates it (0 for the coin oracle and
    the trained teacher, which the config records as `"coin"`; 1 for the rule), including the
    runs of a study resumed across the field's arrival."""
    if "hard_labels" not in table:
        return table
    ends = table["hard_labels"].map({"coin": 0.0, "rule": 1.0})
    if "rule_share" not in table:
        return table.assign(rule_share=ends)
    if table["rule_share"].isna().any():
        return table.assign(rule_share=table["rule_share"].fillna(ends))
    return table


#: Columns of each result table that the analysis reads (docs/model.md#config).
SUMMARY_REQUIRED = ("n_st", "p_h", "p_b", "nu_norm", "sigma_p", "d", "seed", "weak_test_acc")
TRAJECTORY_REQUIRED = (
    "seed",
    "step",
    "test_acc",
    "train_acc_pseudo",
    "train_acc_true",
    "label_correction",
)


def _short(err: Exception) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _read_table(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    """A result table, refused with one line when it is no parquet file of a w2s sweep."""
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises its own types for a file that is not parquet
        raise ConfigError(
            f"DIR: {str(path)!r} is not a readable parquet table ({_short(err)}); "
            "rerun `w2s sweep CONFIG --out DIR`"
        ) from None
    missing = [c for c in required if c not in frame]
    if missing:
        raise ConfigError(
            f"DIR: {str(path)!r} is not a table of a w2s sweep (no column "
            f"{', '.join(missing)}); rerun `w2s sweep CONFIG --out DIR`"
        )
    if not len(frame):
        raise ConfigError(
            f"DIR: {str(path)!r} has no rows (a sweep with no finished runs); "
            "rerun `w2s sweep CONFIG --out DIR`"
        )
    return frame
