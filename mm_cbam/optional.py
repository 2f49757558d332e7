"""Which OpenMMLab packages are installed, and clear errors when a config needs a missing one.

mm_cbam works with mmdet alone, mmsegmentation alone or both; its attention math needs neither
(only torch and mmengine). ``import mm_cbam`` registers what the installed packages allow
(:data:`mm_cbam.AVAILABLE` says what), and code that needs a missing package raises
:class:`MissingPackageError` naming the package and how to install it.
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


class MissingPackageError(ImportError):
    """A feature needs an OpenMMLab package that is not installed."""


def importable(name: str) -> bool:
    """Whether ``name`` (one of :data:`PACKAGES`) imports. A missing package -- or a missing
    OpenMMLab dependency of it (mmdet without mmcv) -- is False; any other error propagates, so a
    broken installation is not silently skipped."""
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or '').split('.')[0] in PACKAGES:
            return False
        raise
    return True


def available() -> Dict[str, bool]:
    """``{'cv2': bool, 'mmcv': bool, 'mmdet': bool, 'mmseg': bool}`` for this environment."""
    return {name: importable(name) for name in PACKAGES}


def require(name: str, needed_for: str) -> None:
    """Raise :class:`MissingPackageError` if ``name`` cannot be imported."""
    if not importable(name):
        dist, command = PACKAGES[name]
        raise MissingPackageError(f'{needed_for} needs {dist}, which is not installed (import '
                                  f'{name!r} failed). Install it: {command}')
