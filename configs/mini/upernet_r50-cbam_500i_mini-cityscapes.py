# UPerNet ResNetV1c-50 with CBAM trained from scratch on the embedded mini Cityscapes set (CPU):
# the model of upernet/upernet_r50-cbam_4xb2-40k_cityscapes-512x1024.py (the same attention
# placement) at a quarter width (stem and base channels 16, UPerHead 128 and auxiliary head 64
# channels), 128x256 crops, no pretrained weights.
_base_ = ['../upernet/upernet_r50-cbam_4xb2-40k_cityscapes-512x1024.py',
          './_base_/mini_cityscapes.py']
data_root = {{_base_.mini_cityscapes_root}}
crop_size = {{_base_.mini_cityscapes_crop}}
load_from = None
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(stem_channels=16, base_channels=16),
    decode_head=dict(in_channels=[64, 128, 256, 512], channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
train_dataloader = {{_base_.mini_cityscapes_train_dataloader}}
val_dataloader = {{_base_.mini_cityscapes_val_dataloader}}
test_dataloader = val_dataloader
train_cfg = {{_base_.mini_cityscapes_train_cfg}}
param_scheduler = {{_base_.mini_cityscapes_param_scheduler}}
optim_wrapper = dict(optimizer=dict(lr=0.05),
                     clip_grad=dict(_delete_=True, max_norm=10, norm_type=2))
default_hooks = {{_base_.mini_cityscapes_default_hooks}}
randomness = dict(seed=0)
