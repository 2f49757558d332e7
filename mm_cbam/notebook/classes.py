"""Every class definition of the specification notebook as an mm_cbam configuration.

(Over 300 lines on purpose: one table entry per notebook class, each beside its state_dict
renaming, so that a class and its conversion are read and checked together.)

The specification notebook (its math: ``docs/notebook_math.md``) defines 23 classes across its
cells; some
names are defined more than once with different behaviour, so each definition is identified as
``'<cell>.<ClassName>'`` (e.g. ``'integrated.CBAM'``, ``'dynamic.ChannelAttentionFusionT'``). A name
that is defined only once may be used alone (``'CBAMResidualV3'``).

* :func:`notebook_config` -- the mm_cbam config dict equivalent to a notebook class and arguments.
* :func:`convert_state_dict` -- a ``state_dict`` saved from a notebook class, renamed and reshaped
  for the equivalent mm_cbam module (``ca.mlp.0.weight`` -> ``ca.fc1.weight``, ``sa.conv.weight`` ->
  ``sa.branches.0.weight``, ``sa.router.1.weight`` -> ``sa.router.0.weight``, ``ca.t_raw`` ->
  ``ca.temperature.t_raw`` ...).
* :func:`from_notebook` -- builds the mm_cbam module and loads the converted weights.
* :func:`build_reference` -- the literal notebook module (see :mod:`.reference`), for tests and
  benchmarks.

Two notebook parameters have no effect on any output and are dropped by the converter: the
``fusion_logits`` that ChannelAttentionV2 / the integrated ChannelAttention create even with
``fusion='sum'``, and the router of a dynamic spatial attention with a single branch (its softmax
over one branch is always 1). The documented table is ``docs/notebook_parity.md``.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

import torch
import torch.nn as nn

from ..attention import CBAM, CBAMChannelAttention, CBAMSpatialAttention
from . import reference as ref

REQUIRED = object()


@dataclass(frozen=True)
class NotebookClass:
    """One class definition of the notebook.

    Attributes:
        key: ``'<cell>.<ClassName>'``.
        kind: ``'ca'``, ``'sa'``, ``'dsa'`` (dynamic spatial), ``'cbam'`` or ``'cbam_flat'``.
        signature: the notebook's arguments with their defaults.
        implicit: values of options the class hard-codes (not arguments).
        maps: the maps ``forward`` returns after the output (empty: the output alone).
        flag: the argument that switches to ``flag_maps`` (``return_maps`` ...), if any.
        flag_maps: the maps returned when ``flag`` is true.
        flag_needs_softmax: ``flag`` adds ``fusion_w`` only with softmax fusion (the notebook
            returns no fusion weights for ``fusion='sum'``).
    """
    key: str
    kind: str
    signature: Dict[str, object]
    implicit: Dict[str, object] = field(default_factory=dict)
    maps: Tuple[str, ...] = ()
    flag: Optional[str] = None
    flag_maps: Tuple[str, ...] = ()
    flag_needs_softmax: bool = False

    def returned_maps(self, kw: Mapping) -> Tuple[str, ...]:
        """The maps the notebook class returns after ``out`` for the arguments ``kw``."""
        if self.flag and kw.get(self.flag):
            if not self.flag_needs_softmax or kw.get('fusion') == 'softmax':
                return self.flag_maps
        return self.maps

    @property
    def returns(self) -> str:
        """What the notebook's ``forward`` returns, in words."""
        def fmt(maps):
            return '(' + ', '.join(('out', ) + maps) + ')' if maps else 'out'

        text = fmt(self.maps)
        if self.flag:
            text += f', or {fmt(self.flag_maps)} with {self.flag}'
            if self.flag_needs_softmax:
                text += " (and fusion='softmax')"
        return text


_CA1 = dict(channels=REQUIRED, reduction=16, min_hidden=4)
_CA_PLAIN = dict(act='relu', gate='sigmoid', fusion='sum', bias=True, temperature=None,
                 learnable_temperature=False, eps=1e-6, mlp_names='fc', fusion_param='none')
