"""RNGStateHook: make ``--resume`` reproduce an uninterrupted run exactly."""
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS

from ...validation import strict_bool


def get_rng_states() -> Dict[str, object]:
    """Python, numpy, torch CPU and (if initialised) CUDA generator states of this process."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: Dict[str, object], host: bool = True) -> None:
    """Restore :func:`get_rng_states` output; ``host=False`` restores only the torch states."""
    if host:
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Make a run killed and resumed compute exactly the losses of an uninterrupted run.

    mmengine seeds the generators once at start-up, so a resumed run draws different random
    numbers (RPN/RoI sampling, dropout, data augmentation in the main process) than the run it
    continues. This hook

    * stores the Python, numpy, torch CPU and CUDA generator states of **every rank** in every
      checkpoint (``checkpoint['rng_state']['ranks'][rank]``; they are gathered on all ranks just
      before the CheckpointHook saves) and gives each rank its own states back on resume;
    * re-seeds every generator (Python, numpy, torch CPU and CUDA) with the run's seed just
      before the first training iteration of a fresh run -- after the model is built, its weights
      initialised and ``load_from`` loaded. Building modules draws random numbers (a CBAM's
      initial weights), so without this two models that differ only by an inserted module would
      see different proposal sampling, dropout masks and augmentations; with it, a study's
      variants and its baseline train on exactly the same random streams (its A/A control,
      attention inserted as an exact no-op, then computes the baseline's losses bit for bit);
    * makes validation and testing during training neutral to the training streams: the states
      are taken before ``val_loop.run()`` and restored after it. Otherwise the validation that
      follows a checkpoint (every epoch in the COCO configs) consumes random numbers -- the
      validation data loader draws its base seed from torch's generator -- that the resumed run,
      starting right after the checkpoint, does not.

    Exactness needs ``randomness=dict(seed=..., deterministic=True)`` and data loaded in the main
    process or by non-persistent workers, and the same number of processes when resuming (with a
    different number, every rank takes the states of rank ``rank % saved ranks`` and a warning
    says so).

    * Epoch-based loops resume at an epoch boundary: every state is restored.
    * Iteration-based loops replay the data loader up to the resumed iteration (mmengine skips
      the consumed batches by loading them), which re-creates the data pipeline's numpy / Python
      states by itself; only the torch (model-side) states are restored.

    Checkpoints loaded only for their weights (``load_from``) keep the fresh seed's states.

    Priority ``LOW``: its ``after_train_iter`` / ``after_train_epoch`` run before the
    CheckpointHook's (``VERY_LOW``), which is where the ranks' states are gathered; and its
    ``after_val`` restores after the other validation hooks ran.
    """
    priority = 'LOW'

    def __init__(self, reseed_before_train: bool = True):
        self.reseed_before_train = strict_bool('reseed_before_train', reseed_before_train)
        self._gathered: Optional[List[dict]] = None
        self._gathered_at: Optional[int] = None
        self._val_states: Optional[dict] = None

    # ------------------------------------------------------------------ start
    def before_train(self, runner) -> None:
        """A fresh run: every generator re-seeded with the run's seed (+ rank with
        ``diff_rank_seed``), whatever building the model drew. A resumed run keeps the states
        its checkpoint gave back."""
        if not self.reseed_before_train or runner.iter > 0 or runner.epoch > 0:
            return
        seed = runner.seed
        if runner._randomness_cfg.get('diff_rank_seed', False):
            seed += get_dist_info()[0]
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)  # every CUDA device too
        runner.logger.info(f'RNGStateHook: generators re-seeded with {seed} after the model was '
                           'built and loaded')

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_due(self, runner, by_epoch: bool) -> bool:
        """Whether a CheckpointHook saves at the end of this iteration / epoch (its own test)."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
                continue
            if by_epoch and (hook.every_n_epochs(runner, hook.interval, hook.save_begin)
                             or (hook.save_last and hook.is_last_train_epoch(runner))):
                return True
            if not by_epoch and (hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                                 or (hook.save_last and hook.is_last_train_iter(runner))):
                return True
        return False

    def _gather(self, runner, by_epoch: bool) -> None:
        if get_dist_info()[1] > 1 and self._checkpoint_due(runner, by_epoch):
            self._gathered = all_gather_object(get_rng_states())
            self._gathered_at = runner.iter

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Gather every rank's states when an iteration-based checkpoint follows."""
        self._gather(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        """Gather every rank's states when an epoch-based checkpoint follows."""
        self._gather(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Put the states of every rank (rank 0's alone without distribution) in the
        checkpoint."""
        ranks = self._gathered if self._gathered_at == runner.iter else None
        checkpoint['rng_state'] = dict(ranks=ranks or [get_rng_states()])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """On resume, give each rank its own saved states."""
        state = checkpoint.get('rng_state')
        if state is None or not runner._resume:
            return
        ranks = state.get('ranks') or [state]  # checkpoints of earlier versions: one state
        rank, world_size = get_dist_info()
        if len(ranks) != world_size:
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds the random states of {len(ranks)} '
                f'process(es), this run has {world_size}; rank {rank} takes those of rank '
                f'{rank % len(ranks)}, so the resumed run will not repeat the original exactly')
        from mmengine.runner import IterBasedTrainLoop
        host = not isinstance(runner.train_loop, IterBasedTrainLoop)
        set_rng_states(ranks[rank % len(ranks)], host=host)
        runner.logger.info('RNGStateHook: random generator states restored from the checkpoint')

    # ------------------------------------------------------------------ validation
    def before_val(self, runner) -> None:
        """Take the training streams' states before validation."""
        self._val_states = get_rng_states()

    def after_val(self, runner) -> None:
        """Give the training streams back exactly as validation found them."""
        if self._val_states is not None:
            set_rng_states(self._val_states)
            self._val_states = None
