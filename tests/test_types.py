"""The package's jaxtyping annotations are checked while the suite runs (tests/_arraycheck.py):
a call whose arrays disagree with them fails, inside `jit` as well."""

import jax
import jax.numpy as jnp
import pytest

from tests import _arraycheck
from w2s_jax.engines.gram import gram_from_noise
from w2s_jax.model.data import assemble, categories


def test_the_hook_checks_the_package():
    ones = jnp.ones((5, 3))
    gram_from_noise(ones, jnp.ones((2, 3)), jnp.ones((2, 4, 3)), 1)
    assert "w2s_jax.engines.gram.gram_from_noise" in _arraycheck.checked_functions


def test_a_dimension_that_disagrees_is_refused():
    # d is 3 for the training noise and 7 for the test noise
    with pytest.raises(TypeError, match="test_noise"):
        gram_from_noise(jnp.ones((5, 3)), jnp.ones((2, 7)), jnp.ones((2, 4, 3)), 1)


def test_a_wrong_rank_is_refused_under_jit():
    @jax.jit
    def f(u):
        return categories(u, 0.2, 0.3)

    assert f(jnp.zeros(4)).shape == (4,)
    with pytest.raises(TypeError, match="category_u"):
        f(jnp.zeros((4, 2)))


def test_a_wrong_dtype_kind_is_refused():
    n, d = 3, 6
    signal = jnp.ones((n, d))
    labels = jnp.ones(n, jnp.int32)
    with pytest.raises(TypeError, match="y"):
        assemble(signal, signal, labels.astype(jnp.float32), labels, labels, signal,
                 sigma_p=1.0, signal_dims=2)  # fmt: skip
