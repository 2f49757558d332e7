"""ExtraValidationHook: validations at chosen iterations, the one before training included."""
from typing import Sequence

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ExtraValidationHook(Hook):
    """Run the validation loop before the training iterations listed in ``at`` (0: before the
    first step), besides the loop's own ``val_interval``.

    With attention inserted into a trained model, the validation at 0 is the model as
    inserted -- the trained weights loaded, the attention at its initialisation -- so its metric
    minus the plain model's is the damage done by inserting, before any fine-tuning step
    (``damage@0`` in the studies); a validation at the end of an alpha warm-up shows the model
    when the attention is fully in. The metrics are logged at that step like every other
    validation (and dumped by :class:`EvalDumpHook`); iterations the loop validates anyway are
    skipped. With :class:`RNGStateHook` the validations leave the training streams as they
    found them; the model is put back in training mode afterwards.

    Args:
        at: iteration counts (completed iterations) before which to validate.

    Priority ``VERY_LOW``: after every other ``before_train_iter`` hook (an alpha warm-up has set
    this iteration's alpha, a resumed run's weights are loaded).
    """
    priority = 'VERY_LOW'

    def __init__(self, at: Sequence[int] = (0, )):
        valid = not isinstance(at, int) and all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in at)
        if not valid:
            raise ValueError(f'at must be a sequence of iteration counts >= 0, got {at!r}')
        self.at = sorted(set(at))
        self._done = set()

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Validate if this iteration count is listed and the loop did not just validate."""
        it = runner.iter
        if it not in self.at or it in self._done or runner.val_loop is None:
            return
        self._done.add(it)
        interval = getattr(runner.train_loop, 'val_interval', None)
        by_iter = type(runner.train_loop).__name__ == 'IterBasedTrainLoop'
        if it > 0 and by_iter and interval and it % interval == 0:
            return  # the loop validated after this iteration count already
        runner.logger.info(f'ExtraValidationHook: validating before iteration {it + 1}'
                           + (' (the model as inserted)' if it == 0 else ''))
        runner.val_loop.run()
        runner.model.train()
