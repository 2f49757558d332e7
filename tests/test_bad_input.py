"""Bad input gets one clear line naming the argument or file (issue: inputs that passed
silently or failed unclearly)."""
import json
import shutil

import cv2
import pytest

import mm_cbam  # noqa: F401
from conftest import DET_CONFIG, SEG_CONFIG, SMALL_DET, run_tool
from mm_cbam.attention import CBAM
from mm_cbam.engine.data_checks import check_annotations
from mm_cbam.models.checks import ConfigCheckError, check_model_config
from mm_cbam.utils import load_config


def _last_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ''


# ----------------------------------------------------------------------------- options


@pytest.mark.parametrize('residual', [False, True])
def test_alpha_init_must_be_a_number(residual):
    with pytest.raises(ValueError, match="alpha_init must be a number, got 'abc'"):
        CBAM(16, residual=residual, alpha_init='abc')


def test_alpha_init_without_residual_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match='alpha_init=0.5 has no effect without residual=True'):
        CBAM(16, alpha_init=0.5)


@pytest.mark.parametrize('hook,option', [('CBAMStabilityHook', 'stop_on_alarm'),
                                         ('CBAMStabilityHook', 'log_grad_norm'),
                                         ('NonFiniteStopHook', 'stop')])
def test_boolean_hook_options_reject_strings(hook, option):
    from mmengine.registry import HOOKS
    with pytest.raises(ValueError, match=f"{option} must be True or False, got 'no'"):
        HOOKS.build({'type': hook, option: 'no'})


@pytest.mark.parametrize('option', ['residual', 'learnable_alpha', 'ca_bias', 'sa_bias',
                                    'learnable_temperature'])
def test_boolean_attention_options_reject_strings(option):
    with pytest.raises(ValueError, match=f"{option} must be True or False, got 'no'"):
        CBAM(16, **{option: 'no'})


def test_even_spatial_kernel_warns_and_says_what_is_used():
    with pytest.warns(UserWarning, match='sa_kernels: even kernel size 4 is used as 5'):
        module = CBAM(16, sa_kernels=(4, ))
    assert module.sa.kernels == (5, ) and module.sa.branches[0].kernel_size == (5, 5)


# ----------------------------------------------------------------------------- plugins


def _r50(**backbone):
    cfg = load_config(str(DET_CONFIG.parent / 'faster_rcnn_r50_cbam.py'))
    cfg.model.backbone.update(backbone)
    return cfg.model


@pytest.mark.parametrize('stages,shown', [((True, True), '(True, True)'), ('TTTT', "'TTTT'"),
                                          ((1, 1, 1, 1), '(1, 1, 1, 1)')])
def test_plugin_stages_must_be_one_boolean_per_stage(stages, shown):
    model = _r50(plugins=[dict(cfg=dict(type='CBAM'), stages=stages, position='after_conv3')])
    with pytest.raises(ConfigCheckError) as err:
        check_model_config(model, 'mmdet')
    assert str(err.value) == ('model.backbone.plugins[0].stages must be a tuple of 4 booleans '
                              f'(one per stage, e.g. (False, True, True, True)), got {shown}')


def test_plugin_position_names_the_allowed_ones():
    model = _r50(plugins=[dict(cfg=dict(type='CBAM'), stages=(True, ) * 4,
                               position='after_conv4')])
    with pytest.raises(ConfigCheckError, match=r"model.backbone.plugins\[0\].position="
                       r"'after_conv4' is not supported here; allowed values: "
                       r"\('after_conv1', 'after_conv2', 'after_conv3'\)"):
        check_model_config(model, 'mmdet')


def test_unknown_plugin_type_names_close_matches():
    model = _r50(plugins=[dict(cfg=dict(type='CBAMM'), stages=(True, ) * 4,
                               position='after_conv3')])
    with pytest.raises(ConfigCheckError, match=r"model.backbone.plugins\[0\].cfg: "
                       r"type='CBAMM' is not a registered module in mmdet; did you mean 'CBAM'"):
        check_model_config(model, 'mmdet')


def test_plugin_resnet_checks_its_own_plugins():
    from mmdet.registry import MODELS
    with pytest.raises(ConfigCheckError, match=r"plugins\[0\].position='after_conv3' is not "
                       r"supported here; allowed values: \('after_conv1', 'after_conv2'\)"):
        MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
            dict(cfg=dict(type='CBAM'), stages=(True, ) * 4, position='after_conv3')]))


