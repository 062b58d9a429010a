"""What the config code gave before the schema existed, kept as data so the schema-derived code
is held to it: every study config's cells split into (static, params), and the message of every
refusal in a fixed set of bad inputs.

Regenerate only on purpose, from the commit whose behaviour is the reference:
`PYTHONPATH=. python tests/_schema_expectations.py` (writes tests/data/schema_*.json).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPLITS = Path(__file__).parent / "data" / "schema_sweeps.json"
ERRORS = Path(__file__).parent / "data" / "schema_errors.json"

#: Bad (and a few good) values tried for every key, in its own section and as a grid axis.
VALUES = (
    -1,
    0,
    1,
    7,
    0.5,
    1.5,
    2**40,
    1e300,
    -1e300,
    1e-300,
    1e39,
    "nan",
    "inf",
    "-inf",
    "abc",
    "",
    True,
    "gram",
    "wishart",
    "log",
    "1/m",
    "01/67",
    "digits",
)
#: Valid combinations and refusals across fields.
CROSS = (
    dict(data=dict(p_h=0.7, p_b=0.4)),
    dict(data=dict(p_h=0.3, p_b=0.4, p_e=0.5)),
    dict(data=dict(p_h=0.3, p_b=0.4, p_e=0.3)),
    dict(data=dict(n_classes=500, d=900)),
    dict(data=dict(n_classes=3, easy_layout="antipodal")),
    dict(data=dict(dataset="digits", d=40)),
    dict(data=dict(dataset="digits", d=100, easy_layout="antipodal")),
    dict(data=dict(dataset="digits", d=100, n_classes=3)),
    dict(data=dict(dataset="digits", d=100), train=dict(engine="gram")),
    dict(data=dict(dataset="digits", d=100), train=dict(engine="limit")),
    dict(data=dict(dataset="digits", d=100), train=dict(n_wk=1000, n_test=1000)),
    dict(data=dict(dataset="digits", d=100), train=dict(n_st=5000)),
    dict(data=dict(dataset="digits", d=100, digit_classes="0/1")),
    dict(data=dict(digit_classes="xx")),
    dict(data=dict(n_classes=3), train=dict(teacher="oracle")),
    dict(data=dict(n_classes=3), train=dict(engine="limit")),
    dict(data=dict(n_classes=3), train=dict(engine="gram")),
    dict(data=dict(n_classes=3), train=dict(engine="auto")),
    dict(train=dict(engine="limit", optimizer="adam")),
    dict(train=dict(engine="limit", optimizer_wk="adam")),
    dict(train=dict(engine="gram", optimizer="adam")),
    dict(train=dict(engine="gram", optimizer_wk="adam")),
    dict(train=dict(gram_noise="wishart")),
    dict(train=dict(engine="gram", gram_noise="wishart", optimizer_wk="adam")),
    dict(train=dict(engine="auto", gram_noise="wishart", optimizer="adam")),
    dict(train=dict(engine="auto", gram_noise="wishart")),
    dict(train=dict(eta=0.5, eta_rel=0.5)),
    dict(train=dict(eta_a=0.0, second_layer="trained")),
    dict(data=dict(tau=1.0, snr=0.01)),
    dict(data=dict(tau=1.0, snr=0.01, p_b=0.0)),
    dict(data=dict(tau=1e-9, snr=10.0)),
    dict(data=dict(d_over_n=0.1), train=dict(n_st=20)),
    dict(data=dict(tau=1.0), grid=dict(snr=[0.01, 1e-9])),
    dict(data=dict(mu_norm=1.0, mu_over_nu=2.0)),
    dict(grid=dict(p_e=[0.3])),
    dict(grid=dict(engine=["gram"])),
    dict(grid=dict(n_st=[])),
    dict(grid=dict(n_st=[1, 1])),
    dict(grid=dict(n_st=3)),
    dict(data=dict(zz=1)),
    dict(train=dict(tau=1.0)),
    dict(sweep=dict(zz=1)),
    dict(zz=1),
    dict(seeds=0),
    dict(base_seed=-1),
    dict(name=""),
    dict(data=3),
    dict(train=dict(dtype="float64", eta=1e300)),
    dict(train=dict(dtype="float64", eta=1e-320)),
)


def _value(v):
    return float(v) if v in ("nan", "inf", "-inf") else v


def _message(source) -> str:
    from w2s_jax.model.config import ConfigError
    from w2s_jax.sweeping.config_file import load_config

    try:
        load_config(source)
    except ConfigError as err:
        return str(err)
    return "ok"


def _keys():
    from w2s_jax.model.config import DATA_FIELDS, TRAIN_FIELDS
    from w2s_jax.model.coordinates import DATA_COORDINATES, TRAIN_COORDINATES

    return [("data", k) for k in DATA_FIELDS + DATA_COORDINATES] + [
        ("train", k) for k in TRAIN_FIELDS + TRAIN_COORDINATES
    ]


def error_cases() -> list[tuple[str, str]]:
    """`(case, message)` for every key × value × place and every cross-field case: `case` is
    the JSON of the config given to `load_config`, message its refusal or "ok"."""
    cases = []
    for section, key in _keys():
        for raw in VALUES:
            value = _value(raw)
            for place in (section, "grid"):
                if place == "grid" and isinstance(value, str):
                    continue
                table = {key: [value]} if place == "grid" else {key: value}
                cases.append({place: table})
    cases += [dict(c) for c in CROSS]
    return [(json.dumps(c, sort_keys=True), _message(c)) for c in cases]


def _leaf(x) -> str:
    a = np.asarray(x)
    return f"{a.dtype}:{a.tobytes().hex()}"


def study_configs():
    """`(file name, SweepConfig)` of every `sweeps/*.toml`, then of each study that is one of
    them with values changed (`scripts/studies.py`'s VARIANTS), under the name of the file it
    was before it was folded into its base: the same cells, held to the same record."""
    import importlib.util

    from w2s_jax.sweeping.config_file import load_config

    for path in sorted((ROOT / "sweeps").glob("*.toml")):
        yield path.name, load_config(path)
    spec = importlib.util.spec_from_file_location("studies", ROOT / "scripts" / "studies.py")
    studies = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(studies)
    for name, (base, overrides) in studies.VARIANTS.items():
        yield f"{name}.toml", load_config(ROOT / "sweeps" / f"{base}.toml", overrides)


def sweep_splits() -> dict[str, dict]:
    """For every study config (`study_configs`): its number of cells, the SHA-256 of every
    cell's (data, train) configs, `Static` and `Params` (each leaf as its dtype and bytes) as
    text, and the first cell's text (to show what changed)."""
    from w2s_jax.model.config import dtype_scope, split

    out = {}
    for name, config in study_configs():
        rows = []
        for cell in config.cells():
            data, train = config.configs(cell)
            with dtype_scope(train.dtype):
                static, params = split(data, train)
            rows.append(
                dict(
                    data=repr(data),
                    train=repr(train),
                    static=repr(static),
                    params=", ".join(f"{k}={_leaf(v)}" for k, v in zip(params._fields, params)),
                )
            )
        text = json.dumps(rows, sort_keys=True).encode()
        out[name] = dict(cells=len(rows), sha256=hashlib.sha256(text).hexdigest(), first=rows[0])
    return out


if __name__ == "__main__":
    import jax

    jax.config.update("jax_platforms", "cpu")
    SPLITS.write_text(json.dumps(sweep_splits(), indent=1, sort_keys=True) + "\n")
    cases = error_cases()
    assert not any(isinstance(m, float) and math.isnan(m) for _, m in cases)
    ERRORS.write_text(json.dumps(dict(cases), indent=1, sort_keys=True) + "\n")
    print(
        f"{SPLITS.name}: {sum(v['cells'] for v in json.loads(SPLITS.read_text()).values())} cells"
    )
    print(f"{ERRORS.name}: {len(cases)} cases")
