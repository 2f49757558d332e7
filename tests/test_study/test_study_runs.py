"""A tiny insert study end to end (2 seeds, the classic and identity-start stabilisers in both
placements, the reference and the A/A control), checked against the runs' own logs: exact
pairing, the calibration, the report, reruns, selections, broken files."""
import json
import shutil
import time
from pathlib import Path

import pytest

from conftest import CONFIGS, last_line, run_tool

TINY = '''
_base_ = [{studies!r}]
base_config = {base!r}
seeds = [0, 1]
stabilisers = ['classic', 'identity_start']
pretrain = dict(seed=0, cfg_options={{
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None,
    'train_cfg.max_epochs': 1, 'train_dataloader.dataset.indices': 24}})
run = dict(cfg_options={{
    'train_cfg': dict(type='IterBasedTrainLoop', max_iters=6, val_interval=3),
    'train_dataloader.batch_size': 4,
    'train_dataloader.sampler': dict(type='InfiniteSampler', shuffle=True),
    'param_scheduler': [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=6)],
    'optim_wrapper.optimizer.lr': 0.004, 'optim_wrapper.clip_grad': None,
    'model.backbone.norm_eval': True, 'val_dataloader.dataset.indices': 8,
    'model.test_cfg.rcnn.score_thr': 0.0,
    'default_hooks.logger': dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    'log_processor': dict(by_epoch=False, window_size=1),
    'default_hooks.checkpoint': dict(type='CheckpointHook', by_epoch=False, interval=6,
                                     max_keep_ckpts=1)}})
validation = dict(interval=3)
measure = dict(shock_iters=3, recovery_window=2, bootstrap=20)
'''


def study_file(folder: Path) -> Path:
    path = folder / 'tiny.py'
    base = CONFIGS / 'mini' / 'faster-rcnn_r18_fpn_12e_mini-coco.py'
    path.write_text(TINY.format(studies=str(CONFIGS / 'studies' / 'mini_det.py'),
                                base=str(base)))
    return path


