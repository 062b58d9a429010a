"""The engines' traits (`model.engine_traits`): one table read by the config's checks,
`engine = "auto"`, the cost model and the memory refusal, held equal to the registry, the
schema's choices and the docs; the choices and counts the modules made before the table, held
as a reference; and the keys that do not apply, refused."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from w2s_jax.engines import cost
from w2s_jax.engines.run import ENGINES
from w2s_jax.model import engine_traits as T
from w2s_jax.model import schema as S
from w2s_jax.model.config import ConfigError, DataConfig, TrainConfig, static_of

PACKAGE = Path(__file__).parent.parent / "w2s_jax"


def test_one_table_is_the_registry_the_schema_and_the_docs():
    assert list(ENGINES) == list(T.TRAITS)
    assert (T.AUTO, *T.TRAITS) == S.ENGINES
    assert S.SCHEMA.by_name["engine"].choices == S.ENGINES
    for name, engine in ENGINES.items():
        module = importlib.import_module(f"w2s_jax.engines.{name}")
        assert module.ENGINE is engine and engine.traits is T.TRAITS[name]
    assert T.docs_section(T.ARCHITECTURE.read_text()) == T.docs_table(), (
        'docs/architecture.md#engines is stale: python -c "from w2s_jax.model.engine_traits '
        'import write_docs; write_docs()"'
    )
    for traits in T.TRAITS.values():
        for rules in (traits.optimizers, traits.optimizers_wk):
            assert rules is None or set(rules) <= set(S.OPTIMIZERS)
        assert traits.teachers is None or set(traits.teachers) <= set(S.TEACHERS)
        assert traits.noise in T.NOISE_WORDS
        assert traits.form_of is None or traits.form_of in T.TRAITS


def test_the_table_and_the_checks_load_without_jax():
    code = (
        "import sys; import w2s_jax.model.engine_traits, w2s_jax.model.schema; "
        "assert 'jax' not in sys.modules, sorted(m for m in sys.modules if 'jax' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


#: The modules the engines' names were spelled in, and how many spellings each keeps.
SPELLINGS = {
    "model/config.py": 0,
    "model/schema.py": 1,  # the default engine
    "model/digits.py": 0,
    "engines/cost.py": 0,
    "engines/run.py": 0,
    "sweeping/memory.py": 0,
    "training/interface.py": 0,
}


@pytest.mark.parametrize("module, allowed", SPELLINGS.items())
def test_no_other_module_spells_an_engine(module, allowed):
    tree = ast.parse((PACKAGE / module).read_text())
    found = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in T.TRAITS
    ]
    assert len(found) == allowed, f"{module} spells an engine's name at lines {found}"


# --- what the modules did before the table, kept as the reference --------------------------


def _old_flops(s) -> dict[str, float]:
    """`engines.cost.engine_flops` before the traits (keys renamed to the engines')."""
    d, m, n, nt, n_wk = s.d, s.m, s.n_max, s.n_test, s.n_wk
    k, Tn, R = s.signal_dims, s.T, len(s.record_steps)
    weak = 2.0 * 2 * n_wk * d * s.T_wk + 2.0 * 3 * (n + nt) * d
    direct = Tn * 2 * 2 * (2 * m) * n * (d + 2 * k) + R * 2 * (2 * m) * ((n + nt) + n + 4) * d
    gram_steps = Tn * 2 * (2 * m) * n * n + R * 2 * (2 * m) * n * nt
    sampled_setup = 2.0 * (n * (n + nt) + 2 * m * (n + nt)) * d
    n0 = n_wk + n
    wishart_setup = (
        sum(T.staircase_flops(n, n0, n_wk, nt))
        + 2.0 * 2 * m * (n + nt) * n0
        + 2.0 * 2 * n_wk * (n_wk + k) * s.T_wk
        + 2.0 * (n + nt) * n_wk
    )
    limit = 2.0 * 2 * n_wk * (n_wk + k) * s.T_wk + (Tn + R) * 2 * 2 * (2 * m) * (n + nt) * (
        2 * k + 1
    )
    return dict(
        direct=weak + direct,
        gram=weak + sampled_setup + gram_steps,
        wishart=wishart_setup + gram_steps,
        limit=limit,
    )


def _old_engine_used(s, engine: str, gram_noise: str) -> str:
    """`engines.cost.engine_used` before the traits, on the old spelling (`engine = "gram"`
    and `gram_noise = "wishart"` for the Wishart engine); "direct" at K > 2 ran the K-class
    engine."""
    if engine == "direct" or s.n_classes > 2 or (s.dataset != "synthetic" and engine == "auto"):
        return "direct"
    if engine == "limit":
        return "limit"
    if engine == "gram":
        return "wishart" if gram_noise == "wishart" else "gram"
    if s.optimizer not in ("sgd", "momentum"):
        return "direct"
    flops = _old_flops(s)
    candidates = {"direct": flops["direct"], "gram": flops["gram"]}
    if gram_noise == "wishart":
        candidates["wishart"] = flops["wishart"]
    return min(candidates, key=candidates.get)


def _old_work(s, engine: str) -> tuple[float, int]:
    steps = max(s.T, 1)
    if engine == "direct":
        return 2.0 * 2 * 2 * s.m * s.d * steps, 1
    if engine == "limit":
        return 2.0 * 2 * 2 * s.m * (2 * s.signal_dims + 1) * steps, 1
    return 2.0 * 2 * s.m * steps, 2


def _old_bytes(s, engine: str) -> int:
    itemsize = {"float32": 4, "float64": 8}[s.dtype]
    d, m, n = s.d, s.m, s.n_max
    wishart = engine in ("wishart", "limit")
    n_all = s.n_wk + n + s.n_test
    data = 2 * n_all * 3 * (s.signal_dims if wishart else d)
    K = s.n_classes
    activations = 4 * (n + s.n_test) * 3 * K * m
    weights = (0 if wishart else 8 * K * m * d) + 2 * K * m * n
    gram = 2 * n * (n + s.n_test + 2 * m) if engine != "direct" else 0
    if wishart:
        n1 = s.n_wk + n + 2 * m
        gram += n1 * n1 + s.n_test * n1
    return 2 * itemsize * (data + activations + weights + gram) + 64 * len(s.record_steps)


def _configs():
    """Data and train configs over the axes the engine's choice and cost depend on: the
    shapes with every switch at its default and `auto`, then every switch at two shapes."""
    shapes = itertools.product((16, 300, 2000, 20000), (10, 200, 3000), (2, 20), (0, 40))
    for (d, n_st, m, T_), noise in itertools.product(shapes, (None, "wishart")):
        yield dict(d=d), dict(n_st=n_st, m=m, T=T_, engine="auto", gram_noise=noise)
    switches = itertools.product(
        ("direct", "gram", "wishart", "limit", "auto"),  # the choices before "multiclass"
        (None, "sampled", "wishart"),
        ("sgd", "adam"),
        ("sgd", "adam"),  # optimizer_wk
        (2, 3),  # n_classes
        ("synthetic", "digits"),
        ("trained", "oracle"),
        (300, 20000),  # d
    )
    for engine, noise, opt, opt_wk, K, dataset, teacher, d in switches:
        if dataset == "digits" and K > 2:
            continue
        data = dict(d=d, n_classes=K, dataset=dataset, images_recur=dataset == "digits")
        train = dict(n_st=200, m=4, T=20, n_wk=50, n_test=60, T_wk=10, engine=engine)
        train |= dict(gram_noise=noise, optimizer=opt, optimizer_wk=opt_wk, teacher=teacher)
        yield data, train


def _old_spelling(train: TrainConfig) -> tuple[str, str]:
    """`(engine, gram_noise)` as the config spelled them for the engines before the table."""
    if train.engine == "wishart":
        return "gram", "wishart"
    return train.engine, train.gram_noise or "sampled"


def test_auto_and_the_cost_model_choose_and_count_as_before():
    """Every config either config accepts: the engine that runs, at several tier sizes, and
    its flops, work per sample and bytes, are those of the modules before the table."""
    checked, seen = 0, set()
    for data_fields, train_fields in _configs():
        try:
            data, train = DataConfig(**data_fields), TrainConfig(**train_fields)
            static = static_of(data, train)
        except ConfigError:
            continue
        old_engine, old_noise = _old_spelling(train)
        for n_max in (train.n_st, 4 * train.n_st):
            s = static._replace(n_max=n_max)
            used = cost.engine_used(s)
            old = _old_engine_used(s, old_engine, old_noise)
            assert used == ("multiclass" if old == "direct" and data.n_classes > 2 else old), (
                data_fields,
                train_fields,
                n_max,
            )
            seen.add((train.engine, used))
            counted = "direct" if used == "multiclass" else used
            assert cost.run_flops(s) == _old_flops(s)[counted]
            assert cost.work_per_sample(s) == _old_work(s, counted)
            assert cost.estimate_run_bytes(s) == _old_bytes(s, counted)
            checked += 1
    assert checked > 500
    auto = {used for engine, used in seen if engine == "auto"}
    assert auto == {"direct", "gram", "wishart", "multiclass"}
    assert {used for _, used in seen} == set(T.TRAITS)


# --- the engine a config runs on, and what does not apply -------------------------------------


@pytest.mark.parametrize(
    "train, engine",
    [
        (dict(), "direct"),
        (dict(engine="gram"), "gram"),
        (dict(engine="gram", gram_noise="sampled"), "gram"),
        (dict(engine="gram", gram_noise="wishart"), "wishart"),
        (dict(engine="wishart"), "wishart"),
        (dict(engine="wishart", gram_noise="wishart"), "wishart"),
        (dict(engine="limit"), "limit"),
        (dict(engine="multiclass"), "multiclass"),
        (dict(engine="auto"), "auto"),
        (dict(engine="auto", gram_noise="wishart"), "auto"),
    ],
)
def test_static_names_the_engine_that_runs(train, engine):
    config = TrainConfig(**train)
    static = static_of(DataConfig(), config)
    assert static.engine == engine and static.d == (0 if T.traced_d(engine) else 1000)
    assert static.auto_in_law == (train == dict(engine="auto", gram_noise="wishart"))
    assert dataclasses.replace(config) == config  # what the config keeps, it accepts again
    if engine == "direct":
        assert static_of(DataConfig(n_classes=3), config).engine == "multiclass"


@pytest.mark.parametrize(
    "data, train, start",
    [
        ({}, dict(engine="wishart", gram_noise="sampled"), "gram_noise: 'sampled' does not"),
        ({}, dict(engine="limit", gram_noise="wishart"), "gram_noise: 'wishart' does not"),
        ({}, dict(engine="limit", gram_noise="sampled"), "gram_noise: 'sampled' does not"),
        ({}, dict(engine="direct", gram_noise="wishart"), "gram_noise: 'wishart' does not"),
        ({}, dict(engine="multiclass", gram_noise="wishart"), "gram_noise: 'wishart' does"),
        (dict(n_classes=3), dict(engine="auto", gram_noise="wishart"), "gram_noise: 'wishart'"),
        (dict(n_classes=3), dict(engine="gram"), "engine: 'gram' runs n_classes = 2 only"),
        ({}, dict(engine="multiclass", teacher="oracle"), "teacher: engine 'multiclass'"),
        ({}, dict(engine="auto", gram_noise="wishart", optimizer_wk="adam"), "optimizer_wk:"),
    ],
)
def test_a_key_that_does_not_apply_is_refused_naming_it(data, train, start):
    with pytest.raises(ConfigError) as info:
        static_of(DataConfig(**data), TrainConfig(**train))
    assert str(info.value).startswith(start), info.value
    assert info.value.key == start.split(":")[0] and info.value.section == "train"


def test_run_engine_refuses_what_the_engine_cannot_follow():
    """A `Static` made by hand reaches the engine's own check before anything is traced."""
    import jax

    from w2s_jax.engines.run import run_engine
    from w2s_jax.model.config import split

    static, params = split(DataConfig(d=16), TrainConfig(n_st=4, m=2, optimizer="adam"))
    with pytest.raises(ConfigError, match="^optimizer: engine 'gram' needs"):
        run_engine(ENGINES["gram"], static, params, jax.random.key(0))
