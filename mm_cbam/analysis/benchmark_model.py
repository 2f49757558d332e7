"""The cost table users compare CBAM variants by: parameters, FLOPs, training-step time, memory
saved for backward and inference time of whole detectors / segmentors, measured side by side.

Usage::

    python -m mm_cbam.analysis.benchmark_model CONFIG [CONFIG ...] [--batch 2] [--size 320 320]
        [--rounds 7] [--device cpu|cuda] [--threads N] [--out table.md]

The first config is the reference. Every model is built from its config (SyncBN -> BN) and
then takes the reference model's random weights for every parameter the two share (all of the
plain model: attention adds modules, it renames nothing), so that the models differ only by the
attention -- otherwise a detector's box head and RoIAlign work on as many proposals as its
random RPN happens to keep, which changes the time by more than the attention costs. All are
fed the same synthetic batch and measured in interleaved
rounds -- in each round one training step (forward, backward, SGD step) and one inference of every
config in turn -- so that drifting machine load affects all configs alike; the table gives the
median over rounds (after one warm-up round). "Saved for backward" is the memory autograd keeps
from the forward for the backward (each storage counted once); on a GPU the peak memory of the
training step is added. FLOPs are counted once per config for one image of ``--size``
(:func:`mm_cbam.analysis.get_flops.count_flops`: mmengine's counter, the attention included).
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

import mm_cbam  # noqa: F401
from mm_cbam.analysis.get_flops import count_flops
from mm_cbam.runner.config import build_model, load_config, task_of
from mm_cbam.testing import synthetic_batch


def _sync(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def _total_loss(losses):
    return sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
               for k, v in losses.items() if 'loss' in k)


class Subject:
    """One config: model, optimizer, its batch, and the measurements of every round."""

    def __init__(self, config, device, batch, size, seed=0, reference=None):
        from mmengine.model import revert_sync_batchnorm
        cfg = load_config(config)
        self.name = osp.basename(config)
        self.task = task_of(cfg)
        if self.task == 'seg':
            cfg.model.data_preprocessor.size = tuple(size)
        torch.manual_seed(seed)
        self.model = revert_sync_batchnorm(build_model(cfg)).to(device)
        if reference is not None:
            own = self.model.state_dict()
            shared = {k: v for k, v in reference.model.state_dict().items()
                      if k in own and own[k].shape == v.shape}
            self.model.load_state_dict(shared, strict=False)
            self.shared = len(shared) / len(reference.model.state_dict())
        self.device = device
        self.params = sum(p.numel() for p in self.model.parameters())
        one = synthetic_batch(self.model, self.task, batch_size=1, size=tuple(size), seed=seed)
        self.flops = count_flops(self.model, self.model.data_preprocessor(one, False))['flops']
        raw = synthetic_batch(self.model, self.task, batch_size=batch, size=tuple(size), seed=seed)
        self.data = self.model.data_preprocessor(raw, True)
        self.optimizer = torch.optim.SGD(
            [p for p in self.model.parameters() if p.requires_grad], lr=1e-4)
        self.train_ms, self.infer_ms, self.saved, self.peak = [], [], None, None

    def train_step(self):
        self.model.train()
        storages = {}

        def pack(t):
            try:
                storage = t.untyped_storage()
                storages[storage.data_ptr()] = storage.nbytes()
            except (RuntimeError, NotImplementedError):
                pass
            return t

        if self.device == 'cuda':
            torch.cuda.reset_peak_memory_stats()
        _sync(self.device)
        start = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = _total_loss(self.model(**self.data, mode='loss'))
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        _sync(self.device)
        self.train_ms.append(1e3 * (time.perf_counter() - start))
        self.saved = sum(storages.values())
        if self.device == 'cuda':
            self.peak = torch.cuda.max_memory_allocated()

    @torch.no_grad()
    def inference(self):
        self.model.eval()
        _sync(self.device)
        start = time.perf_counter()
        self.model(**self.data, mode='predict' if self.task == 'det' else 'tensor')
        _sync(self.device)
        self.infer_ms.append(1e3 * (time.perf_counter() - start))


def _delta(value, ref):
    return '' if ref is None else f' ({value / ref - 1:+.1%})'


def table(subjects, device):
    ref = subjects[0]
    med = statistics.median
    head = ('| config | params (M) | FLOPs (G, 1 image) | train step (ms) |'
            ' saved for backward (MiB) |')
    head += ' peak memory (MiB) |' if device == 'cuda' else ''
    head += ' inference (ms) |'
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for s in subjects:
        r = None if s is ref else ref
        added = '' if r is None else f' (+{(s.params - r.params) / 1e6:.3f})'
        flops = '' if r is None else f' ({(s.flops - r.flops) / 1e6:+.3f} M)'
        cells = [f'`{s.name}`', f'{s.params / 1e6:.3f}' + added, f'{s.flops / 1e9:.3f}' + flops,
                 f'{med(s.train_ms):.1f}' + _delta(med(s.train_ms), r and med(r.train_ms)),
                 f'{s.saved / 2**20:.1f}' + _delta(s.saved, r and r.saved)]
        if device == 'cuda':
            cells.append(f'{s.peak / 2**20:.0f}' + _delta(s.peak, r and r.peak))
        cells.append(f'{med(s.infer_ms):.1f}' + _delta(med(s.infer_ms), r and med(r.infer_ms)))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', help='configs; the first is the reference')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=[320, 320], metavar=('H', 'W'))
    parser.add_argument('--rounds', type=int, default=7, help='measured rounds (after 1 warm-up)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--out', help='also write the table (markdown) to this file')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    subjects = [Subject(args.configs[0], args.device, args.batch, args.size)]
    for config in args.configs[1:]:
        subjects.append(Subject(config, args.device, args.batch, args.size,
                                reference=subjects[0]))
        if subjects[-1].shared < 0.99:
            print(f'warning: {config} shares only {subjects[-1].shared:.0%} of the reference '
                  'weights: not the same model with attention added')
    print(f'{len(subjects)} configs, batch {args.batch} x {args.size[0]}x{args.size[1]}, '
          f'{args.rounds} interleaved rounds on {args.device} '
          f'({torch.get_num_threads()} threads)', flush=True)
    started = time.time()
    for rnd in range(args.rounds + 1):
        for s in subjects:
            s.train_step()
            s.inference()
        if rnd == 0:  # warm-up round: not measured
            for s in subjects:
                s.train_ms.clear()
                s.infer_ms.clear()
        else:
            left = (time.time() - started) / (rnd + 1) * (args.rounds - rnd)
            print(f'round {rnd}/{args.rounds}, about {left:.0f} s left', flush=True)
    text = table(subjects, args.device)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
