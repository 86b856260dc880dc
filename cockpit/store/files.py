"""Files that are what they claim to be, read within bounds, written without clobbering the record.

* :func:`open_regular` opens the log, the history and the head witness: never through a symbolic link
  (``O_NOFOLLOW``), and only a regular file (a FIFO, ``/dev/full``, a directory is refused in one line).
* :func:`read_lines` reads a file line by line with a maximum line length, so a huge or endless file
  cannot make the cockpit read without bound.
* :func:`check_output` and :func:`write_atomic` are for what the cockpit writes on request (exports,
  captures, ``-o``): never inside the rollout's own state directory or the log's directory, never onto
  something that is not a regular file, never over an existing file without ``--force``, and always
  through a temporary file renamed into place, so a reader sees the old file or the whole new one.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

MAX_LINE = 1 << 20
"""The longest line the cockpit reads from its own files (1 MiB; a note is at most 64 KiB)."""


class UnsafeFile(Exception):
    """A file the cockpit will not open, read or write as asked; the message is one line."""


def describe_os_error(exc: OSError) -> str:
    """``exc`` in words: ``no space left on device``, ``permission denied``, ... (lower case)."""
    if exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc.strerror or exc)


def open_regular(path: Path, flags: int, mode: int = 0o660) -> int:
    """``os.open`` that refuses a symbolic link and anything but a regular file (one-line UnsafeFile).

    OSErrors other than the refusals (no such file, permission denied) are raised as they are."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before we can look at what it is
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile(f"{path}: is a symbolic link; the cockpit does not follow links to its record") from None
        if exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.ENXIO):
            raise UnsafeFile(f"{path}: {describe_os_error(exc)}") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"{path}: not a regular file ({_kind(info.st_mode)}); the record must be a plain file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def read_lines(fd: int, path: Path, start: int = 0, max_line: int = MAX_LINE) -> Iterator[tuple[bytes, bool]]:
    """``(line, complete)`` from byte ``start`` of ``fd``: each line without its newline; the last one
    with ``complete`` False when the file does not end in a newline. A line longer than ``max_line``
    raises :class:`UnsafeFile` (after reading at most ``max_line`` bytes of it)."""
    with os.fdopen(os.dup(fd), "rb", closefd=True) as fh:
        fh.seek(start)
        while True:
            line = fh.readline(max_line + 1)
            if not line:
                return
            if line.endswith(b"\n"):
                yield line[:-1], True
                continue
            if len(line) > max_line:
                raise UnsafeFile(f"{path}: a line longer than {max_line} bytes: not a cockpit file")
            yield line, False
            return


# --------------------------------------------------------------------------- writing on request


def inside(path: Path, directory: Path) -> bool:
    """``path`` is ``directory`` or below it (both with symbolic links resolved)."""
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def check_output(path: Path, protected: Iterable[Path], *, force: bool = False) -> None:
    """Refuse (UnsafeFile, one line) an output path that would land on the cockpit's own record."""
    for directory in protected:
        if inside(path, directory):
            raise UnsafeFile(
                f"{path}: inside {directory}, where the rollout's record lives; write the file somewhere else"
            )
    try:
        info = path.lstat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UnsafeFile(f"{path}: {describe_os_error(exc)}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"{path}: {_kind(info.st_mode)}, not a regular file; refusing to write to it")
    if info is not None and not force:
        raise UnsafeFile(f"{path}: already exists; pass --force to replace it")
    if not path.parent.is_dir():
        raise UnsafeFile(f"{path}: no directory {path.parent}")


def write_atomic(path: Path, data: bytes, *, overwrite: bool = False, mode: int = 0o666) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync it and move it into place.

    Without ``overwrite`` an existing ``path`` is never replaced (UnsafeFile), even one created while
    we wrote. ``mode`` less the umask (0644 usually; 0660 in a state directory shared with a group).
    OSErrors (no space left, permission denied) are raised as they are."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path exists: no check-then-write race
            except FileExistsError:
                raise UnsafeFile(f"{path}: already exists; pass --force to replace it") from None
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
