"""One-shot GPU check of mm_cbam's attention: correctness in the settings cluster users train in,
and speed against timm and the literal composition, as a pass/fail table.

(Over 300 lines on purpose: one script to copy and run on a lent GPU machine in one go, with
every check and its criterion in one file.)

Needs only torch and mmengine (timm optional, for the speed reference): no mmcv ops, mmdet or
mmseg. About 2-4 minutes on one GPU::

    python -m mm_cbam.analysis.gpu_check [--out results.json] [--quick] [--device cuda]

Checks (each PASS / FAIL with the measured error):

* fused vs literal (the notebook's formulas) outputs and gradients (relative L2 errors): fp32;
  fp16 and bf16 autocast (no worse than the literal formulas in that precision); channels_last
  (values and output layout);
* ``torch.use_deterministic_algorithms(True)``: every attention module runs forward+backward
  without error and twice bit-identically;
* ``torch.compile`` of a CBAM: the eager results; double backward (gradient penalty) against the
  literal composition;
* a ResNet-50 with CBAM in stages 2-4 (plain torch building blocks): one AMP training step
  (channels_last, fp16 autocast, GradScaler), finite loss, every CBAM parameter updated;
* benchmark in bf16 at (8, 256, 56, 56) and (2, 1024, 64, 64): forward and forward+backward of
  the fused CBAM, timm's ``CbamModule`` and the literal composition, each also as a fraction of
  the memory-bandwidth floor (bytes that must move / measured copy bandwidth; forward: 3 reads of
  the input and 1 write, forward+backward: 11 passes, see ``floor_passes``).

``--device cpu`` runs the same script on the CPU with small shapes (to check the script itself).
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn

try:
    from mm_cbam.attention import CBAM
    from mm_cbam.notebook import classes as nb
except ImportError as exc:  # pragma: no cover - environment problem, said plainly
    raise SystemExit(f'gpu_check needs torch and mmengine (pip install mmengine): {exc}')

RESULTS = []


def check(name, passed, detail):
    RESULTS.append(dict(check=name, passed=bool(passed), detail=detail))
    print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}", flush=True)


def rel(a, b):
    """Relative error in the L2 norm."""
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30)).item()


def pair(key='dynamic.CBAMResidualDynamicSA', channels=64, device='cuda', **kw):
    """The literal notebook module and the mm_cbam module with the same random weights."""
    kw = dict(channels=channels, **kw)
    ref = nb.build_reference(key, **kw)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.3)
    ours = nb.from_notebook(key, ref.state_dict(), **kw)
    return ref.to(device), ours.to(device)


def run(module, x, autocast=None):
    module.zero_grad()
    x = x.detach().clone().requires_grad_()
    with torch.autocast(x.device.type, dtype=autocast, enabled=autocast is not None):
        out = module(x)
        out = out[0] if isinstance(out, tuple) else out
    weights = torch.linspace(-1, 1, out.numel(), device=x.device).view_as(out)
    (out.float() * weights).sum().backward()
    return out, x.grad, [p.grad for p in module.parameters()]


def parity_checks(device, size):
    kw = dict(learnable_alpha=True, alpha_init=0.5)
    ref, ours = pair(device=device, **kw)
    x = torch.randn(*size, device=device)
    o_r, gx_r, _ = run(ref, x)
    o, gx, _ = run(ours, x)
    check('fused vs literal, fp32', rel(o, o_r) < 1e-5 and rel(gx, gx_r) < 1e-5,
          f'rel error output {rel(o, o_r):.2e}, input grad {rel(gx, gx_r):.2e} (< 1e-5)')
    # reduced precision: the literal formulas in the same precision are off from fp32 too; the
    # fused function must not add to that (input in the low dtype, as after a conv)
    for name, dtype in (('fp16 autocast', torch.float16), ('bf16 autocast', torch.bfloat16)):
        if device == 'cpu' and dtype == torch.float16:
            continue
        lo_r, lgx_r, _ = run(ref, x.to(dtype), dtype)
        lo, lgx, _ = run(ours, x.to(dtype), dtype)
        lit = (rel(lo_r, o_r), rel(lgx_r, gx_r))
        fused = (rel(lo, o_r), rel(lgx, gx_r))
        ok = all(f <= 1.25 * lt + 1e-3 for f, lt in zip(fused, lit)) and fused[0] < 0.03 \
            and fused[1] < 0.1
        check(f'fused vs literal, {name}', ok,
              f'rel error vs fp32: output {fused[0]:.2e} (literal {lit[0]:.2e}), input grad '
              f'{fused[1]:.2e} (literal {lit[1]:.2e})')
    xc = x.contiguous(memory_format=torch.channels_last)
    o, gx, _ = run(ours, xc)
    layout = o.is_contiguous(memory_format=torch.channels_last)
    check('channels_last in -> channels_last out', layout and rel(o, o_r) < 1e-5
          and rel(gx, gx_r) < 1e-5, f'layout kept: {layout}, output {rel(o, o_r):.2e}, '
          f'grad {rel(gx, gx_r):.2e}')
    # double backward: a gradient penalty
    results = []
    for module in (ref, ours):
        module.zero_grad()
        xi = x.detach().clone().requires_grad_()
        out = module(xi)
        (g, ) = torch.autograd.grad(out.pow(2).sum(), xi, create_graph=True)
        g.pow(2).sum().backward()
        results.append(xi.grad)
    check('double backward (gradient penalty) vs literal', rel(results[1], results[0]) < 1e-4,
          f'rel error {rel(results[1], results[0]):.2e}')


def determinism_check(device, size):
    from mm_cbam.attention import CBAMChannelAttention, CBAMSpatialAttention
    c = size[1]
    modules = {
        'CBAM': CBAM(c),
        'CBAM dynamic residual': CBAM(c, sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2),
                                      residual=True, learnable_alpha=True),
        'CBAM lse pool + BN gate': CBAM(c, ca_pool=('avg', 'max', 'lse'),
                                        sa_norm_cfg=dict(type='BN')),
        'CBAMChannelAttention': CBAMChannelAttention(c),
        'CBAMSpatialAttention': CBAMSpatialAttention()}
    x = torch.randn(*size, device=device)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        for name, m in modules.items():
            m = m.to(device).eval()
            try:
                a, b = run(m, x), run(m, x)
                same = torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
                check(f'deterministic mode: {name}', same, 'bit-identical' if same else
                      'results differ between two runs')
            except RuntimeError as exc:
                check(f'deterministic mode: {name}', False, str(exc).splitlines()[0][:120])
    finally:
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False


def compile_check(device, size):
    m = CBAM(size[1], residual=True, learnable_alpha=True, alpha_init=0.5,
             sa_kernels=(3, 7)).to(device)
    x = torch.randn(*size, device=device)
    o, gx, gp = run(m, x)
    try:
        t0 = time.time()
        oc, gxc, gpc = run(torch.compile(m, fullgraph=True), x)
        err = max(rel(oc, o), rel(gxc, gx), max(rel(a, b) for a, b in zip(gpc, gp)))
        check('torch.compile (inductor, fullgraph)', err < 1e-4,
              f'rel error vs eager {err:.2e}; compiled in {time.time() - t0:.0f} s')
    except Exception as exc:  # noqa: BLE001
        check('torch.compile (inductor, fullgraph)', False, f'{type(exc).__name__}: '
              + str(exc).splitlines()[0][:120])


def resnet50_cbam():
    """ResNet-50 from plain torch layers, CBAM after bn3 of every block of stages 2-4."""

    class Bottleneck(nn.Module):

        def __init__(self, cin, planes, stride, cbam):
            super().__init__()
            cout = planes * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(True),
                nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes),
                nn.ReLU(True), nn.Conv2d(planes, cout, 1, bias=False), nn.BatchNorm2d(cout),
                *([CBAM(cout)] if cbam else []))
            self.down = None if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            return torch.relu(self.body(x) + (x if self.down is None else self.down(x)))

    layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
                   nn.MaxPool2d(3, 2, 1)], 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for i in range(blocks):
            layers.append(Bottleneck(cin, planes, 2 if i == 0 and stage else 1, stage > 0))
            cin = planes * 4
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000))


def resnet_step_check(device, batch, size):
    model = resnet50_cbam().to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device)
    x = torch.randn(batch, 3, size, size, device=device).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch, ), device=device)
    cbams = [m for m in model.modules() if isinstance(m, CBAM)]
    before = [m.ca.fc1.weight.detach().clone() for m in cbams]
    dtype = torch.float16 if device == 'cuda' else torch.bfloat16
    times = []
    for _ in range(3):
        t0 = time.time()
        with torch.autocast(device, dtype=dtype):
            loss = nn.functional.cross_entropy(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.time() - t0)
    moved = all(not torch.equal(b, m.ca.fc1.weight) for b, m in zip(before, cbams))
    check('ResNet-50 + CBAM (stages 2-4) AMP training step', bool(torch.isfinite(loss)) and moved,
          f'{len(cbams)} CBAM modules, loss {loss.item():.3f}, all CBAM weights updated: '
          f'{moved}, step {1000 * times[-1]:.0f} ms at batch {batch}x{size}x{size}')


def timed(fn, device, reps):
    fn()
    times = []
    for _ in range(reps):
        if device == 'cuda':
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device == 'cuda':
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bandwidth(device, dtype):
    x = torch.empty(64 * 2**20, dtype=dtype, device=device)
    y = torch.empty_like(x)
    seconds = timed(lambda: y.copy_(x), device, 20)
    return 2 * x.numel() * x.element_size() / seconds  # bytes read + written per second


def floor_passes():
    """Full-size tensor passes any exact CBAM needs: forward reads x to pool it, again for the
    spatial descriptor of x * ca, again to write the output (3 reads + 1 write); backward reads
    g and x for the spatial-mask gradient, again for the channel-mask gradient, and once more
    to write the input gradient (6 reads + 1 write)."""
    return 4, 11


def benchmark(device, shapes, reps):
    impls = {}
    try:
        from timm.layers.cbam import CbamModule
        impls['timm CbamModule'] = lambda c: CbamModule(
            c, rd_ratio=1 / 16, spatial_kernel_size=7, mlp_bias=True)
    except ImportError:
        print('timm not installed: no timm reference')
    impls['literal (notebook)'] = lambda c: nb.build_reference('step1.CBAM', channels=c)
    # the classic CBAM (the function timm computes), with the literal module's weights
    impls['mm_cbam fused'] = lambda c: nb.from_notebook(
        'step1.CBAM', nb.build_reference('step1.CBAM', channels=c).state_dict(), channels=c)
    dtype = torch.bfloat16
    bandwidth = copy_bandwidth(device, dtype)
    print(f'copy bandwidth: {bandwidth / 1e9:.0f} GB/s')
    rows, fwd_passes, all_passes = [], *floor_passes()
    for shape in shapes:
        x = torch.randn(*shape, device=device, dtype=dtype)
        nbytes = x.numel() * x.element_size()
        for name, make in impls.items():
            m = make(shape[1]).to(device=device, dtype=dtype)
            xg = x.clone().requires_grad_()
            fwd = timed(lambda: m(x), device, reps)
            both = timed(lambda: m(xg).sum().backward(), device, reps)
            rows.append(dict(shape=list(shape), impl=name, fwd_ms=1e3 * fwd, fwd_bwd_ms=1e3 * both,
                             fwd_of_floor=fwd_passes * nbytes / bandwidth / fwd,
                             fwd_bwd_of_floor=all_passes * nbytes / bandwidth / both))
            r = rows[-1]
            print(f"{str(tuple(shape)):>20} {name:>20}: fwd {r['fwd_ms']:7.3f} ms "
                  f"({r['fwd_of_floor']:.2f} of floor), fwd+bwd {r['fwd_bwd_ms']:7.3f} ms "
                  f"({r['fwd_bwd_of_floor']:.2f} of floor)", flush=True)
        ours = next(r for r in rows if r['impl'] == 'mm_cbam fused' and r['shape'] == list(shape))
        ref = next((r for r in rows if r['impl'] == 'timm CbamModule'
                    and r['shape'] == list(shape)), None)
        if ref is not None:
            check(f'fused fwd+bwd at least as fast as timm at {tuple(shape)}',
                  ours['fwd_bwd_ms'] <= ref['fwd_bwd_ms'],
                  f"{ours['fwd_bwd_ms']:.3f} ms vs {ref['fwd_bwd_ms']:.3f} ms")
        check(f'fused fwd+bwd within 3x of the bandwidth floor at {tuple(shape)}',
              ours['fwd_bwd_of_floor'] >= 1 / 3, f"{ours['fwd_bwd_of_floor']:.2f} of the floor")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--quick', action='store_true', help='small shapes, few repetitions')
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['compile', 'resnet', 'benchmark', 'determinism'])
    parser.add_argument('--out', help='write the results as JSON')
    args = parser.parse_args(argv)
    device, started = args.device, time.time()
    torch.manual_seed(0)  # the same inputs on every run
    torch.backends.cuda.matmul.allow_tf32 = False  # exact comparisons in fp32
    torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name() if device == 'cuda' else 'CPU'
    print(f'mm_cbam GPU check on {name}: torch {torch.__version__}')
    small = args.quick or device == 'cpu'
    size = (2, 64, 16, 16) if small else (4, 256, 32, 32)
    parity_checks(device, size)
    if 'determinism' not in args.skip:
        determinism_check(device, size)
    if 'compile' not in args.skip:
        compile_check(device, size)
    if 'resnet' not in args.skip:
        resnet_step_check(device, 2 if small else 16, 64 if small else 224)
    bench = []
    if 'benchmark' not in args.skip:
        shapes = [(2, 64, 16, 16)] if small else [(8, 256, 56, 56), (2, 1024, 64, 64)]
        bench = benchmark(device, shapes, 5 if small else 50)
    failed = [r for r in RESULTS if not r['passed']]
    print(f'\n{len(RESULTS) - len(failed)}/{len(RESULTS)} checks passed in '
          f'{time.time() - started:.0f} s')
    print('| check | result | detail |\n|---|---|---|')
    for r in RESULTS:
        print(f"| {r['check']} | {'PASS' if r['passed'] else 'FAIL'} | {r['detail']} |")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(device=name, torch=torch.__version__, checks=RESULTS,
                           benchmark=bench), f, indent=1)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
