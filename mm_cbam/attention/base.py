"""Shared pieces of the attention modules: option validation, the gate temperature, recording of
attention maps, selection of the maps ``forward`` returns, and parameter collection.

Importable with torch and mmengine alone (no mmcv / mmdet / mmseg): GPU checks and stand-alone
use need nothing else.
"""
import contextlib
import math
from typing import Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from ..validation import choice, names_tuple, positive_float, strict_bool
from .layout import LAYOUTS, from_nchw, to_nchw

ACTIVATIONS = {'relu': nn.ReLU, 'silu': nn.SiLU}
GATES = {'sigmoid': torch.sigmoid, 'hardsigmoid': F.hardsigmoid}


def inverse_softplus(value: float) -> float:
    """``t`` such that ``softplus(t) == value`` (numerically stable for large values)."""
    return value + math.log(-math.expm1(-value))


class Temperature(nn.Module):
    """Gate temperature ``T`` used as ``gate(z / T)``.

    Fixed: a buffer ``T``. Learnable: ``T = softplus(t_raw) + eps``, so ``T`` stays positive;
    ``t_raw`` is initialised so that ``T`` starts exactly at ``init``.
    """

    def __init__(self, init: float = 1.0, learnable: bool = False, eps: float = 1e-6,
                 name: str = 'temperature'):
        super().__init__()
        init = positive_float(name, init)
        self.learnable = strict_bool('learnable_temperature', learnable)
        self.eps = float(eps)
        if self.learnable:
            if init <= self.eps:
                raise ValueError(
                    f'{name} must be greater than eps={eps} when learnable, got {init}')
            self.t_raw = nn.Parameter(torch.tensor(inverse_softplus(init - self.eps)))
        else:
            self.register_buffer('T', torch.tensor(init))

    def forward(self) -> Tensor:
        if self.learnable:
            return F.softplus(self.t_raw) + self.eps
        return self.T

    def extra_repr(self) -> str:
        return f'learnable={self.learnable}'


def module_tensors(module: nn.Module) -> List[Tensor]:
    """The parameters ``module`` computes with, in ``parameters()`` order.

    On an ``nn.DataParallel`` replica ``parameters()`` is empty: the broadcast copies are plain
    attributes listed in ``_former_parameters``. They are taken from there, so that the fused
    function returns gradients for them (which flow back to the original parameters).
    """
    out = []
    for m in module.modules():
        params = m._former_parameters if getattr(m, '_is_replica', False) else m._parameters
        out.extend(p for p in params.values() if p is not None)
    return out


class AttentionBase(BaseModule):
    """Recording, map selection, layouts and input checks shared by the attention modules.

    ``return_maps``: ``False`` (``forward`` returns the tensor), ``True`` (the module's default
    tuple ``(out, *maps)``) or a sequence of map names from :attr:`MAP_NAMES` (e.g. ``('ca', 'sa')``
    for a notebook class that returns exactly those). ``layout``: ``'nchw'``, ``'nhwc'`` or
    ``'tokens'`` (``forward(x, hw_shape=(H, W))``), see :mod:`.layout`; maps are always NCHW.
    """
    MAP_NAMES: Tuple[str, ...] = ()

    def __init__(self, layout: str = 'nchw', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.layout = choice('layout', layout, LAYOUTS)
        self.recording = False
        self.last_maps: Optional[Dict[str, Optional[Tensor]]] = None
        self._return_maps, self._map_names = False, ()  # subclasses set return_maps when built

    @property
    def return_maps(self):
        return self._return_maps

    @return_maps.setter
    def return_maps(self, value):
        if isinstance(value, bool):
            self._map_names = self.default_maps() if value else ()
        else:
            self._map_names = names_tuple('return_maps', value, self.MAP_NAMES, 'map name')
        self._return_maps = value

    def default_maps(self) -> Tuple[str, ...]:
        """The maps ``return_maps=True`` returns."""
        return self.MAP_NAMES

    def _input(self, x: Tensor, hw_shape, expected: Optional[int]) -> Tensor:
        """The NCHW view of ``x`` (given in :attr:`layout`), checked against ``expected``
        channels."""
        x = to_nchw(x, self.layout, hw_shape, type(self).__name__)
        self._check_channels(x, expected)
        return x

    def _output(self, out: Tensor, x: Tensor, **maps):
        """Record the maps if recording; return ``out`` (in :attr:`layout`) or
        ``(out, *selected maps)``.

        ``ca`` is recorded as (B, C) and returned as (B, C, 1, 1), as the notebook returns it.
        Recording also keeps ``out_finite`` and ``contribution`` = ||out - x|| / ||x||, what the
        module actually changes (0-d tensors; one full-size subtraction, only when recording).
        """
        if self.recording:
            self.last_maps = {k: (v.detach() if v is not None else None) for k, v in maps.items()}
            with torch.no_grad():
                self.last_maps['out_finite'] = torch.isfinite(out).all()
                self.last_maps['contribution'] = (
                    torch.linalg.vector_norm((out - x).float())
                    / torch.linalg.vector_norm(x.float()).clamp_min(1e-12))
        out = from_nchw(out, self.layout)
        if not self._map_names:
            return out
        selected = []
        for name in self._map_names:
            value = maps.get(name)
            if name == 'ca' and value is not None:
                value = value.view(*value.shape, 1, 1)
            selected.append(value)
        return (out, *selected)

    def _check_channels(self, x: Tensor, expected: Optional[int]):
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__} expects a 4-D (N, C, H, W) input, '
                             f'got shape {tuple(x.shape)}')
        if expected is not None and x.shape[1] != expected:
            raise ValueError(f'{type(self).__name__} was built with in_channels={expected} but '
                             f'received an input with {x.shape[1]} channels '
                             f'(shape {tuple(x.shape)})')


def attention_modules(model: nn.Module) -> Iterator[Tuple[str, AttentionBase]]:
    """Top-level mm_cbam attention modules of ``model`` (the CA/SA inside a CBAM are skipped)."""
    skip: List[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(p + '.') or p == '' for p in skip):  # '' : the model is one
            continue
        if isinstance(module, AttentionBase):
            skip.append(name)
            yield name, module


@contextlib.contextmanager
def record_attention(model: nn.Module, enabled: bool = True):
    """Within the context, attention modules of ``model`` keep their last maps in ``last_maps``."""
    modules = [m for _, m in attention_modules(model)]
    previous = [m.recording for m in modules]
    for m in modules:
        m.recording = enabled
    try:
        yield modules
    finally:
        for m, prev in zip(modules, previous):
            m.recording = prev
            if not prev:
                m.last_maps = None
