"""FiniteCheckpointHook: a diverged run never deletes its last good checkpoint."""
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...checkpoint.integrity import nonfinite_name


def weights_finite(model: torch.nn.Module) -> bool:
    """Whether every floating-point parameter and buffer of ``model`` is finite (one sync)."""
    flags = [torch.isfinite(t).all() for t in model.state_dict().values()
             if torch.is_tensor(t) and t.is_floating_point()]
    return bool(torch.stack(flags).all()) if flags else True


@HOOKS.register_module()
class FiniteCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` that keeps the last checkpoint with finite weights.

    With ``max_keep_ckpts`` set, mmengine deletes the oldest checkpoint at every save, so a run
    whose weights went NaN keeps saving NaN checkpoints until the last finite one is gone. Here
    a checkpoint whose weights are not all finite is

    * written as ``<name>_nonfinite.pth`` (``iter_30_nonfinite.pth``), for inspection; only the
      most recent such file is kept;
    * never counted for rotation (it deletes no checkpoint) and never named by
      ``last_checkpoint``, so ``--resume`` continues from the last good one;
    * reported with a warning naming the last good checkpoint (again at the end of training).

    Finite checkpoints are saved, rotated and published exactly as by ``CheckpointHook`` (same
    arguments). ``tools/train.py`` uses this hook in place of ``CheckpointHook``. Checking the
    weights costs one pass over the state dict per save.
    """

    def before_train(self, runner) -> None:
        """Set up as ``CheckpointHook``; the last good checkpoint starts as the resumed one."""
        super().before_train(runner)
        self.last_good = runner.message_hub.get_info('last_ckpt')
        self.last_nonfinite = None

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save as ``CheckpointHook`` does if the weights are finite, else under the
        ``_nonfinite`` name, outside rotation and ``last_checkpoint``."""
        if weights_finite(runner.model):
            super()._save_checkpoint_with_step(runner, step, meta)
            self.last_good = self.last_ckpt
            return
        filename = nonfinite_name(self.filename_tmpl.format(step))
        path = self.file_backend.join_path(self.out_dir, filename)
        previous = self.last_nonfinite
        runner.save_checkpoint(
            self.out_dir, filename, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        self.last_nonfinite = path
        if is_main_process() and previous not in (None, path) and self.file_backend.isfile(
                previous):
            self.file_backend.remove(previous)
        runner.logger.warning(
            f'the weights are not finite (NaN/Inf) at {"epoch" if self.by_epoch else "iteration"}'
            f' {step}: saved as {path}, which is never rotated in nor resumed from; '
            f'{self._last_good_text()}')

    def _last_good_text(self) -> str:
        if self.last_good:
            return f'the last good checkpoint is {self.last_good}'
        return 'no checkpoint with finite weights was saved in this run'

    def after_train(self, runner) -> None:
        """Save as ``CheckpointHook`` does; repeat which checkpoint is the last good one if the
        run diverged."""
        super().after_train(runner)
        if self.last_nonfinite is not None:
            runner.logger.warning(f'this run diverged (see {self.last_nonfinite}): '
                                  f'{self._last_good_text()}')
