"""Attach attention to the output of existing modules without renaming their parameters.

The attention module is added as a child named ``cbam`` of the module whose output it refines and
applied by a forward hook, so

* the module keeps its dotted name and parameter names (``backbone.layer3.0.conv2.weight``): a
  checkpoint of the plain model loads with only the ``...cbam.*`` keys missing;
* the new parameters are ordinary submodule parameters, seen by optimizers, ``state_dict``,
  ``init_weights``, DDP, ``deepcopy`` (EMA) and pickling (the hook is a module-level function that
  reads ``module.cbam``).
"""
from typing import Optional

import torch
import torch.nn as nn

ATTACHED_NAME = 'cbam'


def build_in_default_scope(cfg: dict, key: str) -> nn.Module:
    """``cfg`` built by mmengine's root ``MODELS`` in the default scope (mmdet's or mmseg's
    registry: the runner sets it from the config's ``default_scope``)."""
    from mmengine.registry import MODELS, DefaultScope
    if DefaultScope.get_current_instance() is None:
        raise ValueError(f"{key}: {cfg.get('type')!r} is built in the default scope and none is "
                         "set; build the model from a config with default_scope='mmdet' or "
                         "'mmseg' (as the runner does) or inside "
                         "DefaultScope.overwrite_default_scope(...)")
    return MODELS.build(cfg)


def build_attention(cfg: dict, channels: int) -> nn.Module:
    """An attention module from ``cfg`` (``in_channels`` filled in with ``channels``); an
    unknown type names the closest registered ones."""
    from mmengine.registry import MODELS

    from .checks import lookup_type
    cfg = dict(cfg)
    if 'type' not in cfg:
        raise ValueError(f'attention config {cfg} needs a "type", e.g. dict(type="CBAM")')
    lookup_type(cfg['type'], None, 'cbam')
    cfg.setdefault('in_channels', channels)
    return MODELS.build(cfg)


def _attention_hook(module: nn.Module, args, output):
    attention = module._modules[ATTACHED_NAME]
    if isinstance(output, torch.Tensor) or getattr(attention, 'multi_level', False):
        return attention(output)
    raise TypeError(f'{type(module).__name__} returns {type(output).__name__}, not a tensor: '
                    'attach a MultiLevelAttention (CBAMNeck) to multi-level outputs')


def attach(module: nn.Module, attention: nn.Module) -> nn.Module:
    """Add ``attention`` as ``module.cbam`` and apply it to ``module``'s output."""
    if ATTACHED_NAME in module._modules:
        raise ValueError(f'{type(module).__name__} already has a child named '
                         f'{ATTACHED_NAME!r}; attention is attached once per module')
    module.add_module(ATTACHED_NAME, attention)
    module.register_forward_hook(_attention_hook)
    return module


def infer_out_channels(module: nn.Module) -> Optional[int]:
    """Output channels of common layers/blocks (conv, ConvModule, norm, ResNet blocks, stages)."""
    for attr in ('out_channels', 'num_features', 'num_channels'):
        value = getattr(module, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    planes, expansion = getattr(module, 'planes', None), getattr(module, 'expansion', None)
    if isinstance(planes, int) and isinstance(expansion, int):
        return planes * expansion
    if isinstance(module, (nn.Sequential, nn.ModuleList)) and len(module):
        return infer_out_channels(module[-1])
    return None
