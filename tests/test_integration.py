"""CBAM in mmdet/mmseg models: Bottleneck and BasicBlock plugins, necks, path insertion,
identity start."""
import copy
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import mm_cbam  # noqa: F401
from mm_cbam.attention import CBAM, attention_modules
from mm_cbam.models import MultiLevelAttention, insert_cbam
from mm_cbam.models.attach import pattern_to_regex
from mm_cbam.utils import build_model, load_config, register_scope

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
PLUGIN = [dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv3')]


def _det_models():
    register_scope('det')
    from mmdet.registry import MODELS
    return MODELS


def _seg_models():
    register_scope('seg')
    from mmseg.registry import MODELS
    return MODELS


# ----------------------------------------------------------------------------- Bottleneck plugins


def test_bottleneck_plugins_in_mmdet_faster_rcnn_from_config(tmp_path):
    cfg_file = tmp_path / 'frcnn.py'
    cfg_file.write_text(
        "_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n"
        "custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)\n"
        f'model = dict(backbone=dict(init_cfg=None, plugins={PLUGIN!r}))\n')
    model = build_model(load_config(str(cfg_file)))
    names = [n for n, _ in attention_modules(model)]
    assert len(names) == 4 + 6 + 3 and names[0] == 'backbone.layer2.0.cbam'
    assert model.backbone.layer4[2].cbam.in_channels == 2048
    from mm_cbam.utils import synthetic_batch
    data = model.data_preprocessor(synthetic_batch(model, 'det', size=(64, 64)), True)
    losses = model(**data, mode='loss')
    torch.stack([v if isinstance(v, torch.Tensor) else sum(v)
                 for k, v in losses.items() if 'loss' in k]).sum().backward()
    assert model.backbone.layer3[0].cbam.ca.fc1.weight.grad.abs().sum() > 0


def test_bottleneck_plugins_in_mmseg_resnetv1c_segmentor(tmp_path):
    cfg_file = tmp_path / 'psp.py'
    cfg_file.write_text(
        "_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'\n"
        "custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)\n"
        "norm_cfg = dict(type='BN', requires_grad=True)\n"
        f'model = dict(pretrained=None, data_preprocessor=dict(size=(64, 64)), '
        f'backbone=dict(plugins={PLUGIN!r}))\n')
    cfg = load_config(str(cfg_file))
    model = build_model(cfg)
    assert type(model.backbone).__name__ == 'ResNetV1c'
    assert len(list(attention_modules(model))) == 13
    from mmengine.model import revert_sync_batchnorm
    model = revert_sync_batchnorm(model)
    from mm_cbam.utils import synthetic_batch
    data = model.data_preprocessor(synthetic_batch(model, 'seg', size=(64, 64)), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.layer2[0].cbam.sa.branches[0].weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- BasicBlock plugins


@pytest.mark.parametrize('scope,type_,depth', [('det', 'PluginResNet', 18),
                                               ('det', 'PluginResNetV1d', 34),
                                               ('seg', 'PluginResNet', 18),
                                               ('seg', 'PluginResNetV1c', 34)])
def test_basicblock_plugins(scope, type_, depth):
    MODELS = _det_models() if scope == 'det' else _seg_models()
    plugins = [
        dict(cfg=dict(type='CBAM', residual=True), stages=(False, True, True, True),
             position='after_conv2'),
        dict(cfg=dict(type='CBAMChannelAttention', postfix='_c1'), stages=(True, False, False,
                                                                           False),
             position='after_conv1'),
    ]
    model = MODELS.build(dict(type=type_, depth=depth, plugins=plugins))
    block = model.layer2[0]
    assert block.plugin_names == {'after_conv1': [], 'after_conv2': ['cbam']}
    assert model.layer1[0].plugin_names['after_conv1'] == ['channel_att_c1']
    assert block.cbam.in_channels == 128 and model.layer4[0].cbam.in_channels == 512
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    outs = model(x)
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]
    sum(o.mean() for o in outs).backward()
    assert block.cbam.alpha is not None and block.cbam.ca.fc1.weight.grad is not None


def test_basicblock_plugin_forward_order():
    """after_conv2 attention sees norm2's output, before the residual addition."""
    MODELS = _det_models()
    model = MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
        dict(cfg=dict(type='CBAM'), stages=(True, False, False, False), position='after_conv2')
    ]))
    model.eval()  # mmdet's ResNet.train() does not return self
    block = model.layer1[0]
    seen = {}
    block.cbam.register_forward_hook(lambda m, a, o: seen.update(inp=a[0], out=o))
    x = torch.randn(1, 64, 16, 16)
    y = block(x)
    expected_in = block.norm2(block.conv2(block.relu(block.norm1(block.conv1(x)))))
    torch.testing.assert_close(seen['inp'], expected_in)
    torch.testing.assert_close(y, torch.relu(seen['out'] + x))


