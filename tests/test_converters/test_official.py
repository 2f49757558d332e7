"""The official CBAM: options in the one CBAM family, the checkpoint converter, the configs that
load the converted ImageNet weights into mmdet / mmseg ResNets."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import CONFIGS, ROOT, run_tool
from official_cbam_net import OfficialResNetCBAM, randomise, save_as_official

DET_OFFICIAL = CONFIGS / 'faster_rcnn' / 'faster-rcnn_r50-cbam-official_fpn_1x_coco.py'
SEG_OFFICIAL = (CONFIGS / 'deeplabv3plus' /
                'deeplabv3plus_r50-d8-cbam-official_4xb2-40k_cityscapes-512x1024.py')


def _official_file(tmp_path: Path, depth: int, **save_kwargs):
    torch.manual_seed(depth)
    net = randomise(OfficialResNetCBAM(depth), seed=depth).eval()
    src = tmp_path / f'official_r{depth}.pth'
    save_as_official(net, src, **save_kwargs)
    return net, src


def _convert(src: Path, dst: Path, *extra):
    """The converter's command line in this process: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from mm_cbam.converters.official import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(src), str(dst), *map(str, extra)])
    return code, out.getvalue(), err.getvalue()


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _backbone(config: Path, checkpoint: Path, **backbone_overrides):
    from mm_cbam.runner.config import load_config, register_scope, task_of
    cfg = load_config(str(config))
    task = task_of(cfg)
    register_scope(task)
    backbone_cfg = dict(cfg.model.backbone)
    backbone_cfg['init_cfg'] = dict(type='Pretrained', checkpoint=str(checkpoint))
    backbone_cfg.update(backbone_overrides)
    from mmengine.registry import MODELS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet' if task == 'det' else 'mmseg'):
        backbone = MODELS.build(backbone_cfg)
    backbone.init_weights()
    backbone.eval()
    return backbone


@pytest.mark.parametrize('depth', [50, 18])
def test_converted_official_weights_reproduce_the_official_stage_outputs(tmp_path, depth):
    net, src = _official_file(tmp_path, depth)
    dst = tmp_path / f'r{depth}_mm.pth'
    code, out, _ = _convert(src, dst, '--depth', str(depth))
    assert code == 0 and f'ResNet-{depth} + CBAM' in out and 'dropped: fc.weight, fc.bias' in out
    overrides = {}
    if depth == 18:  # BasicBlock: PluginResNet, after_conv2, the same official CBAM config
        from mm_cbam.converters import OFFICIAL_CBAM
        overrides = dict(type='PluginResNet', depth=18, plugins=[
            dict(cfg=OFFICIAL_CBAM, stages=(True, ) * 4, position='after_conv2')])
    backbone = _backbone(DET_OFFICIAL, dst, **overrides)
    # every parameter and buffer came from the file
    converted = torch.load(dst)['state_dict']
    ours = backbone.state_dict()
    assert set(converted) == set(ours)
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net.stages(x)
        got = backbone(x)
    assert len(got) == 4
    for stage, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape
        assert _max_rel(a, b) < 1e-5, f'stage {stage + 1}: max rel diff {_max_rel(a, b):.2e}'
    # the spatial gate's descriptor order was converted: without the swap the outputs differ
    swapped = dict(converted)
    for k in swapped:
        if k.endswith('cbam.sa.branches.0.weight'):
            swapped[k] = swapped[k][:, [1, 0]]
    backbone.load_state_dict(swapped)
    with torch.no_grad():
        assert _max_rel(backbone(x)[3], expected[3]) > 1e-3


