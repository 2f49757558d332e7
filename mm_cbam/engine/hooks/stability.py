"""CBAMStabilityHook: log how every attention module of the model behaves during training."""
import math
from collections import defaultdict
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.hooks import Hook, LoggerHook
from mmengine.registry import HOOKS

from ...validation import positive_int, strict_bool
from ..statistics import module_statistics, saturation
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
    ``cbam/<module path>/<statistic>`` scalars of MMEngine's message hub, plus the aggregates
    ``cbam_summary/<stat>``: ``sat_max`` (worst mask saturation), ``alpha_min`` / ``alpha_max``,
    ``gnorm_max``, ``nonfinite`` (modules with NaN/Inf), ``alarms`` (raised so far in the run) and,
    with mixed precision, ``step_skipped`` (1 when the loss scaler skipped the step). The
    LoggerHook writes all of them to ``vis_data/scalars.json`` and TensorBoard; the text log shows
    what :class:`~mm_cbam.engine.CBAMLogProcessor` selects (the aggregates, by default).

    ``gnorm`` is the norm of the gradients the backward produced: before gradient clipping and,
    with AMP, unscaled, also on iterations whose step the loss scaler skips (then it is inf/NaN).

    Cost: on other iterations the hook does nothing but an integer test. On logging iterations
    the attention modules keep references to their (small) masks for one forward, the optimizer
    wrapper's ``step`` is wrapped for that iteration to read the gradient norms, and the
    statistics are fetched in one transfer per module.

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
        log_grad_norm: log ``gnorm`` and ``step_skipped``.

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
        self.interval = interval
        self.collapse_threshold = collapse_threshold
        self.collapse_patience = positive_int('collapse_patience', collapse_patience)
        self.stop_on_alarm = strict_bool('stop_on_alarm', stop_on_alarm)
        self.log_grad_norm = strict_bool('log_grad_norm', log_grad_norm)
        self._modules: Dict[str, torch.nn.Module] = {}
        self._collapsed = defaultdict(int)
        self._grad_norms: Dict[str, torch.Tensor] = {}
        self._wrapped: List = []
        self._skipped: Optional[float] = None
        self._active = False
        self.alarm_count = 0
        self.last_stats: Dict[str, Dict[str, float]] = {}

    # ------------------------------------------------------------------ setup
    def before_run(self, runner) -> None:
        """Find the attention modules and the logging interval."""
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

    def before_train(self, runner) -> None:
        """Continue the alarm count of a resumed run (the message hub comes from the
        checkpoint)."""
        history = runner.message_hub.log_scalars.get('train/cbam_summary/alarms')
        self.alarm_count = int(history.current()) if history is not None else 0

    # ------------------------------------------------------------------ per iteration
    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """On logging iterations: record maps and wrap the optimizer steps."""
        # the LoggerHook's own test (iteration inside the epoch, or global for iter-based loops),
        # so that every line it writes carries the values of that very iteration
        self._active = bool(self._modules) and self.every_n_inner_iters(batch_idx, self.interval)
        if not self._active:
            return
        for module in self._modules.values():
            module.recording = True
        if self.log_grad_norm:
            wrapper = runner.optim_wrapper
            for w in (wrapper.values() if hasattr(wrapper, 'values') else [wrapper]):
                self._wrap_step(w)

    def _wrap_step(self, wrapper) -> None:
        """Read the gradient norms in ``wrapper.step`` before it clips, unscales or skips."""
        original = wrapper.step

        def step(**kwargs):
            scaler = getattr(wrapper, 'loss_scaler', None)
            scaled = scaler is not None and scaler.is_enabled()
            scale = float(scaler.get_scale()) if scaled else 1.0
            self._capture_grad_norms(scale)
            original(**kwargs)
            if scaled:  # the scaler lowers the scale exactly when it skips a step
                self._skipped = float(float(scaler.get_scale()) < scale)

        wrapper.step = step  # an instance attribute, removed in after_train_iter
        self._wrapped.append(wrapper)

    def _capture_grad_norms(self, scale: float) -> None:
        for name, module in self._modules.items():
            grads = [p.grad.detach().float().norm() for p in module.parameters()
                     if p.grad is not None]
            if grads:
                self._grad_norms[name] = torch.linalg.vector_norm(torch.stack(grads)) / scale

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Log the statistics of this iteration, then check the alarms."""
        if not self._active:
            return
        self._active = False
        for wrapper in self._wrapped:
            del wrapper.step
        self._wrapped.clear()
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
        alarms = self._synchronise(alarms)
        self.alarm_count += len(alarms)
        for key, value in self._summary().items():
            hub.update_scalar(f'train/cbam_summary/{key}', value)
        self._report(runner, alarms)

    def _summary(self) -> Dict[str, float]:
        """Aggregates over all modules of the last logged statistics."""
        stats = list(self.last_stats.values())
        summary = {'sat_max': max((saturation(s) for s in stats), default=0.0)}
        alphas = [s['alpha'] for s in stats if 'alpha' in s]
        if alphas:
            summary['alpha_min'], summary['alpha_max'] = min(alphas), max(alphas)
        gnorms = [s['gnorm'] for s in stats if 'gnorm' in s]
        if gnorms:
            summary['gnorm_max'] = max(gnorms)
        summary['nonfinite'] = float(sum(s.get('nonfinite', 0.0) > 0 for s in stats))
        summary['alarms'] = float(self.alarm_count)
        if self._skipped is not None:
            summary['step_skipped'] = self._skipped
            self._skipped = None
        return summary

    # ------------------------------------------------------------------ alarms
    def _check(self, name: str, stats: Dict[str, float]) -> List[str]:
        found = []
        if stats.get('nonfinite', 0) > 0 or any(not math.isfinite(v) for k, v in stats.items()
                                                if k != 'gnorm'):
            found.append(f'{name}: non-finite values (NaN/Inf) in its parameters, masks or '
                         'output')
        saturated = saturation(stats)
        if saturated > self.collapse_threshold:
            self._collapsed[name] += 1
            if self._collapsed[name] >= self.collapse_patience:
                found.append(f'{name}: attention mask collapsed ({saturated:.1%} of mask values '
                             f'below 0.05 or above 0.95 for {self._collapsed[name]} consecutive '
                             'logs)')
        else:
            self._collapsed[name] = 0
        return found

    def _synchronise(self, alarms: List[str]) -> List[str]:
        """Every rank learns whether any rank raised an alarm (one all-reduce)."""
        flag = torch.tensor(float(bool(alarms)))
        if get_dist_info()[1] > 1:
            all_reduce(flag, op='max')
        if flag.item() and not alarms:
            return ['raised on another rank']
        return alarms

    def _report(self, runner, alarms: List[str]) -> None:
        if not alarms:
            return
        message = ('CBAM stability alarm at iteration '
                   f'{runner.iter + 1}: ' + '; '.join(alarms))
        if self.stop_on_alarm:
            raise AttentionInstabilityError(message + '. Training stopped (stop_on_alarm=True); '
                                            'the last checkpoint in the work dir is resumable.')
        runner.logger.warning(message)