@pytest.mark.parametrize('scope', ['det', 'seg'])
def test_plain_resnet18_checkpoint_loads_with_only_cbam_keys_missing(scope):
    MODELS = _det_models() if scope == 'det' else _seg_models()
    plain = MODELS.build(dict(type='ResNet', depth=18))
    ours = MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
        dict(cfg=dict(type='CBAM', residual=True, alpha_init=0.0), stages=(True, ) * 4,
             position='after_conv2')
    ]))
    result = ours.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all('.cbam.' in k for k in result.missing_keys)
    plain.eval(), ours.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(plain(x), ours(x)):
        assert torch.equal(a, b)  # alpha=0: exactly the plain network


def test_basicblock_rejects_after_conv3_and_keeps_zero_init():
    MODELS = _det_models()
    with pytest.raises(ValueError, match="position='after_conv3' is not supported here; allowed "
                       "values: \\('after_conv1', 'after_conv2'\\)"):
        MODELS.build(dict(type='PluginResNet', depth=18, plugins=PLUGIN))
    model = MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
        dict(cfg=dict(type='CBAM'), stages=(True, ) * 4, position='after_conv2')
    ]))
    model.init_weights()
    assert model.layer1[0].norm2.weight.abs().sum() == 0  # upstream zero_init_residual
    assert model.layer1[0].norm1.weight.abs().sum() > 0


# ----------------------------------------------------------------------------- necks


