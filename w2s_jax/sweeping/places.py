"""Output places checked before anything is computed: a folder or file the run will write,
refused with one line naming the flag when it cannot be written.

A place that looks writable can still refuse a write (a folder under `/proc`, a read-only or
full file system, a name too long), so each check ends by trying: it creates the missing
folders, or a file, and removes them again. Nothing is left behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from w2s_jax.model.config import ConfigError

__all__ = ["path_arg", "check_writable_dir", "check_writable_file"]

#: The prefix of the file a check writes into an existing folder and removes at once.
PROBE_PREFIX = ".w2s-write-check-"


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


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _try_create(path: Path, ancestor: Path, key: str) -> None:
    """Create the folders from `ancestor` down to `path`, then remove them again."""
    made: list[Path] = []
    try:
        for part in reversed(Path(os.path.abspath(path)).relative_to(ancestor).parents[:-1]):
            made.append(ancestor / part)
            made[-1].mkdir()
        made.append(Path(os.path.abspath(path)))
        made[-1].mkdir()
    except OSError as err:
        raise ConfigError(
            f"{key}: cannot create {str(path)!r} ({_reason(err)}); choose another place"
        ) from None
    finally:
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()


def _try_write_in(folder: Path, key: str) -> None:
    """Write a file into `folder`, then remove it."""
    try:
        handle, name = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=folder)
    except OSError as err:
        raise ConfigError(
            f"{key}: cannot write in {str(folder)!r} ({_reason(err)}); choose another place"
        ) from None
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)


def _refused_by_system(check):
    """`check`, with an error of the file system itself (a name too long, a loop of links)
    as a refusal naming the flag."""

    def checked(path: str | os.PathLike, key: str) -> None:
        try:
            check(Path(path), key)
        except OSError as err:
            raise ConfigError(
                f"{key}: cannot use {str(path)!r} ({_reason(err)}); choose another place"
            ) from None

    checked.__name__, checked.__doc__ = check.__name__, check.__doc__
    return checked


@_refused_by_system
def check_writable_dir(path: Path, key: str) -> None:
    """Refuse a folder that cannot be created or written: a file in its place or above it,
    a folder without write permission, or a place that refuses the write itself."""
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{key}: {str(path)!r} is a file, not a folder; choose a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{key}: cannot write in {str(path)!r} (permission denied)")
        _try_write_in(path, key)
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
    _try_create(path, ancestor, key)


@_refused_by_system
def check_writable_file(path: Path, key: str) -> None:
    """Refuse a file that cannot be written: a folder of that name, or an unwritable place.
    An existing file is opened for appending (and left unchanged); a new one is created in
    its folder, when that exists, and removed."""
    if path.is_dir():
        raise ConfigError(f"{key}: {str(path)!r} is a folder; give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{key}: cannot write {str(path)!r} (permission denied)")
        try:
            with open(path, "ab"):
                pass
        except OSError as err:
            raise ConfigError(
                f"{key}: cannot write {str(path)!r} ({_reason(err)}); choose another file"
            ) from None
        return
    check_writable_dir(path.parent, key)
    if path.parent.is_dir():
        try:
            with open(path, "xb"):
                pass
        except OSError as err:
            raise ConfigError(
                f"{key}: cannot write {str(path)!r} ({_reason(err)}); choose another file"
            ) from None
        with contextlib.suppress(OSError):
            path.unlink()
