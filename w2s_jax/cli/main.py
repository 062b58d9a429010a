"""The `w2s` command line. Each subcommand lives in `w2s_jax/cli/<name>.py` with
`register(subparsers)` and `execute(args) -> int`. Bad input exits with status 2 and one
line naming the key, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from w2s_jax.cli import bench, check, explore, plot, report, run, sweep, trace
from w2s_jax.model.config import ConfigError

#: Subcommands, in the order `w2s --help` lists them.
COMMANDS = (run, sweep, bench, plot, report, check, explore, trace)


class _Parser(argparse.ArgumentParser):
    """argparse with the tool's contract: a bad flag is one line on stderr and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="w2s", description="Weak-to-strong generalization phase diagrams in JAX.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # a bad flag (2, one line already printed) or --help (0)
        return done.code if isinstance(done.code, int) else 2
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
