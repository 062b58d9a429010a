"""Beyond the theorems (issue 9): mini-batch SGD, a trained second layer, K classes.

The defaults must reproduce the model as it was before these switches, bit for bit
(`tests/_golden.py` holds those runs).
"""

import jax
import numpy as np
import pytest

from tests._golden import PATH, golden_runs


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(PATH))


def test_defaults_reproduce_the_golden_runs_bit_for_bit(golden):
    now = golden_runs()
    assert set(now) == set(golden)
    for name, value in golden.items():
        np.testing.assert_array_equal(now[name], value, err_msg=name)
