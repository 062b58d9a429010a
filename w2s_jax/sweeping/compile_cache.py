"""Compile once per machine: JAX's persistent compilation cache in a per-user folder.

The folder is `$W2S_CACHE_DIR` if set, else `$XDG_CACHE_HOME/w2s_jax/jax`, else
`~/.cache/w2s_jax/jax`. `W2S_CACHE_DIR=off` turns the cache off. A user who has set JAX's own
`jax_compilation_cache_dir` keeps it. Sweeps, `w2s run` and `w2s bench` call `enable()`;
call it yourself to cache your own `jax.jit(w2s.run, ...)` programs.

The cache is trusted code: do not point it at a folder that others can write to.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jax
from jax.experimental.compilation_cache import compilation_cache

__all__ = ["cache_dir", "enable", "CacheMonitor", "ENV_VAR", "OFF"]

ENV_VAR = "W2S_CACHE_DIR"
#: Values of `W2S_CACHE_DIR` that turn the cache off.
OFF = ("off", "0", "none", "false", "no")
#: Programs that compile faster than this are not worth a file (JAX's default is 1 s).
MIN_COMPILE_SECONDS = 0.2
#: Largest size of the folder; JAX evicts the least recently used entries beyond it.
MAX_BYTES = 2 << 30

_HIT, _MISS = "/jax/compilation_cache/cache_hits", "/jax/compilation_cache/cache_misses"


def cache_dir() -> Path | None:
    """The folder the cache uses, or None when `W2S_CACHE_DIR` turns it off."""
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return None if value.strip().lower() in OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "w2s_jax" / "jax"


def enable(directory: str | os.PathLike | None = None) -> str | None:
    """Turn JAX's persistent compilation cache on; returns the folder in use (None: off).

    Args:
        directory: a folder to use instead of `cache_dir()` (a benchmark's cold cache).
    """
    if directory is None and os.environ.get(ENV_VAR) is None:
        current = jax.config.jax_compilation_cache_dir
        if current:  # the user's own JAX setting wins over our default folder
            return current
    path = Path(directory) if directory is not None else cache_dir()
    if path is None:
        _set_dir(None)
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
        problem = None if os.access(path, os.W_OK | os.X_OK) else "permission denied"
    except OSError as err:
        problem = err.strerror or str(err)
    if problem is not None:  # a cache is a speed-up: run without it rather than stop
        _warn_once(path, problem, directory is None and os.environ.get(ENV_VAR) is not None)
        _set_dir(None)
        return None
    _set_dir(str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    if jax.config.jax_compilation_cache_max_size == -1:
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return str(path)


_warned: set[str] = set()


def _warn_once(path: Path, problem: str, from_env: bool) -> None:
    """One line on stderr per unusable folder and process."""
    if str(path) in _warned:
        return
    _warned.add(str(path))
    key = ENV_VAR if from_env else "compile cache"
    print(
        f"w2s: warning: {key}: cannot use {str(path)!r} ({problem}); running without the "
        f"compile cache (set {ENV_VAR} to a writable folder, or to off)",
        file=sys.stderr,
    )


def _set_dir(path: str | None) -> None:
    if jax.config.jax_compilation_cache_dir == path:
        return
    # JAX opens its cache once; a new folder takes effect only after a reset.
    compilation_cache.reset_cache()
    jax.config.update("jax_compilation_cache_dir", path)


class CacheMonitor:
    """Counts persistent-cache hits and misses, and times what happens inside `with`.

    JAX reports a hit or a miss for each program it looks up (`jax.monitoring` events).
    """

    _lock = threading.Lock()

    def __enter__(self) -> CacheMonitor:
        self.hits = self.misses = 0
        self.seconds = 0.0
        jax.monitoring.register_event_listener(self._listen)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start
        jax.monitoring.unregister_event_listener(self._listen)

    def _listen(self, event: str, **_: Any) -> None:
        with self._lock:
            if event == _HIT:
                self.hits += 1
            elif event == _MISS:
                self.misses += 1

    @property
    def served(self) -> bool:
        """True when every program looked up inside came from the cache."""
        return self.hits > 0 and self.misses == 0
