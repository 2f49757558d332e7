"""CBAMAlphaWarmupHook: ramp the residual mixing coefficient alpha at the start of training."""
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...attention import CBAM
from .utils import runner_attention_modules


@HOOKS.register_module()
class CBAMAlphaWarmupHook(Hook):
    """Ramp alpha of every residual CBAM linearly from ``start`` to its target over ``iters``.

    The notebook's motivation for residual mixing ``x + alpha * (y - x)``: with a small alpha the
    attention can learn without disturbing the (pretrained) network. Before each of the first
    ``iters`` training iterations alpha is set to
    ``start + (target - start) * iter / iters``; the target is ``target`` if given, else each
    module's ``alpha_init``. A learnable alpha is held on the ramp during warm-up (the optimizer's
    update is overwritten) and trains freely afterwards. The ramp depends only on the iteration,
    so resumed runs follow the same schedule. The current value is logged as
    ``cbam_warmup/alpha`` (and per layer by :class:`CBAMStabilityHook`).

    Args:
        iters: warm-up length in iterations (>= 1).
        start: alpha at iteration 0.
        target: alpha at the end of warm-up (default: each module's initial alpha).

    Priority ``ABOVE_NORMAL`` so that the value is set before other hooks see the iteration.
    """
    priority = 'ABOVE_NORMAL'

    def __init__(self, iters: int, start: float = 0.0, target: Optional[float] = None):
        if not isinstance(iters, int) or iters < 1:
            raise ValueError(f'iters must be an integer >= 1, got {iters!r}')
        self.iters = iters
        self.start = float(start)
        self.target = None if target is None else float(target)
        self._targets: Dict[str, float] = {}
        self._modules: Dict[str, CBAM] = {}

    def before_run(self, runner) -> None:
        self._modules = {n: m for n, m in runner_attention_modules(runner).items()
                         if isinstance(m, CBAM) and m.alpha is not None}
        if not self._modules:
            raise ValueError('CBAMAlphaWarmupHook needs CBAM modules with residual=True; the '
                             'model has none')
        # targets are taken before any checkpoint is loaded: the configured alpha_init
        self._targets = {n: (self.target if self.target is not None else float(m.alpha.detach()))
                         for n, m in self._modules.items()}

    def alpha_at(self, it: int, target: float) -> float:
        ratio = min(1.0, it / self.iters)
        return self.start + (target - self.start) * ratio

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        it = runner.iter
        if it > self.iters:
            return
        with torch.no_grad():
            for name, module in self._modules.items():
                module.alpha.fill_(self.alpha_at(it, self._targets[name]))
        first = next(iter(self._targets))
        runner.message_hub.update_scalar('train/cbam_warmup/alpha',
                                         self.alpha_at(it, self._targets[first]))
