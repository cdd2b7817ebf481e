"""Atomic file writing: readers see either the old file or the complete new one, never a part.

Every file hybridfer writes (feature caches, results, plots) goes through these helpers. The
new content is written to a temporary file in the destination's own folder (so the final
``os.replace`` stays on one file system and is atomic), then moved over the destination. If
the writer raises, the temporary file is removed and the old destination is left untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which is not thread safe.
_UMASK = _current_umask()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


@contextmanager
def atomic_path(path: str | os.PathLike, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path`` atomically.

    The temporary file already exists (empty) and ends with the same suffix as ``path``, so
    writers that pick a format from the suffix (``Figure.savefig``, ``np.save``) behave as they
    would on ``path``. Missing parent folders are created. The final file gets the usual
    permissions of a new file (``0o666`` minus the umask), or keeps those of the file it replaces.

    Parameters
    ----------
    path : str or path-like
        The destination file.
    durable : bool, default=False
        Also ``fsync`` the new file and its folder, so the content survives a power loss (not
        only a crash of this process). Slower; off by default.

    Yields
    ------
    pathlib.Path
        Where to write the new content.

    Examples
    --------
    >>> with atomic_path("results/model.npy") as tmp:  # doctest: +SKIP
    ...     np.save(tmp, weights)
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write file {os.fspath(path)!r}: it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        if durable:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if durable:
        with suppress(OSError):  # not every platform lets a folder be opened for fsync
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(
    path: str | os.PathLike, text: str, *, encoding: str = "utf-8", durable: bool = False
) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)
