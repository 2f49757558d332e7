# CBAM on the decode head's input features only: the backbone's last stage (in_index=3, the ASPP
# input) and first stage (in_index=0, the low-level skip of DeepLabV3+), via a neck without
# its own layers. Residual with learnable alpha from 0 (identity start).
_base_ = ['./deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py', '../_base_/cbam_variants.py']
model = dict(
    neck=dict(type='CBAMNeck', in_channels=[256, 512, 1024, 2048], levels=(0, 3),
              cbam={{_base_.cbam_variants.identity_start}}))
