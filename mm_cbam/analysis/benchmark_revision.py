"""Forward+backward time of this checkout's CBAM against another checkout's, in one process.

Usage::

    git worktree add /tmp/landed <commit>
    python -m mm_cbam.analysis.benchmark_revision /tmp/landed [--rounds 25] [--malloc reuse]
        [--shapes 8x256x56x56 2x1024x64x64]

The other checkout's ``mm_cbam/attention`` is imported under another name, both modules get the
same weights (default options of ``CBAM``; the outputs must agree) and are timed in turn
(interleaved, alternating which goes first), so that both see the same machine state. Prints the
median forward+backward time of each and their ratio (this checkout / the other). Used for the
"no regression" figure in docs/benchmarks.md.
"""
import argparse
import atexit
import importlib
import os.path as osp
import shutil
import statistics
import sys
import tempfile
import time

import torch

from mm_cbam.analysis.benchmark_attention import reuse_freed_memory


def import_other(checkout: str):
    """The other checkout's ``mm_cbam.attention`` as the package ``other_attention``."""
    src = osp.join(checkout, 'mm_cbam', 'attention')
    if not osp.isdir(src):
        raise SystemExit(f'checkout: {src} does not exist (give the root of an mm_cbam checkout)')
    parent = tempfile.mkdtemp(prefix='mm_cbam_other_')
    atexit.register(shutil.rmtree, parent, True)
    shutil.copytree(src, osp.join(parent, 'other_attention'))
    sys.path.insert(0, parent)
    from mmengine.registry import MODELS  # both register the same names: let the copy overwrite
    register = MODELS.register_module
    MODELS.register_module = lambda *a, **k: register(*a, **{**k, 'force': True})
    try:
        return importlib.import_module('other_attention')
    finally:
        MODELS.register_module = register


def fwd_bwd_ms(module, x, grad) -> float:
    """Wall time of one forward and backward in milliseconds."""
    start = time.perf_counter()
    module(x).backward(grad)
    x.grad = None
    return (time.perf_counter() - start) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('checkout', help='root of the other mm_cbam checkout')
    parser.add_argument('--rounds', type=int, default=25)
    parser.add_argument('--malloc', choices=('system', 'reuse'), default='system')
    parser.add_argument('--shapes', nargs='+', default=[(8, 256, 56, 56), (2, 1024, 64, 64)],
                        type=lambda spec: tuple(int(v) for v in spec.split('x')))
    args = parser.parse_args()
    from mm_cbam.attention import CBAM
    other = import_other(args.checkout)
    reuse = args.malloc == 'reuse' and reuse_freed_memory()
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'malloc={"reuse" if reuse else "system"}, {args.rounds} interleaved rounds')
    for shape in args.shapes:
        torch.manual_seed(0)
        theirs, ours = other.CBAM(shape[1]), CBAM(shape[1])
        ours.load_state_dict(theirs.state_dict())
        x = torch.randn(shape, requires_grad=True)
        diff = (ours(x) - theirs(x)).abs().max().item()
        if diff > 1e-5:
            raise SystemExit(f'outputs differ by {diff:.3g} at {shape}: not the same function')
        grad, times = torch.randn(shape), {'this': [], 'other': []}
        pair = (('this', ours), ('other', theirs))
        for r in range(args.rounds):
            for name, module in (pair if r % 2 else pair[::-1]):
                times[name].append(fwd_bwd_ms(module, x, grad))
        this, that = (statistics.median(times[k]) for k in ('this', 'other'))
        print(f'{"x".join(map(str, shape))}: this checkout {this:.2f} ms, other {that:.2f} ms, '
              f'ratio {this / that:.3f}')


if __name__ == '__main__':
    main()
