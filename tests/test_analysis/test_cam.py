"""Grad-CAM for the mini detector and segmentor with the grad-cam library: the CAM responds to
the input, targets are picked per box / class, layers by InsertCBAM's patterns, and the tool
writes the side-by-side panels."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import mm_cbam  # noqa: F401
from mm_cbam.attention import CBAM, record_attention
from mm_cbam.deployment.loading import DeployError, build_eval_model
from mm_cbam.runner.config import load_config

from conftest import DET_CONFIG, DET_PLAIN, SEG_CONFIG, run_tool
from deploy_helpers import mini_images, randomize_, save_checkpoint

pytest.importorskip('pytorch_grad_cam')
from mm_cbam.analysis import cam  # noqa: E402
from mm_cbam.analysis.cam_models import detector_targets, segmentor_targets  # noqa: E402

DET_ANY_SCORE = {'model.test_cfg.rcnn.score_thr': 0.0}  # an untrained detector detects something


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), CBAM(8))
        self.layer2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())


def test_layers_are_picked_by_insert_cbam_patterns():
    model = Toy()
    assert list(cam.match_layers(model, ['layer*.0'])) == ['layer1.0', 'layer2.0']
    assert list(cam.match_layers(model, ['layer1', 'stem'])) == ['layer1', 'stem']
    with pytest.raises(DeployError, match=r"'layer3\.\*' matches no module"):
        cam.match_layers(model, ['layer3.*'])
    with pytest.raises(DeployError, match='at most 12'):
        cam.match_layers(model, ['**'])
    # the spatial mask of a layer: the CBAM under it, else the one next to it
    assert cam.mask_module(model, 'layer1') == 'layer1.1'
    assert cam.mask_module(model, 'layer1.0') == 'layer1.1'
    assert cam.mask_module(model, 'layer2.0') is None


def test_detector_targets_per_box_and_per_class():
    pred = dict(boxes=torch.tensor([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 9, 9.]]),
                labels=torch.tensor([1, 0, 1]), scores=torch.tensor([0.9, 0.6, 0.2]))
    boxes = detector_targets(pred, ['cat', 'dog'], 'box', topk=3, score_thr=0.5)
    assert [t.tag for t in boxes] == ['box0-dog', 'box1-cat']
    assert float(boxes[0].target(pred)) == pytest.approx(1.0 + 0.9)  # IoU 1 + score
    classes = detector_targets(pred, ['cat', 'dog'], 'class', topk=3, score_thr=0.1)
    assert [t.tag for t in classes] == ['class-dog', 'class-cat'] and len(classes[0].boxes) == 2
    with pytest.raises(DeployError, match="'box', 'class'"):
        detector_targets(pred, [], 'mask')


def test_segmentor_targets_per_class():
    logits = torch.zeros(1, 3, 4, 5)
    logits[0, 2, :3] = 1  # class 2 on 15 pixels, class 0 on the rest
    targets = segmentor_targets(logits, ['road', 'car', 'sky'], topk=3)
    assert [t.tag for t in targets] == ['class-sky', 'class-road']
    assert float(targets[0].target(logits[0])) == 15
    chosen = segmentor_targets(logits, ['road', 'car', 'sky'], classes=['car', '0'])
    assert [t.tag for t in chosen] == ['class-car', 'class-road']
    with pytest.raises(DeployError, match="'bus' is neither"):
        segmentor_targets(logits, ['road', 'car', 'sky'], classes=['bus'])


def _cams(config, task, layer_name, images, options=None, method='gradcam'):
    cfg = load_config(str(config), options)
    torch.manual_seed(0)
    model = build_eval_model(cfg)  # initial weights: activations driven by the image
    layer = dict(model.named_modules())[layer_name]
    out = []
    for image in images:
        batch = cam.load_image(cfg, model, task, str(image))
        wrapper = cam.cam_model(task, model, batch)
        with record_attention(model):
            pred = cam._predict(task, wrapper, batch)
            mask = cam.spatial_mask(model, cam.mask_module(model, layer_name), batch)
        targets = (detector_targets(pred, [], 'box', 1, 0.0) if task == 'det' else
                   segmentor_targets(pred, [], 1))
        heat = cam.compute_cam(method, wrapper, layer, batch, targets[0].target)
        out.append((heat, mask, batch['rgb']))
    return out


@pytest.mark.slow
@pytest.mark.parametrize('task,config,options,method', [
    ('seg', SEG_CONFIG, None, 'gradcam'),
    # Grad-CAM++ keeps positive gradients only: an untrained detector's Grad-CAM of one box is
    # often negative everywhere (all zeros after the ReLU), which says nothing about the tool
    ('det', DET_CONFIG, DET_ANY_SCORE, 'gradcam++'),
])
def test_cam_responds_to_the_input(mini_data, task, config, options, method):
    (a, mask_a, rgb), (b, _, _) = _cams(config, task, 'backbone.layer3.1', mini_images(task),
                                        options, method)
    assert a.shape == rgb.shape[:2] == mask_a.shape  # cropped to the image, mask resized too
    assert a.min() >= 0 and a.max() <= 1 and a.std() > 0.02  # not constant
    assert a.shape == b.shape and np.abs(a - b).max() > 0.1  # another image, another CAM
    assert 0 < mask_a.min() < mask_a.max() < 1


@pytest.mark.slow
@pytest.mark.parametrize('task', ['det', 'seg'])
def test_cam_tool_writes_panels_with_a_baseline(mini_data, tmp_path, task):
    import cv2
    config = DET_CONFIG if task == 'det' else SEG_CONFIG
    plain = DET_PLAIN if task == 'det' else str(SEG_CONFIG).replace('-cbam', '')
    options = ['model.test_cfg.rcnn.score_thr=0.0'] if task == 'det' else []
    ckpts = []
    for cfg_path, name in ((config, 'cbam.pth'), (plain, 'plain.pth')):
        model = randomize_(build_eval_model(load_config(str(cfg_path), dict(
            o.split('=') for o in options) or None)))
        ckpts.append(save_checkpoint(model, tmp_path / name))
    image = mini_images(task, 1)[0]
    args = ['tools/analysis/cam.py', config, ckpts[0], image, '--layers', 'backbone.layer4.1',
            '--baseline', plain, ckpts[1], '--out', tmp_path / 'cam', '--topk', 1,
            '--score-thr', 0.0, '--method', 'gradcam++']
    proc = run_tool(*args, *(['--cfg-options', *options] if options else []))
    written = [ln for ln in proc.stdout.splitlines() if ln.endswith('.png')]
    assert len(written) == 1 and f'{image.stem}_backbone.layer4.1_' in written[0]
    drawn = cv2.imread(written[0])
    # three panels side by side (two would give a width of about 1.7 heights for square images)
    assert drawn is not None and drawn.shape[1] > 2.2 * drawn.shape[0]
    assert drawn.std() > 10
    if task == 'seg':
        return
    bad = run_tool(*args[:4], '--layers', 'backbone.layer4.1.cbam', '--baseline', plain,
                   ckpts[1], '--out', tmp_path / 'cam', check=False)
    assert bad.returncode == 2 and 'has no module backbone.layer4.1.cbam' in bad.stderr
