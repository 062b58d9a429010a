"""Argument helpers shared by subcommands."""

from __future__ import annotations

import tomllib

from w2s_jax.model.config import DATA_FIELDS, TRAIN_FIELDS, ConfigError
from w2s_jax.model.coordinates import COORDINATES

#: Keys `--set` accepts: every data and train field and the theory coordinates.
KEYS = DATA_FIELDS + COORDINATES + TRAIN_FIELDS

__all__ = ["parse_assignment"]


def parse_assignment(text: str, flag: str = "--set", keys=KEYS) -> tuple[str, object]:
    """`KEY=VALUE` with a TOML value: `eta=0.1`, `hard_sign="antipodal"`, `hard_sign=antipodal`.

    Args:
        text: what the user wrote. flag: the flag named in messages. keys: the keys allowed.
    """
    if "=" not in text:
        raise ConfigError(f"{flag}: expected KEY=VALUE, got {text!r}")
    key, value = (part.strip() for part in text.split("=", 1))
    if key not in keys:
        raise ConfigError(f"{flag} {key}: unknown key (allowed: {', '.join(keys)})")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value  # a bare word is a string
    return key, parsed