@pytest.mark.slow
def test_converter_accepts_bare_state_dicts_and_names_bad_keys(tmp_path):
    net, _ = _official_file(tmp_path, 18)
    bare = tmp_path / 'bare.pth'
    save_as_official(net, bare, wrap_module=False, nested=False)
    assert _convert(bare, tmp_path / 'ok.pth')[0] == 0 and (tmp_path / 'ok.pth').exists()

    sd = {f'module.{k}': v for k, v in net.state_dict().items()}
    sd['module.layer2.0.cbam.Extra.weight'] = torch.zeros(1)
    del sd['module.layer3.1.cbam.SpatialGate.spatial.bn.running_var']
    bad = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=sd), bad)
    code, _, err = _convert(bad, tmp_path / 'no.pth')
    assert code == 2
    assert "unknown keys ['layer2.0.cbam.Extra.weight']" in err
    assert "missing keys ['layer3.1.cbam.sa.norm.running_var']" in err
    assert not (tmp_path / 'no.pth').exists()
    code, _, err = _convert(bare, tmp_path / 'x.pth', '--depth', '50')
    assert code == 2 and 'is a ResNet-18' in err
    # the command line itself (a fresh interpreter, as users run it)
    converter = ROOT / 'tools' / 'model_converters' / 'cbam_official.py'
    proc = subprocess.run([sys.executable, str(converter), str(bare), str(tmp_path / 'y.pth')],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and 'ResNet-18 + CBAM: ' in proc.stdout


def test_old_checkpoints_without_bn_counters_are_filled(tmp_path):
    from mm_cbam.converters import convert
    net, _ = _official_file(tmp_path, 18)
    sd = {k: v for k, v in net.state_dict().items() if not k.endswith('num_batches_tracked')}
    out, report = convert({'state_dict': sd})
    assert report['depth'] == 18 and report['filled']
    assert all(out[k].item() == 0 for k in report['filled'])


def test_official_base_config_is_the_converter_config():
    from mmengine.config import Config

    from mm_cbam.converters import OFFICIAL_CBAM
    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'cbam_variants.py'))
    assert cfg.cbam_variants.official.to_dict() == OFFICIAL_CBAM
    det = Config.fromfile(str(DET_OFFICIAL))
    plugin = det.model.backbone.plugins[0]
    assert plugin.cfg.to_dict() == OFFICIAL_CBAM and list(plugin.stages) == [True] * 4


def test_segmentation_config_loads_every_key_into_a_plain_stem_resnet(tmp_path):
    net, src = _official_file(tmp_path, 50)
    dst = tmp_path / 'r50_mm.pth'
    _convert(src, dst)
    backbone = _backbone(SEG_OFFICIAL, dst, norm_cfg=dict(type='BN', requires_grad=True))
    assert type(backbone).__name__ == 'PluginResNet' and not backbone.deep_stem
    converted = torch.load(dst)['state_dict']
    assert set(converted) == set(backbone.state_dict())
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, got = net.stages(x), backbone(x)
    # D8: stages 1-2 are the official ones; stages 3-4 are dilated instead of strided
    for stage in (0, 1):
        assert _max_rel(got[stage], expected[stage]) < 1e-5
    assert got[3].shape[-1] == 8 and expected[3].shape[-1] == 2


@pytest.mark.slow
def test_official_detector_trains_a_step_with_no_missing_backbone_keys(tmp_path, capsys):
    _, src = _official_file(tmp_path, 50)
    dst = tmp_path / 'r50_mm.pth'
    _convert(src, dst)
    from mm_cbam.runner.config import build_model, load_config
    from mm_cbam.testing import synthetic_batch
    cfg = load_config(str(DET_OFFICIAL),
                      {'model.backbone.init_cfg.checkpoint': str(dst)})
    model = build_model(cfg)
    capsys.readouterr()
    model.init_weights()
    log = capsys.readouterr()
    text = log.out + log.err
    assert 'missing keys' not in text and 'unexpected key' not in text
    converted = torch.load(dst)['state_dict']
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, converted[key]), key
    model.train()
    data = model.data_preprocessor(synthetic_batch(model, 'det', size=(96, 96)), True)
    losses = model(**data, mode='loss')
    total = sum(v if isinstance(v, torch.Tensor) else sum(v) for k, v in losses.items()
                if 'loss' in k)
    total.backward()
    assert torch.isfinite(total)
    assert model.backbone.layer4[0].cbam.sa.norm.weight.grad is not None


