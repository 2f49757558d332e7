"""Mini datasets generated deterministically in the real COCO / Cityscapes formats."""
from .synthetic import COCO_CLASSES, generate_mini_cityscapes, generate_mini_coco

__all__ = ['COCO_CLASSES', 'generate_mini_coco', 'generate_mini_cityscapes']
