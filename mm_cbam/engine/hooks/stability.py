"""CBAMStabilityHook: log how every attention module of the model behaves during training."""
import math
from collections import defaultdict
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.hooks import Hook, LoggerHook
from mmengine.registry import HOOKS

from ..statistics import module_statistics
from .utils import runner_attention_modules


class AttentionInstabilityError(RuntimeError):
    """Raised by :class:`CBAMStabilityHook` with ``stop_on_alarm=True``."""


@HOOKS.register_module()
class CBAMStabilityHook(Hook):
    """Logs every attention module's parameters and mask statistics; raises alarms.

    Every ``interval`` training iterations, for each mm_cbam attention module of the model (named
    by its module path, e.g. ``backbone.layer3.2.cbam``), the hook logs the values of
    :func:`mm_cbam.engine.statistics.module_statistics` -- alpha, channel/spatial temperature,
    avg/max fusion weights, dynamic router weights (batch mean per branch) and entropy, channel-
    and spatial-mask mean / std / saturation, the gradient norm of the module's parameters -- as
    ``cbam/<module path>/<statistic>`` scalars of MMEngine's message hub. The LoggerHook then writes
    them to the text log, ``vis_data/scalars.json`` and every visualizer backend (TensorBoard).

    Cost: on other iterations the hook does nothing but an integer test. On logging iterations
    the attention modules keep references to their (small) masks for one forward, an optimizer
    step pre-hook computes the gradient norms, and the statistics are fetched in one transfer per
    module.

    Alarms (a warning naming the layer, or :class:`AttentionInstabilityError` with
    ``stop_on_alarm=True``; the decision is all-reduced so every rank stops together):

    * ``nonfinite``: NaN/Inf in a parameter, a mask or the output of a module;
    * mask collapse: the fraction of mask values below 0.05 or above 0.95 exceeds
      ``collapse_threshold`` for ``collapse_patience`` consecutive logs.

    Args:
        interval: logging interval in iterations (counted like the LoggerHook counts them:
            inside the epoch for epoch-based loops). ``None`` (default) uses the LoggerHook's
            interval; use a multiple of it, since the LoggerHook writes what the hook logged last.
        collapse_threshold: saturation fraction that counts as collapsed.
        collapse_patience: consecutive collapsed logs before the alarm.
        stop_on_alarm: raise instead of warning.
        log_grad_norm: log ``gnorm`` (needs an optimizer step pre-hook on logging iterations).

    Priority ``NORMAL``: ``after_train_iter`` runs before LoggerHook (``BELOW_NORMAL``), so the
    values logged at an iteration are the ones of that iteration.
    """
    priority = 'NORMAL'

    def __init__(self, interval: Optional[int] = None, collapse_threshold: float = 0.95,
                 collapse_patience: int = 3, stop_on_alarm: bool = False,
                 log_grad_norm: bool = True):
        if interval is not None and (not isinstance(interval, int) or interval < 1):
            raise ValueError(f'interval must be a positive integer or None, got {interval!r}')
        if not 0 < collapse_threshold <= 1:
            raise ValueError(f'collapse_threshold must be in (0, 1], got {collapse_threshold}')
        if not isinstance(collapse_patience, int) or collapse_patience < 1:
            raise ValueError(f'collapse_patience must be an integer >= 1, got {collapse_patience}')
        self.interval = interval
        self.collapse_threshold = collapse_threshold
        self.collapse_patience = collapse_patience
        self.stop_on_alarm = stop_on_alarm
        self.log_grad_norm = log_grad_norm
        self._modules: Dict[str, torch.nn.Module] = {}
        self._collapsed = defaultdict(int)
        self._grad_norms: Dict[str, torch.Tensor] = {}
        self._handles: List = []
        self._active = False
        self.last_stats: Dict[str, Dict[str, float]] = {}

    # ------------------------------------------------------------------ setup
    def before_run(self, runner) -> None:
        self._modules = runner_attention_modules(runner)
        if self.interval is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self.interval = loggers[0].interval if loggers else 50
        if not self._modules:
            runner.logger.warning('CBAMStabilityHook: the model has no mm_cbam attention module; '
                                  'nothing will be logged')
        else:
            runner.logger.info(f'CBAMStabilityHook: logging {len(self._modules)} attention '
                               f'modules every {self.interval} iterations')

    # ------------------------------------------------------------------ per iteration
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        # the LoggerHook's own test (iteration inside the epoch, or global for iter-based loops),
        # so that every line it writes carries the values of that very iteration
        self._active = bool(self._modules) and self.every_n_inner_iters(batch_idx, self.interval)
        if not self._active:
            return
        for module in self._modules.values():
            module.recording = True
        if self.log_grad_norm:
            for optimizer in self._optimizers(runner):
                self._handles.append(optimizer.register_step_pre_hook(self._capture_grad_norms))

    def _optimizers(self, runner):
        wrapper = runner.optim_wrapper
        wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
        return [w.optimizer for w in wrappers]

    def _capture_grad_norms(self, optimizer, args, kwargs):
        for name, module in self._modules.items():
            grads = [p.grad.detach().float().norm() for p in module.parameters()
                     if p.grad is not None]
            if grads:
                self._grad_norms[name] = torch.linalg.vector_norm(torch.stack(grads))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self._active:
            return
        self._active = False
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        alarms = []
        hub = runner.message_hub
        for name, module in self._modules.items():
            stats = module_statistics(module, self._grad_norms.get(name))
            module.recording = False
            module.last_maps = None
            self.last_stats[name] = stats
            for key, value in stats.items():
                hub.update_scalar(f'train/cbam/{name}/{key}', value)
            alarms.extend(self._check(name, stats))
        self._grad_norms.clear()
        self._raise_alarms(runner, alarms)

    # ------------------------------------------------------------------ alarms
    def _check(self, name: str, stats: Dict[str, float]) -> List[str]:
        found = []
        if stats.get('nonfinite', 0) > 0 or any(not math.isfinite(v) for v in stats.values()):
            found.append(f'{name}: non-finite values (NaN/Inf) in its parameters, masks or '
                         'output')
        saturation = max((stats.get(f'{m}_sat_lo', 0.0) + stats.get(f'{m}_sat_hi', 0.0)
                          for m in ('ca', 'sa')), default=0.0)
        if saturation > self.collapse_threshold:
            self._collapsed[name] += 1
            if self._collapsed[name] >= self.collapse_patience:
                found.append(f'{name}: attention mask collapsed ({saturation:.1%} of mask values '
                             f'below 0.05 or above 0.95 for {self._collapsed[name]} consecutive '
                             'logs)')
        else:
            self._collapsed[name] = 0
        return found

    def _raise_alarms(self, runner, alarms: List[str]) -> None:
        flag = torch.tensor(float(bool(alarms)))
        if get_dist_info()[1] > 1:
            all_reduce(flag, op='max')  # every rank decides together
        if flag.item() == 0:
            return
        message = ('CBAM stability alarm at iteration '
                   f'{runner.iter + 1}: ' + ('; '.join(alarms) or 'raised on another rank'))
        if self.stop_on_alarm:
            raise AttentionInstabilityError(message + '. Training stopped (stop_on_alarm=True); '
                                            'the last checkpoint in the work dir is resumable.')
        runner.logger.warning(message)
