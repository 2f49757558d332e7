"""Test helpers imported through ``custom_imports`` (a module name no installed package uses)."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DumpRankParamsHook(Hook):

    def after_run(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        # parameters only: BN running statistics are per-rank buffers (broadcast_buffers=False)
        torch.save({k: v.detach().cpu() for k, v in model.named_parameters()},
                   osp.join(runner.work_dir, f'rank{get_rank()}_params.pth'))
