"""Checkpoint converters (no mmcv / mmdet / mmseg needed): the official CBAM ImageNet weights."""
from .official import OFFICIAL_CBAM, ConversionError, convert, expected_keys, infer_depth, unwrap

__all__ = ['OFFICIAL_CBAM', 'ConversionError', 'convert', 'expected_keys', 'infer_depth', 'unwrap']
