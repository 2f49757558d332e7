"""Models as the deployment and inspection tools use them: built from a config, SyncBN reverted,
weights read with :func:`~mm_cbam.checkpoint.safe_load` and loaded strictly, in eval mode."""
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch


class DeployError(ValueError):
    """A deployment / inspection request that cannot be done as asked (printed on one line)."""


def read_checkpoint(path: str) -> Tuple[Dict[str, torch.Tensor], dict]:
    """``(state_dict, meta)`` of a checkpoint file (``{'state_dict': ..., 'meta': ...}`` or a
    bare state_dict), read with ``weights_only=True``; the ``module.`` prefix of wrapped models
    is removed; ``meta`` is ``{}`` when the file has none."""
    from ..checkpoint import safe_load
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    ckpt = safe_load(path, map_location='cpu')
    sd = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise DeployError(f'checkpoint {path} holds no state_dict of tensors (expected '
                          "{'state_dict': {name: tensor}} or a bare state_dict)")
    meta = ckpt.get('meta') if sd is not ckpt else None
    sd = OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                     for k, v in sd.items())
    return sd, dict(meta) if isinstance(meta, dict) else {}


def checkpoint_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The ``state_dict`` of a checkpoint file (see :func:`read_checkpoint`)."""
    return read_checkpoint(path)[0]


def load_strict(model: torch.nn.Module, state_dict: Dict[str, torch.Tensor], source: str):
    """Load ``state_dict`` into ``model`` with every key matching, or a :class:`DeployError`
    naming the first missing / unexpected keys and ``source``."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if missing or unexpected:
        raise DeployError(f'{source} does not match the model of the config: '
                          f'{len(missing)} missing keys {missing[:4]}, {len(unexpected)} '
                          f'unexpected keys {unexpected[:4]} (wrong config for this checkpoint?)')
    model.load_state_dict(state_dict, strict=True)


def build_eval_model(cfg, checkpoint: Optional[str] = None) -> torch.nn.Module:
    """``cfg.model`` built (SyncBN -> BN), with ``checkpoint``'s weights loaded strictly if
    given (random initial weights otherwise), in eval mode on the CPU."""
    from mmengine.model import revert_sync_batchnorm

    from ..runner.config import build_model
    model = revert_sync_batchnorm(build_model(cfg))
    if checkpoint is not None:
        load_strict(model, checkpoint_state_dict(checkpoint), f'checkpoint {checkpoint}')
    return model.eval()
