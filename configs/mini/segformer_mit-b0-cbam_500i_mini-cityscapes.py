# SegFormer MiT-B0 with CBAM trained from scratch on the embedded mini Cityscapes set (CPU): the
# model of segformer/segformer_mit-b0-cbam_8xb1-160k_cityscapes-1024x1024.py (the same attention
# placement) at its own size, 128x256 crops, whole-image testing, no pretrained weights.
_base_ = ['../segformer/segformer_mit-b0-cbam_8xb1-160k_cityscapes-1024x1024.py',
          './_base_/mini_cityscapes.py']
data_root = {{_base_.mini_cityscapes_root}}
crop_size = {{_base_.mini_cityscapes_crop}}
load_from = None
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None),
    test_cfg=dict(_delete_=True, mode='whole'))
train_dataloader = {{_base_.mini_cityscapes_train_dataloader}}
val_dataloader = {{_base_.mini_cityscapes_val_dataloader}}
test_dataloader = val_dataloader
train_cfg = {{_base_.mini_cityscapes_train_cfg}}
param_scheduler = {{_base_.mini_cityscapes_param_scheduler}}
optim_wrapper = dict(optimizer=dict(lr=0.0006))
default_hooks = {{_base_.mini_cityscapes_default_hooks}}
randomness = dict(seed=0)