_SA_PLAIN = dict(gate='sigmoid', bias=False, temperature=None, learnable_temperature=False,
                 eps=1e-6)
_CBAM_PLAIN = dict(min_hidden=4, ca_act='relu', ca_gate='sigmoid', ca_fusion='sum',
                   sa_gate='sigmoid', ca_temperature=None, sa_temperature=None,
                   learnable_temperature=False, residual=False, alpha_init=1.0,
                   learnable_alpha=False, mlp_names='fc', fusion_param='none')

_DEFS = [
    NotebookClass('step1.ChannelAttention', 'ca', dict(_CA1),
                  dict(_CA_PLAIN, mlp_names='mlp')),
    NotebookClass('step1.SpatialAttention', 'sa', dict(kernel_size=7), dict(_SA_PLAIN)),
    NotebookClass('step1.CBAM', 'cbam', dict(channels=REQUIRED, reduction=16, sa_kernel=7),
                  dict(_CBAM_PLAIN, mlp_names='mlp')),
    NotebookClass('step2.ChannelAttentionV1', 'ca',
                  dict(_CA1, act='relu', gate='sigmoid', bias=True), dict(_CA_PLAIN)),
    NotebookClass('step3.ChannelAttentionV2', 'ca',
                  dict(_CA1, act='relu', gate='sigmoid', fusion='softmax', bias=True),
                  dict(_CA_PLAIN, fusion_param='always')),
    NotebookClass('step4.SpatialAttentionV1', 'sa',
                  dict(kernel_size=7, gate='sigmoid', bias=False), dict(_SA_PLAIN)),
    NotebookClass('step4.CBAMV2', 'cbam',
                  dict(channels=REQUIRED, reduction=16, sa_kernel=7, ca_act='relu',
                       ca_gate='sigmoid', sa_gate='sigmoid', ca_fusion='softmax', residual=True,
                       alpha_init=1.0, learnable_alpha=False),
                  dict(_CBAM_PLAIN, fusion_param='always')),
    NotebookClass('step6.CBAMV3', 'cbam_flat',
                  dict(channels=REQUIRED, reduction=16, sa_kernel=7, return_maps=False),
                  dict(_CBAM_PLAIN), flag='return_maps', flag_maps=('ca', 'sa')),
    NotebookClass('integrated.ChannelAttention', 'ca',
                  dict(_CA1, act='relu', gate='sigmoid', fusion='softmax', bias=True),
                  dict(_CA_PLAIN, fusion_param='always'), maps=('ca', 'fusion_w')),
    NotebookClass('integrated.SpatialAttention', 'sa',
                  dict(kernel_size=7, gate='sigmoid', bias=False),
                  dict(_SA_PLAIN), maps=('sa', )),
    NotebookClass('integrated.CBAM', 'cbam',
                  dict(channels=REQUIRED, reduction=16, min_hidden=4, ca_act='relu',
                       ca_gate='sigmoid', ca_fusion='softmax', sa_kernel=7, sa_gate='sigmoid',
                       residual=True, alpha_init=1.0, learnable_alpha=False, return_maps=False),
                  dict(_CBAM_PLAIN, fusion_param='always'), flag='return_maps',
                  flag_maps=('ca', 'sa', 'fusion_w')),
    NotebookClass('residual.ChannelAttention', 'ca', dict(_CA1),
                  dict(_CA_PLAIN, mlp_names='mlp')),
    NotebookClass('residual.SpatialAttention', 'sa', dict(kernel_size=7), dict(_SA_PLAIN)),
    NotebookClass('residual.CBAMResidual', 'cbam',
                  dict(channels=REQUIRED, reduction=16, sa_kernel=7, alpha_init=1.0,
                       learnable_alpha=False),
                  dict(_CBAM_PLAIN, mlp_names='mlp', residual=True)),
    NotebookClass('fusion.ChannelAttentionFusion', 'ca', dict(_CA1, fusion='softmax'),
                  dict(_CA_PLAIN, fusion_param='softmax')),
    NotebookClass('fusion.SpatialAttention', 'sa', dict(kernel_size=7), dict(_SA_PLAIN)),
    NotebookClass('fusion.CBAMResidualV2', 'cbam',
                  dict(channels=REQUIRED, reduction=16, min_hidden=4, sa_kernel=7,
                       ca_fusion='softmax', alpha_init=1.0, learnable_alpha=False),
                  dict(_CBAM_PLAIN, fusion_param='softmax', residual=True)),
    NotebookClass('temperature.ChannelAttentionFusionT', 'ca',
                  dict(_CA1, fusion='softmax', gate='sigmoid', temperature=1.0,
                       learnable_temperature=False, eps=1e-6),
                  dict(_CA_PLAIN, fusion_param='softmax')),
    NotebookClass('temperature.SpatialAttentionT', 'sa',
                  dict(kernel_size=7, gate='sigmoid', temperature=1.0,
                       learnable_temperature=False, eps=1e-6), dict(_SA_PLAIN)),
    NotebookClass('temperature.CBAMResidualV3', 'cbam',
                  dict(channels=REQUIRED, reduction=16, min_hidden=4, sa_kernel=7,
                       ca_fusion='softmax', ca_gate='sigmoid', sa_gate='sigmoid',
                       ca_temperature=1.0, sa_temperature=1.0, learnable_temperature=False,
                       alpha_init=1.0, learnable_alpha=False),
                  dict(_CBAM_PLAIN, fusion_param='softmax', residual=True)),
    NotebookClass('dynamic.ChannelAttentionFusionT', 'ca',
                  dict(_CA1, fusion='softmax', gate='sigmoid', temperature=1.0,
                       learnable_temperature=False, eps=1e-6, act='relu', bias=True,
                       return_fusion_weights=False),
                  dict(_CA_PLAIN, fusion_param='softmax'), maps=('ca', ),
                  flag='return_fusion_weights', flag_maps=('ca', 'fusion_w'),
                  flag_needs_softmax=True),
    NotebookClass('dynamic.DynamicSpatialAttention', 'dsa',
                  dict(kernels=(3, 7), use_dilated=True, dilated_kernel=7, dilated_d=2,
                       gate='sigmoid', temperature=1.0, learnable_temperature=False, eps=1e-6,
                       router_hidden=8, bias=True, return_router_weights=False),
                  maps=('sa', ), flag='return_router_weights', flag_maps=('sa', 'router_w')),
    NotebookClass('dynamic.CBAMResidualDynamicSA', 'cbam',
                  dict(channels=REQUIRED, reduction=16, min_hidden=4, ca_fusion='softmax',
                       ca_gate='sigmoid', ca_temperature=1.0, ca_act='relu', sa_gate='sigmoid',
                       sa_temperature=1.0, learnable_temperature=False, sa_kernels=(3, 7),
                       sa_use_dilated=True, sa_dilated_kernel=7, sa_dilated_d=2,
                       sa_router_hidden=8, residual=True, alpha_init=1.0,
                       learnable_alpha=False, return_maps=False),
                  dict(_CBAM_PLAIN, fusion_param='softmax'), flag='return_maps',
                  flag_maps=('ca', 'sa', 'fusion_w', 'router_w')),
]
NOTEBOOK_CLASSES: Dict[str, NotebookClass] = {d.key: d for d in _DEFS}


