"""Which OpenMMLab packages are installed, and clear errors when a config needs a missing one.

mm_cbam works with mmdet alone, mmsegmentation alone or both; its attention math needs neither
(only torch and mmengine). ``import mm_cbam`` registers what the installed packages allow
(:data:`mm_cbam.AVAILABLE` says what), and code that needs a missing package raises
:class:`MissingPackageError` naming the package and how to install it.

ONNX export and Grad-CAM need the ``deploy`` extra (:data:`DEPLOY_PACKAGES`: onnx, onnxruntime,
grad-cam), the ConvNeXt configs the ``pretrain`` extra (mmpretrain); those packages are imported
only by the tools and configs that use them, never by ``import mm_cbam``.
"""
import importlib
from typing import Dict

# import name -> (distribution, install command)
PACKAGES = {
    'cv2': ('OpenCV (opencv-python, an mmengine dependency)', 'pip install opencv-python'),
    'mmcv': ('mmcv 2.1.0 with compiled ops',
             'python tools/setup_env.py (builds and caches mmcv with its ops)'),
    'mmdet': ('mmdet 3.3.0', 'pip install mmdet==3.3.0'),
    'mmseg': ('mmsegmentation 1.2.2', 'pip install mmsegmentation==1.2.2 ftfy regex'),
}
# the ``deploy`` extra (setup.cfg): import name -> (distribution, install command)
_DEPLOY = "pip install -e '.[deploy]' (installed by tools/setup_env.py)"
DEPLOY_PACKAGES = {
    'onnx': ("onnx (the 'deploy' extra)", _DEPLOY),
    'onnxruntime': ("onnxruntime (the 'deploy' extra)", _DEPLOY),
    'pytorch_grad_cam': ("grad-cam (the 'deploy' extra)", _DEPLOY),
}
# every optional extra: the above and ``pretrain`` (mmpretrain's backbones: ConvNeXt)
EXTRA_PACKAGES = dict(DEPLOY_PACKAGES, mmpretrain=(
    "mmpretrain 1.2.0 (the 'pretrain' extra)",
    "pip install -e '.[pretrain]' or pip install mmpretrain==1.2.0 (installed by "
    'tools/setup_env.py)'))


class MissingPackageError(ImportError):
    """A feature needs an OpenMMLab package that is not installed."""


def importable(name: str) -> bool:
    """Whether ``name`` (one of :data:`PACKAGES` or :data:`EXTRA_PACKAGES`) imports. A missing
    package -- or a missing OpenMMLab dependency of it (mmdet without mmcv) -- is False; any other
    error propagates, so a broken installation is not silently skipped."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or '').split('.')[0] in {**PACKAGES, **EXTRA_PACKAGES}:
            return False
        raise
    return True


def available() -> Dict[str, bool]:
    """``{'cv2': bool, 'mmcv': bool, 'mmdet': bool, 'mmseg': bool}`` for this environment."""
    return {name: importable(name) for name in PACKAGES}


def require(name: str, needed_for: str) -> None:
    """Raise :class:`MissingPackageError` if ``name`` (a key of :data:`PACKAGES` or
    :data:`EXTRA_PACKAGES`) cannot be imported."""
    if not importable(name):
        dist, command = {**PACKAGES, **EXTRA_PACKAGES}[name]
        raise MissingPackageError(f'{needed_for} needs {dist}, which is not installed (import '
                                  f'{name!r} failed). Install it: {command}')
