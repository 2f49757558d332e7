"""Tensor layouts the attention accepts: ``'nchw'``, ``'nhwc'`` (ConvNeXt blocks work channels
last) and ``'tokens'`` (Swin / MiT blocks: ``(N, H*W, C)`` with the spatial shape passed beside).

The modules compute on an ``(N, C, H, W)`` *view* of their input and return the output in the
input's layout, without a transposed copy: an NHWC tensor permuted to NCHW is a channels_last
view, which the fused CBAM function takes as it is (it works on the ``(N, C, H*W)`` view both
memory formats provide) and whose output it returns channels_last, so permuting back is again a
view (contiguous NHWC); tokens are reshaped to NHWC first (a view of a contiguous tensor).
"""
from typing import Optional, Sequence

from torch import Tensor

LAYOUTS = ('nchw', 'nhwc', 'tokens')


def to_nchw(x: Tensor, layout: str, hw_shape: Optional[Sequence[int]] = None,
            who: str = 'attention') -> Tensor:
    """An ``(N, C, H, W)`` view of ``x`` given in ``layout``."""
    if layout == 'nchw':
        return x
    if layout == 'nhwc':
        if x.dim() != 4:
            raise ValueError(f"{who} with layout='nhwc' expects (N, H, W, C), got shape "
                             f'{tuple(x.shape)}')
        return x.permute(0, 3, 1, 2)  # (N, C, H, W), channels_last strides
    if x.dim() != 3:
        raise ValueError(f"{who} with layout='tokens' expects (N, H*W, C), got shape "
                         f'{tuple(x.shape)}')
    if hw_shape is None:
        raise ValueError(f"{who} with layout='tokens' needs hw_shape=(H, W): pass it to forward "
                         "(InsertCBAM: hw_shape_from='<the module that receives hw_shape>')")
    n, length, c = x.shape
    h, w = (int(v) for v in hw_shape)
    if h * w != length:
        raise ValueError(f'{who}: hw_shape={tuple(hw_shape)} gives {h * w} positions, the '
                         f'tokens have {length} (shape {tuple(x.shape)})')
    return x.reshape(n, h, w, c).permute(0, 3, 1, 2)  # (N, C, H, W); a view when contiguous


def from_nchw(y: Tensor, layout: str) -> Tensor:
    """``y`` ``(N, C, H, W)`` back in ``layout`` (views when ``y`` is channels_last)."""
    if layout == 'nchw':
        return y
    nhwc = y.permute(0, 2, 3, 1)  # (N, H, W, C)
    if layout == 'nhwc':
        return nhwc
    return nhwc.reshape(y.shape[0], -1, y.shape[1])  # (N, H*W, C)
