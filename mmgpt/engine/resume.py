"""Which checkpoint a resume uses, and whether its schedule still fits the run.

``last_checkpoint`` names the latest checkpoint *relative to the work dir* (an absolute
path only when checkpoints are saved outside it), so a copied work dir resumes from its
own files and a moved one still resolves. Before a resume, the chosen file is checked to
be a complete checkpoint archive; a truncated one (a crash or a full disk mid-copy) is
reported by name and the newest readable ``iter_*.pth`` beside it is used instead, with a
warning. A checkpoint also records the run's world size, batch size and iterations per
epoch; resuming with different ones stops with an error that says what changed, since
the restored learning-rate schedule and the iteration count would no longer match the
data (MMEngine would silently train past the schedule it restored).
"""
from __future__ import annotations

import logging
import os
import os.path as osp
import re
import zipfile

from mmengine.logging import print_log

__all__ = ['CheckpointReadError', 'ResumeMismatchError', 'checkpoint_pointer',
           'read_checkpoint_pointer', 'check_checkpoint_readable', 'find_resume_checkpoint',
           'schedule_meta', 'check_resume_schedule']

POINTER = 'last_checkpoint'
_ITER_FILE = re.compile(r'^iter_(\d+)\.pth$')


class CheckpointReadError(OSError):
    """A checkpoint file is missing, truncated or not a checkpoint archive."""


class ResumeMismatchError(ValueError):
    """The resumed run's world size, batch size or epoch length differs from the saved one."""


def checkpoint_pointer(ckpt_path: str, work_dir: str) -> str:
    """What ``last_checkpoint`` stores for ``ckpt_path``: relative to ``work_dir`` if inside.

    Args:
        ckpt_path (str): The checkpoint just saved.
        work_dir (str): The run's work dir (where ``last_checkpoint`` lives).
    """
    rel = osp.relpath(osp.abspath(ckpt_path), osp.abspath(work_dir))
    return ckpt_path if rel.startswith(os.pardir) else rel


def read_checkpoint_pointer(work_dir: str) -> str | None:
    """The checkpoint ``work_dir/last_checkpoint`` names, as a usable path; None if absent.

    A relative pointer is joined with ``work_dir``. An absolute pointer written by an older
    version (or in a copied work dir) that leaves the work dir, while a file of the same
    name exists inside it, resolves to that file: the work dir's own checkpoint wins.

    Args:
        work_dir (str): The work dir.
    """
    pointer_file = osp.join(work_dir, POINTER)
    if not osp.isfile(pointer_file):
        return None
    with open(pointer_file, encoding='utf-8') as f:
        saved = f.read().strip()
    if not saved:
        return None
    if not osp.isabs(saved):
        return osp.join(work_dir, saved)
    local = osp.join(work_dir, osp.basename(saved))
    inside = not osp.relpath(saved, osp.abspath(work_dir)).startswith(os.pardir)
    if not inside and osp.isfile(local):
        print_log(f'{pointer_file} names {saved} outside this work dir; resuming from this '
                  f"work dir's own {local}", logger='current', level=logging.WARNING)
        return local
    return saved


def check_checkpoint_readable(path: str) -> None:
    """Raise :class:`CheckpointReadError` unless ``path`` is a complete checkpoint archive.

    ``torch.save`` writes a zip archive; a truncated or damaged one has no central
    directory or a bad CRC. Reading the archive costs about one read of the file.

    Args:
        path (str): A local checkpoint file.
    """
    if not osp.isfile(path):
        raise CheckpointReadError(f'checkpoint {path} does not exist')
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise CheckpointReadError(f'checkpoint {path} cannot be read ({err}); it is truncated '
                                  'or not a torch checkpoint') from None
    if bad is not None:
        raise CheckpointReadError(f'checkpoint {path} is damaged (member {bad} fails its CRC)')


def _iter_checkpoints(folder: str) -> list[str]:
    """``iter_N.pth`` files of a folder, newest (largest N) first."""
    found = []
    for name in os.listdir(folder) if osp.isdir(folder) else []:
        match = _ITER_FILE.match(name)
        if match:
            found.append((int(match.group(1)), osp.join(folder, name)))
    return [path for _, path in sorted(found, reverse=True)]


def find_resume_checkpoint(work_dir: str) -> str | None:
    """The newest readable checkpoint of a work dir, or None when it has none.

    Starts from ``last_checkpoint`` (see :func:`read_checkpoint_pointer`); if that file
    cannot be read, it is named in a warning and the newest readable ``iter_*.pth`` of
    its folder (older than it) is used.

    Args:
        work_dir (str): The work dir.

    Raises:
        CheckpointReadError: A pointer exists but no checkpoint can be read.
    """
    latest = read_checkpoint_pointer(work_dir)
    candidates = _iter_checkpoints(work_dir) if latest is None else [latest] + [
        p for p in _iter_checkpoints(osp.dirname(latest)) if osp.abspath(p) != osp.abspath(latest)]
    if latest is None and not candidates:
        return None
    problems = []
    for path in candidates:
        try:
            check_checkpoint_readable(path)
        except CheckpointReadError as err:
            problems.append(str(err))
            continue
        if problems:
            print_log(f"{'; '.join(problems)}. Resuming from the newest readable checkpoint "
                      f'{path} instead', logger='current', level=logging.WARNING)
        return path
    raise CheckpointReadError(f'no readable checkpoint in {work_dir}: ' + '; '.join(problems))


def schedule_meta(world_size: int, batch_size: int | None, iters_per_epoch: int) -> dict:
    """What a checkpoint records about the run's shape (see :func:`check_resume_schedule`).

    Args:
        world_size (int): Number of processes.
        batch_size (int, optional): The train dataloader's batch size per process.
        iters_per_epoch (int): ``len(train_dataloader)``.
    """
    return dict(world_size=int(world_size), batch_size=batch_size,
                iters_per_epoch=int(iters_per_epoch))


def check_resume_schedule(saved_meta: dict, current: dict, filename: str) -> None:
    """Stop a resume whose world size, batch size or epoch length differs from the saved run.

    The restored schedulers end where the saved epoch ended and the train loop skips
    ``iter - epoch * iters_per_epoch`` batches; with another shape both are wrong.
    Checkpoints without the record (older ones) pass.

    Args:
        saved_meta (dict): The checkpoint's ``meta``.
        current (dict): :func:`schedule_meta` of the resuming run.
        filename (str): The checkpoint, for the message.

    Raises:
        ResumeMismatchError: What differs, and what to do instead.
    """
    names = dict(world_size='processes (world size)', batch_size='batch size per process',
                 iters_per_epoch='iterations per epoch')
    diffs = [f'{label} {saved_meta[key]} -> {current[key]}' for key, label in names.items()
             if saved_meta.get(key) is not None and current.get(key) is not None
             and saved_meta[key] != current[key]]
    if diffs:
        raise ResumeMismatchError(
            f'cannot resume {filename}: {", ".join(diffs)} (saved -> now). The restored lr '
            'schedule and data position belong to the saved run shape; resume with the same '
            'number of processes, batch size and data, or start a new run from its weights '
            f'with --cfg-options load_from={filename} (without --resume)')
