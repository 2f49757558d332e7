# The mini segmentor with CBAM in ResNetV1c-18 stages 2-4 after conv2, as
# deeplabv3plus_r18_80k_cityscapes_cbam.py.
_base_ = './mini_deeplabv3plus_r18_baseline.py'
model = dict(
    backbone=dict(type='PluginResNetV1c', plugins=[
        dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv2')
    ]))
