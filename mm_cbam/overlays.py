"""Drawing attention maps over images (used by CBAMVisualizationHook and
``python -m mm_cbam.analysis.visualize_attention``); needs no mmcv."""
from typing import Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F


def mask_for_image(sa: torch.Tensor, img_shape: Tuple[int, int],
                   batch_input_shape: Optional[Tuple[int, int]] = None,
                   out_shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Spatial mask (1, h, w) of a padded batch, cropped to one image and resized.

    Args:
        sa: the mask of one sample, computed on the padded batch input.
        img_shape: (H, W) of the image inside the padded input (top-left aligned).
        batch_input_shape: (H, W) of the padded batch input (default: ``img_shape``).
        out_shape: (H, W) to resize to (default: ``img_shape``).
    """
    batch_input_shape = tuple(batch_input_shape or img_shape)
    m = F.interpolate(sa.detach().float().reshape(1, 1, *sa.shape[-2:]), size=batch_input_shape,
                      mode='bilinear', align_corners=False)[0, 0]
    m = m[:img_shape[0], :img_shape[1]]
    if out_shape is not None and tuple(out_shape) != tuple(m.shape):
        m = F.interpolate(m[None, None], size=tuple(out_shape), mode='bilinear',
                          align_corners=False)[0, 0]
    return m.cpu().numpy()


def draw_attention(image: np.ndarray, sa: np.ndarray, ca: Optional[np.ndarray] = None,
                   title: str = '', top_k: int = 12) -> np.ndarray:
    """An RGB figure: the image, the spatial mask over it, and the top channel weights.

    Args:
        image: (H, W, 3) uint8 RGB.
        sa: (H, W) spatial mask in [0, 1].
        ca: (C,) channel weights (optional).
    Returns:
        (h, w, 3) uint8 RGB rendering.
    """
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    panels = 3 if ca is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 3.4), dpi=100)
    axes[0].imshow(image)
    axes[0].set_title('input', fontsize=9)
    axes[1].imshow(image)
    im = axes[1].imshow(sa, cmap='jet', alpha=0.5, vmin=0.0, vmax=1.0)
    axes[1].set_title(f'spatial mask (mean {sa.mean():.2f})', fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.046, pad=0.04)
    for ax in axes[:2]:
        ax.axis('off')
    if ca is not None:
        order = np.argsort(ca)[::-1][:top_k]
        axes[2].barh(range(len(order))[::-1], ca[order], color='tab:orange')
        axes[2].set_yticks(range(len(order))[::-1], [f'ch {i}' for i in order], fontsize=7)
        axes[2].set_xlim(0, 1)
        axes[2].set_title(f'top {len(order)} channel weights', fontsize=9)
    return figure_to_rgb(fig, title, fontsize=9)


def figure_to_rgb(fig, title: Optional[str] = None, fontsize: int = 9) -> np.ndarray:
    """A matplotlib figure (titled, laid out) as an (H, W, 3) uint8 RGB array; closes it."""
    import matplotlib.pyplot as plt
    if title:
        fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout()
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    return rgba[..., :3].copy()


def select_layers(names: Sequence[str], patterns: Optional[Sequence[str]] = None,
                  max_layers: int = 4) -> list:
    """Layers matching ``patterns`` (module-path patterns), else up to ``max_layers`` evenly
    spaced ones (first to last)."""
    names = list(names)
    if patterns:
        from .patterns import pattern_to_regex
        regexes = [pattern_to_regex(p) for p in patterns]
        chosen = [n for n in names if any(r.match(n) for r in regexes)]
        if not chosen:
            raise ValueError(f'layer patterns {list(patterns)} match none of {names}')
        return chosen
    if len(names) <= max_layers:
        return names
    idx = np.linspace(0, len(names) - 1, max_layers).round().astype(int)
    return [names[i] for i in sorted(set(idx.tolist()))]
