"""What every verb of the ``hybridfer`` command shares: the :class:`Command` it is, the
:class:`InputError` it raises for a flag it cannot use, and :func:`echo` for what it prints."""

from __future__ import annotations

import argparse
from typing import Any, ClassVar

from hybridfer._messages import echo

__all__ = ["Command", "ConfigCommand", "InputError", "echo"]

#: Namespace entries that belong to the whole command line, not to one verb.
_GLOBAL_OPTIONS = frozenset({"command", "verbose", "debug", "handler"})


class InputError(ValueError):
    """A command-line input that cannot be used (a flag's value, a path); the message names
    it and says what was expected."""


class Command:
    """One verb of the ``hybridfer`` command (as an Optuna CLI command is).

    A subclass names the verb (:attr:`name`, :attr:`help`, :attr:`description`), declares
    its arguments in :meth:`add_arguments`, their ``dest`` being the keywords of its
    :meth:`run`, and runs in :meth:`run`. The parser calls the command with the parsed
    namespace (``set_defaults(handler=command)``); it passes the verb's own options to
    :meth:`run` as keywords.
    """

    name: ClassVar[str]
    help: ClassVar[str]
    description: ClassVar[str | None] = None
    #: What ``hybridfer NAME:`` says on stderr after a Ctrl-C (exit status 130).
    interrupted: ClassVar[str] = (
        "interrupted; completed trials are saved and the interrupted one is queued again: "
        "rerun the same command to continue"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the verb's arguments on its subparser (none by default)."""

    def run(self, **options: Any) -> Any:
        """Do what the verb does with its parsed ``options``."""
        raise NotImplementedError

    def __call__(self, args: argparse.Namespace) -> Any:
        return self.run(**self.options(args))

    @staticmethod
    def options(args: argparse.Namespace) -> dict[str, Any]:
        """The verb's own options in a parsed command line."""
        return {k: v for k, v in vars(args).items() if k not in _GLOBAL_OPTIONS}


class ConfigCommand(Command):
    """A verb whose first argument is a TOML configuration: :meth:`run` gets it loaded
    (:func:`hybridfer.tuning.config.load_config`) as ``cfg``."""

    def __call__(self, args: argparse.Namespace) -> Any:
        from hybridfer.tuning.config import load_config

        options = self.options(args)
        return self.run(load_config(options.pop("config")), **options)
