# DeepLabV3+ with CBAM in ResNetV1c-50 stages 2-4 after conv3.
_base_ = ['./deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(plugins=[
        dict(cfg={{_base_.cbam_variants.classic}}, stages=(False, True, True, True),
             position='after_conv3')
    ]))
