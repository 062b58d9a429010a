"""Argument helpers shared by subcommands: the flags two or more of them take, and the
checks of their values."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from w2s_jax.model.config import DATA_FIELDS, TRAIN_FIELDS, ConfigError, show
from w2s_jax.model.coordinates import COORDINATES, THEORY_COLUMNS
from w2s_jax.sweeping.config_file import parse_value
from w2s_jax.sweeping.places import path_arg

#: Keys of a cell: every data and train field and the theory coordinates.
KEYS = DATA_FIELDS + COORDINATES + TRAIN_FIELDS

__all__ = [
    "parse_assignment",
    "match_cells",
    "cell_keys",
    "RULES",
    "RULES_HELP",
    "add_set_argument",
    "add_cell_argument",
    "add_directory_argument",
    "check_directory",
    "output_place",
    "check_count",
]

#: `--rule` of `w2s report` and `w2s plot`: which runs count as benign where C of tau >= C is
#: fitted (`w2s_jax.analysis.fit.benign_outcome`).
RULES = {
    "class": "benign or label correction at the best step",
    "end": "benign at the last step (the theorem's converged state)",
    "label_correction": "label correction only (the onset of Theorem 3.6)",
}
RULES_HELP = (
    "which runs count as benign in the fit of C (tau >= C): "
    + "; ".join(f"{k}: {v}" for k, v in RULES.items())
    + " (default class)"
)


def cell_keys(summary) -> tuple[str, ...]:
    """The keys `--cell` takes for a finished sweep: its numeric config fields and theory
    coordinates (`tau`, `n_st_snr`, `d_over_n`, ...), whichever of them the sweep's grid was
    written in."""
    known = set(KEYS) | set(THEORY_COLUMNS)
    return tuple(c for c in summary.columns if c in known and summary[c].dtype.kind in "iuf")


def parse_assignment(text: str, flag: str = "--cell", keys=KEYS) -> tuple[str, object]:
    """`KEY=VALUE` with a TOML value: `eta=0.1`, `hard_sign="antipodal"`, `hard_sign=antipodal`.

    Args:
        text: what the user wrote. flag: the flag named in messages. keys: the keys allowed.
    """
    if "=" not in text:
        raise ConfigError(f"{flag}: expected KEY=VALUE, got {text!r}")
    key, value = (part.strip() for part in text.split("=", 1))
    if key not in keys:
        raise ConfigError(f"{flag} {key}: unknown key (allowed: {', '.join(keys)})")
    return key, parse_value(key, value, flag)


def match_cells(texts, summary, keys, where: str = "sweep", rtol: float = 1e-5) -> list:
    """Each `--cell KEY=VALUE[,KEY=VALUE]` choice as `(cell, mask)`: its values (numbers of
    `keys`) and the rows of `summary` they match; a choice no row matches is refused with the
    values each key takes."""
    out = []
    for text in texts:
        cell = dict(parse_assignment(part, "--cell", keys) for part in text.split(","))
        mask = np.ones(len(summary), bool)
        for key, value in cell.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"--cell {key}: expected a number, got {value!r}")
            mask &= np.isclose(summary[key].to_numpy(dtype=float), float(value), rtol=rtol)
        if not mask.any():
            there = "; ".join(
                f"{k} takes {', '.join(show(v) for v in sorted(summary[k].unique())[:12])}"
                for k in cell
            )
            raise ConfigError(f"--cell: no cell with {text} in the {where} ({there})")
        out.append((cell, mask))
    return out


def add_set_argument(p, example: str) -> None:
    """`--set KEY=VALUE` (repeatable) of `w2s run` and `w2s sweep`: a change to a value of the
    config file before it is checked (`load_config`'s overrides); `example` shows one."""
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"change a value of the config, e.g. {example} (repeatable)",
    )


def add_cell_argument(p, help_text: str) -> None:
    """`--cell KEY=VALUE[,KEY=VALUE]` (repeatable) of `w2s plot` and `w2s check`: a cell of a
    finished sweep by its values, matched by `match_cells`."""
    p.add_argument(
        "--cell", action="append", default=None, metavar="KEY=VALUE[,KEY=VALUE]", help=help_text
    )


def add_directory_argument(p, kind: str = "sweep") -> None:
    """The positional DIR of the commands that read a finished sweep (or study)."""
    p.add_argument("directory", type=Path, help=f"{kind} directory (holds summary.parquet)")


def check_directory(directory: Path, kind: str = "sweep") -> None:
    """DIR refused when it is a file (a missing one is `load_results`'s to refuse)."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"DIR: {str(directory)!r} is a file, not a {kind} folder")


def output_place(out, directory: Path, default: str) -> tuple[Path, str]:
    """Where a command that reads DIR writes: `--out` checked as a path, or `DIR/default`;
    with the flag its refusals name (`--out` or `DIR`)."""
    out = path_arg(out, "--out")
    return (directory / default, "DIR") if out is None else (out, "--out")


def check_count(value: int, flag: str, maximum: int, shown: str | None = None) -> None:
    """A count flag: an integer in `[1, maximum]` (`shown`: how the message writes `maximum`)."""
    if not 1 <= value <= maximum:
        raise ConfigError(
            f"{flag}: must be an integer in [1, {maximum if shown is None else shown}], got {value}"
        )
