"""Crash-safe file writes for checkpoints.

MMEngine 0.10.7 writes a checkpoint in place and then overwrites ``last_checkpoint``
in place, so a crash during a save can leave a truncated file or an empty pointer.
These helpers write under a temporary name in the same directory, sync, and rename
over the target, which POSIX makes atomic: a reader sees the old file or the new one.
"""
from __future__ import annotations

import os
import os.path as osp
import shutil
import tempfile

__all__ = ['atomic_write_bytes', 'atomic_replace', 'atomic_replace_dir', 'sync_file']


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one.

    Args:
        data (bytes): The full content of the file.
        path (str): The target path; its directory must exist.
    """
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.tmp',
                                    dir=osp.dirname(osp.abspath(path)))
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise


def atomic_replace(tmp_path: str, path: str) -> None:
    """Sync a finished temporary file to disk and rename it over ``path``.

    Args:
        tmp_path (str): A complete file in the same directory as ``path``.
        path (str): The final name.
    """
    with open(tmp_path, 'rb') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, path)


def atomic_replace_dir(tmp_dir: str, path: str) -> None:
    """Sync a finished folder's files and rename it to ``path``, replacing any old one.

    The old folder is first renamed aside and removed only after the new one is in
    place, so ``path`` holds either the complete old folder or the complete new one
    (during the two renames, briefly neither).

    Args:
        tmp_dir (str): A complete folder on the same file system as ``path``.
        path (str): The final name.
    """
    for root, _, files in os.walk(tmp_dir):
        for name in files:
            with open(osp.join(root, name), 'rb') as f:
                os.fsync(f.fileno())
    old = None
    if osp.exists(path):
        old = tempfile.mkdtemp(prefix=f'.{osp.basename(path)}.old.',
                               dir=osp.dirname(osp.abspath(path)))
        os.rmdir(old)
        os.replace(path, old)
    os.replace(tmp_dir, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def sync_file(file) -> None:
    """Flush an open file and force it to disk (an append-only log kept across kills).

    Args:
        file: A file object opened for writing.
    """
    file.flush()
    os.fsync(file.fileno())
