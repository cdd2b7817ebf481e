"""Study storages: a SQLite file, Optuna's journal file, or a database URL.

:func:`make_storage` turns what a user writes (a path, ``journal:PATH``, a SQLAlchemy URL
such as ``postgresql://user@host/db``) into an Optuna storage whose every operation runs in a
critical section (a Ctrl-C never cuts one in two: see :mod:`hybridfer.tuning.interrupts`).
Relational storages record a heartbeat for each running trial; a trial whose worker died is
failed after ``grace_period`` seconds and a copy of it is queued again (Optuna's
heartbeat-stale-trial callback). :func:`tickets_only` is the view of a storage on which
workers call ``study.ask()``: it takes a queued trial and never creates one.
:func:`parse_storage_url` is the one reader of what a user writes; :func:`open_storage`
opens an existing one. :func:`list_studies` and :func:`delete_study` are the housekeeping of
``hybridfer studies``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage

from hybridfer._messages import plain_repr
from hybridfer.tuning.interrupts import critical_section

__all__ = [
    "GuardedInMemoryStorage",
    "GuardedRDBStorage",
    "NoTicketError",
    "StorageError",
    "StorageURL",
    "delete_study",
    "heartbeat_interval",
    "list_studies",
    "make_storage",
    "open_storage",
    "parse_storage_url",
    "redact_url",
    "retry_callback",
    "tickets_only",
]

_log = logging.getLogger("hybridfer.tuning")

_JOURNAL = "journal:"
_JOURNAL_SUFFIXES = (".log", ".jsonl", ".journal")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


class StorageError(ValueError):
    """A storage that cannot be used: an unknown file suffix, a bad URL, no server, no
    driver. The message names the storage and what was expected."""


def _guarded(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def method(*args, **kwargs):
        with critical_section():
            return fn(*args, **kwargs)

    return method


def _guard(cls: type) -> type:
    """A subclass of a storage class whose every method runs in a critical section, so that
    a Ctrl-C never cuts a storage operation in two (see :mod:`hybridfer.tuning.interrupts`).
    """
    methods = {}
    for klass in cls.__mro__:
        for name, value in vars(klass).items():
            if name in methods or not inspect.isfunction(value):
                continue
            if name.startswith("__") and name != "__init__":
                continue
            methods[name] = _guarded(value)
    name = f"Guarded{cls.__name__}"
    guarded = type(name, (cls,), {**methods, "__module__": __name__, "__qualname__": name})
    guarded.__doc__ = f"{cls.__name__} whose operations a Ctrl-C does not interrupt."
    return guarded


GuardedRDBStorage = _guard(RDBStorage)
GuardedInMemoryStorage = _guard(InMemoryStorage)


def _journal_storage_class() -> type:
    global GuardedJournalStorage
    if GuardedJournalStorage is None:
        from optuna.storages.journal import JournalStorage

        GuardedJournalStorage = _guard(JournalStorage)
    return GuardedJournalStorage


GuardedJournalStorage: type | None = None


class NoTicketError(LookupError):
    """``Study.ask()`` on a :func:`tickets_only` storage found no queued trial to take."""


def _delegate(name: str) -> Callable:
    def method(self, *args, **kwargs):
        return getattr(self._storage, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    return method


class _TicketsOnlyStorage(BaseStorage):
    """A view of a storage on which new trials come only from the queue (see
    :func:`tickets_only`); every other operation is the storage's own."""

    def __init__(self, storage: BaseStorage) -> None:
        self._storage = storage

    def create_new_trial(self, study_id: int, template_trial=None) -> int:
        if template_trial is None:  # Study.ask() found no waiting trial
            raise NoTicketError("no queued trial is waiting")
        return self._storage.create_new_trial(study_id, template_trial)


for _name in dir(BaseStorage):
    if not _name.startswith("_") and _name != "create_new_trial":
        setattr(_TicketsOnlyStorage, _name, _delegate(_name))
_TicketsOnlyStorage.__abstractmethods__ = frozenset()
del _name


