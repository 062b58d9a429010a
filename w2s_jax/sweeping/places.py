"""Output places checked before anything is computed: a folder or file the run will write,
refused with one line naming the flag when it cannot be written. Nothing is created here."""

from __future__ import annotations

import os
from pathlib import Path

from w2s_jax.model.config import ConfigError

__all__ = ["path_arg", "check_writable_dir", "check_writable_file"]


def path_arg(text: str | os.PathLike | None, key: str) -> Path | None:
    """A path flag's value: None stays None; an empty one is refused (it means the current
    folder, which a results folder should never be by accident)."""
    if text is None:
        return None
    if not str(text).strip():
        raise ConfigError(f"{key}: empty path; give a folder or file name")
    return Path(text)


def _nearest_existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_dir(path: str | os.PathLike, key: str) -> None:
    """Refuse a folder that cannot be created or written: a file in its place or above it,
    or a folder without write permission."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{key}: {str(path)!r} is a file, not a folder; choose a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{key}: cannot write in {str(path)!r} (permission denied)")
        return
    ancestor = _nearest_existing(path)
    if not ancestor.is_dir():
        raise ConfigError(
            f"{key}: cannot create {str(path)!r}: {str(ancestor)!r} is a file, not a folder; "
            "choose another place"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{key}: cannot create {str(path)!r}: {str(ancestor)!r} is not writable "
            "(permission denied)"
        )


def check_writable_file(path: str | os.PathLike, key: str) -> None:
    """Refuse a file that cannot be written: a folder of that name, or an unwritable place."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{key}: {str(path)!r} is a folder; give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{key}: cannot write {str(path)!r} (permission denied)")
        return
    check_writable_dir(path.parent, key)
