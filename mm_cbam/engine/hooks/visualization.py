"""CBAMVisualizationHook: attention overlays of validation images during training."""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import cv2
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...overlays import draw_attention, mask_for_image, select_layers
from ...validation import positive_int
from .utils import runner_attention_modules


@HOOKS.register_module()
class CBAMVisualizationHook(Hook):
    """Draw spatial masks (and top channel weights) of chosen layers over validation images.

    Every ``interval`` validation runs, the first ``num_images`` images of the validation set
    are drawn for each chosen layer: the image, the spatial mask over it and the strongest channel
    weights. PNGs go to ``<run dir>/<out_dir>/iter_<N>/<layer>_img<k>.png`` and to every
    visualizer backend (TensorBoard) as ``cbam_<layer>_img<k>``.

    Args:
        interval: draw every ``interval`` validation runs.
        num_images: images per run.
        layers: module-path patterns of the layers to draw (``'backbone.layer4.*'``); default:
            ``max_layers`` layers evenly spaced from the first to the last attention module.
        max_layers: see ``layers``.
        out_dir: directory name inside the run directory.

    Only the chosen modules record maps, only for the iterations that are drawn, and only on
    rank 0 (which alone writes files in distributed runs).
    """
    priority = 'LOW'

    def __init__(self, interval: int = 1, num_images: int = 2,
                 layers: Optional[Sequence[str]] = None, max_layers: int = 4,
                 out_dir: str = 'cbam_attention'):
        self.interval = positive_int('interval', interval)
        self.num_images = positive_int('num_images', num_images)
        self.layers = layers
        self.max_layers = max_layers
        self.out_dir = out_dir
        self._chosen: Dict[str, object] = {}
        self._val_runs = 0
        self._drawn = 0
        self._active = False
        self.saved: List[str] = []

    def before_run(self, runner) -> None:
        """Choose the layers to draw (none on ranks other than 0)."""
        if runner.rank != 0:
            self._chosen = {}
            return
        modules = runner_attention_modules(runner)
        names = select_layers(list(modules), self.layers, self.max_layers) if modules else []
        self._chosen = {n: modules[n] for n in names}

    def before_val_epoch(self, runner) -> None:
        """Decide whether this validation run is drawn."""
        self._val_runs += 1
        self._active = bool(self._chosen) and self._val_runs % self.interval == 0
        self._drawn = 0

    def before_val_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Record the chosen layers' maps while images remain to be drawn."""
        if self._active and self._drawn < self.num_images:
            for module in self._chosen.values():
                module.recording = True

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Draw the recorded maps over this batch's images."""
        if not self._active or self._drawn >= self.num_images:
            return
        out_dir = osp.join(runner.log_dir, self.out_dir, f'iter_{runner.iter}')
        os.makedirs(out_dir, exist_ok=True)
        inputs = data_batch['inputs']
        for i, sample in enumerate(outputs):
            if self._drawn >= self.num_images:
                break
            image = inputs[i].permute(1, 2, 0).cpu().numpy()[..., ::-1]  # BGR (mmcv) -> RGB
            img_shape = tuple(sample.metainfo.get('img_shape', image.shape[:2]))
            batch_shape = sample.metainfo.get('batch_input_shape', img_shape)
            image = image[:img_shape[0], :img_shape[1]]
            for name, module in self._chosen.items():
                maps = module.last_maps or {}
                if maps.get('sa') is None:
                    continue
                sa = mask_for_image(maps['sa'][i], img_shape, batch_shape)
                ca = maps['ca'][i].float().cpu().numpy() if maps.get('ca') is not None else None
                drawn = draw_attention(image, sa, ca, title=f'{name} (iter {runner.iter})')
                path = osp.join(out_dir, f'{name}_img{self._drawn}.png')
                cv2.imwrite(path, drawn[..., ::-1])
                self.saved.append(path)
                runner.visualizer.add_image(f'cbam_{name}_img{self._drawn}', drawn,
                                            step=runner.iter)
            self._drawn += 1
        for module in self._chosen.values():
            module.recording = False
            module.last_maps = None
