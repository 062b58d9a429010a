"""Strict JAX for the whole suite: four fake CPU devices (so sharded paths run in CI) and
rank promotion as an error. Both must be set before JAX initializes its backend.

The suite's programs are tiny and compiled once each, so compiling is most of its time: XLA's
backend optimizations are off (level 0), which halves each compile and runs the same program,
and its CPU fusions are emitted the older way (`xla_cpu_use_fusion_emitters=false`), which
takes about a third less compile time again (`W2S_TEST_XLA_OPT=3` compiles as users do,
both at XLA's defaults; the golden runs of `_golden.py` always do). Subprocesses and notebook
kernels inherit the flags.

The package's jaxtyping array annotations are checked at run time (`_arraycheck.py`, through
jaxtyping's import hook): a shape, rank or dtype that disagrees with them fails the test.

The persistent compile cache goes to a folder of this test session (never the user's own), which
both pytest-xdist workers, the suite's subprocesses and its notebook kernels share.

The fixture `tiny` is the tiny sweep config of `_sweep_cases` as a file, for the command-line
tests.
"""

import os
import shutil
import tempfile

import pytest

_USERS = os.environ.get("W2S_TEST_XLA_OPT") == "3"
os.environ["XLA_FLAGS"] = (
    f"--xla_backend_optimization_level={'3' if _USERS else '0'} "
    + ("" if _USERS else "--xla_cpu_use_fusion_emitters=false ")
    + os.environ.get("XLA_FLAGS", "")
    + " --xla_force_host_platform_device_count=4"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Empty at the start, as on a clean CI checkout: no run of the suite is faster for the last.
# pytest-xdist's workers inherit the folder of the process that started them, so the workers
# share one cache: a program one of them compiled, the other loads.
_WORKER = "PYTEST_XDIST_WORKER" in os.environ and "W2S_TEST_CACHE" in os.environ
if not _WORKER:
    os.environ["W2S_TEST_CACHE"] = tempfile.mkdtemp(prefix="w2s-test-cache-")
_CACHE = os.environ["W2S_CACHE_DIR"] = os.environ["W2S_TEST_CACHE"]

import jax  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")

# The package's jaxtyping array annotations are checked at run time (tests/_arraycheck.py);
# the hook must be in place before anything imports w2s_jax.
import jaxtyping  # noqa: E402

import tests._arraycheck  # noqa: E402, F401  (the hook looks the checker up on the module)

jaxtyping.install_import_hook("w2s_jax", "tests._arraycheck.check_arrays")


@pytest.fixture()
def tiny(tmp_path):
    """The tiny sweep config of `_sweep_cases` (`TINY_TOML`) as a file, `tmp_path/tiny.toml`
    (the modules that import `_sweep_cases.tiny`, the config as a dict, call that instead)."""
    from _sweep_cases import write_tiny

    return write_tiny(tmp_path)


def pytest_sessionfinish(session, exitstatus):
    """The session's compile cache goes with it (tens of MB a run), removed by the process
    that made it."""
    if not _WORKER:
        shutil.rmtree(_CACHE, ignore_errors=True)
