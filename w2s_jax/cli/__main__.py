"""`python -m w2s_jax.cli`: the `w2s` command."""

import sys

from w2s_jax.cli.main import main

sys.exit(main())
