"""Which checkpoint a run can continue from.

* :func:`checkpoint_problem` -- why a checkpoint file cannot be used (None if it can): missing,
  empty, truncated (the zip structure checked against the file size), damaged (every archive
  member's CRC-32 checked, so bytes overwritten inside the file are found), or unreadable. A file
  the weights-only loader refuses raises :class:`~.safe_load.UnsafeCheckpointError` instead: a
  crafted file is never skipped silently.
* Checkpoints whose weights are not finite are written as ``<name>_nonfinite.pth``
  (:func:`nonfinite_name`, by :class:`~mm_cbam.engine.hooks.FiniteCheckpointHook`) and are never
  a resume candidate.
* :func:`resolve_resume` -- the checkpoint ``--resume`` (without a path) continues from: the one
  ``last_checkpoint`` names, or, if that one is unusable, the newest usable checkpoint of the work
  dir, with a warning naming the bad file(s).
"""
import os.path as osp
import re
import warnings
import zipfile
from glob import glob
from typing import List, Optional, Tuple

from .safe_load import UnreadableCheckpointError, safe_load

NONFINITE_SUFFIX = '_nonfinite'


class CheckpointError(RuntimeError):
    """No usable checkpoint to resume from."""


def nonfinite_name(filename: str) -> str:
    """``iter_30.pth`` -> ``iter_30_nonfinite.pth``."""
    root, ext = osp.splitext(filename)
    return f'{root}{NONFINITE_SUFFIX}{ext or ".pth"}'


def is_nonfinite_name(path: str) -> bool:
    return osp.splitext(osp.basename(path))[0].endswith(NONFINITE_SUFFIX)


def _archive_problem(path: str, size: int) -> Optional[str]:
    """Truncation or a CRC mismatch in a zip checkpoint (what ``torch.save`` writes)."""
    if not zipfile.is_zipfile(path):
        return 'truncated: the archive has no central directory (the save did not finish)'
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.header_offset + info.compress_size > size:
                    return f'truncated: entry {info.filename} ends past the end of the file'
            bad = zf.testzip()  # reads every member and compares its CRC-32
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f'not a valid checkpoint archive ({exc})'
    if bad is not None:
        return f'damaged: the CRC-32 of archive member {bad} does not match its bytes'
    return None


def checkpoint_problem(path: str) -> Optional[str]:
    """None if ``path`` is a usable checkpoint, else a one-line reason.

    Raises:
        UnsafeCheckpointError: the file holds something the weights-only loader refuses.
    """
    if not osp.isfile(path):
        return 'file not found'
    size = osp.getsize(path)
    if size == 0:
        return 'empty file'
    with open(path, 'rb') as f:
        is_zip = f.read(4) == b'PK\x03\x04'  # torch.save writes zip archives
    if is_zip:
        problem = _archive_problem(path, size)
        if problem:
            return problem
    try:
        safe_load(path, map_location='cpu', mmap=is_zip)
    except UnreadableCheckpointError as exc:
        return exc.reason
    except OSError as exc:
        return f'cannot be read ({exc.strerror or exc})'
    return None


def _progress(path: str) -> Tuple[int, float]:
    """Sort key: the number in ``epoch_N.pth`` / ``iter_N.pth``, then the modification time."""
    m = re.search(r'(\d+)\.pth$', osp.basename(path))
    return (int(m.group(1)) if m else -1, osp.getmtime(path))


def resolve_resume(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir`` (None if there is none at all).

    The file named by ``last_checkpoint`` if it is usable; otherwise the newest usable ``*.pth``
    of the work dir (never a ``*_nonfinite.pth``), after a warning that names the unusable
    file(s). Raises :class:`CheckpointError` if checkpoints exist but none is usable, and
    :class:`UnsafeCheckpointError` if one is refused by the weights-only loader.
    """
    marker = osp.join(work_dir, 'last_checkpoint')
    last = None
    if osp.isfile(marker):
        with open(marker) as f:
            last = f.read().strip() or None
    candidates: List[str] = sorted(glob(osp.join(work_dir, '*.pth')), key=_progress,
                                   reverse=True)
    if last is not None:
        candidates = [last] + [c for c in candidates if osp.abspath(c) != osp.abspath(last)]
    bad = []
    for path in candidates:
        if is_nonfinite_name(path):
            bad.append((path, 'its weights are not finite (NaN/Inf)'))
            continue
        problem = checkpoint_problem(path)
        if problem is None:
            if bad:
                warnings.warn('--resume: skipped unusable checkpoint(s) '
                              + '; '.join(f'{p} ({why})' for p, why in bad)
                              + f'; resuming from {path} instead')
            return path
        bad.append((path, problem))
    if bad:
        raise CheckpointError('--resume: no usable checkpoint in ' + work_dir + ': '
                              + '; '.join(f'{p} ({why})' for p, why in bad))
    return None
