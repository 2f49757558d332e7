# Mask R-CNN Swin-FPN with CBAM trained from scratch on the embedded mini COCO set (CPU), bbox and
# segm mAP from the set's polygons: the model of swin/mask-rcnn_swin-t-p4-w7-cbam_fpn_1x_coco.py
# (the same attention placement, on tokens) with Swin at half width and 2 blocks per stage
# (embed dims 48, depths 2-2-2-2), FPN and heads 64 channels, 160x160 inputs, 3 classes.
_base_ = ['../swin/mask-rcnn_swin-t-p4-w7-cbam_fpn_1x_coco.py', './_base_/mini_coco.py']
data_root = {{_base_.mini_coco_root}}
load_from = None
model = dict(
    backbone=dict(embed_dims=48, depths=[2, 2, 2, 2], drop_path_rate=0.1, init_cfg=None),
    neck=dict(in_channels=[48, 96, 192, 384], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64,
                  anchor_generator=dict(scales=[4], ratios=[0.5, 1.0, 2.0])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=3),
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=3)),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=300), rcnn=dict(max_per_img=50)))
train_dataloader = {{_base_.mini_coco_mask_train_dataloader}}
val_dataloader = {{_base_.mini_coco_mask_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.mini_coco_val_evaluator}}
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[9, 11], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.0004))
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
