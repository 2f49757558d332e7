# DeepLabV3+ with CBAM in ResNetV1c-18 (BasicBlock) stages 2-4 after conv2 (PluginResNetV1c).
_base_ = ['./deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py', '../_base_/cbam_variants.py']
model = dict(
    backbone=dict(type='PluginResNetV1c', plugins=[
        dict(cfg={{_base_.cbam_variants.classic}}, stages=(False, True, True, True),
             position='after_conv2')
    ]))
