"""The config schema: one declaration per field, from which the dataclasses, `Static`, `Params`,
the field lists, the checks of a sweep config and the docs table are derived; held to what the
hand-written code gave before it (`tests/_schema_expectations.py`)."""

from __future__ import annotations

import dataclasses
import json
import pickle

import _schema_expectations as E
import pytest

import w2s_jax as w2s
from w2s_jax.model import config as C
from w2s_jax.model import schema as S
from w2s_jax.model.config import ConfigError, DataConfig, TrainConfig
from w2s_jax.sweeping.config_file import NUMERIC_FIELDS, load_config

#: `gram_noise` stood after `dtype` until `Static.engine` named the engine that runs.
LEGACY_STATIC = (
    "d", "m", "n_max", "n_wk", "n_test", "T", "T_wk", "record_steps", "easy_layout",
    "hard_sign", "output_scale", "optimizer", "optimizer_wk", "engine", "dtype",
    "signal_dims", "minibatch", "second_layer", "teacher", "hard_labels", "n_classes",
    "dataset", "digit_classes",
)  # fmt: skip
LEGACY_PARAMS = (
    "n_st", "p_e", "p_h", "p_b", "mu_norm", "nu_norm", "sigma_p", "sigma_0", "eta", "eta_wk",
    "d", "batch_size", "eta_a",
)  # fmt: skip
#: The leaves added since, in their place: the mixed oracle's `rule_share`.
PARAMS = LEGACY_PARAMS + ("rule_share",)


def test_every_study_config_splits_as_before():
    want = json.loads(E.SPLITS.read_text())
    got = E.sweep_splits()
    assert set(want) <= set(got)  # studies added later are held by their own tests
    for name in want:
        assert got[name]["first"] == want[name]["first"], name
        assert got[name] == want[name], name


def _now_expected(case: str, message: str) -> str:
    """The old refusal, with what the one engine choice changed: "wishart" is accepted, and
    the list of choices names it."""
    old = "'direct', 'gram', 'auto', 'limit'"
    if case == json.dumps(dict(train=dict(engine="wishart"))):
        return "ok"
    return message.replace(old, ", ".join(map(repr, S.ENGINES)))


def test_every_refusal_reads_as_before():
    want = json.loads(E.ERRORS.read_text())
    got = dict(E.error_cases())
    assert set(got) == set(want)
    changed = {k: (_now_expected(k, v), got[k]) for k, v in want.items()}
    assert {k: v for k, v in changed.items() if v[0] != v[1]} == {}


def test_the_derived_names_keep_their_order():
    # Fields added after the schema came follow the old members, which keep their places.
    assert C.Static._fields[: len(LEGACY_STATIC)] == LEGACY_STATIC
    assert C.Static._fields[len(LEGACY_STATIC) :] == ("image_pool", "images_recur", "auto_in_law")
    assert C.Params._fields == PARAMS
    assert C.DATA_PARAMS == ("p_e", "p_h", "p_b", "mu_norm", "nu_norm", "sigma_p", "d")
    assert C.TRAIN_PARAMS == (
        "n_st",
        "sigma_0",
        "eta",
        "eta_wk",
        "batch_size",
        "eta_a",
        "rule_share",
    )
    assert C.INTEGER_PARAMS == ("n_st", "batch_size")
    assert tuple(f.name for f in dataclasses.fields(DataConfig)) == C.DATA_FIELDS
    assert tuple(f.name for f in dataclasses.fields(TrainConfig)) == C.TRAIN_FIELDS
    assert C.DATA_FIELDS[:3] == ("d", "mu_norm", "nu_norm") and C.TRAIN_FIELDS[-1] == "rule_share"
    assert "p_e" not in NUMERIC_FIELDS and "eta_a" in NUMERIC_FIELDS
    assert C.Static._field_defaults["engine"] == "direct" and "gram_noise" not in C.Static._fields
    assert set(C.Static._field_defaults) == set(LEGACY_STATIC[8:]) | {
        "image_pool",
        "images_recur",
        "auto_in_law",
    }
    assert w2s.Static is C.Static and w2s.Params is C.Params and w2s.ConfigError is S.ConfigError


def test_the_classes_pickle():
    static, params = C.split(DataConfig(), TrainConfig())
    for value in (static, DataConfig(), TrainConfig(engine="wishart")):
        assert pickle.loads(pickle.dumps(value)) == value
    again = pickle.loads(pickle.dumps(params))
    assert type(again) is C.Params and again._fields == params._fields


def test_docs_config_md_is_up_to_date():
    assert S.DOCS.read_text() == S.SCHEMA.markdown(), (
        'docs/config.md is stale: python -c "from w2s_jax.model.schema import write_docs; '
        'write_docs()"'
    )


