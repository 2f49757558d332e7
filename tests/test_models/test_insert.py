"""CBAM after any module by module-path pattern (insert_cbam, InsertCBAM)."""
import copy

import pytest
import torch
import torch.nn as nn

import mm_cbam  # noqa: F401
from mm_cbam.attention import attention_modules
from mm_cbam.models import insert_cbam
from mm_cbam.patterns import pattern_to_regex
from mm_cbam.runner.config import build_model, load_config

from conftest import CONFIGS, det_models


def test_pattern_semantics():
    assert pattern_to_regex('backbone.layer3.*.conv2').match('backbone.layer3.0.conv2')
    assert not pattern_to_regex('backbone.layer3.*.conv2').match(
        'backbone.layer3.0.downsample.conv2')
    assert pattern_to_regex('backbone.**.conv2').match('backbone.layer3.0.downsample.conv2')
    assert pattern_to_regex('neck.fpn_convs.*').match('neck.fpn_convs.3')
    assert not pattern_to_regex('neck.fpn_convs.*').match('neck.fpn_convs.3.conv')
    assert pattern_to_regex('layer?.0.bn*').match('layer2.0.bn3')


def test_insert_by_path_in_regnet_detector():
    MODELS = det_models()
    cfg = load_config(str(CONFIGS / 'faster_rcnn' / 'faster-rcnn_regnetx-3.2GF_fpn_1x_coco.py'))
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
    assert torch.equal(clone(x), clone[3](clone[2](clone[1](clone[0](x)))))
    assert not torch.equal(clone(x), model(x))
    with pytest.raises(ValueError, match='already has a child named'):
        insert_cbam(model, '3')


def test_insertcbam_config_builder():
    cfg = load_config(
        str(CONFIGS / 'faster_rcnn' / 'faster-rcnn_regnetx-3.2GF-cbam_fpn_1x_coco.py'))
    cfg.model.backbone.init_cfg = None
    model = build_model(cfg)
    assert type(model).__name__ == 'FasterRCNN'
    names = [n for n, _ in attention_modules(model)]
    assert names[0] == 'backbone.layer2.0.bn3.cbam' and len(names) == sum(
        len(getattr(model.backbone, f'layer{i}')) for i in (2, 3, 4))
    MODELS = det_models()
    with pytest.raises(ValueError, match='matches no module'):
        MODELS.build(dict(cfg.model, insert=[dict(after='backbone.layer9.*')]))


# ----------------------------------------------------------------------------- identity start


def test_insert_after_a_sequence_applies_attention_once():
    """A ResNet stage is an nn.Sequential: the attention added to it refines its output once
    (and is not also run as the sequence's last layer)."""
    from mm_cbam.attention import CBAM
    torch.manual_seed(0)
    plain = det_models().build(dict(type='ResNet', depth=18, out_indices=(1, )))
    net = copy.deepcopy(plain)
    assert insert_cbam(net, 'layer2', dict(type='CBAM', reduction=4)) == ['layer2']
    plain.eval()
    net.eval()
    ref = CBAM(128, reduction=4)
    ref.load_state_dict(net.layer2.cbam.state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x)[0], ref(plain(x)[0]))
        torch.testing.assert_close(copy.deepcopy(net)(x)[0], ref(plain(x)[0]))
    with pytest.raises(ValueError, match='ModuleList, which is never called'):
        insert_cbam(nn.Sequential(nn.ModuleList([nn.Conv2d(3, 8, 1)])), '0')


def test_attached_attention_initialises_itself_whatever_its_host():
    """The official CBAM starts its spatial BN weight at 0. A parent's blanket init (BN weights
    1) must not undo that, whether the attention hangs off a plain nn.Conv2d (no init_weights of
    its own) or sits in a MultiLevelAttention (CBAMNeck / CBAMBackbone)."""
    from mmengine.model import BaseModule

    from mm_cbam.models import MultiLevelAttention
    official = dict(type='CBAM', reduction=4, sa_norm_cfg=dict(type='BN'),
                    sa_norm_zero_init=True)

    class Parent(BaseModule):

        def __init__(self):
            super().__init__(init_cfg=[dict(type='Constant', val=1, layer=['_BatchNorm'])])
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
            self.levels = MultiLevelAttention([8, 8], official)

    parent = Parent()
    insert_cbam(parent, ['body.0', 'body'], official)
    parent.init_weights()
    norms = [parent.body[0].cbam.sa.norm, parent.body.cbam.sa.norm,
             parent.levels.levels['0'].sa.norm, parent.levels.levels['1'].sa.norm]
    assert parent.body[1].weight.eq(1).all()  # the parent's init ran ...
    assert all(n.weight.eq(0).all() for n in norms)  # ... and every zero start was kept
    copy.deepcopy(parent).init_weights()  # copies keep the hook, bound to themselves
