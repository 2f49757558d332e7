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

The CPU-distributed launch fix lives in :mod:`mm_cbam.engine.dist` (it is a launch-time concern,
not an import-time patch).
"""
import pickle
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


def apply() -> None:
    """Apply all fixes (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    allow_runner_checkpoints()
    _APPLIED = True


apply()
