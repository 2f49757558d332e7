"""mm_cbam: CBAM attention and its stabilised variants for OpenMMLab detectors and segmentors.

``import mm_cbam`` (or ``custom_imports = dict(imports=['mm_cbam'])`` in a config) registers
what the installed packages allow and applies the compatibility fixes of :mod:`mm_cbam.compat`:

* always (torch + mmengine): the attention modules (``CBAM``, ``CBAMChannelAttention``,
  ``CBAMSpatialAttention``);
* with OpenCV (an mmengine dependency; absent on bare GPU machines): the hooks, the log
  processor, the mini-data generators;
* with mmdet and/or mmsegmentation (each on its own is enough): the plugin ResNets, ``CBAMNeck``
  and ``InsertCBAM`` in that package's registry.

:data:`AVAILABLE` tells which of OpenCV / mmcv / mmdet / mmseg were found.
"""
import warnings

# mmengine 0.10.7 imports pkg_resources (deprecated in setuptools >= 77); the pin <81 keeps it.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from . import compat  # noqa: E402,F401  isort: skip (first: fixes before any checkpoint loads)
from . import attention  # noqa: E402,F401
from .optional import available  # noqa: E402
from .version import __version__  # noqa: E402

AVAILABLE = available()
if AVAILABLE['cv2']:
    from . import engine, mini_data  # noqa: F401
if AVAILABLE['mmcv'] and (AVAILABLE['mmdet'] or AVAILABLE['mmseg']):
    from . import models  # noqa: F401

__all__ = ['__version__', 'AVAILABLE']