def test_cbam_on_every_fpn_level_per_level_and_shared():
    MODELS = _det_models()
    fpn_cfg = dict(in_channels=[64, 128, 256, 512], out_channels=32, num_outs=5)
    plain = MODELS.build(dict(type='FPN', **fpn_cfg))
    neck = MODELS.build(dict(type='CBAMNeck', neck_type='FPN', cbam=dict(type='CBAM'), **fpn_cfg))
    assert type(neck).__name__ == 'FPN'
    assert sorted(neck.cbam.levels.keys()) == ['0', '1', '2', '3', '4']
    feats = [torch.randn(2, c, 64 // 2**i, 64 // 2**i) for i, c in enumerate([64, 128, 256, 512])]
    # the baseline FPN's weights load with only CBAM keys missing
    result = neck.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys and all(k.startswith('cbam.') for k in result.missing_keys)
    with torch.no_grad():
        base_outs = plain(feats)
        seen = []
        for lv in range(5):
            neck.cbam.levels[str(lv)].register_forward_hook(lambda m, a, o: seen.append(a[0]))
        outs = neck(feats)
    assert len(outs) == 5 and len(seen) == 5
    for base, inp, out in zip(base_outs, seen, outs):
        assert torch.equal(base, inp) and not torch.equal(out, base)

    shared = MODELS.build(dict(type='CBAMNeck', neck_type='FPN', shared=True, levels=(1, 2),
                               **fpn_cfg))
    assert isinstance(shared.cbam.attention, CBAM)
    assert {k.split('.')[1] for k in shared.state_dict() if k.startswith('cbam.')} == {
        'attention'}
    shared.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        outs = shared(feats)
    assert torch.equal(outs[0], base_outs[0]) and torch.equal(outs[3], base_outs[3])
    assert not torch.equal(outs[1], base_outs[1]) and not torch.equal(outs[2], base_outs[2])


def test_neck_validation():
    MODELS = _det_models()
    with pytest.raises(ValueError, match='shared=True needs equal channels'):
        MODELS.build(dict(type='CBAMNeck', in_channels=[64, 128], shared=True))
    with pytest.raises(ValueError, match=r'levels=\(4,\) must be distinct indices in \[0, 2\)'):
        MODELS.build(dict(type='CBAMNeck', in_channels=[64, 128], levels=(4, )))
    with pytest.raises(ValueError, match='needs in_channels'):
        MODELS.build(dict(type='CBAMNeck'))
    att = MultiLevelAttention([8, 16], dict(type='CBAM', reduction=2))
    with pytest.raises(ValueError, match='expects 2 feature levels, got 3'):
        att([torch.randn(1, 8, 4, 4)] * 3)


def test_cbam_on_segmentor_decode_head_inputs():
    cfg = load_config(str(ROOT / 'configs' / 'deeplabv3plus_r50_40k_cityscapes_cbam-head.py'))
    cfg.model.pretrained = None
    model = build_model(cfg)
    assert isinstance(model.neck, MultiLevelAttention) and model.neck.selected == (0, 3)
    assert model.neck.levels['3'].in_channels == 2048 and model.neck.levels['0'].in_channels == 256


# ----------------------------------------------------------------------------- path insertion


def test_pattern_semantics():
    assert pattern_to_regex('backbone.layer3.*.conv2').match('backbone.layer3.0.conv2')
    assert not pattern_to_regex('backbone.layer3.*.conv2').match(
        'backbone.layer3.0.downsample.conv2')
    assert pattern_to_regex('backbone.**.conv2').match('backbone.layer3.0.downsample.conv2')
    assert pattern_to_regex('neck.fpn_convs.*').match('neck.fpn_convs.3')
    assert not pattern_to_regex('neck.fpn_convs.*').match('neck.fpn_convs.3.conv')
    assert pattern_to_regex('layer?.0.bn*').match('layer2.0.bn3')


def test_insert_by_path_in_regnet_detector():
    MODELS = _det_models()
    cfg = load_config(str(ROOT / 'configs' / 'faster_rcnn_regnetx-3.2gf_baseline.py'))
    cfg.model.backbone.init_cfg = None
    plain = MODELS.build(cfg.model)
    model = MODELS.build(cfg.model)
    names = insert_cbam(model, ['backbone.layer3.*.conv2', 'neck.fpn_convs.*'],
                        dict(type='CBAM', residual=True, alpha_init=0.0, learnable_alpha=True))
    assert names[0] == 'backbone.layer3.0.conv2' and names[-1] == 'neck.fpn_convs.3'
    assert model.neck.fpn_convs[0].cbam.in_channels == 256
    conv2 = model.backbone.layer3[0].conv2
    assert conv2.cbam.in_channels == conv2.out_channels
    # parameter names of the plain model are unchanged; the new ones are readable
    sd = model.state_dict()
    assert set(plain.state_dict()) <= set(sd)
    new = sorted(set(sd) - set(plain.state_dict()))
    assert new[0].startswith('backbone.layer3.0.conv2.cbam.') and all('.cbam.' in k for k in new)


def test_insert_no_match_is_an_error():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Sequential(nn.Conv2d(8, 8, 3)))
    with pytest.raises(ValueError, match=r"pattern '1\.\*\.conv9' matches no module of "
                                         r"Sequential; modules under '1' include \['1', '1.0'\]"):
        insert_cbam(model, '1.*.conv9')
    with pytest.raises(ValueError, match='cannot infer the output channels'):
        insert_cbam(nn.Sequential(nn.ReLU()), '0')


def test_inserted_parameters_reach_the_optimizer_and_round_trip(tmp_path):
    from mmengine.optim import build_optim_wrapper
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 16, 3, padding=1))
    insert_cbam(model, ['1', '3'], dict(type='CBAM', reduction=2, residual=True,
                                        learnable_alpha=True, alpha_init=0.5))
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='SGD', lr=0.1)))
    in_opt = {id(p) for g in wrapper.optimizer.param_groups for p in g['params']}
    assert id(model[1].cbam.alpha) in in_opt and id(model[3].cbam.ca.fc1.weight) in in_opt
    x = torch.randn(2, 3, 8, 8)
    loss = model(x).square().mean()
    wrapper.update_params(loss)
    assert model[3].cbam.alpha.item() != 0.5  # the optimizer stepped the inserted alpha

    torch.save(model.state_dict(), tmp_path / 'm.pth')
    fresh = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 16, 3, padding=1))
    insert_cbam(fresh, ['1', '3'], dict(type='CBAM', reduction=2, residual=True,
                                        learnable_alpha=True))
    fresh.load_state_dict(torch.load(tmp_path / 'm.pth'))
    model.eval(), fresh.eval()
    assert torch.equal(model(x), fresh(x))
    # deepcopy (e.g. EMA) applies the copy's own attention
    clone = copy.deepcopy(model)
    with torch.no_grad():
        clone[3].cbam.alpha.fill_(0.0)
    assert torch.equal(clone(x), clone[3](clone[2](clone[1](clone[0](x)))) )
    assert not torch.equal(clone(x), model(x))
    with pytest.raises(ValueError, match='already has a child named'):
        insert_cbam(model, '3')


