"""Fused, memory-lean CBAM forward/backward, and the plain-autograd composition it replaces.

A literal CBAM (``y = x * ca(x); s = [mean_c(y), max_c(y)]; out = x + alpha * (y * sa(s) - x)``)
allocates and saves several tensors of the input's full size. Only three full-size operations are
really needed -- pooling ``x``, building the spatial descriptor of ``x * ca`` and writing the output
-- and everything in between (the channel MLP, the spatial convolution, the router) works on
small tensors: (B, C) and (B, 2, H, W).

:func:`cbam` runs the full-size steps in one autograd function that

* allocates one full-size tensor in forward (the output; ``x * ca`` is built in it and scaled in
  place) and one in backward (the input gradient, also used as scratch space);
* saves only the input, the two masks and the arg-max indices (``int64`` of size B*C and B*H*W);
* keeps the input's memory format: NCHW-contiguous or channels_last in, the same out, no copy of
  ``x`` (every full-size step works on the ``(B, C, H*W)`` view ``x.flatten(2)``, which both
  layouts provide without a copy);
* accumulates in float32 whatever the input dtype: the spatial mean is a batched matrix-vector
  product with ``ca / C`` (the un-normalised channel sum of fp16 inputs would overflow), sums in
  backward are taken with ``dtype=torch.float32``;
* delegates the small parts to ordinary autograd: they are traced inside the forward (on detached
  copies of the pooled descriptors, under the caller's autocast state) and differentiated with
  :func:`torch.autograd.grad` in the backward, so the channel/spatial modules stay plain
  ``nn.Module`` code with any options;
* uses only scatters to distinct positions (deterministic on CUDA).

:func:`cbam_composite` computes the same function with plain autograd. It runs instead of the
fused function when the channel attention pools with ``lp`` / ``lse``, under ``torch.compile``
(the compiler cannot trace :func:`torch.autograd.grad` on graphs saved in a context; on the
composition it fuses the elementwise work itself), while a graph is recorded -- TorchScript
tracing, ONNX export, ``torch.export`` and jit-traced FLOP counters such as
``mmengine.analysis``: the tracer cannot record the fused function (it calls the channel and
spatial modules inside ``forward``, which the tracer rejects), and the recorded graph must hold
plain ops that ONNX / TorchScript / the counters know -- and for double backward: a backward with
``create_graph=True`` recomputes the composition and differentiates it, so gradient penalties work
(a spatial BatchNorm in training mode then updates its running statistics a second time).

Gradients are exact (float64 results agree with the literal formulation to rounding; ties in a
max are routed to the first maximal element, as ``torch.max`` and ``nn.AdaptiveMaxPool2d`` do).
Maps returned for analysis are detached: gradients flow through the output.
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd import Function

from .base import module_tensors


def _is_compiling() -> bool:
    compiler = getattr(torch, 'compiler', None)
    if compiler is not None and hasattr(compiler, 'is_compiling'):
        return compiler.is_compiling()
    return False  # pragma: no cover - torch < 2.3


def _is_recording() -> bool:
    """Whether this call is being recorded into a graph (jit trace, ONNX export, torch.export)."""
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return True
    compiler = getattr(torch, 'compiler', None)
    return bool(compiler is not None and getattr(compiler, 'is_exporting', bool)())


def _autocast_state(device_type: str) -> Tuple[bool, torch.dtype]:
    try:
        return torch.is_autocast_enabled(device_type), torch.get_autocast_dtype(device_type)
    except TypeError:  # pragma: no cover - torch < 2.4
        if device_type == 'cuda':
            return torch.is_autocast_enabled(), torch.get_autocast_gpu_dtype()
        return torch.is_autocast_cpu_enabled(), torch.get_autocast_cpu_dtype()


def cbam_composite(x: Tensor, channel, spatial, alpha: Optional[Tensor]):
    """CBAM with plain autograd: ``(out, ca, sa, fusion_w, router_w)``, maps not detached."""
    b, c = x.shape[:2]
    ca, fusion_w = channel.mask_from_descriptors(channel.descriptors(x))  # (B, C)
    y = x * ca.view(b, c, 1, 1).to(x.dtype)  # (B, C, H, W)
    sa, router_w = spatial.mask_from_descriptor(spatial.descriptor(y))  # (B, 1, H, W), (B, K)
    z = y * sa.to(x.dtype)  # (B, C, H, W)
    out = z if alpha is None else x + alpha.to(x.dtype) * (z - x)
    return out, ca, sa, fusion_w, router_w


def _call(fn, inputs, trace: bool):
    """``fn(*inputs)``; with ``trace`` on detached leaves under autograd (returned too), so that
    the small graph can be differentiated later with :func:`torch.autograd.grad`."""
    if not trace:
        return fn(*inputs), inputs
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_() for t in inputs]
        return fn(*leaves), leaves


def _forward(x: Tensor, channel, spatial, alpha: Optional[Tensor], trace: bool):
    """The fused CBAM forward of ``x`` (NCHW-contiguous or channels_last):
    ``(out, ca, sa, fusion_w, router_w, saved)``; ``saved`` (arg-max indices and the traced
    small graphs, for backward) is None unless ``trace``."""
    b, c, h, w = x.shape
    xf = x.flatten(2)  # (B, C, P), P = H*W; a view in both layouts
    avg = xf.mean(dim=2)  # (B, C)
    mx, idx_c = xf.max(dim=2) if trace else (xf.amax(dim=2), None)  # (B, C), (B, C)
    (ca_graph, fusion_w), ca_in = _call(channel.mask_from_pooled, (avg, mx), trace)
    ca = ca_graph.detach().to(x.dtype)  # (B, C)
    out = torch.mul(x, ca.view(b, c, 1, 1))  # (B, C, H, W) = y = x * ca, in x's layout
    of = out.flatten(2)  # (B, C, P) view of y
    mean = torch.bmm((ca / c).unsqueeze(1), xf).squeeze(1)  # (B, P) = mean_c(y), 1/C folded in
    mx_s, idx_s = of.max(dim=1) if trace else (of.amax(dim=1), None)  # (B, P), (B, P)
    s = torch.stack((mean, mx_s), dim=1).view(b, 2, h, w)  # (B, 2, H, W)
    (sa_graph, router_w), sa_in = _call(spatial.mask_from_descriptor, (s, ), trace)
    sa = sa_graph.detach().to(x.dtype)  # (B, 1, H, W)
    if alpha is None:
        out.mul_(sa)  # y * sa
    else:
        a = alpha.detach().to(x.dtype)
        out.mul_(sa * a).addcmul_(x, 1 - a)  # alpha * y * sa + (1 - alpha) * x
    saved = (idx_c, idx_s, ca_in, ca_graph, sa_in[0], sa_graph) if trace else None
    return out, ca, sa, fusion_w, router_w, saved


class _FusedCBAM(Function):

    @staticmethod
    def forward(ctx, x, alpha, channel, spatial, n_channel_params, *params):
        out, ca, sa, fusion_w, router_w, saved = _forward(x, channel, spatial, alpha, trace=True)
        idx_c, idx_s, (avg_in, mx_in), ca_graph, s_in, sa_graph = saved
        ctx.save_for_backward(x, ca, sa, idx_c, idx_s, alpha)
        ctx.graphs = (avg_in, mx_in, ca_graph, s_in, sa_graph)
        ctx.modules = (channel, spatial)
        ctx.params = (params[:n_channel_params], params[n_channel_params:])
        ctx.autocast = (x.device.type, *_autocast_state(x.device.type))
        maps = [t.detach() if t is not None else None for t in (ca, sa, fusion_w, router_w)]
        ctx.mark_non_differentiable(*[t for t in maps if t is not None])
        return (out, *maps)

    @staticmethod
    def backward(ctx, grad, *unused_map_grads):
        if torch.is_grad_enabled():  # create_graph=True: differentiate the composition instead
            return _differentiable_backward(ctx, grad)
        x, ca, sa, idx_c, idx_s, alpha = ctx.saved_tensors
        avg_in, mx_in, ca_graph, s_in, sa_graph = ctx.graphs
        ca_params, sa_params = ctx.params
        b, c, h, w = x.shape
        p_size = h * w
        f32 = torch.promote_types(x.dtype, torch.float32)  # accumulate in at least fp32
        grad = grad.to(x.dtype)  # (B, C, H, W), any layout (may be an expanded tensor)
        a = alpha.detach().to(x.dtype) if alpha is not None else None
        gate = sa if a is None else sa * a  # (B, 1, H, W): d out / d y = gate (elementwise)
        need_x, need_alpha = ctx.needs_input_grad[0], ctx.needs_input_grad[1]

        # scratch = g * x: the only full-size allocation; it becomes grad_x at the end
        scratch = torch.empty_like(x)  # (B, C, H, W), x's layout
        torch.mul(grad, x, out=scratch)
        sf = scratch.flatten(2)  # (B, C, P) view
        xf = x.flatten(2)  # (B, C, P) view
        p = torch.bmm(ca.unsqueeze(1), sf).squeeze(1)  # (B, P) = sum_c g * x * ca = sum_c g * y
        grad_alpha = None
        if need_alpha:  # d/d alpha of alpha * (y * sa - x): sum(g*y*sa) - sum(g*x), in fp32
            grad_alpha = ((p * sa.view(b, p_size)).sum(dtype=f32) - sf.sum(dtype=f32))
            grad_alpha = grad_alpha.to(alpha.dtype).reshape(alpha.shape)
        grad_sa = p if a is None else p * a  # (B, P)

        # spatial attention (small graph): d/ds and its parameters
        sa_inputs = [s_in] + [t for t in sa_params if t.requires_grad]
        sa_grads = torch.autograd.grad(sa_graph, sa_inputs,
                                       grad_sa.view_as(sa_graph).to(sa_graph.dtype),
                                       retain_graph=True, allow_unused=True)
        g_s = sa_grads[0].to(x.dtype)  # (B, 2, H, W)
        g_mean = g_s[:, 0:1] / c  # (B, 1, H, W): d/dy of the channel mean
        g_max = g_s[:, 1].reshape(b, 1, p_size)  # (B, 1, P): to y at the channel arg-max

        # d/dy = g * gate + g_mean + g_max at the arg-max channel;
        # d/dca = sum_P x * d/dy, built in scratch (= g * x so far)
        scratch.mul_(gate).addcmul_(x, g_mean)  # x * (g * gate + g_mean)
        idx_s1 = idx_s.unsqueeze(1)  # (B, 1, P)
        sf.scatter_add_(1, idx_s1, xf.gather(1, idx_s1) * g_max)  # one target per (b, p)
        grad_ca = sf.sum(dim=2, dtype=f32)  # (B, C)

        # channel attention (small graph): d/d(avg, max) and its parameters
        ca_inputs = [avg_in, mx_in] + [t for t in ca_params if t.requires_grad]
        ca_grads = torch.autograd.grad(ca_graph, ca_inputs, grad_ca.to(ca_graph.dtype),
                                       retain_graph=True, allow_unused=True)

        grad_x = None
        if need_x:
            # d/dx = ca * d/dy + (1 - alpha) * g + g_avg / P + g_mx at the spatial arg-max
            torch.mul(grad, gate, out=scratch)  # g * gate
            scratch.add_(g_mean).mul_(ca.view(b, c, 1, 1))  # ca * (g * gate + g_mean)
            if a is not None:
                scratch.addcmul_(grad, 1 - a)
            if ca_grads[0] is not None:
                scratch.add_((ca_grads[0].to(x.dtype) / p_size).view(b, c, 1, 1))
            if ca_grads[1] is not None:  # one target per (b, c)
                sf.scatter_add_(2, idx_c.unsqueeze(2), ca_grads[1].to(x.dtype).unsqueeze(2))
            sf.scatter_add_(1, idx_s1, ca.gather(1, idx_s).unsqueeze(1) * g_max)  # per (b, p)
            grad_x = scratch

        param_grads = _align(ca_params, ca_grads[2:]) + _align(sa_params, sa_grads[1:])
        return (grad_x, grad_alpha, None, None, None, *param_grads)


def _differentiable_backward(ctx, grad):
    """Backward of the composition, recomputed with autograd and ``create_graph=True``."""
    x, alpha = ctx.saved_tensors[0], ctx.saved_tensors[5]
    channel, spatial = ctx.modules
    params = list(ctx.params[0]) + list(ctx.params[1])
    candidates = [x, alpha] + params
    needs = [ctx.needs_input_grad[0], ctx.needs_input_grad[1]] + list(ctx.needs_input_grad[5:])
    inputs = [t for t, need in zip(candidates, needs) if need]
    device_type, enabled, dtype = ctx.autocast
    with torch.autocast(device_type, dtype=dtype, enabled=enabled):
        out = cbam_composite(x, channel, spatial, alpha)[0]
    grads = iter(torch.autograd.grad(out, inputs, grad, create_graph=True, allow_unused=True))
    result = [next(grads) if need else None for need in needs]
    return (result[0], result[1], None, None, None, *result[2:])


def _align(params, grads) -> List[Optional[Tensor]]:
    """Gradients for every param (None for those that do not require grad)."""
    it = iter(grads)
    return [next(it) if p.requires_grad else None for p in params]


def cbam(x: Tensor, channel, spatial, alpha: Optional[Tensor]):
    """CBAM with optional residual mixing, fused over the full-size steps where possible.

    Args:
        x: input (B, C, H, W), any dtype; NCHW-contiguous or channels_last are used as they are
            (other layouts are made contiguous first).
        channel: a :class:`~mm_cbam.attention.ChannelAttention` (``descriptors``,
            ``mask_from_descriptors``, ``mask_from_pooled``, ``fusable``).
        spatial: a :class:`~mm_cbam.attention.SpatialAttention` (``descriptor``,
            ``mask_from_descriptor``).
        alpha: residual coefficient (0-d) or None for plain ``x * ca * sa``.

    Returns:
        ``(out, ca, sa, fusion_w, router_w)``; the maps are detached. ``out`` has ``x``'s layout.
    """
    if not channel.fusable or _is_compiling() or _is_recording():
        out, ca, sa, fusion_w, router_w = cbam_composite(x, channel, spatial, alpha)
        maps = [t.detach() if t is not None else None for t in (ca, sa, fusion_w, router_w)]
        return (out, *maps)
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous()
    params_c, params_s = module_tensors(channel), module_tensors(spatial)
    needs_graph = torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in params_c + params_s)
        or (alpha is not None and alpha.requires_grad))
    if needs_graph:
        return _FusedCBAM.apply(x, alpha, channel, spatial, len(params_c), *params_c, *params_s)
    # inference: the same computation, nothing traced or saved, no arg-max indices
    with torch.no_grad():
        out, ca, sa, fusion_w, router_w, _ = _forward(x, channel, spatial, alpha, trace=False)
    return out, ca, sa, fusion_w, router_w
