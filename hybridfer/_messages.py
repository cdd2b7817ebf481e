"""Values as error messages print them: plain Python, never numpy reprs.

``repr(np.str_("happy"))`` is ``np.str_('happy')`` and ``repr(np.int64(9))`` is
``np.int64(9)`` since numpy 2; a user reading an error wants ``'happy'`` and ``9``. Every
message that shows a value the user gave (a label, a code, a parameter) passes it through
:func:`plain` first. :func:`plain_json` is its variant for values saved as JSON (metadata,
summaries): only lists, string keys and Python scalars.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

__all__ = ["echo", "one_line", "plain", "plain_json", "plain_repr"]


def plain(value: object) -> object:
    """``value`` with numpy scalars and arrays turned into Python values, recursively.

    Lists, tuples, sets and dicts keep their type; anything else is returned as is.

    Examples
    --------
    >>> plain([np.str_("happy"), np.int64(9)])
    ['happy', 9]
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def plain_json(value: object) -> object:
    """``value`` as JSON holds it: numpy scalars and arrays turned into Python values, paths
    into strings, tuples into lists, sets into sorted lists and mapping keys into strings,
    recursively.

    Anything else (str, int, float, bool, None, or a value JSON cannot hold) is returned as is.

    Examples
    --------
    >>> plain_json({1: (np.float64(0.5), np.array([2, 3]))})
    {'1': [0.5, [2, 3]]}
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain_json(v) for v in value)
    return value


def plain_repr(value: object) -> str:
    """``repr(plain(value))``: ``'happy'``, ``9``, ``['angry', 'sad']``."""
    return repr(plain(value))


def one_line(exc: BaseException) -> str:
    """An exception's message on one line: its lines stripped and joined with spaces.

    A KeyError's message is its argument, not its quoted repr; an exception without a
    message gives its class name.

    Examples
    --------
    >>> one_line(ValueError("bad value\\n  in row 3"))
    'bad value in row 3'
    """
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return " ".join(lines) if lines else type(exc).__name__


def echo(*lines: str) -> None:
    """Print ``lines`` to stdout, one per line, flushed (progress of a long command)."""
    print(*lines, sep="\n", flush=True)
