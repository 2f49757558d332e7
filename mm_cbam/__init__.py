"""mm_cbam: CBAM attention and its stabilised variants for OpenMMLab detectors and segmentors.

``import mm_cbam`` (or ``custom_imports = dict(imports=['mm_cbam'])`` in a config) registers every
module, hook and transform the package provides and applies the compatibility fixes of
:mod:`mm_cbam.compat`.
"""
import warnings

# mmengine 0.10.7 imports pkg_resources (deprecated in setuptools >= 77); the pin <81 keeps it.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from . import compat  # noqa: F401  (first: fixes needed before any checkpoint is loaded)
from . import attention  # noqa: F401
from . import models  # noqa: F401
from . import engine  # noqa: F401
from . import datasets  # noqa: F401
from .version import __version__

__all__ = ['__version__']
