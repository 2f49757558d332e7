"""NonFiniteStopHook: stop training at the first non-finite loss."""
import math
import os.path as osp
from typing import Optional

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...validation import strict_bool


class NonFiniteLossError(RuntimeError):
    """Raised by :class:`NonFiniteStopHook`; the message is one line."""


@HOOKS.register_module()
class NonFiniteStopHook(Hook):
    """Stop training when the loss is NaN or Inf.

    Why stopping is the default (``tools/train.py`` adds this hook to every run that does not
    configure it): without a dynamic loss scaler, a non-finite loss gives non-finite gradients
    and the optimizer writes them into the weights; no later iteration recovers, and a run left
    going only spends compute and rotates good checkpoints away (see
    :class:`FiniteCheckpointHook`). With AMP's dynamic loss scaler a non-finite loss skips the
    step and the weights stay intact, so the run stops only after ``amp_patience`` consecutive
    non-finite losses.

    The decision is all-reduced, so every rank stops at the same iteration. The error names the
    iteration, the loss and the checkpoint ``--resume`` would continue from.

    Args:
        stop: raise :class:`NonFiniteLossError` (default) or only log a warning.
        amp_patience: consecutive non-finite losses tolerated under a dynamic loss scaler.

    Priority ``LOW``: after the LoggerHook (so the non-finite loss is logged) and before the
    CheckpointHook (so no checkpoint is written after it).
    """
    priority = 'LOW'

    def __init__(self, stop: bool = True, amp_patience: int = 20):
        self.stop = strict_bool('stop', stop)
        if isinstance(amp_patience, bool) or not isinstance(amp_patience, int) or \
                amp_patience < 1:
            raise ValueError(f'amp_patience must be an integer >= 1, got {amp_patience!r}')
        self.amp_patience = amp_patience
        self._streak = 0
        self._warned = False

    def _patience(self, runner) -> int:
        scaler = getattr(runner.optim_wrapper, 'loss_scaler', None)
        dynamic = scaler is not None and getattr(scaler, 'is_enabled', lambda: False)()
        return self.amp_patience if dynamic else 1

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Check this iteration's loss (all ranks agree); stop or warn when it is not finite."""
        loss = (outputs or {}).get('loss')
        if loss is None:
            return
        value = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
        flag = torch.tensor(float(not math.isfinite(value)))
        if get_dist_info()[1] > 1:
            all_reduce(flag, op='max')
        self._streak = self._streak + 1 if flag.item() else 0
        if self._streak < self._patience(runner):
            return
        message = (f'non-finite loss ({value}) at iteration {runner.iter + 1}'
                   + (f' ({self._streak} in a row)' if self._streak > 1 else '')
                   + f'; {resume_point(runner.work_dir)}')
        if self.stop:
            raise NonFiniteLossError(
                message + '. Training stopped (NonFiniteStopHook); lower the learning rate or '
                'clip gradients, then --resume')
        if not self._warned:
            runner.logger.warning(message + ' (NonFiniteStopHook(stop=False): continuing)')
            self._warned = True


def resume_point(work_dir: str) -> str:
    """Which checkpoint ``--resume`` would continue from, in words."""
    marker = osp.join(work_dir, 'last_checkpoint')
    last: Optional[str] = None
    if osp.isfile(marker):
        with open(marker) as f:
            last = f.read().strip() or None
    return f'the last good checkpoint is {last}' if last else 'no checkpoint was saved yet'
