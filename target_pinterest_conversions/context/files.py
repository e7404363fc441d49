"""Output files (dead letters, dry-run bodies, the summary): checks and errors in words.

A file problem is reported by setting, path and cause ("dead_letter_path:
/x/y.jsonl: the folder does not exist"), never as a bare errno, and the paths are
checked before any input is read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from target_pinterest_conversions.errors import EXIT_UNEXPECTED, TargetError

_CAUSES = {
    errno.ENOENT: "the folder does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.ENAMETOOLONG: "the path is too long",
    errno.ELOOP: "too many symbolic links",
    errno.EIO: "an input/output error",
    errno.ENXIO: "it is a FIFO and no process is reading it (start its reader first)",
}


class OutputFileError(TargetError, OSError):
    """An output file cannot be written; ``strerror`` names the setting and the cause."""

    exit_code = EXIT_UNEXPECTED


def describe(error: OSError) -> str:
    """Say in words what an ``OSError`` means for a file we write."""
    cause = _CAUSES.get(error.errno or 0)
    if cause is not None:
        return cause
    return (error.strerror or type(error).__name__).lower()


def open_for_append(path: str | Path) -> BinaryIO:
    """Open ``path`` to append bytes, creating it; a FIFO without a reader fails at once.

    Opening a FIFO for writing otherwise waits for a reader, in a system call that no
    signal ends (Python retries it after the handler): SIGTERM would never stop the run.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o666)
    # Writes block again: a reader that is there but slow is waited for, not an error.
    os.set_blocking(fd, True)
    return os.fdopen(fd, "ab")


def output_file_error(setting: str, path: str | Path, error: OSError) -> OutputFileError:
    """An :class:`OutputFileError` naming ``setting``, ``path`` and the cause."""
    return OutputFileError(error.errno, f"{setting}: {path}: {describe(error)}")


def check_writable(setting: str, path: str | Path) -> str | None:
    """Tell why ``path`` cannot be written (creating it or its folder), or ``None``.

    Nothing is created: the folder must exist or be creatable under an existing,
    writable folder, and an existing path must be a regular file, a FIFO or a
    character device (``/dev/stdout``, ``/dev/null``), writable by this process.
    """
    target = Path(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return f"{setting}: {path}: {describe(exc)}"
    if mode is not None:
        if stat.S_ISDIR(mode):
            return f"{setting}: {path}: it is a folder, not a file"
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            return f"{setting}: {path}: it is not a regular file"
        if not os.access(target, os.W_OK):
            return f"{setting}: {path}: permission denied"
        return None
    folder = target.parent
    while not folder.exists():
        if folder.parent == folder:
            break
        folder = folder.parent
    if not folder.is_dir():
        return f"{setting}: {path}: a part of the path is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{setting}: {path}: permission denied in {folder}"
    return None


def is_regular(fd: int) -> bool:
    """Tell whether ``fd`` is a regular file (fsync and seek apply; pipes refuse both)."""
    return stat.S_ISREG(os.fstat(fd).st_mode)
