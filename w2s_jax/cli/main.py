"""The `w2s` command line. Each subcommand lives in `w2s_jax/cli/<name>.py` with
`register(subparsers)` and `execute(args) -> int`. Bad input exits with status 2 and one
line naming the key, never a traceback.

Only the subcommand named on the command line is loaded, and it loads JAX and the analysis
libraries inside `execute`, after its flags and config are checked: a refusal does not wait
for them (`w2s --help` and an unknown command load every subcommand, to list them).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

from w2s_jax.model.config import ConfigError

#: Subcommands (the modules `w2s_jax.cli.<name>`), in the order `w2s --help` lists them.
COMMANDS = ("run", "sweep", "bench", "plot", "report", "check", "explore", "trace")


class _Parser(argparse.ArgumentParser):
    """argparse with the tool's contract: a bad flag is one line on stderr and exit 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _named(argv: list[str]) -> tuple[str, ...]:
    """The subcommands to load for `argv`: the one it names; all of them for `--help` or a
    word that is not a subcommand (argparse lists them); none for `--version`."""
    words = [w for w in argv if not w.startswith("-")]
    if words and words[0] in COMMANDS:
        return (words[0],)
    if words or {"-h", "--help"} & set(argv):
        return COMMANDS
    return ()


def _version() -> str:
    """The installed package's version, as a sweep's manifest records it."""
    try:
        return metadata.version("w2s_jax")
    except metadata.PackageNotFoundError:
        return "(not installed: `pip install .` in the clone)"


def build_parser(commands: tuple[str, ...] = COMMANDS) -> argparse.ArgumentParser:
    parser = _Parser(prog="w2s", description="Weak-to-strong generalization phase diagrams in JAX.")
    parser.add_argument("--version", action="version", version=f"w2s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in commands:
        importlib.import_module(f"w2s_jax.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(_named(argv)).parse_args(argv)
    except SystemExit as done:  # a bad flag (2, one line already printed), --help or --version
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
