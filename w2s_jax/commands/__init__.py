"""Subcommands of the `w2s` command line (see `w2s_jax.cli`)."""
