"""Attention after any module, by module-path pattern: :func:`insert_cbam` and the config
builder ``InsertCBAM``.

``InsertCBAM`` wraps an existing model type by name (``_base_`` inheritance keeps the other
keys)::

    # CBAM after matching modules of any model (here a RegNet-based Faster R-CNN)
    model = dict(type='InsertCBAM', model_type='FasterRCNN',
                 insert=[dict(after='backbone.s3.*.conv3', cbam=dict(type='CBAM'))])

It returns the wrapped model itself with attention attached as ``cbam`` children (see
:mod:`.attach`). Registered in mmengine's root ``MODELS``; the model is built in the default
scope.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch.nn as nn
from mmengine.registry import MODELS

from ..patterns import pattern_to_regex
from .attach import (ATTACHED_NAME, attach, build_attention, build_in_default_scope,
                     infer_out_channels, take_hw_shape_from)

INSERT_KEYS = {'after', 'cbam', 'layout', 'hw_shape_from'}


def insert_cbam(model: nn.Module, after: Union[str, Sequence[str]],
                cbam: Optional[dict] = None, layout: Optional[str] = None,
                hw_shape_from: Optional[Union[str, Sequence[str]]] = None) -> List[str]:
    """Insert attention after every submodule of ``model`` whose name matches ``after``.

    Args:
        model: the model (modified in place).
        after: pattern or patterns of dotted module names, e.g. ``'backbone.layer3.*.conv2'``.
        cbam: attention config, default ``dict(type='CBAM')``; ``in_channels`` is inferred from
            the matched module unless given.
        layout: what the matched modules output: ``'nchw'`` (default), ``'nhwc'`` (channels
            last, e.g. ConvNeXt's pointwise convolutions) or ``'tokens'`` (``(N, H*W, C)``, e.g.
            a Swin block's MLP); overrides a ``layout`` in ``cbam``.
        hw_shape_from: for ``layout='tokens'``: pattern(s) of the modules whose ``forward`` gets
            ``hw_shape`` (e.g. Swin's ``'backbone.stages.*.blocks.*'``); each matched module takes
            it from the nearest such module enclosing it (or itself).

    Returns:
        The names of the modules attention was attached to.

    Raises:
        ValueError: if a pattern matches no module, or channels cannot be inferred.
    """
    cfg = dict(type='CBAM') if cbam is None else dict(cbam)
    if layout is not None:
        cfg['layout'] = layout
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
        attach(module, build_attention(dict(cfg, in_channels=channels), channels))
        if cfg.get('layout') == 'tokens':
            take_hw_shape_from(module, _hw_source(name, names, hw_shape_from, model))
    return matched


def _hw_source(name: str, names: Dict[str, nn.Module], patterns, model) -> nn.Module:
    """The module named by ``patterns`` that encloses ``name`` most closely."""
    if not patterns:
        raise ValueError(f"{name}: layout='tokens' needs hw_shape_from=PATTERN naming the "
                         'module whose forward receives hw_shape (e.g. a Swin block)')
    regexes = [pattern_to_regex(p) for p in ([patterns] if isinstance(patterns, str)
                                             else patterns)]
    enclosing = [n for n in names if (name == n or name.startswith(n + '.'))
                 and any(r.match(n) for r in regexes)]
    if not enclosing:
        raise ValueError(f'hw_shape_from {patterns!r} matches no module enclosing {name} in '
                         f'{type(model).__name__}')
    return names[max(enclosing, key=len)]


@MODELS.register_module()
def InsertCBAM(model_type: str, insert: Sequence[dict], **model_kwargs):
    """``model_type`` built from the remaining arguments, with attention inserted after the
    modules matching each ``insert`` entry: ``dict(after=PATTERN(S), cbam=CFG[, layout=LAYOUT,
    hw_shape_from=PATTERN(S)])`` (see :func:`insert_cbam`)."""
    if not insert:
        raise ValueError('InsertCBAM needs at least one insert=dict(after=..., cbam=...)')
    for spec in insert:
        if not isinstance(spec, dict) or 'after' not in spec or set(spec) - INSERT_KEYS:
            raise ValueError(f"each insert entry must be dict(after=PATTERN, cbam=CFG"
                             f"[, layout=LAYOUT, hw_shape_from=PATTERN]), got {spec!r}")
    model = build_in_default_scope(dict(type=model_type, **model_kwargs), 'InsertCBAM.model_type')
    for spec in insert:
        insert_cbam(model, spec['after'], spec.get('cbam'), spec.get('layout'),
                    spec.get('hw_shape_from'))
    return model
