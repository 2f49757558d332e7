# Faster R-CNN ResNet-18-FPN, COCO, 1x schedule.
_base_ = './faster_rcnn_r50_baseline.py'
model = dict(
    backbone=dict(depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]))