def test_insertcbam_config_builder():
    cfg = load_config(str(ROOT / 'configs' / 'faster_rcnn_regnetx-3.2gf_cbam_insert.py'))
    cfg.model.backbone.init_cfg = None
    model = build_model(cfg)
    assert type(model).__name__ == 'FasterRCNN'
    names = [n for n, _ in attention_modules(model)]
    assert names[0] == 'backbone.layer2.0.bn3.cbam' and len(names) == sum(
        len(getattr(model.backbone, f'layer{i}')) for i in (2, 3, 4))
    MODELS = _det_models()
    with pytest.raises(ValueError, match='matches no module'):
        MODELS.build(dict(cfg.model, insert=[dict(after='backbone.layer9.*')]))


# ----------------------------------------------------------------------------- identity start


def _baseline_checkpoint(cfg, tmp_path: Path):
    from mmengine.model import revert_sync_batchnorm
    torch.manual_seed(0)
    model = revert_sync_batchnorm(build_model(cfg))
    with torch.no_grad():  # non-trivial weights and BN statistics, as a trained model has
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) * 0.5 + 0.5 if 'running_var' in name else
                        torch.randn_like(t) * 0.05)
    path = tmp_path / 'baseline.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text)), path)
    return path


def _config(tmp_path: Path, name: str, base: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"_base_ = '{ROOT / 'configs' / base}'\n{body}\n")
    return path


DET_NO_DOWNLOAD = 'model = dict(backbone=dict(init_cfg=None))'
SEG_NO_DOWNLOAD = 'model = dict(pretrained=None, data_preprocessor=dict(size=(96, 128)))'
RESIDUAL_PLUGIN = ("model = dict(backbone=dict(plugins=[dict(cfg=dict(type='CBAM', "
                   "residual=True, alpha_init=0.0, learnable_alpha=True), "
                   "stages=(False, True, True, True), position='after_conv3')]))")


@pytest.mark.parametrize('baseline,cbam,extra', [
    ('faster_rcnn_r50_baseline.py', 'faster_rcnn_r50_cbam_residual_learnable.py', DET_NO_DOWNLOAD),
    ('faster_rcnn_r50_baseline.py', 'faster_rcnn_r50_fpn_cbam.py', DET_NO_DOWNLOAD),
    ('pspnet_r50_40k_cityscapes_baseline.py', 'pspnet_r50_40k_cityscapes_cbam.py',
     SEG_NO_DOWNLOAD + '\n' + RESIDUAL_PLUGIN),
])
def test_identity_start_equals_baseline_bit_for_bit(tmp_path, baseline, cbam, extra):
    import check_identity_start as tool
    no_download = extra.splitlines()[0]
    base_cfg_path = _config(tmp_path, 'base.py', baseline, no_download)
    cbam_cfg_path = _config(tmp_path, 'cbam.py', cbam, extra)
    ckpt = _baseline_checkpoint(load_config(str(base_cfg_path)), tmp_path)
    # the tool rebuilds the baseline from the config stored in the checkpoint
    assert tool.main([str(cbam_cfg_path), str(ckpt), '--size', '96', '128']) == 0
    report = tool.check_identity_start(load_config(str(cbam_cfg_path)),
                                       load_config(str(base_cfg_path)),
                                       torch.load(ckpt)['state_dict'], size=(96, 128))
    assert report['max_diff'] == 0.0 and report['num_cbam'] > 0 and report['num_outputs'] >= 1
    assert report['missing'] and not report['missing_not_cbam'] and not report['unexpected']


