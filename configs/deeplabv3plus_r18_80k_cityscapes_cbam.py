# DeepLabV3+ with CBAM in ResNetV1c-18 (BasicBlock) stages 2-4 after conv2 (PluginResNetV1c).
_base_ = './deeplabv3plus_r18_80k_cityscapes_baseline.py'
model = dict(
    backbone=dict(type='PluginResNetV1c', plugins=[
        dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv2')
    ]))
