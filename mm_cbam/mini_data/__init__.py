"""Mini datasets generated deterministically in the real COCO / Cityscapes formats
(``python -m mm_cbam.mini_data``)."""
from .cli import ensure_mini_data
from .generators import COCO_CLASSES, generate_mini_cityscapes, generate_mini_coco

__all__ = ['COCO_CLASSES', 'generate_mini_coco', 'generate_mini_cityscapes', 'ensure_mini_data']