def test_identity_tool_detects_a_non_identity_start(tmp_path, capsys):
    import check_identity_start as tool
    base_cfg_path = _config(tmp_path, 'base.py', 'faster_rcnn_r50_baseline.py', DET_NO_DOWNLOAD)
    ckpt = _baseline_checkpoint(load_config(str(base_cfg_path)), tmp_path)
    code = tool.main([str(ROOT / 'configs' / 'faster_rcnn_r50_cbam.py'), str(ckpt), '--size',
                      '64', '64', '--cfg-options', 'model.backbone.init_cfg=None'])
    out = capsys.readouterr().out
    assert code == 1 and 'identity start: FAILED' in out
    assert float(out.split('output tensors: ')[1].split()[0]) > 0


# ----------------------------------------------------------------------------- stacked plugins


class StackTestAffine(nn.Module):
    """A plugin computing ``x * scale + shift``: two of them compose differently than either."""
    _abbr_ = 'affine'

    def __init__(self, in_channels, scale=1.0, shift=0.0):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return x * self.scale + self.shift


def _stacked(position, stages=(True, False, False, False)):
    from mmengine.registry import MODELS
    MODELS.register_module('StackTestAffine', module=StackTestAffine, force=True)
    return [dict(cfg=dict(type='StackTestAffine', scale=2.0, postfix='_a'), stages=stages,
                 position=position),
            dict(cfg=dict(type='StackTestAffine', shift=1.0, postfix='_b'), stages=stages,
                 position=position)]


def _literal_block(blk, x, bottleneck: bool):
    """The block's forward written out, with the two plugins composed: 2 * out + 1."""
    out = blk.relu(blk.norm1(blk.conv1(x)))
    if bottleneck:
        out = blk.norm3(blk.conv3(blk.relu(blk.norm2(blk.conv2(out)))))
    else:
        out = blk.norm2(blk.conv2(out))
    out = 2 * out + 1
    identity = x if blk.downsample is None else blk.downsample(x)
    return blk.relu(out + identity)


@pytest.mark.parametrize('scope,type_,depth', [('seg', 'PluginResNetV1c', 50),
                                               ('seg', 'PluginResNet', 50),
                                               ('det', 'PluginResNet', 50),
                                               ('seg', 'PluginResNetV1c', 18),
                                               ('det', 'PluginResNet', 18)])
def test_stacked_plugins_are_applied_in_order(scope, type_, depth):
    registry = _det_models() if scope == 'det' else _seg_models()
    position = 'after_conv3' if depth >= 50 else 'after_conv2'
    backbone = registry.build(dict(type=type_, depth=depth, plugins=_stacked(position)))
    backbone.eval()
    blk = backbone.layer1[0]
    x = torch.randn(2, blk.conv1.in_channels, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(blk(x), _literal_block(blk, x, depth >= 50))


def test_upstream_mmseg_bottleneck_drops_the_first_stacked_plugin():
    """The bug the Plugin* backbones fix (mmsegmentation 1.2.2): the plain ResNetV1c applies
    every plugin to the block input and keeps only the last one."""
    backbone = _seg_models().build(dict(type='ResNetV1c', depth=50,
                                        plugins=_stacked('after_conv3')))
    backbone.eval()
    blk = backbone.layer1[0]
    x = torch.randn(2, blk.conv1.in_channels, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(blk(x), _literal_block(blk, x, True))
