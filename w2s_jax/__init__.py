"""w2s_jax: weak-to-strong generalization (linear CNN teacher, ReLU CNN student) in JAX."""

from w2s_jax.engines.run import run
from w2s_jax.model.config import (
    ConfigError,
    DataConfig,
    Params,
    Static,
    TrainConfig,
    dtype_scope,
    record_steps,
    split,
)
from w2s_jax.model.data import BOTH, EASY, HARD, Data, sample, signal_vectors
from w2s_jax.model.multiclass import ClassesLinearCNN, ClassesReLUCNN, sample_classes
from w2s_jax.model.networks import LinearCNN, ReLUCNN
from w2s_jax.model.theory import tau
from w2s_jax.sweeping.driver import sweep
from w2s_jax.sweeping.results import Results, load_results, study_names
from w2s_jax.training.records import Trajectory

__version__ = "0.1.0"


def __getattr__(name: str):
    # `explore` on first use (PEP 562): its module loads the plotting stack, which
    # `import w2s_jax` should not pay for; Altair itself loads only when a page is drawn.
    if name == "explore":
        from w2s_jax.analysis.explore import explore

        return explore
    raise AttributeError(f"module 'w2s_jax' has no attribute {name!r}")


__all__ = [
    "BOTH",
    "ClassesLinearCNN",
    "ClassesReLUCNN",
    "ConfigError",
    "Data",
    "DataConfig",
    "EASY",
    "HARD",
    "LinearCNN",
    "Params",
    "ReLUCNN",
    "Results",
    "Static",
    "TrainConfig",
    "Trajectory",
    "__version__",
    "dtype_scope",
    "explore",
    "load_results",
    "record_steps",
    "run",
    "sample",
    "sample_classes",
    "signal_vectors",
    "split",
    "study_names",
    "sweep",
    "tau",
]
