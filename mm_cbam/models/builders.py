"""Config-level builders: CBAM on neck outputs and CBAM after any module, by pattern.

Both wrap an existing model type by name, so they combine with ``_base_`` inheritance: overriding
``type`` keeps every other key of the base config::

    # CBAM on every FPN level (the base config's FPN arguments are kept)
    model = dict(neck=dict(type='CBAMNeck', neck_type='FPN', cbam=dict(type='CBAM')))

    # CBAM after matching modules of any model (here a RegNet-based Faster R-CNN)
    model = dict(type='InsertCBAM', model_type='FasterRCNN',
                 insert=[dict(after='backbone.s3.*.conv3', cbam=dict(type='CBAM'))])

They return the wrapped module itself (an ``FPN``, a ``FasterRCNN`` ...), with attention attached
as ``cbam`` children (see :mod:`.attach`), so parameter names of the plain model are unchanged.
Both are registered in mmdet's and mmseg's ``MODELS`` (building the wrapped type from the same
registry) and in mmengine's root ``MODELS`` (building it in the default scope).
"""
from typing import Optional, Sequence

from .attach import MultiLevelAttention, attach, insert_cbam


def _out_channels_of_neck(neck, name: str):
    oc = getattr(neck, 'out_channels', None)
    if isinstance(oc, (list, tuple)):
        return list(oc)
    num = getattr(neck, 'num_outs', None)
    if isinstance(oc, int) and isinstance(num, int):
        return [oc] * num
    raise ValueError(f'cannot infer the output channels of neck {name}; pass '
                     'out_channels_per_level=[...] to CBAMNeck')


def make_builders(registry):
    """``CBAMNeck`` and ``InsertCBAM`` builder functions bound to ``registry``."""

    def CBAMNeck(neck_type: Optional[str] = None, cbam: Optional[dict] = None,
                 levels: Optional[Sequence[int]] = None, shared: bool = False,
                 out_channels_per_level: Optional[Sequence[int]] = None, **neck_kwargs):
        """A neck (``neck_type``, built from the remaining arguments) whose outputs are refined
        by attention on ``levels`` (default all; one module per level, or one ``shared``).
        Without ``neck_type`` it refines the backbone features directly (``in_channels``
        required): e.g. CBAM on the decode head's inputs of a segmentor.
        """
        cfg = dict(type='CBAM') if cbam is None else dict(cbam)
        if neck_type is None:
            in_channels = neck_kwargs.pop('in_channels', None)
            if neck_kwargs:
                raise TypeError(f'CBAMNeck without neck_type takes in_channels, cbam, levels, '
                                f'shared; got unexpected {sorted(neck_kwargs)}')
            if not isinstance(in_channels, (list, tuple)):
                raise ValueError('CBAMNeck without neck_type needs in_channels=[...] (the '
                                 f'channels of each backbone output), got {in_channels!r}')
            return MultiLevelAttention(in_channels, cfg, levels, shared)
        neck = registry.build(dict(type=neck_type, **neck_kwargs))
        channels = list(out_channels_per_level or _out_channels_of_neck(neck, neck_type))
        return attach(neck, MultiLevelAttention(channels, cfg, levels, shared))

    def InsertCBAM(model_type: str, insert: Sequence[dict], **model_kwargs):
        """``model_type`` built from the remaining arguments, with attention inserted after the
        modules matching each ``insert`` entry: ``dict(after=PATTERN(S), cbam=CFG)``."""
        if not insert:
            raise ValueError('InsertCBAM needs at least one insert=dict(after=..., cbam=...)')
        for spec in insert:
            if not isinstance(spec, dict) or 'after' not in spec or set(spec) - {'after', 'cbam'}:
                raise ValueError(f"each insert entry must be dict(after=PATTERN, cbam=CFG), "
                                 f"got {spec!r}")
        model = registry.build(dict(type=model_type, **model_kwargs))
        for spec in insert:
            insert_cbam(model, spec['after'], spec.get('cbam'))
        return model

    return CBAMNeck, InsertCBAM


def register_builders(packages=('mmdet', 'mmseg')):
    """Register the builders in the root registry and in those of ``packages``."""
    import importlib

    from mmengine.registry import MODELS as ROOT_MODELS
    registries = [ROOT_MODELS] + [
        importlib.import_module(f'{p}.registry').MODELS for p in packages]
    for registry in registries:
        for fn in make_builders(registry):
            registry.register_module(fn.__name__, module=fn, force=True)
