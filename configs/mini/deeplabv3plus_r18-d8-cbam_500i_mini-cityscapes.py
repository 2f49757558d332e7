# The mini segmentor with CBAM in ResNetV1c-18 stages 2-4 after conv2, as
# deeplabv3plus/deeplabv3plus_r18-d8-cbam_4xb2-80k_cityscapes-512x1024.py.
_base_ = ['./deeplabv3plus_r18-d8_500i_mini-cityscapes.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(type='PluginResNetV1c', plugins=[
        dict(cfg={{_base_.cbam_variants.classic}}, stages=(False, True, True, True),
             position='after_conv2')
    ]))
