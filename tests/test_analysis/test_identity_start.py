"""The identity-start check: a CBAM model with alpha 0 loaded from a plain checkpoint computes
exactly the plain model's outputs (and the tool says when it does not)."""
from pathlib import Path

import pytest
import torch

import mm_cbam  # noqa: F401
from mm_cbam.runner.config import build_model, load_config

from conftest import CONFIGS


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
    path.write_text(f"_base_ = '{CONFIGS / base}'\n{body}\n")
    return path


DET_NO_DOWNLOAD = 'model = dict(backbone=dict(init_cfg=None))'


SEG_NO_DOWNLOAD = 'model = dict(pretrained=None, data_preprocessor=dict(size=(96, 128)))'


RESIDUAL_PLUGIN = ("model = dict(backbone=dict(plugins=[dict(cfg=dict(type='CBAM', "
                   "residual=True, alpha_init=0.0, learnable_alpha=True), "
                   "stages=(False, True, True, True), position='after_conv3')]))")


@pytest.mark.slow
@pytest.mark.parametrize('baseline,cbam,extra', [
    ('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
     'faster_rcnn/faster-rcnn_r50-cbam-identity-start_fpn_1x_coco.py', DET_NO_DOWNLOAD),
    ('faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
     'faster_rcnn/faster-rcnn_r50_fpn-cbam_1x_coco.py', DET_NO_DOWNLOAD),
    ('pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
     'pspnet/pspnet_r50-d8-cbam_4xb2-40k_cityscapes-512x1024.py',
     SEG_NO_DOWNLOAD + '\n' + RESIDUAL_PLUGIN),
])
def test_identity_start_equals_baseline_bit_for_bit(tmp_path, baseline, cbam, extra):
    from mm_cbam.analysis import identity_start as tool
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
    from mm_cbam.analysis import identity_start as tool
    base_cfg_path = _config(tmp_path, 'base.py', 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
                            DET_NO_DOWNLOAD)
    ckpt = _baseline_checkpoint(load_config(str(base_cfg_path)), tmp_path)
    cbam = CONFIGS / 'faster_rcnn' / 'faster-rcnn_r50-cbam_fpn_1x_coco.py'
    code = tool.main([str(cbam), str(ckpt), '--size', '64', '64', '--cfg-options',
                      'model.backbone.init_cfg=None'])
    out = capsys.readouterr().out
    assert code == 1 and 'identity start: FAILED' in out
    assert float(out.split('output tensors: ')[1].split()[0]) > 0


# ----------------------------------------------------------------------------- stacked plugins
