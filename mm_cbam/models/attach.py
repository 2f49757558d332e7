"""Attach attention to the output of existing modules without renaming their parameters.

The attention module is added as a child named ``cbam`` of the module whose output it refines and
applied by a forward hook, so

* the module keeps its dotted name and parameter names (``backbone.layer3.0.conv2.weight``): a
  checkpoint of the plain model loads with only the ``...cbam.*`` keys missing;
* the new parameters are ordinary submodule parameters, seen by optimizers, ``state_dict``,
  ``init_weights``, DDP, ``deepcopy`` (EMA) and pickling (the hook is a module-level function that
  reads ``module.cbam``).

:func:`insert_cbam` inserts after every submodule whose dotted name matches a pattern (``*`` is one
name component, ``**`` any number of them), inferring channels from the matched module;
:class:`MultiLevelAttention` refines selected levels of a multi-level output (necks).
"""
import re
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn

ATTACHED_NAME = 'cbam'


def _build_attention(cfg: dict, channels: int) -> nn.Module:
    from mmengine.registry import MODELS

    from .checks import lookup_type
    cfg = dict(cfg)
    if 'type' not in cfg:
        raise ValueError(f'attention config {cfg} needs a "type", e.g. dict(type="CBAM")')
    lookup_type(cfg['type'], None, 'cbam')
    cfg.setdefault('in_channels', channels)
    return MODELS.build(cfg)


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
            self.attention = _build_attention(cfg, widths.pop())
        else:
            self.levels = nn.ModuleDict(
                {str(lv): _build_attention(cfg, channels[lv]) for lv in levels})

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


def _attention_hook(module: nn.Module, args, output):
    attention = module._modules[ATTACHED_NAME]
    if isinstance(output, torch.Tensor) or isinstance(attention, MultiLevelAttention):
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


def pattern_to_regex(pattern: str) -> 're.Pattern':
    """``'backbone.layer3.*.conv2'``: ``*`` = one name component, ``**`` = any number."""
    if not pattern or not isinstance(pattern, str):
        raise ValueError(f'module pattern must be a non-empty string, got {pattern!r}')
    parts = []
    for comp in pattern.split('.'):
        if comp == '**':
            parts.append(r'(?:[^.]+(?:\.[^.]+)*)')
        else:
            parts.append(re.escape(comp).replace(r'\*', r'[^.]*').replace(r'\?', r'[^.]'))
    return re.compile(r'\.'.join(parts) + r'\Z')


def insert_cbam(model: nn.Module, after: Union[str, Sequence[str]],
                cbam: Optional[dict] = None) -> List[str]:
    """Insert attention after every submodule of ``model`` whose name matches ``after``.

    Args:
        model: the model (modified in place).
        after: pattern or patterns of dotted module names, e.g. ``'backbone.layer3.*.conv2'``.
        cbam: attention config, default ``dict(type='CBAM')``; ``in_channels`` is inferred from
            the matched module unless given.

    Returns:
        The names of the modules attention was attached to.

    Raises:
        ValueError: if a pattern matches no module, or channels cannot be inferred.
    """
    cfg = dict(type='CBAM') if cbam is None else dict(cbam)
    patterns = [after] if isinstance(after, str) else list(after)
    names: Dict[str, nn.Module] = {
        n: m
        for n, m in model.named_modules()
        if n and f'.{ATTACHED_NAME}.' not in f'.{n}.' and not n.endswith(f'.{ATTACHED_NAME}')
    }
    matched = []
    for pattern in patterns:
        regex = pattern_to_regex(pattern)
        hits = [n for n in names if regex.match(n)]
        if not hits:
            prefix = pattern.split('*')[0].rsplit('.', 1)[0]
            near = [n for n in names if n.startswith(prefix)][:8] if prefix else []
            raise ValueError(f'pattern {pattern!r} matches no module of {type(model).__name__}'
                             + (f'; modules under {prefix!r} include {near}' if near else ''))
        matched.extend(h for h in hits if h not in matched)
    for name in matched:
        module = names[name]
        channels = cfg.get('in_channels') or infer_out_channels(module)
        if channels is None:
            raise ValueError(f'cannot infer the output channels of {name} '
                             f'({type(module).__name__}); set in_channels in the cbam config')
        attach(module, _build_attention(dict(cfg, in_channels=channels), channels))
    return matched
