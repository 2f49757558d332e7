"""Study files are checked before anything runs (a message naming the problem), variants are
built at plan time, and the cluster commands ask for the GPUs they are given."""
import pytest

from mm_cbam.study.commands import slurm_layout, train_command
from mm_cbam.study.plan import Run
from mm_cbam.study.spec import StudyError, load_study, parse_seeds

from conftest import CONFIGS, ROOT, last_line, run_tool

GOOD = '''_base_ = [{studies!r}]
base_config = {base!r}
'''


def _study(tmp_path, extra: str = '') -> str:
    path = tmp_path / 'study.py'
    base = CONFIGS / 'mini' / 'faster-rcnn_r18_fpn_12e_mini-coco.py'
    path.write_text(GOOD.format(studies=str(CONFIGS / 'studies' / 'mini_det.py'),
                                base=str(base)) + extra)
    return str(path)


@pytest.mark.parametrize('extra,message', [
    ("placements = dict(x=dict(after='backbone.layer2'))",
     "placement 'x': after must be a list of module patterns"),
    ("placements = dict(x=dict(plugins=dict(stages=(True,) * 4)))",
     "placement 'x': plugins must be dict(stages=..., position=...[, type=...])"),
    ("stabilisers = ['classic', 'clasic']", "stabilisers ['clasic'] are not in the catalogue"),
    ("seeds = [0, 0]", 'seeds repeats a seed: [0, 0]'),
    ("equivalence_margin = 0", 'equivalence_margin must be a positive number'),
    ("validation = dict(interval=0)", 'validation.interval must be an integer >= 1'),
    ("variantz = 1", "unknown key(s) ['variantz']"),
    ("measure = dict(components='loss_cls')", 'measure.components must be a list of loss names'),
    ("measure = dict(shock_iters=0)", 'measure.shock_iters must be an integer >= 1, got 0'),
    ("base_config = 'nowhere.py'", 'base_config not found: nowhere.py'),
])
def test_bad_study_files_fail_before_anything_runs(tmp_path, extra, message):
    with pytest.raises(StudyError, match=message.replace('(', r'\(').replace(')', r'\)').replace(
            '[', r'\[').replace(']', r'\]').replace('*', r'\*')):
        load_study(_study(tmp_path, extra), work_root=str(tmp_path / 'w'))
    assert not (tmp_path / 'w').exists()


@pytest.mark.slow
def test_a_variant_that_does_not_build_fails_at_plan_time_naming_it(tmp_path):
    path = _study(tmp_path, "cbam_variants = dict(classic=dict(type='CBAM', ca_act='gelu'))\n"
                            "stabilisers = ['classic']\n")
    proc = run_tool('mm_cbam.study', path, '--work-root', tmp_path / 'w', '--dry-run',
                    check=False)
    assert proc.returncode == 2
    assert last_line(proc).startswith("ERROR: variant 'residual_branch/classic' does not build: "
                                      "ValueError: ca_act='gelu' is not supported")
    assert not (tmp_path / 'w' / 'study' / 'pretrain' / 'epoch_12.pth').exists()


def test_seed_selections():
    assert parse_seeds('0-4', '--seeds') == [0, 1, 2, 3, 4]
    assert parse_seeds('5,7', '--seeds') == [5, 7]
    assert parse_seeds('3', '--seeds') == [0, 1, 2]
    with pytest.raises(StudyError, match="--seeds must look like '0-4'"):
        parse_seeds('a-b', '--seeds')


@pytest.mark.parametrize('gpus,nodes,per_node', [(1, 1, 1), (4, 1, 4), (8, 1, 8), (16, 2, 8)])
def test_slurm_requests_the_gpus_it_is_given(gpus, nodes, per_node):
    assert slurm_layout(gpus) == dict(nodes=nodes, per_node=per_node)
    run = Run('classic/seed0', 'classic', 0, '/w/classic/seed0', '/w/classic/seed0/epoch_2.pth')
    line = ' '.join(train_command(run, 'slurm', gpus, 'P', python='python'))
    assert f'--nodes={nodes} --gres=gpu:{per_node} --ntasks={gpus} ' \
           f'--ntasks-per-node={per_node}' in line
    assert line.endswith('python -u -m mm_cbam.train /w/classic/seed0/config.py --work-dir '
                         '/w/classic/seed0 --launcher slurm')


@pytest.mark.slow
def test_coco_dry_run_asks_slurm_for_4_gpus_and_names_no_checkout_path(tmp_path):
    proc = run_tool('mm_cbam.study', CONFIGS / 'studies' / 'coco_faster_rcnn_r50.py',
                    '--work-root', tmp_path, '--launcher', 'slurm', '--gpus', '4', '--dry-run')
    commands = [ln for ln in proc.stdout.splitlines() if ln.startswith('srun')]
    assert len(commands) == 16 * 5  # every variant and seed (the checkpoint is mmdet's release)
    assert all('--gres=gpu:4 --ntasks=4 --ntasks-per-node=4' in c for c in commands)
    assert all(str(ROOT) not in c and 'tools/' not in c for c in commands)
    config = (tmp_path / 'coco_faster_rcnn_r50' / 'main_path' / 'alpha_warmup' / 'seed0' /
              'config.py').read_text()
    assert '_base_' not in config and "type='InsertCBAM'" in config
    assert "type='CBAMAlphaWarmupHook'" in config and 'load_from = ' in config


@pytest.mark.slow
@pytest.mark.parametrize('name,placements', [
    ('mini_det', ('residual_branch', 'main_path')),
    ('mini_seg', ('residual_branch', 'main_path')),
    ('mini_rtmdet', ('csp_blocks', 'main_path')),
])
def test_shipped_mini_studies_plan_every_run(tmp_path, name, placements):
    """Every variant of a shipped mini study builds (plan time) and the calibration holds the
    attention of every placement at once: its added parameters are their classic sums."""
    import json
    run_tool('mm_cbam.study', CONFIGS / 'studies' / f'{name}.py', '--work-root', tmp_path,
             '--dry-run')
    plan = json.loads((tmp_path / name / 'plan.json').read_text())
    added = {k: int(v.replace(',', '').lstrip('+')) for k, v in plan['added_params'].items()}
    assert len(added) == 2 + 7 * len(placements) and added['baseline'] == 0
    assert added['aa_null'] == sum(added[f'{p}/classic'] for p in placements) > 0
    configs = list((tmp_path / name).rglob('seed*/config.py'))
    assert len(configs) == (2 + 7 * len(placements)) * 5


def test_a_mini_study_generates_the_embedded_data_where_its_runs_look(tmp_path, monkeypatch):
    from mm_cbam.study import cli
    calls = []
    monkeypatch.setattr('mm_cbam.mini_data.ensure_mini_data',
                        lambda out: calls.append(str(out)) or {'mini_coco': 'generated'})
    monkeypatch.chdir(tmp_path)
    cli.ensure_embedded_data(load_study(_study(tmp_path), work_root=str(tmp_path / 'w')))
    assert calls == ['data']  # the base config's data_root is data/mini_coco/, cwd-relative
