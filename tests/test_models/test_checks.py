"""Bad input gets one clear line naming the argument or file (issue: inputs that passed
silently or failed unclearly)."""

import pytest

import mm_cbam  # noqa: F401
from mm_cbam.models.checks import ConfigCheckError, check_model_config
from mm_cbam.runner.config import load_config

from conftest import CONFIGS, DET_CONFIG, det_models, last_line, run_tool


def _r50(**backbone):
    cfg = load_config(str(CONFIGS / 'faster_rcnn' / 'faster-rcnn_r50-cbam_fpn_1x_coco.py'))
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
    MODELS = det_models()
    with pytest.raises(ConfigCheckError, match=r"plugins\[0\].position='after_conv3' is not "
                       r"supported here; allowed values: \('after_conv1', 'after_conv2'\)"):
        MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
            dict(cfg=dict(type='CBAM'), stages=(True, ) * 4, position='after_conv3')]))


def test_upstream_basic_block_resnet_with_plugins_points_to_the_plugin_resnet():
    model = _r50(depth=18, plugins=[dict(cfg=dict(type='CBAM'), stages=(True, ) * 4,
                                         position='after_conv2')])
    with pytest.raises(ConfigCheckError, match="use type='PluginResNet'"):
        check_model_config(model, 'mmdet')


@pytest.mark.slow
def test_train_tool_reports_a_bad_plugin_in_one_line(tmp_path):
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', tmp_path, '--cfg-options',
                    'model.backbone.plugins.0.cfg.type=CBAMM', check=False)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    expected = ("ERROR: model.backbone.plugins[0].cfg: type='CBAMM' is not a registered "
                "module in mmdet; did you mean 'CBAM'")
    assert last_line(proc).startswith(expected)


# ----------------------------------------------------------------------------- data files
