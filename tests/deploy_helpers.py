"""Helpers of the deployment / inspection tests: the CBAM variants every export must handle,
models with non-trivial weights, mini configs with another attention, checkpoints on disk."""
from pathlib import Path

import torch

from conftest import CONFIGS, DET_CONFIG, SEG_CONFIG

# the variants of the issue (classic, residual, learnable T, dynamic, official with BN) and the
# options that change the exported graph (pools, gate, fusion)
VARIANTS = {
    'classic': dict(type='CBAM'),
    'residual': dict(type='CBAM', residual=True, alpha_init=0.5, learnable_alpha=True),
    'temperature_learnable': dict(type='CBAM', learnable_temperature=True),
    'dynamic': dict(type='CBAM', sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2)),
    'official': dict(type='CBAM', reduction=16, min_hidden=1,
                     sa_norm_cfg=dict(type='BN', eps=1e-5, momentum=0.01),
                     sa_norm_zero_init=True),
}
MODULE_VARIANTS = dict(
    VARIANTS, lse_lp_pools=dict(type='CBAM', ca_pool=('avg', 'max', 'lp', 'lse')),
    hardsigmoid_softmax=dict(type='CBAM', ca_gate='hardsigmoid', sa_gate='hardsigmoid',
                             ca_fusion='softmax'),
    spatial_gn=dict(type='CBAM', sa_norm_cfg=dict(type='GN', num_groups=1)))


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial weights and statistics, as a trained model has (positive running variances,
    alphas and norm weights away from 0, so that no branch is switched off)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=g)
            if 'running_var' in name:
                t.copy_(noise.abs() * 0.5 + 0.5)
            elif name.endswith('alpha') or ('norm' in name and name.endswith('weight')):
                t.copy_(noise.abs() * 0.3 + 0.5)
            elif name.endswith(('.T', 't_raw')):
                t.copy_(noise.abs() * 0.2 + 1.0)
            else:
                t.copy_(noise * 0.05 if t.dim() > 1 else noise * 0.1)
    return model


def variant_config(tmp_path: Path, task: str, attention: dict, name: str = 'variant.py') -> Path:
    """The mini detector / segmentor config with ``attention`` in the plugins of stages 2-4."""
    base = DET_CONFIG if task == 'det' else SEG_CONFIG
    path = tmp_path / name
    path.write_text(f"_base_ = '{base}'\nmodel = dict(backbone=dict(plugins=[dict(cfg="
                    f"{attention!r}, stages=(False, True, True, True), "
                    "position='after_conv2')]))\n")
    return path


def config_with(tmp_path: Path, base, body: str, name: str = 'config.py') -> Path:
    """A config file ``_base_ = base`` plus ``body``."""
    path = tmp_path / name
    path.write_text(f"_base_ = '{base}'\n{body}\n")
    return path


def save_checkpoint(model: torch.nn.Module, path: Path, **meta) -> Path:
    """``model``'s weights as an mmengine-style checkpoint file."""
    torch.save(dict(state_dict=model.state_dict(), meta=dict(meta)), path)
    return path


def mini_images(task: str, count: int = 2):
    """The first ``count`` validation images of the mini data."""
    root = CONFIGS.parent / 'data'
    pattern = ('mini_coco/val/*.png' if task == 'det' else
               'mini_cityscapes/leftImg8bit/val/*/*.png')
    return sorted(root.glob(pattern))[:count]
