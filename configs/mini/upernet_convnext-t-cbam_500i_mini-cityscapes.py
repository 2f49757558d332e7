# UPerNet ConvNeXt with CBAM trained from scratch on the embedded mini Cityscapes set (CPU; needs
# mmpretrain, the `pretrain` extra): the model of
# upernet/upernet_convnext-t-cbam_4xb2-40k_cityscapes-512x1024.py (the same attention placement,
# channels last) with ConvNeXt at half width and 2 blocks per stage (channels 48-96-192-384),
# UPerHead 128 and auxiliary head 64 channels, 128x256 crops, no pretrained weights.
_base_ = ['../upernet/upernet_convnext-t-cbam_4xb2-40k_cityscapes-512x1024.py',
          './_base_/mini_cityscapes.py']
data_root = {{_base_.mini_cityscapes_root}}
crop_size = {{_base_.mini_cityscapes_crop}}
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(arch=dict(_delete_=True, depths=[2, 2, 2, 2],
                            channels=[48, 96, 192, 384]),
                  drop_path_rate=0.1, init_cfg=None),
    decode_head=dict(in_channels=[48, 96, 192, 384], channels=128),
    auxiliary_head=dict(in_channels=192, channels=64))
train_dataloader = {{_base_.mini_cityscapes_train_dataloader}}
val_dataloader = {{_base_.mini_cityscapes_val_dataloader}}
test_dataloader = val_dataloader
train_cfg = {{_base_.mini_cityscapes_train_cfg}}
param_scheduler = {{_base_.mini_cityscapes_param_scheduler}}
optim_wrapper = dict(optimizer=dict(lr=0.0006), paramwise_cfg={'num_layers': 2})
default_hooks = {{_base_.mini_cityscapes_default_hooks}}
randomness = dict(seed=0)
