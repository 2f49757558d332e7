"""CBAM and its stabilised variants as configurations of three modules.

* :class:`~.channel.ChannelAttention` -- shared MLP over pooled descriptors (avg and max by
  default), fused by a plain sum (the paper) or by softmax-normalised learnable weights, then
  ``gate(z / T)``.
* :class:`~.spatial.SpatialAttention` -- a 2->1 convolution over ``[mean_c, max_c]`` (optionally
  normalised, as in the official code); with several kernels it becomes the dynamic spatial
  attention: a per-sample router mixes the branch logits.
* :class:`CBAM` -- channel then spatial attention, optionally mixed residually
  ``x + alpha * (y - x)`` with a fixed or learnable alpha.

Every variant of the specification notebook and the official CBAM are sets of arguments to these
classes (``docs/notebook_parity.md``, ``tools/model_converters/cbam_official.py``). Options are
validated at construction; the names of the arguments follow the notebook (``ca_*`` / ``sa_*``)
and mmcv's plugin convention (``in_channels``, ``init_cfg``).

Attention maps are exposed two ways:

* ``return_maps=True`` makes ``forward`` return ``(out, ca, sa, fusion_w[, router_w])`` as the
  notebook does (or a chosen sequence of map names; in :class:`CBAM` the maps are detached, all
  gradients flow through ``out``);
* :func:`~.base.record_attention` switches modules inside a model into *recording* mode, in which
  the usual tensor is returned and the detached maps of the last forward are kept in
  ``last_maps`` (``ca`` (B, C), ``sa`` (B, 1, H, W), ``fusion_w`` (K,), ``router_w`` (B, K), and
  ``out_finite``, a 0-d bool tensor). Recording is off by default and costs nothing when off; the
  stability hooks turn it on only for the iterations they log.
"""
import warnings
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor

from ..validation import finite_float, positive_int, strict_bool
from .base import AttentionBase
from .channel import CBAMChannelAttention
from .functional import cbam
from .spatial import CBAMSpatialAttention


@MODELS.register_module()
class CBAM(AttentionBase):
    """Convolutional Block Attention Module with the notebook's stabilised variants.

    ``y = SA(CA(x))``; output ``y`` (``residual=False``) or ``x + alpha * (y - x)``.
    ``alpha`` is a buffer (fixed) or a parameter (``learnable_alpha=True``); ``alpha_init=0`` with
    ``residual=True`` makes the module an exact identity at initialisation.

    Args:
        in_channels: channels of the input (passed by mmdet/mmseg plugin builders).
        reduction, min_hidden: MLP hidden width ``max(min_hidden, C // reduction)``.
        ca_act, ca_gate, ca_fusion, ca_pool, ca_bias, ca_temperature: channel attention options
            (see :class:`CBAMChannelAttention`; ``ca_pool`` with ``'lp'`` / ``'lse'`` runs the
            plain-autograd composition instead of the fused function).
        sa_kernels, sa_dilations, sa_gate, sa_bias, sa_norm_cfg, sa_norm_zero_init,
        sa_temperature, sa_router_hidden, sa_router_bias: spatial attention options (see
            :class:`CBAMSpatialAttention`); several kernels select the dynamic multi-branch spatial
            attention.
        learnable_temperature: makes both temperatures learnable.
        residual, alpha_init, learnable_alpha: residual mixing.
        return_maps: ``forward`` returns ``(out, ca, sa, fusion_w)``, plus ``router_w`` when the
            spatial attention is dynamic (or the named maps). Keep False inside backbones
            (plugins return tensors); use ``record_attention`` to read maps from a model.
        layout: ``'nchw'`` (default), ``'nhwc'`` (channels-last tensors, ConvNeXt blocks) or
            ``'tokens'`` (``(N, H*W, C)``; ``forward(x, hw_shape=(H, W))``, Swin blocks). The
            output has the input's layout; see :mod:`.layout`.
        init_cfg: mmengine initialisation config.

    The official CBAM (Woo et al., Jongchan/attention-module) is
    ``CBAM(C, min_hidden=1, sa_norm_cfg=dict(type='BN', eps=1e-5, momentum=0.01),
    sa_norm_zero_init=True)`` (:data:`mm_cbam.converters.OFFICIAL_CBAM`), its weights converted
    -- the spatial descriptor order included -- by ``tools/model_converters/cbam_official.py``.
    """
    _abbr_ = 'cbam'
    MAP_NAMES = ('ca', 'sa', 'fusion_w', 'router_w')

    def __init__(self, in_channels: int, reduction: int = 16, min_hidden: int = 4,
                 ca_act: str = 'relu', ca_gate: str = 'sigmoid', ca_fusion: str = 'sum',
                 ca_pool: Sequence[str] = ('avg', 'max'), ca_bias: bool = True,
                 ca_temperature: float = 1.0, sa_kernels: Union[int, Sequence[int]] = 7,
                 sa_dilations: Optional[Union[int, Sequence[int]]] = None,
                 sa_gate: str = 'sigmoid', sa_bias: bool = False,
                 sa_norm_cfg: Optional[dict] = None, sa_norm_zero_init: bool = False,
                 sa_temperature: float = 1.0, sa_router_hidden: int = 8,
                 sa_router_bias: bool = True, learnable_temperature: bool = False,
                 residual: bool = False, alpha_init: float = 1.0, learnable_alpha: bool = False,
                 eps: float = 1e-6, return_maps=False, layout: str = 'nchw', init_cfg=None):
        super().__init__(layout=layout, init_cfg=init_cfg)
        self.in_channels = positive_int('in_channels', in_channels)
        self.ca = CBAMChannelAttention(
            in_channels, reduction=reduction, min_hidden=min_hidden, act=ca_act, gate=ca_gate,
            fusion=ca_fusion, pool=ca_pool, bias=ca_bias, temperature=ca_temperature,
            learnable_temperature=learnable_temperature, eps=eps, arg_prefix='ca_')
        self.sa = CBAMSpatialAttention(
            sa_kernels, sa_dilations, gate=sa_gate, bias=sa_bias, norm_cfg=sa_norm_cfg,
            norm_zero_init=sa_norm_zero_init, temperature=sa_temperature,
            learnable_temperature=learnable_temperature, eps=eps, router_hidden=sa_router_hidden,
            router_bias=sa_router_bias, arg_prefix='sa_')
        self.residual = strict_bool('residual', residual)
        learnable_alpha = strict_bool('learnable_alpha', learnable_alpha)
        alpha = finite_float('alpha_init', alpha_init)
        if self.residual:
            if learnable_alpha:
                self.alpha = nn.Parameter(torch.tensor(alpha))
            else:
                self.register_buffer('alpha', torch.tensor(alpha))
        else:
            if learnable_alpha:
                raise ValueError('learnable_alpha=True requires residual=True')
            if alpha != 1.0:
                warnings.warn(f'alpha_init={alpha_init!r} has no effect without residual=True')
            self.alpha = None
        self.return_maps = return_maps

    def default_maps(self):
        return self.MAP_NAMES if self.sa.dynamic else self.MAP_NAMES[:3]

    def forward(self, x: Tensor, hw_shape=None):
        x = self._input(x, hw_shape, self.in_channels)  # (B, C, H, W) view
        out, ca, sa, fusion_w, router_w = cbam(x, self.ca, self.sa, self.alpha)
        return self._output(out, x, ca=ca, sa=sa, fusion_w=fusion_w, router_w=router_w)