def get_definition(name: str) -> NotebookClass:
    """Look a definition up by ``'<cell>.<ClassName>'`` or by a class name defined once."""
    if name in NOTEBOOK_CLASSES:
        return NOTEBOOK_CLASSES[name]
    matches = [d for d in _DEFS if d.key.split('.', 1)[1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise KeyError(f'{name!r} is defined {len(matches)} times in the notebook; use one of '
                       f'{[d.key for d in matches]}')
    raise KeyError(f'unknown notebook class {name!r}; known: {sorted(NOTEBOOK_CLASSES)}')


def _arguments(defn: NotebookClass, kwargs: Mapping) -> dict:
    unknown = set(kwargs) - set(defn.signature)
    if unknown:
        raise TypeError(f'{defn.key} has no argument(s) {sorted(unknown)}; its arguments are '
                        f'{list(defn.signature)}')
    kw = dict(defn.implicit)
    kw.update(defn.signature)
    kw.update(kwargs)
    missing = [k for k, v in kw.items() if v is REQUIRED]
    if missing:
        raise TypeError(f'{defn.key} requires argument(s) {missing}')
    return kw


def _dynamic_branches(kernels, use_dilated, dilated_kernel, dilated_d):
    kernels, dilations = list(kernels), [1] * len(kernels)
    if use_dilated:
        kernels.append(dilated_kernel)
        dilations.append(dilated_d)
    return tuple(kernels), tuple(dilations)


def _temperature(value):
    return 1.0 if value is None else value


def notebook_config(name: str, **kwargs) -> dict:
    """mm_cbam config (``dict(type=..., ...)``) equivalent to notebook class ``name(**kwargs)``."""
    defn = get_definition(name)
    kw = _arguments(defn, kwargs)
    maps = defn.returned_maps(kw) or False  # exactly what the notebook class returns
    if defn.kind == 'ca':
        return dict(type='CBAMChannelAttention', in_channels=kw['channels'],
                    reduction=kw['reduction'], min_hidden=kw['min_hidden'], act=kw['act'],
                    gate=kw['gate'], fusion=kw['fusion'], bias=kw['bias'],
                    temperature=_temperature(kw['temperature']),
                    learnable_temperature=kw['learnable_temperature'], eps=kw['eps'],
                    return_maps=maps)
    if defn.kind == 'sa':
        return dict(type='CBAMSpatialAttention', kernels=kw['kernel_size'], gate=kw['gate'],
                    bias=kw['bias'], temperature=_temperature(kw['temperature']),
                    learnable_temperature=kw['learnable_temperature'], eps=kw['eps'],
                    return_maps=maps)
    if defn.kind == 'dsa':
        kernels, dilations = _dynamic_branches(kw['kernels'], kw['use_dilated'],
                                               kw['dilated_kernel'], kw['dilated_d'])
        return dict(type='CBAMSpatialAttention', kernels=kernels, dilations=dilations,
                    gate=kw['gate'], bias=False, temperature=kw['temperature'],
                    learnable_temperature=kw['learnable_temperature'], eps=kw['eps'],
                    router_hidden=kw['router_hidden'], router_bias=kw['bias'],
                    return_maps=maps)
    cfg = dict(type='CBAM', in_channels=kw['channels'], reduction=kw['reduction'],
               min_hidden=kw['min_hidden'], ca_act=kw['ca_act'], ca_gate=kw['ca_gate'],
               ca_fusion=kw['ca_fusion'], ca_temperature=_temperature(kw['ca_temperature']),
               sa_gate=kw['sa_gate'], sa_temperature=_temperature(kw['sa_temperature']),
               learnable_temperature=kw['learnable_temperature'], residual=kw['residual'],
               alpha_init=kw['alpha_init'], learnable_alpha=kw['learnable_alpha'],
               return_maps=maps)
    if 'sa_kernels' in kw:
        kernels, dilations = _dynamic_branches(kw['sa_kernels'], kw['sa_use_dilated'],
                                               kw['sa_dilated_kernel'], kw['sa_dilated_d'])
        cfg.update(sa_kernels=kernels, sa_dilations=dilations,
                   sa_router_hidden=kw['sa_router_hidden'])
    else:
        cfg.update(sa_kernels=kw['sa_kernel'])
    return cfg


_TYPES = {'CBAM': CBAM, 'CBAMChannelAttention': CBAMChannelAttention,
          'CBAMSpatialAttention': CBAMSpatialAttention}


def build_from_config(cfg: Mapping) -> nn.Module:
    """Build an attention module from a config dict without going through a registry."""
    cfg = dict(cfg)
    return _TYPES[cfg.pop('type')](**cfg)


def build_reference(name: str, **kwargs) -> nn.Module:
    """The literal notebook module (parameter names and return value as in the notebook)."""
    defn = get_definition(name)
    module = _build_naive(defn, _arguments(defn, kwargs))
    module.returns = defn.returned_maps(_arguments(defn, kwargs))
    return module


def _build_naive(defn: NotebookClass, kw: dict) -> nn.Module:
    if defn.kind == 'ca':
        return ref.NaiveChannelAttention(
            kw['channels'], kw['reduction'], kw['min_hidden'], kw['act'], kw['gate'],
            kw['fusion'], kw['bias'], kw['temperature'], kw['learnable_temperature'], kw['eps'],
            mlp_names=kw['mlp_names'], fusion_param=kw['fusion_param'])
    if defn.kind == 'sa':
        return ref.NaiveSpatialAttention(kw['kernel_size'], kw['gate'], kw['bias'],
                                         kw['temperature'], kw['learnable_temperature'],
                                         kw['eps'])
    if defn.kind == 'dsa':
        return ref.NaiveDynamicSpatialAttention(
            kw['kernels'], kw['use_dilated'], kw['dilated_kernel'], kw['dilated_d'], kw['gate'],
            kw['temperature'], kw['learnable_temperature'], kw['eps'], kw['router_hidden'],
            kw['bias'])
    if defn.kind == 'cbam_flat':
        return ref.NaiveCBAMFlat(kw['channels'], kw['reduction'], kw['sa_kernel'])
    ca = ref.NaiveChannelAttention(
        kw['channels'], kw['reduction'], kw['min_hidden'], kw['ca_act'], kw['ca_gate'],
        kw['ca_fusion'], True, kw['ca_temperature'], kw['learnable_temperature'],
        mlp_names=kw['mlp_names'], fusion_param=kw['fusion_param'])
    if 'sa_kernels' in kw:
        sa = ref.NaiveDynamicSpatialAttention(
            kw['sa_kernels'], kw['sa_use_dilated'], kw['sa_dilated_kernel'], kw['sa_dilated_d'],
            kw['sa_gate'], kw['sa_temperature'], kw['learnable_temperature'],
            router_hidden=kw['sa_router_hidden'])
    else:
        sa = ref.NaiveSpatialAttention(kw['sa_kernel'], kw['sa_gate'], False,
                                       kw['sa_temperature'], kw['learnable_temperature'])
    return ref.NaiveCBAM(ca, sa, kw['residual'], kw['alpha_init'], kw['learnable_alpha'])


# (pattern, replacement) applied in order to every notebook key.
_RENAMES = [
    (r'^(ca\.)?mlp\.0\.', r'\1fc1.'),
    (r'^(ca\.)?mlp\.2\.', r'\1fc2.'),
    (r'^((?:ca|sa)\.)?(t_raw|T)$', r'\1temperature.\2'),
    (r'^(sa\.)?conv\.', r'\1branches.0.'),
    (r'^(sa\.)?router\.1\.', r'\1router.0.'),
    (r'^(sa\.)?router\.3\.', r'\1router.2.'),
]
_FLAT_RENAMES = [(r'^(fc[12])\.', r'ca.\1.'), (r'^sa_conv\.', r'sa.branches.0.')]


def convert_state_dict(name: str, state_dict: Mapping[str, torch.Tensor],
                       **kwargs) -> Dict[str, torch.Tensor]:
    """Rename and reshape a notebook ``state_dict`` for the equivalent mm_cbam module.

    Works for any mapping of notebook names to tensors (e.g. gradients). Raises ``KeyError`` for
    keys that match nothing in the target, or target entries the notebook dict does not provide.
    """
    defn = get_definition(name)
    target = build_from_config(notebook_config(name, **kwargs))
    target_sd = target.state_dict()
    renames = _RENAMES + (_FLAT_RENAMES if defn.kind == 'cbam_flat' else [])
    out, unexpected = {}, []
    for key, value in state_dict.items():
        new_key = key
        for pattern, repl in renames:
            new_key = re.sub(pattern, repl, new_key)
        if new_key not in target_sd:
            if _is_inert(new_key, target):
                continue
            unexpected.append(key)
            continue
        out[new_key] = value.reshape(target_sd[new_key].shape)
    # Buffers the notebook class lacks (e.g. a fixed T=1 in classes without temperature) are
    # fully determined by the arguments: take them from the freshly built target.
    param_names = {n for n, _ in target.named_parameters()}
    for key in set(target_sd) - set(out):
        if key not in param_names:
            out[key] = target_sd[key]
    missing = sorted(set(target_sd) - set(out))
    if unexpected or missing:
        raise KeyError(f'state_dict does not match {defn.key}{kwargs}: unexpected keys '
                       f'{unexpected}, missing keys {missing}')
    return out


def _is_inert(key: str, target: nn.Module) -> bool:
    """Notebook entries without effect: unused ``fusion_logits``, single-branch router."""
    leaf = key.rsplit('.', 1)[-1]
    if key.endswith('fusion_logits'):
        return True  # present in target whenever fusion='softmax'; otherwise unused
    return '.router.' in f'.{key}' and leaf in ('weight', 'bias')


def from_notebook(name: str, state_dict: Optional[Mapping[str, torch.Tensor]] = None,
                  **kwargs) -> nn.Module:
    """Build the mm_cbam equivalent of notebook class ``name(**kwargs)`` and load its weights."""
    module = build_from_config(notebook_config(name, **kwargs))
    if state_dict is not None:
        converted = convert_state_dict(name, state_dict, **kwargs)
        dtypes = {v.dtype for v in state_dict.values() if v.is_floating_point()}
        if len(dtypes) == 1:  # keep the saved precision (e.g. float64 weights)
            module.to(dtypes.pop())
        module.load_state_dict(converted)
    return module


def minimal_config(cfg: Mapping) -> dict:
    """``cfg`` without the entries equal to the mm_cbam class's own defaults."""
    import inspect
    defaults = {k: p.default for k, p in inspect.signature(_TYPES[cfg['type']]).parameters.items()}
    out = {}
    for k, v in cfg.items():
        d = defaults.get(k, inspect.Parameter.empty)
        same = d is not inspect.Parameter.empty and (
            d == v or (isinstance(d, int) and isinstance(v, tuple) and v == (d, )))
        if not same:
            out[k] = v
    return out


def _fmt(value) -> str:
    if not isinstance(value, tuple):
        return repr(value)
    items = ', '.join(repr(v) if isinstance(v, str) else str(v) for v in value)
    return f'({items},)' if len(value) == 1 else f'({items})'


def parity_table_markdown() -> str:
    """The mapping table of ``docs/notebook_parity.md`` (generated, so it cannot drift)."""
    lines = ['| # | notebook class (cell) | notebook arguments (defaults) | mm_cbam config at '
             'those defaults | notebook returns |', '|---|---|---|---|---|']
    for i, defn in enumerate(_DEFS, 1):
        args = ', '.join(k if v is REQUIRED else f'{k}={_fmt(v)}'
                         for k, v in defn.signature.items())
        example = {k: 64 for k, v in defn.signature.items() if v is REQUIRED}
        cfg = minimal_config(notebook_config(defn.key, **example))
        cfg_str = 'dict(' + ', '.join(f'{k}={_fmt(v)}' for k, v in cfg.items()) + ')'
        lines.append(f'| {i} | `{defn.key}` | `{args}` | `{cfg_str}` | {defn.returns} |')
    return '\n'.join(lines) + '\n'