@pytest.fixture(scope='module')
def tiny_study(mini_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp('study')
    path = study_file(folder)
    proc = run_tool('mm_cbam.study', path, '--work-root', folder / 'studies', '--jobs', '2')
    return path, folder / 'studies' / 'tiny', proc.stdout


def _losses(run: Path) -> dict:
    """``iteration -> logged line`` straight from the run's scalars.json."""
    out = {}
    for path in sorted(run.glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if 'loss' in entry:
                out[entry['iter']] = entry
    return out


@pytest.mark.slow
def test_aa_control_computes_the_reference_losses_bit_for_bit(tiny_study):
    _, study, _ = tiny_study
    for seed in (0, 1):
        ref, aa = _losses(study / 'baseline' / f'seed{seed}'), _losses(
            study / 'aa_null' / f'seed{seed}')
        assert sorted(ref) == sorted(aa) == list(range(1, 7))
        for it in ref:
            for key in ('loss', 'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
                assert aa[it][key] == ref[it][key], (seed, it, key)


@pytest.mark.slow
def test_identity_start_begins_at_the_reference_loss_and_then_learns(tiny_study):
    _, study, _ = tiny_study
    for placement in ('residual_branch', 'main_path'):
        for seed in (0, 1):
            ref = _losses(study / 'baseline' / f'seed{seed}')
            ident = _losses(study / placement / 'identity_start' / f'seed{seed}')
            assert ident[1]['loss'] == ref[1]['loss'], (placement, seed)
            alphas = [v for k, v in ident[6].items() if k.endswith('/alpha')]
            assert alphas and any(a != 0 for a in alphas)  # alpha learned away from 0
        classic = _losses(study / placement / 'classic' / 'seed0')
        assert classic[1]['loss'] != _losses(study / 'baseline' / 'seed0')[1]['loss']


@pytest.mark.slow
def test_report_states_the_calibration_and_the_placement_table(tiny_study):
    _, study, stdout = tiny_study
    report = (study / 'report.md').read_text()
    assert '`aa_null` (attention inserted as an exact no-op, 2 seeds): every compared number is ' \
           'exactly 0 -- the pairing is exact' in report
    assert '`main_path/identity_start`: the first logged loss equals the reference\'s bit for ' \
           'bit in 2 of 2 seeds' in report
    assert '| stabiliser | residual_branch | main_path |' in report
    row = next(ln for ln in report.splitlines() if ln.startswith('| main_path/identity_start |'))
    # identity start: damage@0 exactly 0 in both seeds (the model as inserted is the reference)
    assert '| +0.0000 [+0.0000, +0.0000] |' in row
    for png in ('validation.png', 'shock.png', 'attention.png'):
        assert (study / 'report' / png).stat().st_size > 10000
    assert 'estimated time left' in stdout and 'all runs finished' in stdout


@pytest.mark.slow
def test_rerun_skips_and_report_only_is_fast_and_selections_get_their_own_report(tiny_study):
    path, study, _ = tiny_study
    full = (study / 'report.md').read_text()
    proc = run_tool('mm_cbam.study', path, '--work-root', study.parent, '--jobs', '2')
    assert proc.stdout.count('finished earlier, skipped') == 13
    started = time.time()
    run_tool('mm_cbam.study', path, '--work-root', study.parent, '--report-only', '--seeds',
             '1-1', '--only', 'main_path/classic')
    assert time.time() - started < 60  # the budget is 30 s on a CI machine; this includes start-up
    subset = study / 'report-seeds1_only-main_path.classic.md'
    assert subset.exists() and 'seeds [1]' in subset.read_text()
    assert (study / 'report.md').read_text() == full  # the full report is untouched


@pytest.mark.slow
def test_broken_files_are_named_in_one_line(tiny_study, tmp_path):
    path, study, _ = tiny_study
    copy = tmp_path / 'tiny'
    shutil.copytree(study, copy)
    measure = copy / 'baseline' / 'seed0' / 'measure.json'
    measure.write_text('{"loss": [1, 2')
    proc = run_tool('mm_cbam.study', path, '--work-root', tmp_path, '--report-only', check=False)
    assert proc.returncode == 2
    assert last_line(proc).startswith(f'ERROR: {measure} is not valid JSON')


@pytest.mark.slow
def test_replication_compares_the_verdicts_of_disjoint_seed_sets(tiny_study):
    path, study, _ = tiny_study
    proc = run_tool('mm_cbam.study', path, '--work-root', study.parent, '--seeds', '0-0',
                    '--replicate', '1-1')
    out = study / 'replication-seeds0-vs-seeds1.md'
    assert f'replication written: {out}' in proc.stdout
    text = out.read_text()
    assert 'calibration (A/A exactly zero) in both: **yes**' in text
    rows = [ln.split('|')[1:-1] for ln in text.splitlines() if ln.startswith('| ') and
            not ln.startswith('| variant')]
    assert {r[0].strip() for r in rows} == {f'{p}/{s}' for p in ('residual_branch', 'main_path')
                                            for s in ('classic', 'identity_start')}
    # identity start: the inserted model is the reference, in both seed sets
    ident = next(r for r in rows if r[0].strip() == 'main_path/identity_start'
                 and r[1].strip() == 'damage@0')
    assert ident[2].strip() == ident[3].strip() == '+0.0000 (identical)'
    assert ident[4].strip() == 'yes'
    # each cell is that seed's own paired difference, as its single-seed report computes it
    for seed in (0, 1):
        run_tool('mm_cbam.study', path, '--work-root', study.parent, '--report-only',
                 '--seeds', f'{seed}-{seed}')
        report = (study / f'report-seeds{seed}.md').read_text()
        row = next(ln for ln in report.splitlines() if ln.startswith('| main_path/classic |'))
        classic = next(r for r in rows if r[0].strip() == 'main_path/classic'
                       and r[1].strip() == 'final')
        assert classic[2 + seed].split()[0] in row
    shared = run_tool('mm_cbam.study', path, '--work-root', study.parent, '--seeds', '0-1',
                      '--replicate', '1-1', check=False)
    assert shared.returncode == 2
    assert 'shares seeds with [0, 1]: a replication needs disjoint seed sets' in last_line(shared)
