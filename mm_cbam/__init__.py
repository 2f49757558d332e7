"""mm_cbam: CBAM attention and its stabilised variants for OpenMMLab detectors and segmentors.

``import mm_cbam`` (or ``custom_imports = dict(imports=['mm_cbam'])`` in a config) registers every
module, hook and transform the package provides and applies the compatibility fixes of
:mod:`mm_cbam.compat`.
"""
from . import compat  # noqa: F401  (first: fixes needed before any checkpoint is loaded)
from . import attention  # noqa: F401
from .version import __version__

__all__ = ['__version__']
