"""The typed stub of `model.config` (`config.pyi`): written from the schema, so an editor and a
type checker see the config classes' fields, and never older than the schema or the module."""

from __future__ import annotations

import ast
import dataclasses

from w2s_jax.model import config as C
from w2s_jax.model import stub


def _tree() -> ast.Module:
    return ast.parse(stub.STUB.read_text())


def test_the_stub_is_up_to_date():
    assert stub.STUB.read_text() == stub.stub_text(), (
        "w2s_jax/model/config.pyi is stale: python -m w2s_jax.model.stub"
    )


def test_the_stub_declares_every_field_and_every_public_name():
    tree = _tree()
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    fields = {
        name: [a.target.id for a in node.body if isinstance(a, ast.AnnAssign)]
        for name, node in classes.items()
    }
    assert fields["DataConfig"] == [f.name for f in dataclasses.fields(C.DataConfig)]
    assert fields["TrainConfig"] == [f.name for f in dataclasses.fields(C.TrainConfig)]
    assert fields["Static"] == list(C.Static._fields)
    assert fields["Params"] == list(C.Params._fields)
    declared = set(classes)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            declared.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            declared.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            declared |= {a.asname for a in node.names if a.asname == a.name}
    assert set(C.__all__) <= declared
    # The types a user reads: the optional ones say so, the traced ones are arrays.
    annotations = {
        (c, a.target.id): ast.unparse(a.annotation)
        for c, node in classes.items()
        for a in node.body
        if isinstance(a, ast.AnnAssign)
    }
    assert annotations["TrainConfig", "gram_noise"] == "str | None"
    assert annotations["TrainConfig", "n_st"] == "int"
    assert annotations["Static", "auto_in_law"] == "bool"
    assert annotations["Params", "n_st"] == "Array"
