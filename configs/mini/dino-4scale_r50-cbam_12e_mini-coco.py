# DINO 4-scale R50 with CBAM trained from scratch on the embedded mini COCO set (CPU): the model
# of dino/dino-4scale_r50-cbam_8xb2-12e_coco.py (the same attention placement) with ResNet-50 at
# a quarter width (base channels 16), 2 encoder and 2 decoder layers instead of 6, 100 queries
# (20 denoising), 160x160 inputs, 3 classes, BN trained (no pretrained weights).
_base_ = ['../dino/dino-4scale_r50-cbam_8xb2-12e_coco.py', './_base_/mini_coco.py']
data_root = {{_base_.mini_coco_root}}
load_from = None
model = dict(
    num_queries=100,
    backbone=dict(base_channels=16, frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
                  norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[128, 256, 512]),
    encoder=dict(num_layers=2, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=512))),
    decoder=dict(num_layers=2, layer_cfg=dict(ffn_cfg=dict(feedforward_channels=512))),
    bbox_head=dict(num_classes=3),
    dn_cfg=dict(group_cfg=dict(num_dn_queries=20)),
    test_cfg=dict(max_per_img=50))
train_dataloader = {{_base_.mini_coco_train_dataloader}}
val_dataloader = {{_base_.mini_coco_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.mini_coco_val_evaluator}}
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[11], gamma=0.1)
]
optim_wrapper = dict(optimizer=dict(lr=0.0002))
auto_scale_lr = dict(enable=False, base_batch_size=8)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
