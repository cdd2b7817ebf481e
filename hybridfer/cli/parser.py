"""The ``hybridfer`` argument parser: one line for a bad command line, the value types of
the flags, and the arguments verbs share."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from hybridfer.cli.base import Command

__all__ = [
    "UsageError",
    "build_parser",
    "config_arguments",
    "count",
    "minutes",
    "recipe_option",
    "seconds",
]


class UsageError(Exception):
    """A command line argparse cannot parse (reported in one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line, without the usage block."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def count(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def _positive(unit: str):
    """An argparse type: a number of ``unit`` > 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number of {unit} > 0, got {text!r}")
        return value

    return parse


seconds = _positive("seconds")
minutes = _positive("minutes")


def recipe_option(text: str) -> tuple[str, object]:
    """An argparse type: ``NAME=VALUE`` -> (name, value), the value read as true/false, none,
    an int, a float, or else kept as text."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. rfb=true), got {text!r}")
    words = {"true": True, "false": False, "none": None}
    value: object = words.get(raw.strip().lower(), raw)
    if isinstance(value, str):
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                pass
    return name.strip(), value


def config_arguments(parser: argparse.ArgumentParser, study: bool = True) -> None:
    """The arguments of a verb that reads a TOML config: the file, ``--workdir`` and (with
    ``study``) ``--storage`` and ``--study``."""
    parser.add_argument("config", help="TOML configuration file")
    parser.add_argument("--workdir", help="working folder (default: [output] workdir)")
    if study:
        parser.add_argument(
            "--storage",
            help="study storage: SQLite file, journal file "
            "(*.log) or URL such as postgresql://user@127.0.0.1/db "
            "(default: [study] storage)",
        )
        parser.add_argument("--study", help="study name (default: from the config)")


def build_parser(commands: Iterable[Command]) -> argparse.ArgumentParser:
    """The ``hybridfer`` parser, one subparser per command; a parsed command line carries its
    command as ``handler``."""
    from hybridfer import __version__

    p = _Parser(
        prog="hybridfer",
        description="Facial expression recognition: deep + handcrafted features with classical "
        "classifiers, tuned with Optuna.",
    )
    p.add_argument("--version", action="version", version=f"hybridfer {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log every trial")
    p.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (for bug reports)"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        sp = sub.add_parser(command.name, help=command.help, description=command.description)
        sp.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an error",
        )
        command.add_arguments(sp)
        sp.set_defaults(handler=command)
    return p
