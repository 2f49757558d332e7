"""tools/study.py: a tiny insert study end to end (report checked against the runs' own logs),
skipping finished runs, resuming an interrupted one, dry runs for clusters, study-file errors."""
import json
import os
import re
import shutil
from pathlib import Path
from statistics import mean, stdev

import pytest

from conftest import ROOT, run_tool

TINY = '''
base_config = {base!r}
scenario = 'insert'
seeds = [0, 1]
metric = 'coco/bbox_mAP'
placement = dict(backbone=dict(type='PluginResNet', stages=(False, False, True, True),
                               position='after_conv2'))
variants = dict(baseline=dict(), classic=dict(cbam=dict(type='CBAM')))
pretrain = dict(seed=0, test=False, cfg_options={{'train_cfg.max_epochs': 1}})
run = dict(cfg_options={{
    'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None, 'train_cfg.max_epochs': 2,
    'param_scheduler.0.start_factor': 1.0,
    'default_hooks.logger.interval': 1, 'log_processor.window_size': 1}})
measure = dict(shock_iters=2, recovery_tol=0.05, recovery_window=2, spike_factor=1.5,
               spike_window=3)
'''
# every run: 8 images, batch 4 (2 iterations per epoch), no validation, 4 test images
SHORT = ['train_dataloader.dataset.indices=8', 'train_dataloader.batch_size=4',
         'test_dataloader.dataset.indices=4',
         'model.test_cfg.rcnn.score_thr=0.0']


def _study_file(tmp_path: Path, text: str = None) -> Path:
    """The tiny study file; its base_config is relative to it, as in the shipped ones."""
    path = tmp_path / 'tiny.py'
    base = os.path.relpath(ROOT / 'configs' / 'mini' / 'faster-rcnn_r18_fpn_12e_mini-coco.py', tmp_path)
    path.write_text(text if text is not None else TINY.format(base=base))
    return path


def _study(tmp_path, *args, check=True):
    return run_tool('mm_cbam.study', _study_file(tmp_path), '--work-root', tmp_path / 'studies',
                    *args, '--cfg-options', *SHORT, check=check)


def _study_in_process(capsys, *argv) -> str:
    """tools/study.py's main() in this process (no interpreter start-up); its stdout."""
    from mm_cbam.study import cli as study
    capsys.readouterr()
    assert study.main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


