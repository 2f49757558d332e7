# YOLOX-s (CSPDarknet) with CBAM trained from scratch on the embedded mini COCO set (CPU): the
# model of yolox/yolox_s-cbam_8xb8-300e_coco.py (the same attention placement) at its own width,
# multi-scale training over 128-192 pixels instead of 480-800, no mosaic / mix-up (so no mode
# switch for the last epochs), 3 classes.
_base_ = ['../yolox/yolox_s-cbam_8xb8-300e_coco.py', './_base_/mini_coco.py']
data_root = {{_base_.mini_coco_root}}
load_from = None
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchSyncRandomResize', random_size_range=(128, 192), size_divisor=32,
             interval=10)
    ]),
    bbox_head=dict(num_classes=3))
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='CocoDataset', data_root={{_base_.mini_coco_root}},
                 metainfo={{_base_.mini_coco_metainfo}},
                 ann_file='annotations/instances_train.json', data_prefix=dict(img='train/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=4),
                 pipeline={{_base_.mini_coco_train_pipeline}}))
val_dataloader = {{_base_.mini_coco_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.mini_coco_val_evaluator}}
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=12, val_interval=12)
param_scheduler = [
    dict(type='mmdet.QuadraticWarmupLR', by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=5e-4, begin=1, T_max=11, end=12, by_epoch=True,
         convert_to_iter_based=True)
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(enable=False, base_batch_size=8)
custom_hooks = [
    dict(type='SyncNormHook', priority=48),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0001, update_buffers=True,
         priority=49),
    dict(type='CBAMStabilityHook'),
    dict(type='CBAMVisualizationHook', interval=1, num_images=2),
    dict(type='RNGStateHook'),
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
