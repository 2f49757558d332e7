"""Attention on the levels of a multi-level output: ``MultiLevelAttention`` and the config
builders ``CBAMNeck`` (on a neck's outputs) and ``CBAMBackbone`` (on every stage output a
backbone returns -- the main path of any backbone, whatever its blocks: ResNet, Swin, ConvNeXt,
CSPNeXt, MiT all return NCHW feature maps).

Both wrap an existing type by name, so they combine with ``_base_`` inheritance: overriding
``type`` keeps every other key of the base config::

    # CBAM on every FPN level (the base config's FPN arguments are kept)
    model = dict(neck=dict(type='CBAMNeck', neck_type='FPN', cbam=dict(type='CBAM')))
    # CBAM on each stage output of a Swin backbone
    model = dict(backbone=dict(type='CBAMBackbone', backbone_type='SwinTransformer',
                               cbam=dict(type='CBAM')))

They return the wrapped module itself (an ``FPN``, a ``SwinTransformer`` ...) with a
``MultiLevelAttention`` attached as its ``cbam`` child (see :mod:`.attach`), so parameter names
of the plain model are unchanged. They are registered in mmengine's root ``MODELS`` and build
the wrapped type in the default scope (mmdet's or mmseg's registry).
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleDict
from mmengine.registry import MODELS

from .attach import attach, build_attention, build_in_default_scope


class MultiLevelAttention(BaseModule):
    """Attention on selected levels of a tuple/list of feature maps (e.g. FPN outputs).

    Args:
        channels: channels of every level.
        cfg: attention config (``in_channels`` is filled in), e.g. ``dict(type='CBAM')``.
        levels: indices of the levels to refine (default: all).
        shared: one attention module for all selected levels (they must have equal channels).
        init_cfg: mmengine initialisation config (a ``BaseModule``: ``init_weights`` reaches the
            attention modules, which initialise themselves).
    """

    def __init__(self, channels: Sequence[int], cfg: dict, levels: Optional[Sequence[int]] = None,
                 shared: bool = False, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.multi_level = True  # the attach hook passes it the whole tuple of levels
        channels = [int(c) for c in channels]
        self.num_levels = len(channels)
        levels = tuple(range(len(channels))) if levels is None else tuple(levels)
        bad = [lv for lv in levels if not isinstance(lv, int) or not 0 <= lv < len(channels)]
        if bad or not levels or len(set(levels)) != len(levels):
            raise ValueError(f'levels={levels} must be distinct indices in [0, {len(channels)}) '
                             f'for {len(channels)} feature levels with channels {channels}')
        self.selected = levels
        self.shared = bool(shared)
        if self.shared:
            widths = {channels[lv] for lv in levels}
            if len(widths) != 1:
                raise ValueError(f'shared=True needs equal channels on the selected levels, got '
                                 f'{[channels[lv] for lv in levels]} for levels {levels}')
            self.attention = build_attention(cfg, widths.pop())
        else:
            self.levels = ModuleDict(
                {str(lv): build_attention(cfg, channels[lv]) for lv in levels})

    def forward(self, feats):
        if not isinstance(feats, (tuple, list)) or len(feats) != self.num_levels:
            got = len(feats) if isinstance(feats, (tuple, list)) else type(feats).__name__
            raise ValueError(f'MultiLevelAttention expects {self.num_levels} feature levels, '
                             f'got {got}')
        out = list(feats)
        for lv in self.selected:
            module = self.attention if self.shared else self.levels[str(lv)]
            out[lv] = module(out[lv])
        return type(feats)(out) if isinstance(feats, tuple) else out


def _out_channels_of_neck(neck, name: str):
    oc = getattr(neck, 'out_channels', None)
    if isinstance(oc, (list, tuple)):
        return list(oc)
    num = getattr(neck, 'num_outs', None)
    if isinstance(oc, int) and isinstance(num, int):
        return [oc] * num
    ins = getattr(neck, 'in_channels', None)
    if isinstance(oc, int) and isinstance(ins, (list, tuple)):  # one output per input (PAFPNs)
        return [oc] * len(ins)
    raise ValueError(f'cannot infer the output channels of neck {name}; pass '
                     'out_channels_per_level=[...] to CBAMNeck')


@MODELS.register_module()
def CBAMNeck(neck_type: Optional[str] = None, cbam: Optional[dict] = None,
             levels: Optional[Sequence[int]] = None, shared: bool = False,
             out_channels_per_level: Optional[Sequence[int]] = None, **neck_kwargs):
    """A neck (``neck_type``, built from the remaining arguments) whose outputs are refined by
    attention on ``levels`` (default all; one module per level, or one ``shared``). Without
    ``neck_type`` it refines the backbone features directly (``in_channels`` required): e.g. CBAM
    on the decode head's inputs of a segmentor.
    """
    cfg = dict(type='CBAM') if cbam is None else dict(cbam)
    if neck_type is None:
        in_channels = neck_kwargs.pop('in_channels', None)
        if neck_kwargs:
            raise TypeError(f'CBAMNeck without neck_type takes in_channels, cbam, levels, '
                            f'shared; got unexpected {sorted(neck_kwargs)}')
        if not isinstance(in_channels, (list, tuple)):
            raise ValueError('CBAMNeck without neck_type needs in_channels=[...] (the channels '
                             f'of each backbone output), got {in_channels!r}')
        return MultiLevelAttention(in_channels, cfg, levels, shared)
    neck = build_in_default_scope(dict(type=neck_type, **neck_kwargs), 'CBAMNeck.neck_type')
    channels = list(out_channels_per_level or _out_channels_of_neck(neck, neck_type))
    return attach(neck, MultiLevelAttention(channels, cfg, levels, shared))


def _probe_channels(backbone: nn.Module) -> List[int]:
    """The channels of each output of ``backbone``, from one small forward in eval mode (the
    running statistics are not touched)."""
    in_channels = getattr(backbone, 'in_channels', 3)
    in_channels = in_channels if isinstance(in_channels, int) else 3
    was_training = backbone.training
    backbone.eval()
    with torch.no_grad():
        outputs = backbone(torch.zeros(1, in_channels, 128, 128))
    backbone.train(was_training)
    return [int(o.shape[1]) for o in outputs]


@MODELS.register_module()
def CBAMBackbone(backbone_type: str, cbam: Optional[dict] = None,
                 levels: Optional[Sequence[int]] = None, shared: bool = False,
                 out_channels_per_level: Optional[Sequence[int]] = None, **backbone_kwargs):
    """A backbone (``backbone_type``, built from the remaining arguments) whose returned feature
    maps are refined by attention on ``levels`` (default all). The channels of each output are
    probed with one small forward unless ``out_channels_per_level`` is given."""
    cfg = dict(type='CBAM') if cbam is None else dict(cbam)
    backbone = build_in_default_scope(dict(type=backbone_type, **backbone_kwargs),
                                      'CBAMBackbone.backbone_type')
    channels = list(out_channels_per_level or _probe_channels(backbone))
    return attach(backbone, MultiLevelAttention(channels, cfg, levels, shared))