def test_engine_is_one_choice_and_the_old_spelling_still_reads():
    # The config keeps what was asked (the result tables' columns); Static names the engine.
    new, old = TrainConfig(engine="wishart"), TrainConfig(engine="gram", gram_noise="wishart")
    assert (new.engine, new.gram_noise) == ("wishart", "wishart")
    assert (old.engine, old.gram_noise) == ("gram", "wishart")
    assert C.static_of(DataConfig(), new) == C.static_of(DataConfig(), old)
    assert C.static_of(DataConfig(), new).engine == "wishart"
    assert C.static_of(DataConfig(), new).d == 0  # the Wishart path traces d
    for engine in S.ENGINES:
        assert TrainConfig(engine=engine).engine == engine
    with pytest.raises(ConfigError, match="^optimizer: engine 'wishart' needs") as info:
        TrainConfig(engine="wishart", optimizer="adam")
    assert (info.value.key, info.value.section) == ("optimizer", "train")
    a = load_config(dict(train=dict(engine="wishart")))
    b = load_config(dict(train=dict(engine="gram", gram_noise="wishart")))
    assert C.split(*a.configs({}))[0] == C.split(*b.configs({}))[0]


@pytest.mark.parametrize(
    "raw, key, section, start",
    [
        (dict(data=dict(p_b=1.5)), "p_b", "data", "data.p_b: must be in [0.0, 1.0]"),
        (dict(grid=dict(p_b=[1.5])), "p_b", "grid", "grid.p_b: must be in [0.0, 1.0]"),
        (dict(train=dict(m=0)), "m", "train", "train.m: must be an integer in [1, 100000]"),
        (dict(train=dict(eta_rel=-1.0)), "eta_rel", "train", "train.eta_rel: must be > 0"),
        (dict(data=dict(p_h=0.7, p_b=0.4)), None, None, "p_h + p_b: must be <= 1"),
        (dict(data=dict(n_classes=3), train=dict(engine="gram")), "engine", "train", "train."),
        (dict(train=dict(zz=1)), "zz", "train", "train.zz: unknown key"),
    ],
)
def test_a_refusal_carries_its_key_and_section(raw, key, section, start):
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert str(info.value).startswith(start), info.value
    assert (info.value.key, info.value.section) == (key, section)


def test_a_field_declared_once_reaches_everything():
    """One more `Field` in a schema: it is a `Params` leaf (or a `Static` member), a key and
    grid axis of its table, refused out of range with its key and section, a field of the
    dataclass and a row of the docs table."""
    zeta = S.Field("zeta", S.TRAIN, S.FLOAT, 0.5, "a new step size", low=0.0, high=1.0,
                   traced=S.IN_DTYPE)  # fmt: skip
    depth = S.Field("depth", S.DATA, S.INT, 3, "a new shape", low=1, high=9, static=True)
    schema = S.Schema(S.FIELDS + (zeta, depth))

    params = schema.params_class(__name__)
    static = schema.static_class(__name__)
    assert params._fields == PARAMS + ("zeta",)
    assert static._fields == C.Static._fields + ("depth",)
    assert static._field_defaults["depth"] == 3
    assert schema.traced("train") == C.TRAIN_PARAMS + ("zeta",)
    assert "zeta" in schema.grid_fields and "depth" in schema.names("data")

    schema.check_keys("train", dict(zeta=0.1))
    schema.check_keys("grid", dict(zeta=[0.1, 0.2], depth=[2]))
    with pytest.raises(ConfigError, match=r"^data\.zeta: unknown key"):
        schema.check_keys("data", dict(zeta=0.1))
    assert schema.check_cell(dict(zeta=0.25, depth=4)) == "float32"
    for cell, message in (
        (dict(zeta=2.0), "zeta: must be in [0.0, 1.0], got 2.0"),
        (dict(depth=10), "depth: must be an integer in [1, 9], got 10"),
        (dict(zeta="x"), "zeta: expected a number, got 'x'"),
    ):
        with pytest.raises(ConfigError) as info:
            schema.check_cell(cell)
        key = next(iter(cell))
        assert str(info.value) == message
        assert (info.value.key, info.value.section) == (key, schema.section_of(key))

    @schema.config_class("train")
    class Train:
        pass

    assert Train().zeta == 0.5 and Train(zeta=1).zeta == 1.0
    with pytest.raises(ConfigError, match=r"^zeta: must be in \[0.0, 1.0\]"):
        Train(zeta=-1.0)

    table = schema.markdown()
    assert "| `zeta` | float | `0.5` | [0.0, 1.0] | traced | yes | a new step size |" in table
    assert "| `depth` | int | `3` | [1, 9] | static | yes | a new shape |" in table
    assert S.SCHEMA.markdown() != table and "zeta" not in S.SCHEMA.markdown()
