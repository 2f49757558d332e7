# RTMDet-tiny (CSPNeXt) trained from scratch on the embedded mini COCO set (CPU): the model of
# rtmdet/rtmdet_tiny_8xb32-300e_coco.py at its own width, 160x160 inputs without mosaic / mix-up
# (so no pipeline switch for the last epochs), 3 classes, no pretrained backbone. The plain
# counterpart; configs/studies/mini_rtmdet.py inserts attention into it once trained.
_base_ = ['../rtmdet/rtmdet_tiny_8xb32-300e_coco.py', './_base_/mini_coco.py']
data_root = {{_base_.mini_coco_root}}
load_from = None
model = dict(backbone=dict(init_cfg=None), bbox_head=dict(num_classes=3),
             test_cfg=dict(nms_pre=1000, max_per_img=50))
train_dataloader = {{_base_.mini_coco_train_dataloader}}
val_dataloader = {{_base_.mini_coco_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.mini_coco_val_evaluator}}
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=12, val_interval=12, dynamic_intervals=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', eta_min=1e-4, begin=0, end=12, T_max=12, by_epoch=True,
         convert_to_iter_based=True)
]
optim_wrapper = dict(optimizer=dict(lr=0.002))
auto_scale_lr = dict(enable=False, base_batch_size=8)
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True,
         priority=49),
    dict(type='CBAMStabilityHook'),
    dict(type='CBAMVisualizationHook', interval=1, num_images=2),
    dict(type='RNGStateHook'),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
