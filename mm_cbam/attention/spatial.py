"""Spatial attention over ``[mean_c(x), max_c(x)]``: classic (one convolution) or dynamic
(several convolutions mixed per sample by a router)."""
import warnings
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor

from ..validation import as_int_tuple, choice, positive_int, strict_bool
from .base import GATES, AttentionBase, Temperature

# Normalisation layers for the (one-channel) convolution output: mmcv's names, torch classes
# (mm_cbam.attention needs no mmcv).
NORMS = {
    'BN': nn.BatchNorm2d,
    'SyncBN': nn.SyncBatchNorm,
    'GN': lambda num_features, num_groups=1, **kw: nn.GroupNorm(num_groups, num_features, **kw),
    'IN': nn.InstanceNorm2d,
}


def build_norm(norm_cfg: dict, num_features: int, arg_name: str = 'norm_cfg') -> nn.Module:
    """A normalisation layer from an mmcv-style ``norm_cfg`` (``type`` in BN, SyncBN, GN, IN;
    other keys are the layer's arguments; ``requires_grad=False`` freezes it)."""
    if not isinstance(norm_cfg, dict) or 'type' not in norm_cfg:
        raise ValueError(f"{arg_name} must be a dict with a 'type', e.g. "
                         f"dict(type='BN', momentum=0.01), got {norm_cfg!r}")
    cfg = dict(norm_cfg)
    kind = cfg.pop('type')
    if kind not in NORMS:
        raise ValueError(f'{arg_name}.type={kind!r} is not supported; allowed values: '
                         + ', '.join(repr(k) for k in NORMS))
    requires_grad = cfg.pop('requires_grad', True)
    try:
        layer = NORMS[kind](num_features, **cfg)
    except TypeError as exc:
        raise ValueError(f'{arg_name}={norm_cfg!r}: {exc}') from None
    for p in layer.parameters():
        p.requires_grad_(requires_grad)
    return layer


