"""The attention math: CBAM, channel / spatial / dynamic spatial attention (pure PyTorch).

Importable with torch and mmengine alone (no mmcv, mmdet or mmsegmentation). The three modules
are registered, under their class names, in mmengine's root ``MODELS`` registry, which mmcv's
``build_plugin_layer`` (used by mmdet / mmseg ResNets) and every downstream registry can see:
``CBAM``, ``CBAMChannelAttention`` and ``CBAMSpatialAttention``.
"""
from .base import Temperature, attention_modules, module_tensors, record_attention
from .cbam import CBAM
from .channel import CBAMChannelAttention
from .functional import cbam, cbam_composite
from .spatial import CBAMSpatialAttention

__all__ = [
    'CBAM', 'CBAMChannelAttention', 'CBAMSpatialAttention', 'Temperature', 'attention_modules',
    'record_attention', 'module_tensors', 'cbam', 'cbam_composite'
]
