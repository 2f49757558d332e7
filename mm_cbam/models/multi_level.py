"""Attention on the levels of a multi-level output: ``MultiLevelAttention`` and the config
builder ``CBAMNeck``.

``CBAMNeck`` wraps an existing neck type by name, so it combines with ``_base_`` inheritance:
overriding ``type`` keeps every other key of the base config::

    # CBAM on every FPN level (the base config's FPN arguments are kept)
    model = dict(neck=dict(type='CBAMNeck', neck_type='FPN', cbam=dict(type='CBAM')))

It returns the wrapped neck itself (an ``FPN`` ...) with a ``MultiLevelAttention`` attached as its
``cbam`` child (see :mod:`.attach`), so parameter names of the plain model are unchanged. It is
registered in mmengine's root ``MODELS`` and builds the neck in the default scope (mmdet's or
mmseg's registry).
"""
from typing import Optional, Sequence

import torch.nn as nn
from mmengine.registry import MODELS

from .attach import attach, build_attention, build_in_default_scope


class MultiLevelAttention(nn.Module):
    """Attention on selected levels of a tuple/list of feature maps (e.g. FPN outputs).

    Args:
        channels: channels of every level.
        cfg: attention config (``in_channels`` is filled in), e.g. ``dict(type='CBAM')``.
        levels: indices of the levels to refine (default: all).
        shared: one attention module for all selected levels (they must have equal channels).
    """

    def __init__(self, channels: Sequence[int], cfg: dict, levels: Optional[Sequence[int]] = None,
                 shared: bool = False):
        super().__init__()
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
            self.levels = nn.ModuleDict(
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
