"""Registers mm_cbam's plugin ResNets in mmseg's MODELS registry. Imported by that registry the
first time it is used (it is one of the registry's locations, see :mod:`mm_cbam.models`)."""
from . import register

register('mmseg')