@MODELS.register_module()
class CBAMSpatialAttention(AttentionBase):
    """Spatial attention over the descriptor ``s = [mean_c(x), max_c(x)]`` (B, 2, H, W).

    With one kernel this is CBAM's spatial attention ``gate(norm(conv(s)) / T)`` (no norm by
    default). With several kernels (e.g. ``kernels=(3, 7, 7), dilations=(1, 1, 2)``) it is the
    dynamic spatial attention: each branch is a 2->1 convolution, a router
    ``avgpool(s) -> fc -> ReLU -> fc -> softmax`` gives per-sample branch weights ``router_w``
    (B, K), and the mask is ``gate(norm(sum_k w_k conv_k(s)) / T)``. The branch logits are
    one-channel maps, so mixing them costs little; each branch keeps its own kernel size and
    dilation (faster than one grouped convolution with per-sample mixed kernels of the largest
    span, measured on CPU).

    Args:
        kernels: kernel size or sizes (>= 1; even sizes are bumped to the next odd size, as in
            the notebook, so that the mask keeps the input's size).
        dilations: dilation per kernel (>= 1), default all 1.
        gate: ``'sigmoid'`` | ``'hardsigmoid'``.
        bias: bias in the branch convolutions.
        norm_cfg: optional normalisation of the convolution output, e.g.
            ``dict(type='BN', eps=1e-5, momentum=0.01)`` (the official CBAM's spatial gate).
        norm_zero_init: start the norm's weight at 0 (the official initialisation: the gate
            starts at ``gate(bias)``); kept by ``init_weights``.
        temperature / learnable_temperature / eps: see :class:`Temperature`.
        router_hidden: hidden width of the router (dynamic only, >= 1).
        router_bias: bias in the router layers.
        in_channels: optional; when given (plugin use) inputs are checked against it.
        return_maps: ``forward`` returns ``(x * sa, sa[, router_w])`` (or the named maps).
        arg_prefix: prefix of the option names in error messages (``'sa_'`` inside CBAM).
        layout: ``'nchw'``, ``'nhwc'`` or ``'tokens'`` (see :class:`~.cbam.CBAM`).
        init_cfg: mmengine initialisation config.
    """
    _abbr_ = 'spatial_att'
    MAP_NAMES = ('sa', 'router_w')

    def __init__(self, kernels: Union[int, Sequence[int]] = 7,
                 dilations: Optional[Union[int, Sequence[int]]] = None, gate: str = 'sigmoid',
                 bias: bool = False, norm_cfg: Optional[dict] = None,
                 norm_zero_init: bool = False, temperature: float = 1.0,
                 learnable_temperature: bool = False, eps: float = 1e-6, router_hidden: int = 8,
                 router_bias: bool = True, in_channels: Optional[int] = None,
                 return_maps=False, arg_prefix: str = '', layout: str = 'nchw',
                 init_cfg=None):
        super().__init__(layout=layout, init_cfg=init_cfg)
        pre = arg_prefix
        kernels = as_int_tuple(f'{pre}kernels', kernels)
        dilations = as_int_tuple(f'{pre}dilations', dilations) if dilations is not None else (
            1, ) * len(kernels)
        if len(dilations) != len(kernels):
            raise ValueError(f'{pre}dilations {dilations} must have one entry per kernel in '
                             f'{pre}kernels {kernels}')
        ks = []
        for k in kernels:
            k = positive_int(f'every kernel size in {pre}kernels', k)
            if k % 2 == 0:  # the notebook's rule: an odd size keeps the map's size
                warnings.warn(f'{pre}kernels: even kernel size {k} is used as {k + 1} (odd '
                              'sizes keep the spatial size)')
            ks.append(k + 1 if k % 2 == 0 else k)
        for d in dilations:
            positive_int(f'every dilation in {pre}dilations', d)
        self.kernels, self.dilations = tuple(ks), tuple(dilations)
        self.in_channels = None if in_channels is None else positive_int(
            'in_channels', in_channels)
        self.gate_name = choice(f'{pre}gate', gate, GATES)
        self.gate = GATES[self.gate_name]
        self.branches = nn.ModuleList(
            nn.Conv2d(2, 1, k, padding=d * (k - 1) // 2, dilation=d,
                      bias=strict_bool(f'{pre}bias', bias))
            for k, d in zip(self.kernels, self.dilations))
        if self.dynamic:
            router_hidden = positive_int(f'{pre}router_hidden', router_hidden)
            self.router = nn.Sequential(
                nn.Linear(2, router_hidden, bias=router_bias), nn.ReLU(inplace=True),
                nn.Linear(router_hidden, len(self.kernels), bias=router_bias))
        else:
            self.router = None
        self.norm = None if norm_cfg is None else build_norm(norm_cfg, 1, f'{pre}norm_cfg')
        if strict_bool(f'{pre}norm_zero_init', norm_zero_init) and self.norm is None:
            raise ValueError(f'{pre}norm_zero_init=True needs {pre}norm_cfg')
        self.norm_zero_init = strict_bool(f'{pre}norm_zero_init', norm_zero_init)
        self._zero_init_norm()
        self.temperature = Temperature(temperature, learnable_temperature, eps,
                                       name=f'{pre}temperature')
        self.return_maps = return_maps

    @property
    def dynamic(self) -> bool:
        return len(self.kernels) > 1

    def default_maps(self):
        return ('sa', 'router_w') if self.dynamic else ('sa', )

    def _zero_init_norm(self):
        if self.norm_zero_init and getattr(self.norm, 'weight', None) is not None:
            nn.init.zeros_(self.norm.weight)

    def init_weights(self):
        """mmengine initialisation (``init_cfg``, or the enclosing backbone's), then the norm's
        zero weight if ``norm_zero_init`` (a backbone's ``Constant(1)`` for norms would undo it;
        pretrained weights are loaded after this and win)."""
        super().init_weights()
        self._zero_init_norm()

    def mask_from_descriptor(self, s: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Spatial mask (B, 1, H, W) and router weights (B, K) or None, from ``s`` (B, 2, H, W)."""
        if not self.dynamic:
            z = self.branches[0](s)  # (B, 1, H, W)
            router_w = None
        else:
            b = s.shape[0]
            router_w = torch.softmax(self.router(s.mean(dim=(2, 3))), dim=1)  # (B, K)
            z = None
            for k, conv in enumerate(self.branches):  # the branch logits are one-channel maps
                zk = router_w[:, k].view(b, 1, 1, 1).to(s.dtype) * conv(s)  # (B, 1, H, W)
                z = zk if z is None else z + zk
        if self.norm is not None:
            z = self.norm(z)
        return self.gate(z / self.temperature()), router_w

    def descriptor(self, x: Tensor) -> Tensor:
        """``[mean_c(x), max_c(x)]`` (B, 2, H, W) of ``x`` (B, C, H, W)."""
        return torch.cat((x.mean(dim=1, keepdim=True), x.max(dim=1, keepdim=True).values), dim=1)

    def forward(self, x: Tensor, hw_shape=None):
        x = self._input(x, hw_shape, self.in_channels)  # (B, C, H, W) view
        sa, router_w = self.mask_from_descriptor(self.descriptor(x))  # (B, 1, H, W), (B, K)
        out = x * sa.to(x.dtype)  # (B, C, H, W)
        return self._output(out, x, sa=sa, router_w=router_w)