def _scalars(run: Path):
    out = {}
    for path in sorted(run.glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                if 'loss' in entry:
                    out[entry['iter']] = entry
    return out


def _metric(run: Path) -> float:
    return json.loads(next(run.glob('test/*/metrics.json')).read_text())['coco/bbox_mAP']


def _row(report: str, name: str):
    line = next(x for x in report.splitlines() if x.startswith(f'| {name} |'))
    return [c.strip() for c in line.strip('|').split('|')]


@pytest.fixture(scope='module')
def tiny_study(mini_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('study')
    proc = _study(tmp, '--jobs', '2')
    return tmp, tmp / 'studies' / 'tiny', proc.stdout


def test_tiny_study_runs_and_reports_the_logged_numbers(tiny_study):
    _, root, out = tiny_study
    assert '[1/5] pretrain: training' in out and 'estimated time left' in out
    assert 'all 5 runs finished' in out
    report = (root / 'report.md').read_text()
    for png in ('loss.png', 'shock.png', 'saturation.png', 'ca_T.png'):
        assert (root / 'report' / png).stat().st_size > 5000, png
    runs = {(v, s): root / v / f'seed{s}' for v in ('baseline', 'classic') for s in (0, 1)}
    logs = {k: _scalars(p) for k, p in runs.items()}
    assert all(sorted(log) == [1, 2, 3, 4] for log in logs.values())

    # shock: mean loss over the first 2 iterations relative to the baseline, per seed
    shocks = []
    for s in (0, 1):
        c, b = logs['classic', s], logs['baseline', s]
        shocks.append((c[1]['loss'] + c[2]['loss']) / (b[1]['loss'] + b[2]['loss']) - 1)
    row = _row(report, 'classic')
    assert row[4] == f'{100 * mean(shocks):+.1f} % ± {100 * stdev(shocks):.1f} %'
    metrics = {k: _metric(p) for k, p in runs.items()}
    assert row[2] == f"{mean([metrics['classic', 0], metrics['classic', 1]]):.4f} ± " \
        f"{stdev([metrics['classic', 0], metrics['classic', 1]]):.4f}"
    diffs = [metrics['classic', s] - metrics['baseline', s] for s in (0, 1)]
    assert row[3].startswith(f'{mean(diffs):+.4f} [')
    alarms = sum(int(max(e['cbam_summary/alarms'] for e in logs['classic', s].values()))
                 for s in (0, 1))
    assert row[7] == str(alarms)
    assert re.match(r'\+[\d,]+ \(\+\d+\.\d+%\)', row[10])  # added weights
    assert _row(report, 'baseline')[4] == '-'  # no shock for the reference itself
    # the verdict states what two seeds can (not) support
    assert re.search(r'\*\*classic\*\*: coco/bbox_mAP [+-]\d\.\d{4} vs baseline, 95 % CI', report)
    assert 'the 2 seeds' in report
    # every variant run started from the pretrained baseline with only CBAM keys missing
    log = (runs['classic', 0] / 'study.log').read_text()
    assert 'load_from=' in log and 'pretrain/epoch_1.pth' in log
    # the generated variant config inherits the base config by an absolute path
    text = (root / 'configs' / 'classic.py').read_text()
    assert f"_base_ = '{ROOT / 'configs' / 'mini' / 'faster-rcnn_r18_fpn_12e_mini-coco.py'}'" in text


def test_rerun_skips_finished_runs_and_rewrites_the_report(tiny_study, capsys):
    tmp, root, _ = tiny_study
    stamps = sorted(p.name for p in root.glob('*/seed*/2*'))
    before = (root / 'report.md').stat().st_mtime
    out = _study_in_process(capsys, _study_file(tmp), '--work-root', tmp / 'studies',
                            '--cfg-options', *SHORT)
    assert out.count('finished earlier, skipped') == 5 and 'training' not in out
    assert sorted(p.name for p in root.glob('*/seed*/2*')) == stamps
    assert (root / 'report.md').stat().st_mtime > before


def test_interrupted_run_is_resumed(tiny_study, capsys):
    tmp, root, _ = tiny_study
    run = root / 'classic' / 'seed1'
    reference = _scalars(run)
    # as if killed in the second epoch: the final checkpoint and the test never happened
    (run / 'epoch_2.pth').unlink()
    shutil.rmtree(run / 'test')
    for stamp in sorted(run.glob('2*'))[1:]:
        shutil.rmtree(stamp)
    (run / 'last_checkpoint').write_text(str(run / 'epoch_1.pth'))
    dry = _study_in_process(capsys, _study_file(tmp), '--work-root', tmp / 'studies',
                            '--dry-run', '--cfg-options', *SHORT)
    assert '# classic/seed1: resume' in dry and '--resume' in dry
    out = _study(tmp, '--only', 'classic').stdout
    assert 'classic/seed1: resuming (--resume)' in out
    assert (run / 'epoch_2.pth').exists() and list(run.glob('test/*/metrics.json'))
    resumed = _scalars(run)
    for it in (3, 4):  # the resumed epoch repeats the original exactly
        assert resumed[it]['loss'] == pytest.approx(reference[it]['loss'], rel=1e-6)


@pytest.mark.parametrize('launcher,expected', [
    ('pytorch', 'bash tools/dist_train.sh'), ('slurm', 'GPUS=8 bash tools/slurm_train.sh gpu')])
def test_coco_dry_run_prints_one_command_per_run(tmp_path, capsys, launcher, expected):
    out = _study_in_process(capsys, ROOT / 'configs/studies/coco_faster_rcnn_r50.py', '--dry-run',
                            '--launcher', launcher, '--gpus', '8', '--partition', 'gpu',
                            '--work-root', tmp_path)
    lines = out.splitlines()
    train = [x for x in lines if expected in x]
    test = [x for x in lines if 'dist_test.sh' in x or 'slurm_test.sh' in x]
    assert len(train) == len(test) == 9 * 3  # 9 variants x 3 seeds; pretrained baseline given
    for variant in ('baseline', 'classic', 'residual_fixed', 'identity_start', 'alpha_warmup',
                    'temperature_2', 'temperature_learnable', 'dynamic', 'fpn'):
        for seed in (0, 1, 2):
            work = f'{tmp_path}/coco_faster_rcnn_r50/{variant}/seed{seed}'
            assert any(work in x and f'randomness.seed={seed}' in x for x in train), (variant,
                                                                                      seed)
    assert all('load_from=https://download.openmmlab.com/mmdetection' in x for x in train)
    config = (tmp_path / 'coco_faster_rcnn_r50' / 'configs' / 'identity_start.py').read_text()
    assert "'learnable_alpha': True" in config and "'position': 'after_conv3'" in config
    assert not list((tmp_path / 'coco_faster_rcnn_r50').glob('*/seed*'))  # nothing ran


def test_dry_run_follow_up_keeps_the_run_selection(tmp_path, capsys):
    out = _study_in_process(capsys, ROOT / 'configs/studies/coco_faster_rcnn_r50.py', '--dry-run',
                            '--work-root', tmp_path, '--seeds', '2', '--only', 'classic',
                            '--lr-mult', '4')
    assert len([x for x in out.splitlines() if x.startswith('python tools/train.py')]) == 4
    assert f'{tmp_path}/coco_faster_rcnn_r50-lr4/classic/seed1' in out
    assert out.rstrip().splitlines()[-1] == (
        f'# then: python -m mm_cbam.study {ROOT}/configs/studies/coco_faster_rcnn_r50.py '
        f'--report-only --work-root {tmp_path} --seeds 2 --lr-mult 4 --only classic')


BAD = [
    (lambda t: t.replace("classic=dict(cbam=", "classic=dict(cbmm="), {},
     "variant 'classic': unknown key(s) ['cbmm']"),
    (lambda t: t.replace('faster-rcnn_r18_fpn_12e_mini-coco.py', 'nowhere.py'), {},
     'base_config not found'),
    (lambda t: t, dict(seeds=0), '--seeds must be a number of seeds >= 1, got 0'),
    (lambda t: t.replace('seeds = [0, 1]', 'seeds = [0, 0]'), {}, 'seeds repeats a seed'),
    (lambda t: t.replace('seeds = [0, 1]', "seeds = 'two'"), {}, 'seeds must be a non-empty '
     'list'),
    (lambda t: t, dict(only=['dynamic']), "--only: unknown variant(s) ['dynamic']"),
    (lambda t: t.replace("scenario = 'insert'", "scenario = 'finetune'"), {},
     "scenario='finetune' is not supported"),
    (lambda t: t.replace("metric = ", "metrics = "), {}, "unknown key(s) ['metrics']"),
    (lambda t: t, dict(lr_mult=-1.0), 'lr_mult must be a positive number, got -1.0'),
]


@pytest.mark.parametrize('edit,kwargs,message', BAD)
def test_bad_study_files_are_rejected_with_a_message_naming_the_problem(tmp_path, edit, kwargs,
                                                                        message):
    from mm_cbam.study import StudyError, load_study
    path = _study_file(tmp_path, edit(TINY.format(
        base=str(ROOT / 'configs' / 'mini' / 'faster-rcnn_r18_fpn_12e_mini-coco.py'))))
    with pytest.raises(StudyError) as info:
        load_study(str(path), work_root=str(tmp_path / 'studies'), **kwargs)
    assert message in str(info.value)


@pytest.mark.slow
def test_the_tool_fails_before_anything_runs(tmp_path):
    path = _study_file(tmp_path, TINY.format(base='nowhere.py'))
    proc = run_tool('mm_cbam.study', path, '--work-root', tmp_path / 'studies', check=False)
    assert proc.returncode == 2 and 'ERROR: base_config not found: nowhere.py' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'studies').exists()


@pytest.mark.parametrize('line,expected', [
    ('2026/11/29 10:31:31 - mmengine - INFO - Epoch(train)  [1][ 5/50]  lr: 4.0000e-03  '
     'eta: 0:00:25  time: 1.3985  loss: 0.6210  loss_cls: 0.2', 'Epoch(train) [1][ 5/50] eta '
     '0:00:25 loss 0.6210'),
    ('11/29 10:49:21 - mmengine - INFO - Iter(train) [ 40/150]  lr: 1.0000e-02  eta: 0:03:15  '
     'time: 1.7065  loss: 2.0341  decode.loss_ce: 1.3', 'Iter(train) [ 40/150] eta 0:03:15 loss '
     '2.0341'),
])
def test_progress_lines_show_the_position_eta_and_loss(line, expected):
    from mm_cbam.study.execute import _progress_text
    assert _progress_text(line) == expected
