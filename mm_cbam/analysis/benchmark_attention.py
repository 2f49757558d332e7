"""Speed and memory of mm_cbam's CBAM vs a literal notebook implementation vs timm's CbamModule.

Usage::

    python -m mm_cbam.analysis.benchmark_attention [--device cpu|cuda] [--repeat 10]
        [--shapes 8x256x56x56 2x1024x64x64] [--variant default|dynamic|learnable]

For every shape, one process measures each implementation with identical weights where the
implementations share math (mm_cbam vs naive) and the same options where timm allows:

* ``fwd ms`` / ``fwd+bwd ms``: median wall time (CUDA: synchronised) over ``--repeat`` runs;
* ``saved MiB``: memory held by autograd for backward beyond the input tensor (measured with
  ``saved_tensors_hooks``, unique storages); ``saved+x MiB`` counts the input too (every exact
  implementation must keep it: the gradient of the masks needs it);
* ``peak MiB``: peak memory allocated above the input during forward+backward (CUDA allocator
  statistics; on CPU the allocation events of the PyTorch profiler).

``default`` is the notebook's integrated ``CBAM`` at its default options (softmax fusion, residual
with fixed alpha=1, ReLU, sigmoid, 7x7); ``classic`` is the paper's CBAM (the function timm
computes). Results for the machine are recorded in ``docs/benchmarks.md``.

Implementations are timed in turn (interleaved) so that they share the machine's state. On CPU,
tensors this size are allocated with mmap and freed to the system by glibc, so page faults are a
large, noisy part of every figure (and favour implementations that allocate less).
``--malloc reuse`` makes glibc keep freed memory (``mallopt``) to see the compute alone.
"""
import argparse
import platform
import statistics
import time

import torch
import torch.nn as nn

from mm_cbam.attention import CBAM
from mm_cbam.notebook.classes import build_reference, convert_state_dict

VARIANTS = {
    'default': ('integrated.CBAM', {}),
    'classic': ('step1.CBAM', {}),
    'learnable': ('temperature.CBAMResidualV3',
                  dict(learnable_temperature=True, learnable_alpha=True)),
    'dynamic': ('dynamic.CBAMResidualDynamicSA', {}),
}


class FirstOutput(nn.Module):
    """Wraps a notebook module that returns a tuple so that it returns the output only."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        out = self.module(x)
        return out[0] if isinstance(out, tuple) else out


def build(variant: str, channels: int, device):
    key, kwargs = VARIANTS[variant]
    naive = build_reference(key, channels=channels, **kwargs)
    from mm_cbam.notebook.classes import from_notebook
    ours = from_notebook(key, naive.state_dict(), channels=channels, **kwargs)
    impls = {'mm_cbam': ours, 'naive': FirstOutput(naive)}
    try:
        from timm.layers.cbam import CbamModule
        impls['timm'] = CbamModule(channels, rd_ratio=1 / 16, spatial_kernel_size=7,
                                   mlp_bias=True)
    except ImportError:
        print('timm is not installed: skipping timm.CbamModule')
    assert isinstance(ours, CBAM) and convert_state_dict(key, naive.state_dict(), channels=channels,
                                                         **kwargs)
    return {k: v.to(device) for k, v in impls.items()}


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_interleaved(fns, device, repeat: int):
    """Median wall time (ms) of each function, calling them in turn ``repeat`` times, so that
    every implementation sees the same machine state (caches, allocator, other load)."""
    for fn in fns.values():
        fn()
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def saved_bytes(module, x):
    """Bytes of unique storages autograd saves for backward: (excluding ``x``, including ``x``).

    Every exact implementation must keep the input (d loss / d mask needs it), so the first
    number is the activation memory an implementation adds on top of the unavoidable minimum.
    """
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = module(x)
    del out
    total = sum(storages.values())
    return total - storages.get(x.untyped_storage().data_ptr(), 0), total


def peak_bytes(fn, device) -> int:
    """Peak bytes allocated by ``fn`` above what was allocated before it ran."""
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]' and e.device_type().name == 'CPU')
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def bench_shape(shape, variant, device, repeat):
    n, c, h, w = shape
    impls = build(variant, c, device)
    x = torch.randn(n, c, h, w, device=device)
    grad = torch.randn_like(x)
    fwd, fwd_bwd, rows = {}, {}, {}
    inputs = {name: x.clone().requires_grad_() for name in impls}
    for name, module in impls.items():
        xg = inputs[name]

        def forward(module=module):
            with torch.no_grad():
                module(x)

        def forward_backward(module=module, xg=xg):
            out = module(xg)
            out.backward(grad)
            xg.grad = None
            for p in module.parameters():
                p.grad = None

        fwd[name], fwd_bwd[name] = forward, forward_backward
    fwd_ms = time_interleaved(fwd, device, repeat)
    fwd_bwd_ms = time_interleaved(fwd_bwd, device, repeat)
    for name, module in impls.items():
        saved, saved_in = saved_bytes(module, inputs[name])
        rows[name] = dict(fwd=fwd_ms[name], fwd_bwd=fwd_bwd_ms[name], saved=saved / 2**20,
                          saved_in=saved_in / 2**20,
                          peak=peak_bytes(fwd_bwd[name], device) / 2**20)
    return rows


def reuse_freed_memory() -> bool:
    """Ask glibc to keep freed large buffers (no mmap/munmap per tensor); False if unavailable."""
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6')
        m_trim_threshold, m_mmap_threshold = -1, -3
        return bool(libc.mallopt(m_mmap_threshold, 2**30)
                    and libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):
        return False


def describe_machine(device) -> str:
    if device.type == 'cuda':
        return f'{torch.cuda.get_device_name()} (torch {torch.__version__})'
    return (f'{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads '
            f'(torch {torch.__version__})')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--shapes', nargs='+', default=['8x256x56x56', '2x1024x64x64'])
    parser.add_argument('--variant', choices=sorted(VARIANTS), default='default')
    parser.add_argument('--malloc', choices=('system', 'reuse'), default='system')
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    reuse = args.malloc == 'reuse' and device.type == 'cpu' and reuse_freed_memory()
    torch.manual_seed(0)
    print(f'# CBAM benchmark: variant={args.variant} ({VARIANTS[args.variant][0]}), '
          f'device={describe_machine(device)}, median of {args.repeat}, '
          f'malloc={"reuse" if reuse else "system"}')
    for spec in args.shapes:
        shape = tuple(int(v) for v in spec.split('x'))
        rows = bench_shape(shape, args.variant, device, args.repeat)
        print(f'\nshape {shape}')
        print(f"{'impl':10s} {'fwd ms':>9s} {'fwd+bwd ms':>11s} {'saved MiB':>10s} "
              f"{'saved+x MiB':>12s} {'peak MiB':>9s}")
        for name, r in rows.items():
            print(f"{name:10s} {r['fwd']:9.2f} {r['fwd_bwd']:11.2f} {r['saved']:10.1f} "
                  f"{r['saved_in']:12.1f} {r['peak']:9.1f}")
        ours, naive = rows['mm_cbam'], rows['naive']
        line = (f"mm_cbam vs naive: fwd+bwd {naive['fwd_bwd'] / ours['fwd_bwd']:.2f}x faster, "
                f"saved memory {ours['saved'] / max(naive['saved'], 1e-9):.2f}x of naive "
                f"({ours['saved_in'] / naive['saved_in']:.2f}x counting the input)")
        if 'timm' in rows:
            line += f"; fwd {rows['timm']['fwd'] / ours['fwd']:.2f}x timm's speed"
        print(line)


if __name__ == '__main__':
    main()
