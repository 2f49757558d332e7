"""CBAM on neck outputs (CBAMNeck, MultiLevelAttention) and on a segmentor's decode-head
inputs."""
import pytest
import torch

import mm_cbam  # noqa: F401
from mm_cbam.attention import CBAM
from mm_cbam.models import MultiLevelAttention
from mm_cbam.runner.config import build_model, load_config

from conftest import CONFIGS, det_models


def test_cbam_on_every_fpn_level_per_level_and_shared():
    MODELS = det_models()
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
    MODELS = det_models()
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
    cfg = load_config(str(CONFIGS / 'deeplabv3plus' /
                          'deeplabv3plus_r50-d8_head-cbam_4xb2-40k_cityscapes-512x1024.py'))
    cfg.model.pretrained = None
    model = build_model(cfg)
    assert isinstance(model.neck, MultiLevelAttention) and model.neck.selected == (0, 3)
    assert model.neck.levels['3'].in_channels == 2048 and model.neck.levels['0'].in_channels == 256


# ----------------------------------------------------------------------------- path insertion
