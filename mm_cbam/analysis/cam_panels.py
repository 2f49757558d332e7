"""Side-by-side CAM panels: baseline CAM, CBAM model CAM, CBAM spatial mask (``cam.py``)."""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mm_cbam.overlays import figure_to_rgb

Panel = Tuple[str, Optional[np.ndarray]]  # (title, map in [0, 1] of the image's size, or None)


def overlay(rgb: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """``heat`` (H, W) in [0, 1] over ``rgb`` (H, W, 3) uint8 with grad-cam's jet overlay."""
    from pytorch_grad_cam.utils.image import show_cam_on_image
    return show_cam_on_image(rgb.astype(np.float32) / 255.0, np.clip(heat, 0, 1), use_rgb=True)


def draw_panels(rgb: np.ndarray, panels: Sequence[Panel], title: str = '',
                boxes: Optional[np.ndarray] = None) -> np.ndarray:
    """An RGB figure (uint8) with one panel per ``(title, map)``; a None map is drawn as the
    bare image with its title (e.g. ``no CBAM at this layer``); ``boxes`` (N, 4, xyxy) are
    outlined on every panel."""
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt
    h, w = rgb.shape[:2]
    width = max(w, 300) / 100  # inches per panel at 100 dpi: the image's size, at least 300 px
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), width * h / w + 0.6),
                             dpi=100, squeeze=False)
    for ax, (name, heat) in zip(axes[0], panels):
        ax.imshow(rgb if heat is None else overlay(rgb, heat))
        ax.set_title(name, fontsize=8)
        ax.axis('off')
        for x1, y1, x2, y2 in ([] if boxes is None else boxes):
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                           edgecolor='white', linewidth=1.2))
    return figure_to_rgb(fig, title, fontsize=8)


def panel_titles(method: str, with_baseline: bool, mask_name: Optional[str],
                 mask: Optional[np.ndarray], note: str = '') -> List[str]:
    """Titles of the panels, left to right."""
    titles = [f'baseline: {method}' + (f' ({note})' if note else '')] if with_baseline else []
    titles.append(f'CBAM model: {method}')
    if mask_name is not None and mask is None:
        mask_name = None
    if mask is None:
        titles.append('no CBAM at this layer')
    else:
        titles.append(f'CBAM spatial mask (mean {float(mask.mean()):.2f})')
    return titles
