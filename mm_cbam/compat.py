"""Compatibility fixes for the frozen OpenMMLab releases (mmengine 0.10.7, mmcv 2.1.0, mmdet
3.3.0, mmsegmentation 1.2.2) on current torch. Applied once by ``import mm_cbam``.

1. **Checkpoint loading under torch >= 2.6.** mmengine calls ``torch.load`` without
   ``weights_only``; torch 2.6 changed the default to ``True``, and the restricted unpickler rejects
   the few non-tensor objects a Runner checkpoint contains, so ``--resume`` and ``load_from`` fail
   with ``UnpicklingError: Weights only load failed``. The fix chosen here is the narrowest safe
   one: the exact objects mmengine pickles are added to torch's allow-list with
   ``torch.serialization.add_safe_globals``:

   * :class:`mmengine.logging.HistoryBuffer` (the message hub's scalar history);
   * the numpy array / scalar / dtype reconstructors used inside it (and for ``eta``);
   * ``builtins.getattr``, which HistoryBuffer's ``__getstate__`` uses to pickle its statistics
     methods (``getattr(HistoryBuffer, 'mean')``). Instead of the real ``getattr`` -- which would
     let a crafted file reach any attribute of an allowed object -- the name is bound to
     :func:`_history_buffer_getattr`, which only resolves registered HistoryBuffer statistics
     methods and rejects everything else.

   Loading stays ``weights_only=True`` (no arbitrary code execution from a checkpoint file), and
   checkpoints holding anything else still fail loudly. Passing ``weights_only=False`` everywhere
   would also work but would make every checkpoint file an arbitrary-code vector.

2. **No half-written files.** mmengine's local file backend (checkpoints, dumped configs, JSON
   results) opens the target and writes into it, so a crash during a checkpoint save leaves a
   truncated ``epoch_N.pth``. :func:`atomic_local_writes` makes it write a temporary file in the
   same directory, flush it to disk and rename it over the target (an atomic replace on POSIX
   and Windows): the target is either the old file or the complete new one.

The CPU-distributed launch fix lives in :mod:`mm_cbam.engine.launch` (a launch-time concern,
not an import-time patch).
"""
import os
import os.path as osp
import pickle
import tempfile
from typing import List

import numpy as np
import torch

_APPLIED = False


def _numpy_globals() -> List[object]:
    """numpy objects that pickled arrays, scalars and dtypes refer to (numpy 1.x and 2.x)."""
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    found = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    # numpy >= 1.25 pickles dtypes as instances of these per-type classes
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            obj = getattr(dtypes, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                found.append(obj)
    return found


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to the statistics methods of mmengine's HistoryBuffer."""
    from mmengine.logging import HistoryBuffer

    # the class-level registry is filled lazily by the first HistoryBuffer instance
    allowed = set(_DEFAULT_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) while loading a checkpoint: only HistoryBuffer '
        'statistics methods are allowed (see mm_cbam.compat)')


def checkpoint_safe_globals() -> List[object]:
    """Everything mmengine's Runner puts in a checkpoint besides tensors and builtins."""
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')] + _numpy_globals()


def allow_runner_checkpoints() -> bool:
    """Allow-list the checkpoint classes for ``torch.load(weights_only=True)``.

    Returns False on torch versions without ``add_safe_globals`` (< 2.4), where ``torch.load``
    defaults to ``weights_only=False`` and nothing needs fixing.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    add(checkpoint_safe_globals())
    return True


def _file_mode() -> int:
    """The mode ``open(..., 'w')`` gives new files (0o666 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(data: bytes, filepath: str) -> None:
    """Write ``data`` to ``filepath`` through a temporary file and an atomic rename (the file
    gets the permissions a plain ``open`` would give it)."""
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_local_writes() -> None:
    """Make mmengine's LocalBackend ``put`` / ``put_text`` write atomically."""
    from mmengine.fileio.backends.local_backend import LocalBackend

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(obj, str(filepath))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), str(filepath))

    put.__doc__ = 'Write bytes to ``filepath`` atomically (mm_cbam.compat).'
    put_text.__doc__ = 'Write text to ``filepath`` atomically (mm_cbam.compat).'
    LocalBackend.put = put
    LocalBackend.put_text = put_text


def apply() -> None:
    """Apply all fixes (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    allow_runner_checkpoints()
    atomic_local_writes()
    _APPLIED = True


apply()