def tickets_only(storage: BaseStorage) -> BaseStorage:
    """A view of ``storage`` on which ``Study.ask()`` takes a queued trial but never creates
    one.

    ``ask()`` moves a waiting trial to RUNNING atomically (Optuna's own queue: two workers
    never take the same one); when no trial is waiting it would create a new one, which
    would run past a study's target. On this view it raises :class:`NoTicketError` instead,
    before anything is written. Trials queued with ``enqueue_trial`` are created as usual.
    Load the study that asks on it: ``optuna.load_study(study_name=...,
    storage=tickets_only(storage), sampler=..., pruner=...)``.
    """
    return _TicketsOnlyStorage(storage)


@dataclass(frozen=True)
class StorageURL:
    """A storage as a user writes it, parsed: ``journal:PATH``, a file path or a database URL.

    Attributes
    ----------
    text : str
        As written.
    path : str or None
        The file it names: ``PATH`` of ``journal:PATH``, or the text itself when it has no
        ``://``. None for a URL (``sqlite:///...``, ``postgresql://...``).
    journal : bool
        Whether the file is Optuna's journal file (``journal:PATH``, or a path ending in
        ``.log``/``.jsonl``/``.journal``).
    """

    text: str
    path: str | None
    journal: bool

    def in_folder(self, folder: str | os.PathLike) -> str:
        """The storage with a relative file placed in ``folder`` (``~`` and ``$VARS``
        expanded; ``journal:`` kept); a URL as it is."""
        if self.path is None:
            return self.text
        path = Path(os.path.expandvars(self.path)).expanduser()
        if not path.is_absolute():
            path = Path(folder) / path
        return ("journal:" if self.text.startswith(_JOURNAL) else "") + os.fspath(path)


def parse_storage_url(storage: str | os.PathLike) -> StorageURL:
    """Parse a storage setting (see :func:`make_storage` for what it may be).

    Examples
    --------
    >>> parse_storage_url("journal:runs/study.log")
    StorageURL(text='journal:runs/study.log', path='runs/study.log', journal=True)
    >>> parse_storage_url("postgresql://user@127.0.0.1/db").path is None
    True
    """
    text = os.fspath(storage)
    if text.startswith(_JOURNAL):
        return StorageURL(text, text[len(_JOURNAL) :], True)
    if "://" in text:
        return StorageURL(text, None, False)
    return StorageURL(text, text, Path(text).suffix.lower() in _JOURNAL_SUFFIXES)


def open_storage(storage: str | os.PathLike, *, what: str = "storage") -> BaseStorage:
    """An existing storage: a file that does not exist is an error, never created (listing or
    deleting studies must not leave an empty database behind).

    Raises
    ------
    StorageError
        The storage names a file that does not exist (the message starts with ``what``).
    """
    url = parse_storage_url(storage)
    if url.path is not None and not Path(url.path).is_file():
        raise StorageError(f"{what} {url.text!r}: no such file")
    return make_storage(url.text)


def retry_callback(max_retry: int | None) -> Callable:
    cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    if cls is None:  # optuna < 4.9
        cls = optuna.storages.RetryFailedTrialCallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return cls(max_retry=max_retry)


def make_storage(
    storage: str | os.PathLike | BaseStorage | None,
    *,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    max_retry: int | None = 3,
) -> BaseStorage:
    """An Optuna storage from a URL or a path.

    Parameters
    ----------
    storage : str, path, BaseStorage or None
        ``None``: in memory (one process). A path ending in ``.db``/``.sqlite``/``.sqlite3``
        or a ``sqlite:///`` URL: a SQLite file. ``journal:PATH`` or a path ending in
        ``.log``/``.jsonl``/``.journal``: Optuna's journal file. Any other URL
        (``postgresql://user:pw@127.0.0.1:5432/db``, ``mysql+pymysql://...``): a relational
        database shared by workers on several machines.
    heartbeat_interval : int, default=10
        Seconds between heartbeats of a running trial (relational storages).
    grace_period : int or None
        Seconds without heartbeat after which a running trial counts as dead (default:
        3 x ``heartbeat_interval``).
    max_retry : int or None, default=3
        How many times a dead worker's trial is put back in the queue (None: always).
    """
    if isinstance(storage, BaseStorage):
        return storage
    if storage is None:
        return GuardedInMemoryStorage()
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"storage must be a URL, a path, an Optuna storage or None, got "
            f"{type(storage).__name__}"
        )
    url = parse_storage_url(storage)
    text = url.text
    if url.journal:
        return _journal(url.path)
    if url.path is not None:
        if Path(text).suffix.lower() in _SQLITE_SUFFIXES:
            _make_parent(text)
            text = f"sqlite:///{Path(text).resolve()}"
        else:
            raise StorageError(
                f"storage {text!r} is neither a URL nor a file with a known suffix: use a "
                f"SQLite file ({', '.join(_SQLITE_SUFFIXES)}), a journal file "
                f"({', '.join(_JOURNAL_SUFFIXES)} or journal:PATH), or a database URL such as "
                "postgresql://user:password@127.0.0.1:5432/dbname"
            )
    if heartbeat_interval is None or heartbeat_interval < 1:
        raise ValueError(
            "heartbeat_interval must be a whole number of seconds >= 1, got "
            f"{plain_repr(heartbeat_interval)}"
        )
    grace = grace_period if grace_period is not None else 3 * heartbeat_interval
    if grace <= heartbeat_interval:
        raise ValueError(
            f"grace_period ({grace}) must exceed heartbeat_interval ({heartbeat_interval})"
        )
    text = _with_postgres_driver(text)
    engine_kwargs: dict[str, Any] = {}
    if text.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    names = inspect.signature(RDBStorage.__init__).parameters
    callback_kw = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in names
        else "failed_trial_callback"
    )
    kwargs = {
        "engine_kwargs": engine_kwargs,
        "heartbeat_interval": heartbeat_interval,
        "grace_period": grace,
        callback_kw: retry_callback(max_retry),
    }
    return _connect_rdb(text, kwargs)


