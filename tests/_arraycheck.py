"""The package's jaxtyping annotations, checked at run time in the test run.

`conftest.py` installs jaxtyping's import hook on `w2s_jax` with `check_arrays` as the type
checker: every function of the package is wrapped in `jaxtyped`, which binds the named
dimensions (`n`, `m`, `d`, ...) once per call, and `check_arrays` checks each argument and the
return value annotated with a jaxtyping array type (dtype kind, rank, and each dimension
against the others of the same call), under `jit` as well (the check runs while tracing).

Only array annotations are checked. The package's other annotations document (an `int` where a
float is meant is fine for a theorist's config), and its config validation raises its own
`ConfigError` naming the key, which a general checker such as beartype would pre-empt with a
`TypeError`. A union is checked when the value is an array (it must match one of the array
members) or `None` (the union must allow it).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing

import jax.numpy as jnp
import jaxtyping
import numpy as np

__all__ = ["check_arrays", "checked_functions"]

#: Functions whose annotations were resolved and hold at least one array type.
checked_functions: set[str] = set()


def _array_members(hint):
    """`(array types, allows None, has other members)` of an annotation."""
    members = (
        typing.get_args(hint)
        if typing.get_origin(hint) in (typing.Union, types.UnionType)
        else (hint,)
    )
    arrays = tuple(
        m for m in members if isinstance(m, type) and issubclass(m, jaxtyping.AbstractArray)
    )
    return (
        arrays,
        type(None) in members,
        any(m is not type(None) and m not in arrays for m in members),
    )


def _is_array(value) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, type)


def _check(name: str, value, spec, where: str):
    arrays, allows_none, has_others = spec
    if value is None and (allows_none or has_others):
        return
    if isinstance(value, np.ndarray):  # jax functions take NumPy arrays: check it as one
        value = jnp.asarray(value)
    if any(isinstance(value, t) for t in arrays):
        return
    if has_others and not _is_array(value):
        return
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", type(value).__name__)
    raise TypeError(
        f"{where}: {name} is {dtype}{list(shape) if shape is not None else ''}, "
        f"annotated {' | '.join(t.__name__ for t in arrays)}"
    )


def check_arrays(fn):
    """A jaxtyping type checker that checks array annotations only (see the module)."""
    if not callable(fn) or isinstance(fn, type):
        return fn

    @functools.cache
    def specs():
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # an annotation that cannot be resolved here: leave it unchecked
            return None, {}
        found = {k: _array_members(v) for k, v in hints.items()}
        found = {k: v for k, v in found.items() if v[0]}
        if found:
            checked_functions.add(f"{fn.__module__}.{fn.__qualname__}")
        return inspect.signature(fn), found

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        signature, found = specs()
        if not found:
            return fn(*args, **kwargs)
        where = f"{fn.__module__}.{fn.__qualname__}"
        bound = signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            if name in found:
                _check(name, value, found[name], where)
        out = fn(*args, **kwargs)
        if "return" in found:
            _check("the return value", out, found["return"], where)
        return out

    return checked