def test_upstream_basic_block_resnet_with_plugins_points_to_the_plugin_resnet():
    model = _r50(depth=18, plugins=[dict(cfg=dict(type='CBAM'), stages=(True, ) * 4,
                                         position='after_conv2')])
    with pytest.raises(ConfigCheckError, match="use type='PluginResNet'"):
        check_model_config(model, 'mmdet')


def test_train_tool_reports_a_bad_plugin_in_one_line(tmp_path):
    proc = run_tool('tools/train.py', DET_CONFIG, '--work-dir', tmp_path, '--cfg-options',
                    'model.backbone.plugins.0.cfg.type=CBAMM', check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert _last_line(proc).startswith("ERROR: model.backbone.plugins[0].cfg: type='CBAMM' is "
                                       "not a registered module in mmdet; did you mean 'CBAM'")


# ----------------------------------------------------------------------------- data files


def _coco_copy(mini_data, tmp_path, edit):
    data = json.loads((mini_data / 'mini_coco' / 'annotations' / 'instances_train.json')
                      .read_text())
    edit(data)
    path = tmp_path / 'instances_train.json'
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize('edit,expected', [
    (lambda d: d.pop('annotations'), "has no 'annotations'"),
    (lambda d: d.update(annotations=[]), 'has no usable annotation (0 in the file'),
])
def test_annotation_file_without_annotations_is_named(mini_data, tmp_path, edit, expected):
    path = _coco_copy(mini_data, tmp_path, edit)
    proc = run_tool('tools/train.py', DET_CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    *SMALL_DET, f'train_dataloader.dataset.ann_file={path}', check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert _last_line(proc).startswith(f'ERROR: annotation file {path} {expected}')


def test_dropped_annotations_are_counted_per_file(mini_data, tmp_path):
    def edit(data):
        anns = data['annotations']
        for ann in anns[:3]:
            ann['bbox'][2] = -4.0  # negative width
        for ann in anns[3:5]:
            ann['category_id'] = 99  # no such category
    path = _coco_copy(mini_data, tmp_path, edit)
    cfg = load_config(str(DET_CONFIG), {'train_dataloader.dataset.ann_file': str(path)})
    with pytest.warns(UserWarning) as caught:
        found = check_annotations(cfg)
    total = len(json.loads(path.read_text())['annotations'])
    assert found == [f'{path}: of {total} annotations, 3 have a box with no area (w < 1, h < 1 '
                     "or area <= 0) and 2 have a category id outside the dataset's classes; "
                     'mmdet drops them without a warning']
    assert any(str(w.message) == found[0] for w in caught)


def test_label_id_out_of_range_names_the_label_map(mini_data, tmp_path):
    root = tmp_path / 'mini_cityscapes'
    shutil.copytree(mini_data / 'mini_cityscapes', root)
    maps = sorted((root / 'gtFine' / 'train').rglob('*_gtFine_labelTrainIds.png'))
    for path in maps:
        labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        labels[labels == 0] = 30  # road -> an id no class has
        cv2.imwrite(str(path), labels)
    proc = run_tool('tools/train.py', SEG_CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    f'train_dataloader.dataset.data_root={root}/', 'train_cfg.max_iters=2',
                    'train_dataloader.batch_size=2', 'train_cfg.val_interval=100', check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert _last_line(proc) == (f'ERROR: label map {maps[0]} holds ids [30] outside the 19 classes '
                                "(0..18) and the ignore index 255: fix the labels or the model's "
                                'num_classes')


def test_stability_alarm_stop_is_one_line(mini_data, tmp_path):
    config = tmp_path / 'alarm.py'
    config.write_text(f"_base_ = {str(DET_CONFIG)!r}\ncustom_hooks = [dict(type="
                      "'CBAMStabilityHook', stop_on_alarm=True, collapse_threshold=0.001, "
                      'collapse_patience=1)]\n')
    proc = run_tool('tools/train.py', config, '--work-dir', tmp_path / 'w', '--cfg-options',
                    *SMALL_DET, check=False)
    assert proc.returncode == 3 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert _last_line(proc).startswith('STOPPED: CBAM stability alarm at iteration 2: '
                                       'backbone.layer')
    assert 'Training stopped (stop_on_alarm=True)' in _last_line(proc)
