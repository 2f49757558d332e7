# Cascade R-CNN R50-FPN with CBAM trained from scratch on the embedded mini COCO set (CPU): the
# model of cascade_rcnn/cascade-rcnn_r50-cbam_fpn_1x_coco.py (the same attention placement) at a
# quarter width (ResNet-50 base channels 16, FPN and heads 64 channels), 160x160 inputs, anchors
# scaled for small objects, 3 classes, BN trained (no pretrained weights).
_base_ = ['../cascade_rcnn/cascade-rcnn_r50-cbam_fpn_1x_coco.py', './_base_/mini_coco.py']
data_root = {{_base_.mini_coco_root}}
load_from = None
model = dict(
    backbone=dict(base_channels=16, frozen_stages=-1, norm_eval=False, zero_init_residual=False,
                  init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64,
                  anchor_generator=dict(scales=[4], ratios=[0.5, 1.0, 2.0])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=[
            dict(type='Shared2FCBBoxHead', in_channels=64, fc_out_channels=256, roi_feat_size=7,
                 num_classes=3, reg_class_agnostic=True,
                 bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                 target_stds=stds),
                 loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                 loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
            for stds in ([0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                         [0.033, 0.033, 0.067, 0.067])
        ]),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300), rcnn=dict(max_per_img=50)))
train_dataloader = {{_base_.mini_coco_train_dataloader}}
val_dataloader = {{_base_.mini_coco_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.mini_coco_val_evaluator}}
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[9, 11], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.04), clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
