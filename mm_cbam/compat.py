"""Fixes for the frozen OpenMMLab releases (mmengine 0.10.7, mmcv 2.1.0, mmdet 3.3.0,
mmsegmentation 1.2.2) on current torch, applied once by ``import mm_cbam``:

1. **Checkpoints load without running code** (:mod:`mm_cbam.checkpoint.safe_load`): every
   checkpoint mmengine loads (``load_from``, ``--resume``, ``init_cfg=Pretrained``, any scheme)
   goes through ``torch.load(weights_only=True)``, and the one non-tensor object of a Runner
   checkpoint (the message hub's ``HistoryBuffer``) is rebuilt by a validating stand-in rather
   than by allow-listing mmengine's class and ``getattr`` (``docs/security.md``).
2. **No half-written files** (:mod:`mm_cbam.checkpoint.atomic`): mmengine's local backend writes
   to a temporary file and renames it.

The CPU-distributed launch fix lives in :mod:`mm_cbam.runner.launch` (a launch-time concern,
not an import-time patch).
"""
from .checkpoint.atomic import atomic_local_writes
from .checkpoint.safe_load import install_allow_list, patch_mmengine_loaders

_APPLIED = False


def apply() -> None:
    """Apply all fixes (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    install_allow_list()
    patch_mmengine_loaders()
    atomic_local_writes()
    _APPLIED = True


apply()
