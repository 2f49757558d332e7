"""RNGStateHook: make ``--resume`` reproduce an uninterrupted run exactly."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random number generator states in every checkpoint and restore them on resume.

    mmengine seeds the generators once at start-up, so a resumed run draws different random
    numbers (RPN/RoI sampling, data augmentation in the main process) than the run it continues.
    This hook stores the Python, numpy, torch CPU and CUDA generator states (of rank 0, which
    writes the checkpoint; ranks share the seed unless ``diff_rank_seed``) under
    ``checkpoint['rng_state']`` and restores them when a checkpoint is resumed, so that a run
    killed and resumed at a checkpoint computes the same losses as an uninterrupted one (with
    ``randomness=dict(seed=..., deterministic=True)`` and data loaded in the main process or by
    non-persistent workers).

    * Epoch-based loops resume at an epoch boundary: every state is restored.
    * Iteration-based loops replay the data loader up to the resumed iteration (mmengine skips
      the consumed batches by loading them), which re-creates the data pipeline's numpy / Python
      states by itself; only the torch (model-side) states are restored.

    Checkpoints loaded only for their weights (``load_from``) keep the fresh seed's states.
    Priority ``VERY_LOW``: restores after every other hook has loaded its state.
    """
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(python=random.getstate(), numpy=np.random.get_state(),
                     torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if state is None or not runner._resume:
            return
        from mmengine.runner import IterBasedTrainLoop
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            random.setstate(state['python'])
            np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
        runner.logger.info('RNGStateHook: random generator states restored from the checkpoint')
