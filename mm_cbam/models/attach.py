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
# plain attributes (not submodules) for token layouts: where hw_shape comes from, its last value
HW_FROM, HW_SHAPE, HW_RECORDED = '_mm_cbam_hw_from', '_mm_cbam_hw_shape', '_mm_cbam_records_hw'


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
    if getattr(attention, 'multi_level', False):
        return attention(output)
    if isinstance(output, torch.Tensor):
        if getattr(attention, 'layout', 'nchw') != 'tokens':
            return attention(output)
        source = module.__dict__.get(HW_FROM)
        return attention(output, hw_shape=source.__dict__.get(HW_SHAPE) if source else None)
    raise TypeError(f'{type(module).__name__} returns {type(output).__name__}, not a tensor: '
                    'attach a MultiLevelAttention (CBAMNeck) to multi-level outputs')


def _record_hw_shape(module: nn.Module, args, kwargs):
    """Forward pre-hook: keep the ``hw_shape`` argument a token block receives (Swin / MiT
    blocks: ``forward(x, hw_shape)``) for the token attention inside it."""
    hw = kwargs.get('hw_shape', args[1] if len(args) > 1 else None)
    module.__dict__[HW_SHAPE] = tuple(int(v) for v in hw) if hw is not None else None


def take_hw_shape_from(module: nn.Module, source: nn.Module) -> None:
    """The token attention attached to ``module`` gets its ``hw_shape`` from the arguments of
    ``source`` (``module`` itself or an enclosing block). Plain attributes, not submodules:
    ``state_dict`` is unchanged, ``deepcopy`` / pickling keep the link within the copy."""
    if not source.__dict__.get(HW_RECORDED):
        source.register_forward_pre_hook(_record_hw_shape, with_kwargs=True)
        source.__dict__[HW_RECORDED] = True
    module.__dict__[HW_FROM] = source


class _SequenceWithoutAttention:
    """``nn.Sequential.forward`` over every child but the attached attention (which the forward
    hook applies once, to the sequence's output). A module-level class: copies and pickles of
    the model keep it, bound to their own sequence."""

    def __init__(self, sequence: nn.Sequential):
        self.sequence = sequence

    def __call__(self, x):
        for name, child in self.sequence._modules.items():
            if name != ATTACHED_NAME:
                x = child(x)
        return x


class _InitAttached:
    """``init_weights`` for a host that has none (``nn.Conv2d``, ``nn.Sequential`` ...): an
    mmengine ``BaseModule`` initialises only the children that have ``init_weights``, so the
    attention attached to such a host would keep the enclosing module's blanket init (e.g. BN
    weights 1 where the official CBAM starts them at 0). Module-level: copies and pickles keep it.
    """

    def __init__(self, host: nn.Module):
        self.host = host

    def __call__(self):  # as BaseModule.init_weights does for its children
        for child in self.host.children():
            if hasattr(child, 'init_weights'):
                child.init_weights()


def attach(module: nn.Module, attention: nn.Module) -> nn.Module:
    """Add ``attention`` as ``module.cbam`` and apply it to ``module``'s output.

    A sequence (``nn.Sequential``: ResNet stages, MLPs) would also call its new child in turn:
    its forward becomes the same sequence without the attention (an instance attribute that
    copies keep). A ``ModuleList`` is never called itself: attach to its elements instead. A host
    without ``init_weights`` gets one that initialises the attention. ``nn.DataParallel``
    replicas share these instance attributes with the original: attention after a sequence or
    on tokens is not supported there (DDP, which mmengine uses, is).
    """
    if isinstance(module, nn.ModuleList):
        raise ValueError(f'{type(module).__name__} is a ModuleList, which is never called: '
                         'attach attention to its elements (e.g. pattern "...blocks.*")')
    if ATTACHED_NAME in module._modules:
        raise ValueError(f'{type(module).__name__} already has a child named '
                         f'{ATTACHED_NAME!r} (a CBAM plugin, or attention attached before); '
                         'attention is attached once per module')
    if isinstance(module, nn.Sequential):
        if type(module).forward is not nn.Sequential.forward:
            raise ValueError(f'{type(module).__name__} is a sequence with its own forward: '
                             'attach attention to its last layer instead')
        module.forward = _SequenceWithoutAttention(module)
    if not hasattr(module, 'init_weights'):
        module.init_weights = _InitAttached(module)
    module.add_module(ATTACHED_NAME, attention)
    module.register_forward_hook(_attention_hook)
    return module


def infer_out_channels(module: nn.Module) -> Optional[int]:
    """Output channels of common layers/blocks (conv, linear, ConvModule, norm, ResNet and CSP
    blocks, stages; otherwise the last registered child that tells)."""
    for attr in ('out_channels', 'num_features', 'num_channels', 'out_features'):
        value = getattr(module, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    planes, expansion = getattr(module, 'planes', None), getattr(module, 'expansion', None)
    if isinstance(planes, int) and isinstance(expansion, int):
        return planes * expansion
    # the layer that ends common blocks: CSP layers (CSPNeXt, CSPDarknet), then the norm before
    # the residual addition of ResNet blocks
    for name in ('final_conv', 'norm3', 'norm2'):
        last = getattr(module, name, None)
        channels = infer_out_channels(last) if isinstance(last, nn.Module) else None
        if channels is not None:
            return channels
    # sequences and other blocks (e.g. CSPNeXtBlock: conv1, conv2): the last child that tells;
    # a wrong guess fails at the first forward with the attention's shape error
    for child in reversed(list(module.children())):
        channels = infer_out_channels(child)
        if channels is not None:
            return channels
    return None
