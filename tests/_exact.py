"""Float64 exactness checks compiled with XLA's default CPU fusion emitters.

The suite's conftest turns the emitters off to compile faster. With them off, a momentum run
of the Gram engine in float64 rounds differently from the direct engine's and the two drift
apart by about 1e-9 relative over 20 steps; with the emitters users get, the engines agree to
float64 rounding (1e-16). The checks that hold the engines to 1e-9 therefore compile as users do.
"""

import jax

#: XLA's default for the CPU fusion emitters (the conftest's XLA_FLAGS turn them off).
USERS_EMITTERS = {"xla_cpu_use_fusion_emitters": True}


def jit_as_users(fn):
    """`jax.jit(fn, static_argnums=0)`, each call compiled with `USERS_EMITTERS`."""
    jitted = jax.jit(fn, static_argnums=0)

    def call(static, *args):
        return jitted.lower(static, *args).compile(compiler_options=USERS_EMITTERS)(*args)

    return call
