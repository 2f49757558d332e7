# The embedded mini Cityscapes set (python -m mm_cbam.mini_data writes data/mini_cityscapes/) for
# the mini configs that start from a full-scale config: 160 training images of 256x128 with
# Cityscapes train ids, 128x256 crops. Prefixed names for the reason given in mini_coco.py; a
# mini config takes them with train_dataloader = {{_base_.mini_cityscapes_train_dataloader}}.
mini_cityscapes_root = 'data/mini_cityscapes/'
mini_cityscapes_crop = (128, 256)
mini_cityscapes_train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=mini_cityscapes_root, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
        dict(type='RandomCrop', crop_size=mini_cityscapes_crop, cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs')
    ]))
mini_cityscapes_val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=mini_cityscapes_root, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(256, 128), keep_ratio=True),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]))
# the schedule of the mini segmentors: 500 iterations (batch 8), validated at the end
mini_cityscapes_train_cfg = dict(type='IterBasedTrainLoop', max_iters=500, val_interval=500)
mini_cityscapes_param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=50, end=500, by_epoch=False)
]
mini_cityscapes_default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=2))
