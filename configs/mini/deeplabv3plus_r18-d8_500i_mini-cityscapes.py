# DeepLabV3+ ResNetV1c-18-D8 trained from scratch on the embedded mini Cityscapes set on CPU
# (python -m mm_cbam.mini_data): the model of
# deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py at half
# width (base/stem channels 32, heads halved), 128x256 crops, BN trained and no zero-initialised
# residual norms (no pretrained weights). Same CityscapesDataset, pipeline steps and IoUMetric
# (mIoU over the 19 Cityscapes classes present in the data) as the Cityscapes configs.
_base_ = '../deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py'
data_root = 'data/mini_cityscapes/'
crop_size = (128, 256)

model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(base_channels=32, stem_channels=32, zero_init_residual=False),
    decode_head=dict(in_channels=256, channels=64, c1_in_channels=32, c1_channels=12,
                     dilations=(1, 3, 6, 9)),
    auxiliary_head=dict(in_channels=128, channels=32))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(256, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 128), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

max_iters = 500
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=50, end=max_iters, by_epoch=False)
]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
                     clip_grad=dict(_delete_=True, max_norm=10, norm_type=2))
default_hooks = dict(logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
                     checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=100,
                                     max_keep_ckpts=2))
log_processor = dict(window_size=10)
# seeded: the demo's numbers are reproducible; add randomness.deterministic=True for
# bit-exact resumes
randomness = dict(seed=0)
