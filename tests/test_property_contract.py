"""The CLI's contract as a property: any config and flags drawn from the schema (valid and
invalid values alike) end in exit 0 with the complete printed result, or in exit 2 with one
line on stderr that names a key, no traceback, no warning and nothing written.

The default (10 draws for `w2s run`, 2 for `w2s sweep`) keeps the suite's time: each valid draw
compiles a program of its own shapes. `W2S_PROPERTY_EXAMPLES=500` draws more (500 for `w2s run`
and 100 for `w2s sweep`, run with three seeds on the final tree: no failure).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import tempfile
import warnings
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from w2s_jax.cli.main import main
from w2s_jax.model.config import DATA_FIELDS, TRAIN_FIELDS
from w2s_jax.model.coordinates import COORDINATES, DATA_COORDINATES

EXAMPLES = int(os.environ.get("W2S_PROPERTY_EXAMPLES", "10"))
#: A valid tiny run: sizes small enough that it compiles and runs in a second or two.
BASE = dict(
    data=dict(d=16, p_h=0.3, p_b=0.4),
    train=dict(m=2, n_wk=16, n_test=16, T=4, T_wk=4, record_every=2, eta=0.5, n_st=8),
)
#: Small valid values of the size fields, so that a valid draw stays tiny.
SMALL = dict(d=(8, 32), m=(1, 4), n_st=(1, 16), n_wk=(1, 32), n_test=(1, 32), T=(0, 20))
SMALL |= dict(T_wk=(0, 20), record_points=(2, 8), batch_size=(0, 16))
KEYS = DATA_FIELDS + TRAIN_FIELDS + COORDINATES
FLAGS = ("--set", "--rows", "--seed", "--n-st", "--save", "config", "seeds", "base_seed")
NAMED = set(KEYS) | set(FLAGS) | {"argument", "n_max"}

_numbers = st.one_of(
    st.sampled_from([0, -1, -5, 0.0, -0.5, 1e39, 1e300, 1e-300, 2**40, 0.5, 1, 2, 7, 0.1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
_others = st.one_of(
    st.sampled_from(["abc", "", "float64", "sgd", "gram", "log", "1/m", "01/67"]),
    st.booleans(),
    st.lists(st.integers(-3, 3), max_size=2),
)


@st.composite
def _value(draw, key):
    if key in SMALL and draw(st.booleans()):
        return draw(st.integers(*SMALL[key]))
    return draw(st.one_of(_numbers, _others) if draw(st.integers(0, 3)) else _others)


def _toml(value) -> str:
    """One TOML value (what `--set` and the config file take)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def _section(key: str) -> str:
    return "data" if key in DATA_FIELDS + DATA_COORDINATES else "train"


@st.composite
def cases(draw):
    """A config file's text and the flags of `w2s run`."""
    tables = {k: dict(v) for k, v in BASE.items()} | {"grid": {}}
    flags = []
    for key in draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=2, unique=True)):
        value = draw(_value(key))
        where = draw(st.sampled_from(["file", "file", "grid", "set"]))
        if where == "set":
            flags += ["--set", f"{key}={_toml(value)}"]
        elif where == "grid":
            tables["grid"][key] = [value]
        else:
            if key in ("d_over_n", "snr", "n_st_snr", "tau"):
                tables["data"].pop("d", None)  # so that a coordinate alone may be valid
            if key == "eta_rel":
                tables["train"].pop("eta", None)
            tables[_section(key)][key] = value
    top = {}
    if draw(st.integers(0, 5)) == 0:
        top[draw(st.sampled_from(["seeds", "base_seed"]))] = draw(_numbers)
    if draw(st.integers(0, 3)) == 0:
        flag = draw(st.sampled_from(["--rows", "--seed", "--n-st"]))
        flags += [flag, str(draw(st.sampled_from([-3, 0, 1, 3, 2**40])))]
    text = "".join(f"{k} = {_toml(v)}\n" for k, v in top.items())
    for name, table in tables.items():
        text += f"[{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in table.items())
    return text, flags


def _names_a_key(line: str) -> bool:
    head = line.split(": error: ", 1)[1].split(":", 1)[0]
    tokens = [re.sub(r"^(data|train|grid)\.", "", t) for t in re.findall(r"-*[\w./]+", head)]
    return bool(tokens) and all(t in NAMED for t in tokens if t not in ("+", "·"))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_run_obeys_the_contract(case):
    text, flags = case
    with tempfile.TemporaryDirectory() as tmp:
        config, out = Path(tmp) / "c.toml", Path(tmp) / "out"
        config.write_text(text)
        out.mkdir()
        save = out / "t.csv"
        stdout, stderr = io.StringIO(), io.StringIO()
        quiet = contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr)
        with quiet[0], quiet[1], warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            code = main(["run", str(config), "--save", str(save), *flags])
        err = stderr.getvalue()
        event(f"exit {code}")
        assert "Traceback" not in err, (text, flags, err)
        if code == 0:
            assert "final test accuracy" in stdout.getvalue() and "step" in stdout.getvalue()
            assert save.exists()
        else:
            assert code == 2, (text, flags, code, err)
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("w2s run: error: "), (text, flags, err)
            assert _names_a_key(lines[0]), (text, flags, err)
            assert not any(out.iterdir()), (text, flags)


@settings(
    max_examples=max(1, EXAMPLES // 5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_sweep_obeys_the_contract(case):
    text, _ = case  # the flags are those of `w2s run`
    with tempfile.TemporaryDirectory() as tmp:
        config, out = Path(tmp) / "c.toml", Path(tmp) / "out"
        config.write_text(text)
        stdout, stderr = io.StringIO(), io.StringIO()
        quiet = contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr)
        with quiet[0], quiet[1], warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            code = main(["sweep", str(config), "--out", str(out), "--quiet"])
        err = stderr.getvalue()
        event(f"exit {code}")
        assert "Traceback" not in err, (text, err)
        if code == 0:
            assert (out / "summary.parquet").exists() and (out / "manifest.json").exists()
        else:
            assert code == 2, (text, code, err)
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("w2s sweep: error: "), (text, err)
            assert _names_a_key(lines[0]), (text, err)
            assert not out.exists(), text
