"""The `w2s` command line. Each subcommand lives in `w2s_jax/cli/<name>.py` with
`register(subparsers)` and `execute(args) -> int`. Bad input exits with status 2 and one
line naming the key, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from w2s_jax.cli import bench, plot, report, run, sweep
from w2s_jax.model.config import ConfigError

#: Subcommands, in the order `w2s --help` lists them.
COMMANDS = (run, sweep, bench, plot, report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="w2s", description="Weak-to-strong generalization phase diagrams in JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.execute(args) or 0)
    except ConfigError as err:
        print(f"w2s {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"w2s {args.command}: interrupted; finished chunks are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
