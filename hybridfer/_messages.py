"""Values as error messages print them: plain Python, never numpy reprs.

``repr(np.str_("happy"))`` is ``np.str_('happy')`` and ``repr(np.int64(9))`` is
``np.int64(9)`` since numpy 2; a user reading an error wants ``'happy'`` and ``9``. Every
message that shows a value the user gave (a label, a code, a parameter) passes it through
:func:`plain` first.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["plain", "plain_repr"]


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


def plain_repr(value: object) -> str:
    """``repr(plain(value))``: ``'happy'``, ``9``, ``['angry', 'sad']``."""
    return repr(plain(value))