@pytest.mark.slow
def test_missing_converted_checkpoint_names_the_converter_command(mini_data, tmp_path):
    proc = run_tool('mm_cbam.train', DET_OFFICIAL, '--work-dir', tmp_path / 'w', '--cfg-options',
                    f'train_dataloader.dataset.data_root={ROOT}/data/mini_coco/',
                    f'val_dataloader.dataset.data_root={ROOT}/data/mini_coco/',
                    'train_dataloader.dataset.ann_file=annotations/instances_train.json',
                    'train_dataloader.dataset.data_prefix.img=train/',
                    'val_dataloader.dataset.ann_file=annotations/instances_val.json',
                    'val_dataloader.dataset.data_prefix.img=val/', check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert 'checkpoints/resnet50_cbam_official_mm.pth' in proc.stderr
    assert ('python tools/model_converters/cbam_official.py OFFICIAL.pth '
            'checkpoints/resnet50_cbam_official_mm.pth --depth 50') in proc.stderr
    assert 'Traceback' not in proc.stderr


# ----------------------------------------------------------------------------- bad input


def test_converter_names_bad_inputs_in_one_line(tmp_path):
    net, src = _official_file(tmp_path, 18)
    sd = dict(net.state_dict())
    as_list = tmp_path / 'list.pth'
    torch.save([1, 2, 3], as_list)
    code, _, err = _convert(as_list, tmp_path / 'o.pth')
    assert code == 2 and err.strip() == ('ERROR: expected a dict of tensors or {"state_dict": '
                                         '{...}}, got list')
    flat = dict(sd, **{'layer1.0.cbam.SpatialGate.spatial.conv.weight': torch.zeros(98)})
    torch.save(flat, tmp_path / 'flat.pth')
    code, _, err = _convert(tmp_path / 'flat.pth', tmp_path / 'o.pth')
    assert code == 2 and err.strip() == (
        'ERROR: layer1.0.cbam.SpatialGate.spatial.conv.weight (-> layer1.0.cbam.sa.branches.0.'
        'weight): shape (98,) does not match the architecture, which needs (1, 2, 7, 7)')
    int_weight = torch.zeros(64, 64, 3, 3, dtype=torch.int64)
    wrong_kind = dict(sd, **{'layer1.0.conv1.weight': int_weight})
    torch.save(wrong_kind, tmp_path / 'int.pth')
    code, _, err = _convert(tmp_path / 'int.pth', tmp_path / 'o.pth')
    assert code == 2 and 'layer1.0.conv1.weight: dtype torch.int64 does not fit' in err
    assert not (tmp_path / 'o.pth').exists()


def test_converter_checks_the_destination_before_converting(tmp_path, monkeypatch):
    _, src = _official_file(tmp_path, 18)
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    converted = []
    import mm_cbam.converters.official as official
    monkeypatch.setattr(official, 'convert', lambda *a: converted.append(a))
    code, _, err = _convert(src, blocker / 'out.pth')
    assert code == 2 and err.startswith(f'ERROR: cannot create the folder of DST {blocker}/out.pth')
    code, _, err = _convert(src, tmp_path)
    assert code == 2 and err.strip() == f'ERROR: cannot write DST {tmp_path}: it is a directory'
    assert converted == []  # nothing was converted for a destination that cannot be written


def test_a_text_file_is_not_a_checkpoint_and_gets_no_trust_pickle_advice(tmp_path):
    text = tmp_path / 'weights.txt'
    text.write_text('layer1.0.conv1.weight 0.1 0.2\n')
    code, _, err = _convert(text, tmp_path / 'o.pth')
    assert code == 2 and 'not a readable torch checkpoint' in err
    assert '--trust-pickle' not in err
