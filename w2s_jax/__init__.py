"""w2s_jax: weak-to-strong generalization (linear CNN teacher, ReLU CNN student) in JAX."""

from w2s_jax.config import (ConfigError, DataConfig, Params, Static, TrainConfig, record_steps,
                            split)
from w2s_jax.data import BOTH, EASY, HARD, Data, sample, signal_vectors
from w2s_jax.models import LinearCNN, ReLUCNN
from w2s_jax.run import Trajectory, run
from w2s_jax.sweep import sweep
from w2s_jax.theory import tau

__version__ = "0.1.0"

__all__ = [
    "BOTH", "ConfigError", "Data", "DataConfig", "EASY", "HARD", "LinearCNN", "Params",
    "ReLUCNN", "Static", "TrainConfig", "Trajectory", "__version__", "record_steps", "run",
    "sample", "signal_vectors", "split", "sweep", "tau",
]
