"""The attention math: CBAM, channel / spatial / dynamic spatial attention (pure PyTorch).

The three modules are registered in mmengine's root ``MODELS`` registry, which mmcv's
``build_plugin_layer`` (used by mmdet / mmseg ResNets) and every downstream registry can see:
``CBAM``, ``CBAMChannelAttention`` and ``CBAMSpatialAttention``.
"""
from mmengine.registry import MODELS

from .cbam import (CBAM, ChannelAttention, SpatialAttention, Temperature, attention_modules,
                   record_attention)
from .functional import cbam

MODELS.register_module('CBAM', module=CBAM)
MODELS.register_module('CBAMChannelAttention', module=ChannelAttention)
MODELS.register_module('CBAMSpatialAttention', module=SpatialAttention)

__all__ = [
    'CBAM', 'ChannelAttention', 'SpatialAttention', 'Temperature', 'attention_modules',
    'record_attention', 'cbam'
]
