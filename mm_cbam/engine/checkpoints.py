"""Readable checkpoints for ``--resume``, and data files that name themselves when broken.

* :func:`checkpoint_problem` -- why a checkpoint file cannot be loaded (None if it can), cheaply:
  the zip structure is checked against the file size and the pickle is parsed with the storages
  memory-mapped, so a 300 MB checkpoint is not read into memory.
* :func:`resolve_resume` -- the checkpoint ``--resume`` (without a path) continues from: the one
  ``last_checkpoint`` names, or, if that one is truncated or corrupt, the newest readable
  checkpoint in the work dir, with a warning naming the bad file.
* :func:`explain_data_error` -- an annotation file that fails to parse, named with the parser's
  error (pycocotools raises a bare ``JSONDecodeError``).

Checkpoints are also never left half-written: :mod:`mm_cbam.compat` makes mmengine write files
to a temporary name and rename them.
"""
import json
import os.path as osp
import re
import warnings
import zipfile
from glob import glob
from typing import List, Optional, Tuple


class CheckpointError(RuntimeError):
    """No usable checkpoint to resume from."""


class DataFileError(ValueError):
    """A dataset file exists but cannot be read."""


def checkpoint_problem(path: str) -> Optional[str]:
    """None if ``path`` loads as a torch checkpoint, else a short reason."""
    if not osp.isfile(path):
        return 'file not found'
    size = osp.getsize(path)
    with open(path, 'rb') as f:
        starts_as_zip = f.read(4) == b'PK\x03\x04'  # torch.save writes zip archives
    if starts_as_zip and not zipfile.is_zipfile(path):
        return 'truncated: the archive has no central directory (the save did not finish)'
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.header_offset + info.compress_size > size:
                        return f'truncated: entry {info.filename} ends past the end of the file'
        except (zipfile.BadZipFile, OSError) as exc:
            return f'not a valid checkpoint archive ({exc})'
    elif size == 0:
        return 'empty file'
    import torch
    try:
        torch.load(path, map_location='cpu', mmap=zipfile.is_zipfile(path))
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot resume from it"
        return f'{type(exc).__name__}: {str(exc).splitlines()[0][:200]}'
    return None


def _progress(path: str) -> Tuple[int, float]:
    """Sort key: the number in ``epoch_N.pth`` / ``iter_N.pth``, then the modification time."""
    m = re.search(r'(\d+)\.pth$', osp.basename(path))
    return (int(m.group(1)) if m else -1, osp.getmtime(path))


def resolve_resume(work_dir: str) -> Optional[str]:
    """The checkpoint to resume from in ``work_dir`` (None if there is none at all).

    The file named by ``last_checkpoint`` if it is readable; otherwise the newest readable
    ``*.pth`` of the work dir, after a warning that names the unreadable file(s). Raises
    :class:`CheckpointError` if checkpoints exist but none is readable.
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
        problem = checkpoint_problem(path)
        if problem is None:
            if bad:
                warnings.warn('--resume: skipped unreadable checkpoint(s) '
                              + '; '.join(f'{p} ({why})' for p, why in bad)
                              + f'; resuming from {path} instead')
            return path
        bad.append((path, problem))
    if bad:
        raise CheckpointError('--resume: no readable checkpoint in ' + work_dir + ': '
                              + '; '.join(f'{p} ({why})' for p, why in bad))
    return None


def _annotation_files(cfg) -> List[str]:
    from .launch import _datasets, dataset_paths
    files = []
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader_cfg = cfg.get(loader) or {}
        for dataset in _datasets(loader_cfg.get('dataset')):
            for what, path in dataset_paths(dataset):
                if what == 'ann_file' and path.endswith('.json') and path not in files:
                    files.append(path)
    return files


def explain_data_error(cfg, exc: BaseException) -> Optional[DataFileError]:
    """A :class:`DataFileError` naming the annotation file behind ``exc`` (a JSON error raised
    while the datasets were built), or None if no annotation file of ``cfg`` is broken."""
    if not isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
        return None
    for path in _annotation_files(cfg):
        try:
            with open(path, 'rb') as f:
                json.loads(f.read())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            return DataFileError(f'annotation file {path} cannot be read: {err}. Restore or '
                                 're-download it (for the mini data: delete it and run '
                                 '`python tools/generate_mini_data.py`).')
    return None
