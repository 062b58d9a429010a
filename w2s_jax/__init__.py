"""w2s_jax: weak-to-strong generalization (linear CNN teacher, ReLU CNN student) in JAX.

The public names below load on first use (PEP 562): `import w2s_jax` and the `w2s` command's
config checks do not load JAX, so a bad config is refused in a fraction of JAX's own import
time. `w2s.run`, `from w2s_jax import sweep` and `dir(w2s_jax)` work as usual.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: The public names, by the module that defines them.
_EXPORTS = {
    "w2s_jax.engines.run": ("run",),
    "w2s_jax.model.config": (
        "ConfigError",
        "DataConfig",
        "Params",
        "Static",
        "TrainConfig",
        "dtype_scope",
        "record_steps",
        "split",
    ),
    "w2s_jax.model.data": ("BOTH", "EASY", "HARD", "Data", "sample", "signal_vectors"),
    "w2s_jax.model.multiclass": ("ClassesLinearCNN", "ClassesReLUCNN", "sample_classes"),
    "w2s_jax.model.networks": ("LinearCNN", "ReLUCNN"),
    "w2s_jax.model.theory": ("tau",),
    "w2s_jax.sweeping.driver": ("sweep",),
    "w2s_jax.sweeping.results": ("Results", "load_results", "study_names"),
    "w2s_jax.training.records": ("Trajectory",),
    "w2s_jax.analysis.explore": ("explore",),
}
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    module = _SOURCE.get(name)
    if module is None:
        raise AttributeError(f"module 'w2s_jax' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCE))


__all__ = sorted([*_SOURCE, "__version__"])
