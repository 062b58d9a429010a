"""Tiny sweep configs shared by the sweep, store, CLI and Ray tests.

Every config here has the same shapes (d=32, m=4, n_wk=n_test=64, T=T_wk=20, n_st <= 24,
so one n_max tier of 24): the compiled programs are cached by (static, chunk size,
devices) and the suite compiles each only once.
"""

from __future__ import annotations

import copy
import hashlib
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

#: docs/model.md#config columns every summary.parquet carries.
SUMMARY_COLUMNS = [
    "n_st",
    "p_b",
    "p_e",
    "p_h",
    "nu_norm",
    "mu_norm",
    "sigma_p",
    "d",
    "m",
    "eta",
    "T",
    "seed",
    "tau",
    "weak_test_acc",
    "pseudo_label_acc",
    "final_test_acc",
    "final_train_acc_pseudo",
    "final_train_acc_true",
    "best_test_acc",
    "best_step",
    "status",
]

#: The tiny config as a file's text (`write_tiny`); `TINY` is the same config as a dict.
TINY_TOML = """\
name = "tiny"
seeds = 2
[data]
d = 32
p_h = 0.3
[train]
m = 4
n_wk = 64
n_test = 64
T = 20
T_wk = 20
record_every = 5
eta = 0.5
[grid]
n_st = [16, 24]
p_b = [0.2, 0.4]
"""

TINY = tomllib.loads(TINY_TOML)


def write_tiny(folder: Path) -> Path:
    """The tiny config written to `folder/tiny.toml`: its path."""
    path = Path(folder) / "tiny.toml"
    path.write_text(TINY_TOML)
    return path


def tiny(**changes) -> dict:
    """A copy of TINY with top-level keys or `section.key` entries replaced."""
    config = copy.deepcopy(TINY)
    for key, value in changes.items():
        if "__" in key:
            section, name = key.split("__", 1)
            config[section][name] = value
        else:
            config[key] = value
    return config


def snapshot(root: Path) -> dict[str, str]:
    """Path -> content hash of every file under `root` (to show a directory is untouched)."""
    root = Path(root)
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def refused(argv, message, capsys, root) -> str:
    """Run `w2s ARGV`: it must exit 2 with one line holding `message`, warn nothing before the
    refusal, and leave `root` as it was. Returns the error line."""
    from w2s_jax.cli.main import main

    before = snapshot(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning before the refusal fails the test
        assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"w2s {argv[0]}: error: ") and message in err, err
    assert snapshot(root) == before
    return err


def assert_same_results(
    a: pd.DataFrame, b: pd.DataFrame, keys=("cell", "seed"), rtol=1e-5, atol=1e-6
):
    """Equal tables up to float tolerance: same rows (matched on parameters) and columns."""
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    a = a.sort_values(list(keys)).reset_index(drop=True)
    b = b.sort_values(list(keys)).reset_index(drop=True)
    for column in a.columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if np.issubdtype(x.dtype, np.floating):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, equal_nan=True, err_msg=column)
        else:
            assert (x == y).all(), column