def _with_postgres_driver(url: str) -> str:
    """``postgresql://`` with the driver that is installed (SQLAlchemy 2.1 defaults to
    psycopg 3; the ``postgres`` extra installs psycopg2)."""
    import importlib.util

    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            rest = url[len(plain) :]
            if importlib.util.find_spec("psycopg") is not None:
                return "postgresql+psycopg://" + rest
            if importlib.util.find_spec("psycopg2") is not None:
                return "postgresql+psycopg2://" + rest
            raise StorageError(
                "a PostgreSQL storage needs a driver: pip install 'hybridfer[postgres]' "
                "(psycopg2-binary)"
            )
    return url


def _connect_rdb(url: str, kwargs: dict, attempts: int = 6) -> RDBStorage:
    """RDBStorage, retried: workers that start together race to create the tables."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    rng = np.random.default_rng()
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return GuardedRDBStorage(url, **kwargs)
        except (ArgumentError, NoSuchModuleError) as exc:
            raise StorageError(f"storage {redact_url(url)!r} is not a valid URL: {exc}") from exc
        except ImportError as exc:  # the URL names a driver that is not installed
            raise StorageError(f"storage {redact_url(url)!r}: {exc}") from exc
        except SQLAlchemyError as exc:
            if attempt == attempts - 1:
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                raise StorageError(
                    f"storage {redact_url(url)!r} cannot be opened: {reason}"
                ) from exc
            _log.info("storage not ready (%s); retrying", type(exc).__name__)
            time.sleep(0.3 + rng.random())
    raise AssertionError("unreachable")  # pragma: no cover


def _journal(path: str) -> BaseStorage:
    from optuna.storages.journal import JournalFileBackend

    _make_parent(path)
    return _journal_storage_class()(JournalFileBackend(os.fspath(path)))


def heartbeat_interval(storage: BaseStorage) -> int | None:
    getter = getattr(storage, "get_heartbeat_interval", None)
    return getter() if getter is not None else None


def _make_parent(path: str | os.PathLike) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"storage {os.fspath(path)!r}: cannot create its folder ({exc.strerror or exc})"
        ) from exc


def redact_url(url: str) -> str:
    """A storage URL without its password."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def list_studies(storage: BaseStorage) -> list[optuna.study.StudySummary]:
    """The studies in ``storage`` (name, trial count, best value, user attributes)."""
    with critical_section():
        return optuna.get_all_study_summaries(storage, include_best_trial=False)


def delete_study(storage: BaseStorage, study_name: str) -> None:
    """Delete study ``study_name`` and all its trials; a KeyError names the studies there."""
    with critical_section():
        try:
            optuna.delete_study(study_name=study_name, storage=storage)
        except KeyError:
            names = sorted(s.study_name for s in list_studies(storage))
            raise KeyError(
                f"no study {study_name!r} in this storage; the studies are {names}"
            ) from None
