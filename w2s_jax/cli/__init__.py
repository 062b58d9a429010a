"""The `w2s` command line: one module per subcommand (see `w2s_jax.cli.main`)."""
