"""The engine interface: one registry entry per engine of `model.engine_traits`, each an
`Engine` of three functions and its traits, and every random stream named in `model.streams`
(no bare number folded into a key anywhere in the package)."""

import ast
from pathlib import Path

from w2s_jax.engines.run import ENGINES
from w2s_jax.model import streams
from w2s_jax.model.engine_traits import TRAITS
from w2s_jax.training.interface import Engine

PACKAGE = Path(__file__).parent.parent / "w2s_jax"


def test_the_registry_holds_every_engine_of_the_traits_table():
    assert list(ENGINES) == list(TRAITS)
    for name, engine in ENGINES.items():
        assert isinstance(engine, Engine), name
        assert all(callable(f) for f in (engine.sample, engine.teacher, engine.train)), name
        assert engine.traits is TRAITS[name]


def test_no_stream_number_is_a_literal():
    """`fold_in(key, 3)` would hide a stream from `model.streams`; sample and block indices
    (`fold_in(key, i)`) are variables."""
    literal = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "fold_in"
                and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant)
            ):
                literal.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not literal, f"name these streams in model/streams.py: {literal}"


def test_run_key_streams_are_distinct_but_the_documented_pair():
    """Stream 4 is the Wishart noise and the images' pools on the sampled-noise engines, which
    never draw the Wishart noise; on the drawn-noise engines the pools take their own stream."""
    run_key_streams = [
        *streams.SET_STREAMS,
        streams.FILTERS_STREAM,
        streams.WISHART_STREAM,
        streams.BATCH_STREAM,
        streams.TEACHER_STREAM,
        streams.DRAWN_NOISE_POOL_STREAM,
    ]
    assert len(set(run_key_streams)) == len(run_key_streams)
    assert streams.POOL_STREAM == streams.WISHART_STREAM
